package rawsock

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/cmsg"
)

// udpPair opens a receiving Conn on 127.0.0.1 and a plain sending socket
// connected to it.
func udpPair(t *testing.T, cfg Config) (*Conn, int) {
	t.Helper()
	var port int
	cfg.Setup = func(fd int) error {
		if err := EnableTimestamps(fd); err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return err
		}
		sa, err := unix.Getsockname(fd)
		port = sa.(*unix.SockaddrInet4).Port
		return err
	}
	c, err := Open(unix.AF_INET, unix.SOCK_DGRAM, 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tx, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(tx) })
	if err := unix.Connect(tx, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}); err != nil {
		t.Fatal(err)
	}
	return c, tx
}

// localPort returns the port of c, a UDP Conn bound on 127.0.0.1.
func localPort(t *testing.T, c *Conn) int {
	t.Helper()
	var port int
	if err := c.Control(func(fd int) error {
		sa, err := unix.Getsockname(fd)
		if err != nil {
			return err
		}
		port = sa.(*unix.SockaddrInet4).Port
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return port
}

// batch is caller-owned storage for n messages.
type batch struct {
	hs    []unix.Mmsghdr
	iovs  []unix.Iovec
	bufs  [][64]byte
	names [][SockaddrLen]byte
	oobs  [][128]byte
}

func newBatch(n int) *batch {
	b := &batch{hs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n), bufs: make([][64]byte, n),
		names: make([][SockaddrLen]byte, n), oobs: make([][128]byte, n)}
	b.reset()
	return b
}

func (b *batch) reset() {
	for i := range b.hs {
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(len(b.bufs[i]))
		h := &b.hs[i].Hdr
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		h.Name, h.Namelen = &b.names[i][0], SockaddrLen
		h.Control = &b.oobs[i][0]
		h.SetControllen(len(b.oobs[i]))
		h.Flags, b.hs[i].Len = 0, 0
	}
}

func TestBatchDeadlineAndClose(t *testing.T) {
	for _, blocking := range []bool{false, true} {
		c, tx := udpPair(t, Config{Name: "test", Blocking: blocking, Slice: 5 * time.Millisecond})
		for _, s := range []string{"one", "two", "three"} {
			if _, err := unix.Write(tx, []byte(s)); err != nil {
				t.Fatal(err)
			}
		}
		b := newBatch(8)
		got := 0
		for got < 3 {
			n, queued, err := c.RecvMsgs(b.hs, nil)
			if err != nil || queued {
				t.Fatalf("blocking %v: RecvMsgs: %d %v %v", blocking, n, queued, err)
			}
			for i := range n {
				var m cmsg.Meta
				m.Reset()
				cmsg.Parse(b.oobs[i][:b.hs[i].Hdr.Controllen], &m)
				ap, _ := SockaddrAddrPort(b.names[i][:])
				if want := []string{"one", "two", "three"}[got]; string(b.bufs[i][:b.hs[i].Len]) != want || m.Stamp.IsZero() || ap.Addr() != netip.MustParseAddr("127.0.0.1") {
					t.Errorf("blocking %v: message %d: %q from %v stamp %v, want %q from 127.0.0.1 with a kernel stamp", blocking, got, b.bufs[i][:b.hs[i].Len], ap, m.Stamp, want)
				}
				got++
			}
			b.reset()
		}
		// Nothing queued: the deadline ends the wait, not much later.
		start := time.Now()
		c.SetReadDeadline(start.Add(30 * time.Millisecond))
		if _, _, err := c.RecvMsgs(b.hs, nil); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("blocking %v: empty queue past the deadline: %v, want os.ErrDeadlineExceeded", blocking, err)
		}
		if time.Since(start) < 30*time.Millisecond {
			t.Errorf("blocking %v: the read gave up before its deadline", blocking)
		}
		// Close ends a wait without a deadline.
		c.SetReadDeadline(time.Time{})
		done := make(chan error, 1)
		go func() { _, _, err := c.RecvMsgs(b.hs, nil); done <- err }()
		time.Sleep(20 * time.Millisecond)
		c.Close()
		select {
		case err := <-done:
			if !errors.Is(err, os.ErrClosed) {
				t.Errorf("blocking %v: read after Close: %v, want os.ErrClosed", blocking, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("blocking %v: Close did not end a waiting read", blocking)
		}
	}
}

// TestErrorQueue: a datagram to a closed port brings an ICMP port
// unreachable, which a socket with IP_RECVERR reads from its error queue.
func TestErrorQueue(t *testing.T) {
	for _, blocking := range []bool{false, true} {
		c, err := Open(unix.AF_INET, unix.SOCK_DGRAM, 0, Config{Blocking: blocking, SoftErrors: true, Setup: func(fd int) error {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, 1); err != nil {
				return err
			}
			// Port 9 (discard) of 127.0.0.1: nothing listens there in a test.
			return unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: 9})
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var buf [16]byte
		var name [SockaddrLen]byte
		iov := unix.Iovec{Base: &buf[0]}
		iov.SetLen(1)
		h := unix.Msghdr{Iov: &iov}
		h.SetIovlen(1)
		if _, err := c.SendMsg(&h); err != nil {
			t.Fatal(err)
		}
		var oob [256]byte
		iov.SetLen(len(buf))
		eq := unix.Msghdr{Iov: &iov, Name: &name[0], Namelen: SockaddrLen, Control: &oob[0]}
		eq.SetIovlen(1)
		eq.SetControllen(len(oob))
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		var rb [16]byte
		riov := unix.Iovec{Base: &rb[0]}
		riov.SetLen(len(rb))
		rh := unix.Msghdr{Iov: &riov}
		rh.SetIovlen(1)
		n, queued, err := c.RecvMsg(&rh, &eq)
		var m cmsg.Meta
		m.Reset()
		cmsg.Parse(oob[:eq.Controllen], &m)
		if err != nil || !queued || n != 1 || !m.HasErr || m.ErrType != 3 || m.ErrCode != 3 {
			t.Errorf("blocking %v: %d %v %v, meta %+v: want the port unreachable from the error queue", blocking, n, queued, err, m)
		}
	}
}

func TestSendRecvAllocateNothing(t *testing.T) {
	c, tx := udpPair(t, Config{Blocking: true})
	_ = tx
	// Send to c itself through a second Conn with sendmmsg.
	var dst [SockaddrLen]byte
	lport := localPort(t, c)
	dlen := PutSockaddr(dst[:], netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(lport)), 0, false)
	s, err := Open(unix.AF_INET, unix.SOCK_DGRAM, 0, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	payload := []byte("ping")
	wiov := unix.Iovec{Base: &payload[0]}
	wiov.SetLen(len(payload))
	ws := make([]unix.Mmsghdr, 2)
	for i := range ws {
		ws[i].Hdr = unix.Msghdr{Iov: &wiov, Name: &dst[0], Namelen: dlen}
		ws[i].Hdr.SetIovlen(1)
	}
	b := newBatch(2)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	allocs := testing.AllocsPerRun(200, func() {
		if n, err := s.SendMsgs(ws); n != 2 || err != nil {
			t.Fatalf("SendMsgs: %d %v", n, err)
		}
		for got := 0; got < 2; {
			b.reset()
			n, _, err := c.RecvMsgs(b.hs, nil)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per send and receive, want 0", allocs)
	}
}

func TestZonePolicy(t *testing.T) {
	lo, err := ZoneIndex("lo")
	if err != nil || lo == 0 {
		t.Fatalf("ZoneIndex(lo) = %d, %v", lo, err)
	}
	for _, tc := range []struct {
		dst, iface string
		want       uint32
		err        bool
	}{
		{"fe80::1%lo", "", lo, false},
		{"fe80::1%1", "", 1, false},
		{"fe80::1", "lo", lo, false},
		{"fe80::1%lo", "nosuch0", lo, false},
		{"fe80::1", "", 0, true},
		{"ff02::1", "", 0, true},
		{"fe80::1%nosuch0", "", 0, true},
		{"fd00::1%lo", "", 0, false},
		{"198.18.0.1", "lo", 0, false},
	} {
		got, err := ScopeID(netip.MustParseAddr(tc.dst), tc.iface)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ScopeID(%s, %q) = %d, %v; want %d, error %v", tc.dst, tc.iface, got, err, tc.want, tc.err)
		}
	}
	if _, err := SourceFor(netip.MustParseAddr("fe80::1"), ""); !errors.Is(err, ErrNeedZone) {
		t.Errorf("SourceFor(fe80::1) without a zone: %v, want ErrNeedZone", err)
	}
	if a, err := SourceFor(netip.MustParseAddr("127.0.0.2"), ""); err != nil || a != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("SourceFor(127.0.0.2) = %v, %v; want 127.0.0.1", a, err)
	}
	if got := WithScope(netip.MustParseAddr("fe80::9"), lo); got.Zone() != "lo" {
		t.Errorf("WithScope(fe80::9, lo) = %v", got)
	}
	if got := WithScope(netip.MustParseAddr("fd00::9"), lo); got.Zone() != "" {
		t.Errorf("WithScope(fd00::9, lo) = %v: a global address got a zone", got)
	}
}

func TestSockaddrRoundTrip(t *testing.T) {
	var b [SockaddrLen]byte
	for _, tc := range []struct {
		ap    string
		scope uint32
		v6    bool
	}{{"198.18.0.1:7", 0, false}, {"[fd00::1]:53", 0, true}, {"[fe80::2]:9", 4, true}, {"198.18.0.1:7", 0, true}} {
		ap := netip.MustParseAddrPort(tc.ap)
		n := PutSockaddr(b[:], ap, tc.scope, tc.v6)
		got, scope := SockaddrAddrPort(b[:n])
		if got != ap || scope != tc.scope {
			t.Errorf("%s scope %d v6 %v: decoded %s scope %d", ap, tc.scope, tc.v6, got, scope)
		}
	}
	if Htons(0x0003) != *(*uint16)(unsafe.Pointer(&[2]byte{0, 3})) {
		t.Error("Htons(3) is not 3 in network byte order")
	}
}

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
	if err := AttachFilter(fd, RejectAll); err != nil {
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
	if err := AttachRawFilter(fd, nil); err == nil {
		t.Error("an empty program was accepted")
	}
	if err := AttachFilter(fd, []bpf.Instruction{bpf.Jump{Skip: 5}}); err == nil {
		t.Error("a program jumping out of itself was accepted")
	}
}

// TestZoneLookupsAllocateNothing: a link-local peer's zone is looked up
// per packet (udp serve answering fe80::…), from the cache.
func TestZoneLookupsAllocateNothing(t *testing.T) {
	lo, _ := ZoneIndex("lo")
	a := netip.MustParseAddr("fe80::9")
	dst := a.WithZone("lo")
	_ = WithScope(a, lo) // fill the caches
	allocs := testing.AllocsPerRun(1000, func() {
		if WithScope(a, lo) != dst {
			t.Fatal("WithScope lost the zone")
		}
		if s, err := ScopeID(dst, ""); s != lo || err != nil {
			t.Fatal("ScopeID lost the zone")
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per zone lookup, want 0", allocs)
	}
}

// FuzzSockaddr: any bytes decode without a panic, and what PutSockaddr
// writes decodes back to what it was given.
func FuzzSockaddr(f *testing.F) {
	f.Add([]byte{2, 0, 0, 7, 198, 18, 0, 1}, uint16(7), uint32(0), false)
	f.Add(make([]byte, 28), uint16(53), uint32(3), true)
	f.Fuzz(func(t *testing.T, b []byte, port uint16, scope uint32, v6 bool) {
		SockaddrAddrPort(b)
		var a netip.Addr
		if len(b) >= 16 && v6 {
			a = netip.AddrFrom16([16]byte(b[:16])).Unmap()
		} else if len(b) >= 4 {
			a = netip.AddrFrom4([4]byte(b[:4]))
		} else {
			return
		}
		if !v6 {
			scope = 0
		}
		var sa [SockaddrLen]byte
		ap := netip.AddrPortFrom(a, port)
		got, gotScope := SockaddrAddrPort(sa[:PutSockaddr(sa[:], ap, scope, v6 || a.Is6())])
		if got != ap || (v6 || a.Is6()) && gotScope != scope {
			t.Fatalf("%v scope %d: decoded %v scope %d", ap, scope, got, gotScope)
		}
	})
}

// TestRouteFacts: the path MTU of loopback is lo's MTU, and loopback's
// broadcast address is routed as a broadcast, its unicast ones not.
func TestRouteFacts(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	// IPv4 caps a route's MTU at 65535 (IP_MAX_MTU); IPv6 does not.
	for a, want := range map[string]int{"127.0.0.1": min(lo.MTU, 65535), "::1": lo.MTU} {
		if mtu, err := PathMTU(netip.MustParseAddr(a), ""); err != nil || mtu != want {
			t.Errorf("PathMTU(%s) = %d, %v; want lo's %d", a, mtu, err, want)
		}
	}
	for a, want := range map[string]bool{"127.255.255.255": true, "127.0.0.1": false, "::1": false} {
		if got := IsBroadcast(netip.MustParseAddr(a)); got != want {
			t.Errorf("IsBroadcast(%s) = %v, want %v", a, got, want)
		}
	}
	// One router answers all three questions, whatever order they come in.
	r := NewRouter("")
	defer r.Close()
	bc := netip.MustParseAddr("127.255.255.255")
	if _, err := r.PathMTU(bc); err != nil || !r.IsBroadcast(bc) {
		t.Errorf("after PathMTU (SO_BROADCAST on), IsBroadcast(%s) is false or PathMTU failed: %v", bc, err)
	}
	if src, err := r.Source(netip.MustParseAddr("127.0.0.1")); err != nil || src != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("Source(127.0.0.1) = %v, %v", src, err)
	}
}

// TestSendMsgPaths: SendMsg sends one buffer without control messages
// with sendto, to an address or on a connected socket, and anything else
// with sendmsg, whose control messages must reach the kernel: a
// per-packet IP_TTL of 7 arrives as TTL 7, the others with the default.
func TestSendMsgPaths(t *testing.T) {
	rx, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rx)
	if err := unix.Bind(rx, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(rx, unix.IPPROTO_IP, unix.IP_RECVTTL, 1); err != nil {
		t.Fatal(err)
	}
	_ = unix.SetsockoptTimeval(rx, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2})
	sa, _ := unix.Getsockname(rx)
	port := sa.(*unix.SockaddrInet4).Port
	var dst [SockaddrLen]byte
	dlen := PutSockaddr(dst[:], netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), 0, false)
	open := func(connect bool) *Conn {
		c, err := Open(unix.AF_INET, unix.SOCK_DGRAM, 0, Config{Setup: func(fd int) error {
			if !connect {
				return nil
			}
			return unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port})
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	ttl := make([]byte, unix.CmsgSpace(4))
	ch := (*unix.Cmsghdr)(unsafe.Pointer(&ttl[0]))
	ch.Level, ch.Type = unix.IPPROTO_IP, unix.IP_TTL
	ch.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(ttl[unix.CmsgLen(0):], 7)
	for _, tc := range []struct {
		name    string
		connect bool
		control []byte
		ttl     int
	}{
		{"sendto-addressed", false, nil, 64},
		{"sendto-connected", true, nil, 64},
		{"sendmsg-control", false, ttl, 7},
	} {
		c := open(tc.connect)
		payload := []byte(tc.name)
		iov := unix.Iovec{Base: &payload[0]}
		iov.SetLen(len(payload))
		h := unix.Msghdr{Iov: &iov}
		h.SetIovlen(1)
		if !tc.connect {
			h.Name, h.Namelen = &dst[0], dlen
		}
		if tc.control != nil {
			h.Control = &tc.control[0]
			h.SetControllen(len(tc.control))
		}
		if n, err := c.SendMsg(&h); err != nil || n != len(payload) {
			t.Fatalf("%s: SendMsg: %d, %v", tc.name, n, err)
		}
		buf, oob := make([]byte, 64), make([]byte, 64)
		n, oobn, _, _, err := unix.Recvmsg(rx, buf, oob, 0)
		if err != nil {
			t.Fatalf("%s: receive: %v", tc.name, err)
		}
		got := -1
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TTL && len(m.Data) >= 4 {
				got = int(binary.NativeEndian.Uint32(m.Data))
			}
		}
		if string(buf[:n]) != tc.name || got != tc.ttl {
			t.Errorf("%s: received %q with TTL %d, want %q with TTL %d", tc.name, buf[:n], got, tc.name, tc.ttl)
		}
	}
}
