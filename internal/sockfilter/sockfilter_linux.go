package sockfilter

import (
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Attach attaches an assembled program to the socket fd. Packets queued
// before it are not filtered: Drain them (or, for a socket that cannot
// receive yet, attach before binding it).
func Attach(fd int, prog []bpf.RawInstruction) error {
	if len(prog) == 0 {
		return fmt.Errorf("sockfilter: empty program")
	}
	ins := make([]unix.SockFilter, len(prog))
	for i, r := range prog {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fp := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		return fmt.Errorf("sockfilter: attach: %w", err)
	}
	return nil
}

// Drain discards what a socket queued before its filter was attached (a
// raw socket receives from the moment it exists), at most 10,000 packets.
func Drain(fd int) {
	var buf [1500]byte
	for i := 0; i < 10000; i++ {
		n, _, err := unix.Recvfrom(fd, buf[:], unix.MSG_DONTWAIT)
		if err != nil || n < 0 {
			return
		}
	}
}
