package rawsock

import (
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// ipv4 returns an IPv4 header with ihl 32-bit words (options zero) in
// front of l4.
func ipv4(ihl int, l4 []byte) []byte {
	p := make([]byte, ihl*4, ihl*4+len(l4))
	p[0] = 0x40 | byte(ihl)
	return append(p, l4...)
}

// TestFieldFilter runs the programs FieldFilter builds in x/net/bpf's VM
// over packets as raw sockets see them: IPv4 with its header (with and
// without options), IPv6 from the transport header.
func TestFieldFilter(t *testing.T) {
	echo := func(typ uint8, id uint16) []byte {
		b := make([]byte, 16)
		b[0] = typ
		binary.BigEndian.PutUint16(b[4:], id)
		return b
	}
	tcp := func(sport uint16) []byte {
		b := make([]byte, 20)
		binary.BigEndian.PutUint16(b, sport)
		binary.BigEndian.PutUint16(b[2:], 33434)
		return b
	}
	idFilter := func(v6 bool, typ uint8) FieldFilter {
		return FieldFilter{V6: v6, Off: 4, Size: 2, Val: 0x1234, ForType: true, Type: typ}
	}
	portFilter := func(v6 bool) FieldFilter { return FieldFilter{V6: v6, Off: 0, Size: 2, Val: 443} }
	for _, tc := range []struct {
		name string
		f    FieldFilter
		pkt  []byte
		pass bool
	}{
		{"v4 our echo reply", idFilter(false, 0), ipv4(5, echo(0, 0x1234)), true},
		{"v4 our echo reply, IP options", idFilter(false, 0), ipv4(7, echo(0, 0x1234)), true},
		{"v4 another's echo reply", idFilter(false, 0), ipv4(5, echo(0, 0x4321)), false},
		{"v4 another's echo reply, IP options", idFilter(false, 0), ipv4(6, echo(0, 0x4321)), false},
		{"v4 time exceeded", idFilter(false, 0), ipv4(5, echo(11, 0)), true},
		{"v6 our echo reply", idFilter(true, 129), echo(129, 0x1234), true},
		{"v6 another's echo reply", idFilter(true, 129), echo(129, 0x1235), false},
		{"v6 packet too big", idFilter(true, 129), echo(2, 0), true},
		{"v4 TCP from the port", portFilter(false), ipv4(5, tcp(443)), true},
		{"v4 TCP from another port", portFilter(false), ipv4(6, tcp(444)), false},
		{"v6 TCP from the port", portFilter(true), tcp(443), true},
		{"v6 TCP from another port", portFilter(true), tcp(80), false},
	} {
		vm, err := bpf.NewVM(tc.f.Program())
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		n, err := vm.Run(tc.pkt)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if pass := n > 0; pass != tc.pass {
			t.Errorf("%s: passed %v, want %v", tc.name, pass, tc.pass)
		}
	}
}

// TestICMPFilterOnLoopback: a raw ICMP socket with the reply filter sees
// the kernel's echo reply to its request on loopback, but not the request
// itself, which it sees without the filter.
func TestICMPFilterOnLoopback(t *testing.T) {
	labtest.RequireRoot(t)
	for _, filtered := range []bool{false, true} {
		const id = 0x5a5a
		c, err := Open(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP, Config{Name: "test", Device: "lo", Setup: func(fd int) error {
			if filtered {
				return SetICMPFilter(fd, false, icmpmsg.ReplyTypes(false))
			}
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		req := icmpmsg.MarshalEcho(make([]byte, 64), icmpmsg.Echo{Type: icmpmsg.TypeEchoRequest4, ID: id, Seq: 1}, icmpmsg.Probe{}, nil)
		err = c.Control(func(fd int) error { return unix.Sendto(fd, req, 0, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}) })
		if err != nil {
			t.Fatal(err)
		}
		seen := map[uint8]bool{}
		buf := make([]byte, 1500)
		var iov unix.Iovec
		var msg unix.Msghdr
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		for range 20 { // the request and the reply, and others' traffic on lo
			iov.Base = &buf[0]
			iov.SetLen(len(buf))
			msg = unix.Msghdr{Iov: &iov}
			msg.SetIovlen(1)
			n, _, err := c.RecvMsg(&msg, nil)
			if err != nil {
				break
			}
			if n >= 28 && binary.BigEndian.Uint16(buf[24:]) == id {
				seen[buf[20]] = true
				if buf[20] == icmpmsg.TypeEchoReply4 {
					break
				}
			}
		}
		c.Close()
		if !seen[icmpmsg.TypeEchoReply4] {
			t.Errorf("filtered %v: no echo reply seen", filtered)
		}
		if seen[icmpmsg.TypeEchoRequest4] == filtered {
			t.Errorf("filtered %v: echo request seen %v", filtered, seen[icmpmsg.TypeEchoRequest4])
		}
	}
}

// TestOptionsReadBack: what Config.Device, OpenHeaderIncluded,
// SetICMPFilter and SetRecvInfo set is what the kernel reports back.
func TestOptionsReadBack(t *testing.T) {
	labtest.RequireRoot(t)
	var dev, hdrincl, pktinfo, hoplimit int
	var devName string
	var f6 unix.ICMPv6Filter
	c, err := OpenHeaderIncluded(true, Config{Name: "test", Device: "lo", Setup: func(fd int) error {
		var err error
		devName, err = unix.GetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
		dev = len(devName)
		if err == nil {
			hdrincl, err = unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_HDRINCL)
		}
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if devName != "lo" || hdrincl != 1 {
		t.Errorf("header-included IPv6 socket: device %q (%d), IPV6_HDRINCL %d; want lo, 1", devName, dev, hdrincl)
	}
	c, err = Open(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6, Config{Name: "test", Setup: func(fd int) error {
		if err := SetICMPFilter(fd, true, icmpmsg.ReplyTypes(true)); err != nil {
			return err
		}
		if err := SetRecvInfo(fd, true, RecvDest|RecvHopLimit); err != nil {
			return err
		}
		pktinfo, _ = unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO)
		hoplimit, _ = unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT)
		g, err := unix.GetsockoptICMPv6Filter(fd, unix.SOL_ICMPV6, unix.ICMPV6_FILTER)
		if err == nil {
			f6 = *g
		}
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if pktinfo != 1 || hoplimit != 1 {
		t.Errorf("IPV6_RECVPKTINFO %d, IPV6_RECVHOPLIMIT %d; want 1, 1", pktinfo, hoplimit)
	}
	for typ := range 256 {
		blocked := f6.Data[typ>>5]&(1<<(typ&31)) != 0
		want := true
		for _, p := range icmpmsg.ReplyTypes(true) {
			if int(p) == typ {
				want = false
			}
		}
		if blocked != want {
			t.Errorf("ICMPv6 type %d: blocked %v, want %v", typ, blocked, want)
		}
	}
}
