package capture

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/bpf"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
	"github.com/rawnet/rawnet/pcap"
)

// Lab tests of the live side: a Handle opened in a lab namespace sees
// exactly the traffic the test sends across it.

// udpPortFilter is "udp dst port P" for IPv4 over Ethernet, hand-assembled
// (CompileFilter needs cgo): the program CompileFilter would give, minus
// fragments.
func udpPortFilter(t *testing.T, port uint16) []bpf.RawInstruction {
	t.Helper()
	prog, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0x0800, SkipTrue: 6},
		bpf.LoadAbsolute{Off: 23, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 17, SkipTrue: 4},
		bpf.LoadMemShift{Off: 14},
		bpf.LoadIndirect{Off: 16, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(port), SkipFalse: 1},
		bpf.RetConstant{Val: 262144},
		bpf.RetConstant{Val: 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

// openIn opens a Handle in n's namespace; it is closed when the test ends.
func openIn(t *testing.T, n *lab.Node, cfg Config) *Handle {
	t.Helper()
	var h *Handle
	err := n.Do(func() (err error) {
		h, err = Open(cfg)
		return err
	})
	if err != nil {
		t.Fatalf("Open(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// sendUDP sends count datagrams from n to dst, each payload carrying its
// sequence number, size bytes long, as fast as the socket takes them.
func sendUDP(t *testing.T, n *lab.Node, dst netip.AddrPort, count, size int) {
	t.Helper()
	if err := trySendUDP(n, dst, count, size); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// trySendUDP is sendUDP for goroutines other than the test's, which may
// not call t.Fatal.
func trySendUDP(n *lab.Node, dst netip.AddrPort, count, size int) error {
	return n.Do(func() error {
		// Unconnected: the port unreachable errors that come back do
		// not fail later writes.
		c, err := net.ListenUDP("udp", nil)
		if err != nil {
			return err
		}
		defer c.Close()
		to := net.UDPAddrFromAddrPort(dst)
		buf := make([]byte, size)
		for i := range count {
			binary.BigEndian.PutUint32(buf, uint32(i))
			if _, err := c.WriteToUDP(buf, to); err != nil {
				return err
			}
		}
		return nil
	})
}

// collect reads packets from h until quiet has passed without any (after
// at least one block timeout), copying what keep accepts.
func collect(t *testing.T, h *Handle, quiet time.Duration) []Packet {
	t.Helper()
	var got []Packet
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	timer := time.AfterFunc(quiet, cancel)
	err := h.Run(ctx, func(p *Packet) error {
		q := *p
		q.Data = append([]byte(nil), p.Data...)
		got = append(got, q)
		timer.Reset(quiet)
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return got
}

// udpDstPort returns the UDP destination port and first payload word of
// an IPv4-over-Ethernet packet, or ok false.
func udpDstPort(data []byte) (port uint16, seq uint32, ok bool) {
	if len(data) < 14+20+8+4 || binary.BigEndian.Uint16(data[12:]) != 0x0800 || data[23] != 17 {
		return 0, 0, false
	}
	ihl := int(data[14]&0xf) * 4
	udp := data[14+ihl:]
	return binary.BigEndian.Uint16(udp[2:]), binary.BigEndian.Uint32(udp[8:]), true
}

func TestLiveCaptureSeesExactlyTheDatagramsSent(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	ifc := l.Dst.Ifaces[0].Name
	h := openIn(t, l.Dst, Config{Interface: ifc, Filter: udpPortFilter(t, 7001)})
	if h.LinkType() != pcap.Ethernet {
		t.Fatalf("link type of %s: %v, want ethernet", ifc, h.LinkType())
	}
	const n, size = 500, 100
	sendUDP(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7002), 50, size) // filtered out
	sendUDP(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7001), n, size)
	got := collect(t, h, 500*time.Millisecond)
	if len(got) != n {
		t.Fatalf("captured %d packets, want %d", len(got), n)
	}
	var last time.Time
	for i, p := range got {
		port, seq, ok := udpDstPort(p.Data)
		if !ok || port != 7001 || seq != uint32(i) {
			t.Fatalf("packet %d: port %d seq %d ok %v: %x", i, port, seq, ok, p.Data)
		}
		if want := 14 + 20 + 8 + size; p.Length != want || len(p.Data) != want {
			t.Errorf("packet %d: length %d, %d captured, want %d", i, p.Length, len(p.Data), want)
		}
		if p.Outgoing || p.Timestamp.Before(last) || time.Since(p.Timestamp) > time.Minute {
			t.Errorf("packet %d: outgoing %v, time %v after %v", i, p.Outgoing, p.Timestamp, last)
		}
		last = p.Timestamp
	}
	st, err := h.Stats()
	if err != nil || st.Packets != n || st.Drops != 0 {
		t.Errorf("stats %+v, %v: want %d packets, no drops", st, err, n)
	}
}

func TestLiveCaptureSnaplenDirectionAndAny(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	ifc := l.Src.Ifaces[0].Name
	out := openIn(t, l.Src, Config{Interface: ifc, Direction: DirOut, Snaplen: 60, Filter: udpPortFilter(t, 7003)})
	any := openIn(t, l.Src, Config{Interface: "any", Direction: DirIn})
	if any.LinkType() != pcap.LinuxSLL2 {
		t.Fatalf("any: link type %v", any.LinkType())
	}
	// Out of src: 30 datagrams to port 7003. Into src: 20 from dst.
	sendUDP(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7003), 30, 200)
	sendUDP(t, l.Dst, netip.AddrPortFrom(l.Src.Addr4, 7004), 20, 200)
	got := collect(t, out, 300*time.Millisecond)
	if len(got) != 30 {
		t.Fatalf("-Q out: %d packets, want 30", len(got))
	}
	for _, p := range got {
		if !p.Outgoing || len(p.Data) != 60 || p.Length != 14+20+8+200 {
			t.Fatalf("-Q out -s 60: outgoing %v, %d of %d bytes", p.Outgoing, len(p.Data), p.Length)
		}
	}
	in := 0
	for _, p := range collect(t, any, 300*time.Millisecond) {
		if p.Outgoing {
			t.Fatalf("-Q in on any: outgoing packet %x", p.Data)
		}
		// SLL2: protocol, reserved, ifindex, hatype, packet type, address.
		d := p.Data
		if binary.BigEndian.Uint16(d) != 0x0800 {
			continue // ARP, IPv6
		}
		if int(binary.BigEndian.Uint32(d[4:])) != p.IfIndex || d[11] != 6 {
			t.Fatalf("bad SLL2 header %x", d[:20])
		}
		if len(d) >= 20+28 && d[20+9] == 17 && binary.BigEndian.Uint16(d[20+22:]) == 7004 {
			in++
			if p.Length != 20+20+8+200 {
				t.Errorf("any: length %d", p.Length)
			}
		}
	}
	if in != 20 {
		t.Errorf("-i any -Q in: %d datagrams to port 7004, want 20", in)
	}
}

// TestSetFilterLetsNothingEarlierThrough: with a flood crossing the link
// since before the filter, not one packet of it is delivered after
// SetFilter, however full the ring was.
func TestSetFilterLetsNothingEarlierThrough(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	h := openIn(t, l.Dst, Config{Interface: l.Dst.Ifaces[0].Name, BlockTimeout: 20 * time.Millisecond})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	rounds := make(chan struct{}, 200)
	wg.Go(func() {
		for i := 0; i < 200; i++ { // at most 200 × 200 datagrams
			select {
			case <-stop:
				return
			default:
			}
			if err := trySendUDP(l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7010), 200, 64); err != nil {
				t.Errorf("flood: %v", err)
				return
			}
			rounds <- struct{}{}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	for range 5 { // the ring holds 1,000 datagrams to port 7010 at least
		<-rounds
	}
	if err := h.SetFilter(udpPortFilter(t, 7011)); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		sendUDP(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7011), 10, 64)
		got := collect(t, h, 200*time.Millisecond)
		for _, p := range got {
			if port, _, ok := udpDstPort(p.Data); !ok || port != 7011 {
				t.Fatalf("round %d: a packet the filter rejects was delivered: %x", round, p.Data)
			}
		}
		if len(got) != 10 {
			t.Errorf("round %d: %d packets to port 7011, want 10", round, len(got))
		}
	}
}

func TestOpenErrors(t *testing.T) {
	labtest.RequireRoot(t)
	for _, cfg := range []Config{
		{Interface: "nosuch0"},
		{Interface: "lo", Snaplen: MaxSnaplen + 1},
		{Interface: "lo", Direction: 9},
	} {
		if h, err := Open(cfg); err == nil {
			h.Close()
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
	h, err := Open(Config{Interface: "lo", Snaplen: 128})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.LinkType() != pcap.Ethernet || h.Interface() != "lo" || h.Snaplen() != 128 {
		t.Errorf("lo: %v %s %d", h.LinkType(), h.Interface(), h.Snaplen())
	}
	// Interrupt ends a wait at once.
	go h.Interrupt()
	for {
		_, err := h.ReadPackets(func(*Packet) error { return nil })
		if err != nil {
			if err != ErrInterrupted {
				t.Errorf("after Interrupt: %v", err)
			}
			break
		}
	}
}

// liveReadAllocs is the allocation count of opening a Handle in dst and
// reading n datagrams off its ring (the sending, in between, not counted).
func liveReadAllocs(t *testing.T, l *lab.Lab, port uint16, n int) uint64 {
	var before, opened, sent, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h := openIn(t, l.Dst, Config{Interface: l.Dst.Ifaces[0].Name, Filter: udpPortFilter(t, port)})
	runtime.ReadMemStats(&opened)
	sendUDP(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, port), n, 32)
	seen := 0
	fn := func(p *Packet) error {
		if p, _, ok := udpDstPort(p.Data); ok && p == port {
			seen++
		}
		return nil
	}
	watchdog := time.AfterFunc(time.Minute, h.Interrupt) // a lost packet must not hang the test
	defer watchdog.Stop()
	runtime.ReadMemStats(&sent)
	for seen < n {
		if _, err := h.ReadPackets(fn); err != nil {
			t.Fatalf("after %d of %d datagrams: %v", seen, n, err)
		}
	}
	runtime.ReadMemStats(&after)
	if seen != n {
		t.Fatalf("read %d datagrams, sent %d", seen, n)
	}
	return opened.Mallocs - before.Mallocs + after.Mallocs - sent.Mallocs
}

// TestLiveReadAllocatesNothingPerPacket reads 20,000 packets off a real
// ring with a fresh Handle, and 2,000 with another: the long read
// allocates no more than the short one (a little slack for the runtime's
// own bookkeeping), so nothing is allocated per packet or per block.
//
// Not parallel: Mallocs counts every goroutine's allocations, and other
// tests of the package would add theirs.
func TestLiveReadAllocatesNothingPerPacket(t *testing.T) {
	l := labtest.Up(t, lab.Spec{})
	liveReadAllocs(t, l, 7049, 100) // warm up
	short, long := liveReadAllocs(t, l, 7050, 2000), liveReadAllocs(t, l, 7051, 20000)
	t.Logf("%d allocations opening and reading 2,000 packets, %d for 20,000", short, long)
	if int64(long)-int64(short) > 10 {
		t.Errorf("18,000 more packets cost %d more allocations (%d against %d)", int64(long)-int64(short), long, short)
	}
}
