package sockfilter

import (
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestRejectAllThenDrain: datagrams queued before a reject-all filter are
// still there until Drain; after it, the socket holds nothing, and new
// datagrams do not get in.
func TestRejectAllThenDrain(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	send := func() {
		if err := unix.Sendto(fd, []byte("x"), 0, sa); err != nil {
			t.Fatal(err)
		}
	}
	pending := func() bool {
		var b [16]byte
		n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_DONTWAIT|unix.MSG_PEEK)
		return err == nil && n > 0
	}
	send()
	if err := AttachInstructions(fd, []bpf.Instruction{bpf.RetConstant{Val: 0}}); err != nil {
		t.Fatal(err)
	}
	if !pending() {
		t.Fatal("the datagram queued before the filter is gone already")
	}
	Drain(fd)
	send()
	if pending() {
		t.Error("a datagram is queued after Drain under a reject-all filter")
	}
	if err := Attach(fd, nil); err == nil {
		t.Error("an empty program was accepted")
	}
}
