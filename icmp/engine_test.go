package icmp

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/icmpmsg"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// withConns is cfg with the sockets that are not nil.
func withConns(cfg Config, cs ...Conn) Config {
	for _, c := range cs {
		if c != nil {
			cfg.Conns = append(cfg.Conns, c)
		}
	}
	return cfg
}

func run(t *testing.T, cfg Config, v4, v6 Conn) (Summary, []Event) {
	t.Helper()
	p, err := New(withConns(cfg, v4, v6))
	if err != nil {
		t.Fatal(err)
	}
	return runPinger(t, p)
}

// runPinger runs p (made by New) to its end, with every event.
func runPinger(t *testing.T, p *Pinger) (Summary, []Event) {
	t.Helper()
	var evs []Event
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sum, err := p.Run(ctx, func(e Event) error { evs = append(evs, e); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return sum, evs
}

func count(evs []Event, k EventKind) int {
	n := 0
	for _, e := range evs {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func TestAllAnswered(t *testing.T) {
	reply := func(req []byte, dst netip.Addr) []fakeReply {
		return []fakeReply{{pkt: echoReply(req, dst, !dst.Is4()), after: time.Millisecond}}
	}
	v4, v6 := newFake(false, 0x1234, reply), newFake(true, 0x1234, reply)
	cfg := Config{Targets: addrs("198.18.3.2", "fd00:0:0:3::2", "198.19.0.1"), Count: 4, Interval: 5 * time.Millisecond, Rate: 10000}
	sum, evs := run(t, cfg, v4, v6)
	for _, ts := range sum.Targets {
		if ts.Transmitted != 4 || ts.Received != 4 || ts.Duplicates != 0 || ts.LossPct() != 0 {
			t.Errorf("%s: %+v", ts.Addr, ts)
		}
		if ts.RTT.Count() != 4 || ts.RTT.Min() < time.Millisecond {
			t.Errorf("%s: rtt %v..%v from %d samples, want >= 1ms", ts.Addr, ts.RTT.Min(), ts.RTT.Max(), ts.RTT.Count())
		}
	}
	if got := count(evs, EventReply); got != 12 {
		t.Errorf("%d reply events, want 12", got)
	}
	seqs := map[int][]uint32{}
	for _, e := range evs {
		if e.Kind == EventReply {
			seqs[e.Target] = append(seqs[e.Target], e.Seq)
			if e.From != cfg.Targets[e.Target] {
				t.Errorf("reply from %s for target %s", e.From, cfg.Targets[e.Target])
			}
		}
	}
	for ti, s := range seqs {
		for i, seq := range s {
			if seq != uint32(i+1) {
				t.Errorf("target %d: replies in order %v, want 1..4", ti, s)
				break
			}
		}
	}
}

// TestLossTimeoutsAndLate: odd sequences are answered at once; every
// fourth is answered only once the engine has reported its timeout (so
// the reply is late whatever the machine's load); the rest are lost.
func TestLossTimeoutsAndLate(t *testing.T) {
	var mu sync.Mutex
	held := map[uint32]Packet{} // late replies, by sequence number
	reply := func(req []byte, dst netip.Addr) []fakeReply {
		seq := binary.BigEndian.Uint16(req[6:])
		switch {
		case seq%2 == 1:
			return []fakeReply{{pkt: echoReply(req, dst, false)}}
		case seq%4 == 0:
			mu.Lock()
			held[uint32(seq)] = echoReply(req, dst, false)
			mu.Unlock()
		}
		return nil
	}
	v4 := newFake(false, 7, reply)
	// 12 probes 10 ms apart: the run goes on some 80 ms after seq 4's
	// timeout, time for its late reply to be read.
	cfg := Config{Targets: addrs("198.18.3.2"), Count: 12, Interval: 10 * time.Millisecond, Timeout: 30 * time.Millisecond}
	p, err := New(withConns(cfg, v4))
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sum, err := p.Run(ctx, func(e Event) error {
		evs = append(evs, e)
		if e.Kind == EventTimeout {
			mu.Lock()
			pkt, ok := held[e.Seq]
			mu.Unlock()
			if ok {
				v4.inject(pkt)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := sum.Targets[0]
	if ts.Transmitted != 12 || ts.Received != 6 || ts.LossPct() != 50 {
		t.Fatalf("stats %+v, want 12 sent, 6 received, 50%% loss", ts)
	}
	if got := count(evs, EventTimeout); got != 6 {
		t.Errorf("%d timeouts, want 6", got)
	}
	// Seq 4's late reply comes in while the run goes on; those of 8 and
	// 12 may or may not make it before every probe is resolved.
	if ts.Late < 1 || ts.Late > 3 || count(evs, EventLate) != ts.Late {
		t.Errorf("late = %d (%d events), want 1 to 3", ts.Late, count(evs, EventLate))
	}
	for _, e := range evs {
		if e.Kind == EventLate && e.Seq%4 != 0 {
			t.Errorf("late event for seq %d: %+v", e.Seq, e)
		}
	}
}

func TestDuplicates(t *testing.T) {
	reply := func(req []byte, dst netip.Addr) []fakeReply {
		r := echoReply(req, dst, false)
		return []fakeReply{{pkt: r}, {pkt: r, after: time.Millisecond}}
	}
	v4 := newFake(false, 9, reply)
	cfg := Config{Targets: addrs("198.18.3.2"), Count: 3, Interval: 10 * time.Millisecond}
	sum, evs := run(t, cfg, v4, nil)
	ts := sum.Targets[0]
	if ts.Received != 3 || ts.Duplicates < 2 {
		t.Fatalf("stats %+v, want 3 received and at least 2 duplicates", ts)
	}
	dups := 0
	for _, e := range evs {
		if e.Kind == EventReply && e.Dup {
			dups++
		}
	}
	if dups != ts.Duplicates {
		t.Errorf("%d DUP events, %d counted", dups, ts.Duplicates)
	}
}

func TestICMPErrorsAreMatchedByQuote(t *testing.T) {
	router := netip.MustParseAddr("198.18.1.2")
	reply := func(req []byte, dst netip.Addr) []fakeReply {
		return []fakeReply{{pkt: timeExceeded4(req, router, netip.MustParseAddr("198.18.0.1"), dst)}}
	}
	v4 := newFake(false, 11, reply)
	cfg := Config{Targets: addrs("198.18.3.2"), Count: 2, Interval: 5 * time.Millisecond, Timeout: time.Second}
	start := time.Now()
	sum, evs := run(t, cfg, v4, nil)
	ts := sum.Targets[0]
	if ts.Errors != 2 || ts.Received != 0 {
		t.Fatalf("stats %+v, want 2 errors and no replies", ts)
	}
	for _, e := range evs {
		if e.Kind == EventError && (e.From != router || e.ICMPType != icmpmsg.TypeTimeExceeded4) {
			t.Errorf("error event %+v", e)
		}
	}
	// An error answers its probe: the run must not wait out the timeout.
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("run took %v; errors should resolve probes", d)
	}
}

func TestForeignRepliesIgnored(t *testing.T) {
	reply := func(req []byte, dst netip.Addr) []fakeReply {
		other := append([]byte(nil), req...)
		binary.BigEndian.PutUint64(other[8:], 0xdeadbeef) // another run's cookie
		wrongID := append([]byte(nil), req...)
		binary.BigEndian.PutUint16(wrongID[4:], 0x4444)
		return []fakeReply{{pkt: echoReply(other, dst, false)}, {pkt: echoReply(wrongID, dst, false)}}
	}
	v4 := newFake(false, 13, reply)
	cfg := Config{Targets: addrs("198.18.3.2"), Count: 3, Interval: 5 * time.Millisecond, Timeout: 50 * time.Millisecond}
	sum, _ := run(t, cfg, v4, nil)
	if ts := sum.Targets[0]; ts.Received != 0 || ts.Duplicates != 0 {
		t.Fatalf("counted foreign replies: %+v", ts)
	}
}

func TestDatagramSocketAndShortPayload(t *testing.T) {
	// A datagram socket: the kernel rewrites the identifier. With a payload
	// too short for the probe fields, matching falls back to address and
	// sequence.
	reply := func(req []byte, dst netip.Addr) []fakeReply {
		return []fakeReply{{pkt: echoReply(req, dst, false)}}
	}
	v4 := newFake(false, 40000, reply)
	v4.dgram = true
	for _, size := range []int{NoPayload, 8, 15, 16, 56} {
		cfg := Config{Targets: addrs("198.18.3.2", "198.18.3.3"), Count: 3, Interval: 2 * time.Millisecond, Size: size}
		sum, _ := run(t, cfg, v4, nil)
		for _, ts := range sum.Targets {
			if ts.Received != 3 {
				t.Errorf("size %d: %s received %d of 3", size, ts.Addr, ts.Received)
			}
		}
	}
}

// TestCancelStopsAndKeepsStatistics: an endless ping cancelled after its
// fifth reply stops sending and returns what it counted.
func TestCancelStopsAndKeepsStatistics(t *testing.T) {
	reply := func(req []byte, dst netip.Addr) []fakeReply {
		return []fakeReply{{pkt: echoReply(req, dst, false)}}
	}
	v4 := newFake(false, 17, reply)
	// 2,000 probes: a run that ignores the cancel still ends, after 20 s.
	p, err := New(withConns(Config{Targets: addrs("198.18.3.2"), Count: 2000, Interval: 10 * time.Millisecond}, v4, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	replies := 0
	sum, err := p.Run(ctx, func(e Event) error {
		if e.Kind == EventReply {
			if replies++; replies == 5 {
				cancel()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The replies counted before the cancel are kept, every probe written
	// is counted, and sending stopped long before the 2,000th probe.
	ts := sum.Targets[0]
	v4.mu.Lock()
	written := v4.written
	v4.mu.Unlock()
	if ts.Received < 5 || ts.Transmitted < ts.Received || ts.Transmitted >= 100 || written != ts.Transmitted || ts.RTT.Count() != ts.Received {
		t.Fatalf("cancelled at the fifth reply: %+v, %d written", ts, written)
	}
}

func TestFloodSendsOnReply(t *testing.T) {
	reply := func(req []byte, dst netip.Addr) []fakeReply {
		return []fakeReply{{pkt: echoReply(req, dst, false), after: 100 * time.Microsecond}}
	}
	v4 := newFake(false, 19, reply)
	cfg := Config{Targets: addrs("198.18.3.2"), Count: 200, Flood: true}
	start := time.Now()
	sum, _ := run(t, cfg, v4, nil)
	if ts := sum.Targets[0]; ts.Received != 200 {
		t.Fatalf("flood: %+v", ts)
	}
	// At the 10ms fallback pace 200 probes would take 2s.
	if d := time.Since(start); d > time.Second {
		t.Errorf("flood of 200 took %v: not sending on reply", d)
	}
}

func TestConfigErrors(t *testing.T) {
	v4 := newFake(false, 1, func([]byte, netip.Addr) []fakeReply { return nil })
	for _, cfg := range []Config{
		{},
		{Targets: addrs("198.18.3.2"), Count: -1},
		{Targets: addrs("198.18.3.2"), Size: 70000},
		{Targets: addrs("198.18.3.2"), Interval: -time.Second},
		{Targets: addrs("fd00::1")}, // no IPv6 socket
	} {
		if _, err := New(withConns(cfg, v4, nil)); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	other := newFake(false, 2, func([]byte, netip.Addr) []fakeReply { return nil })
	if _, err := New(withConns(Config{Targets: addrs("198.18.3.2")}, v4, other)); err == nil {
		t.Error("New accepted two IPv4 sockets")
	}
}

func TestExtendSeq(t *testing.T) {
	for _, tc := range []struct {
		last uint32
		wire uint16
		want uint32
	}{{5, 5, 5}, {5, 3, 3}, {70000, 70000 & 0xffff, 70000}, {70000, 65535, 65535}, {65536, 65535, 65535}, {65537, 0, 65536}} {
		if got := extendSeq(tc.last, tc.wire); got != tc.want {
			t.Errorf("extendSeq(%d, %d) = %d, want %d", tc.last, tc.wire, got, tc.want)
		}
	}
}

// TestNoWaitAfterLastProbe: once the last probe is answered the run ends;
// it does not sleep another interval first (ping -c 1 returns at once).
func TestNoWaitAfterLastProbe(t *testing.T) {
	reply := func(req []byte, dst netip.Addr) []fakeReply {
		return []fakeReply{{pkt: echoReply(req, dst, false), after: time.Millisecond}}
	}
	v4 := newFake(false, 21, reply)
	start := time.Now()
	sum, _ := run(t, Config{Targets: addrs("198.18.3.2"), Count: 2, Interval: 300 * time.Millisecond}, v4, nil)
	if d := time.Since(start); d > 500*time.Millisecond || sum.Targets[0].Received != 2 {
		t.Errorf("2 probes 300ms apart took %v (received %d); want about 300ms", d, sum.Targets[0].Received)
	}
}

// TestFloodWithoutReplies: when replies do not come, a flood still sends
// one probe per interval, and ends a timeout after the last.
func TestFloodWithoutReplies(t *testing.T) {
	v4 := newFake(false, 23, func([]byte, netip.Addr) []fakeReply { return nil })
	start := time.Now()
	sum, evs := run(t, Config{Targets: addrs("198.18.3.2"), Count: 10, Flood: true, Interval: 5 * time.Millisecond, Timeout: 50 * time.Millisecond}, v4, nil)
	d := time.Since(start)
	if ts := sum.Targets[0]; ts.Transmitted != 10 || ts.Received != 0 || count(evs, EventTimeout) != 10 {
		t.Fatalf("stats %+v, %d timeouts", ts, count(evs, EventTimeout))
	}
	// 9 gaps of 5ms, then the last probe's 50ms timeout.
	if d < 90*time.Millisecond || d > 600*time.Millisecond {
		t.Errorf("flood of 10 unanswered probes took %v, want about 95ms", d)
	}
}

// redirect4 is the ICMPv4 redirect a router sends about req while it
// forwards it all the same.
func redirect4(req []byte, router, src, dst netip.Addr) Packet {
	pkt := timeExceeded4(req, router, src, dst)
	pkt.Data[0], pkt.Data[1] = icmpmsg.TypeRedirect4, 1
	pkt.Data[2], pkt.Data[3] = 0, 0
	binary.BigEndian.PutUint16(pkt.Data[2:], icmpmsg.Checksum(pkt.Data, 0))
	return pkt
}

// TestRedirectDoesNotSettleProbe: a redirect is reported, but the reply
// that follows still counts (it is no duplicate, and no error).
func TestRedirectDoesNotSettleProbe(t *testing.T) {
	router := netip.MustParseAddr("198.18.0.2")
	reply := func(req []byte, dst netip.Addr) []fakeReply {
		return []fakeReply{
			{pkt: redirect4(req, router, netip.MustParseAddr("198.18.0.1"), dst)},
			{pkt: echoReply(req, dst, false), after: time.Millisecond},
		}
	}
	v4 := newFake(false, 25, reply)
	sum, evs := run(t, Config{Targets: addrs("198.18.3.2"), Count: 3, Interval: 5 * time.Millisecond}, v4, nil)
	ts := sum.Targets[0]
	if ts.Received != 3 || ts.Duplicates != 0 || ts.Errors != 0 {
		t.Fatalf("stats %+v: want 3 received, no duplicates, no errors", ts)
	}
	if n := count(evs, EventError); n != 3 {
		t.Errorf("%d redirect events, want 3", n)
	}
}

// TestUntilReplies: with -w, -c counts replies: probes go on until each
// target has answered Count times, and stop then. How many probes go out
// before the replies are read depends on the machine's load; what does
// not is that a target gets at most one probe after its Count-th reply
// (one whose send had begun as the reply was read), and 6 at least.
func TestUntilReplies(t *testing.T) {
	reply := func(req []byte, dst netip.Addr) []fakeReply {
		if binary.BigEndian.Uint16(req[6:])%2 == 1 { // odd probes are lost
			return nil
		}
		return []fakeReply{{pkt: echoReply(req, dst, false)}}
	}
	v4 := newFake(false, 27, reply)
	sum, evs := run(t, Config{Targets: addrs("198.18.3.2", "198.18.3.3"), Count: 3, UntilReplies: true,
		Interval: 5 * time.Millisecond, Timeout: 20 * time.Millisecond, ReportSent: true}, v4, nil)
	for i, ts := range sum.Targets {
		replies, after := 0, 0
		for _, e := range evs {
			switch {
			case e.Target != i:
			case e.Kind == EventReply:
				replies++
			case e.Kind == EventSent && replies >= 3:
				after++
			}
		}
		if ts.Received != 3 || ts.Transmitted < 6 || after > 1 {
			t.Errorf("%s: %d sent, %d received, %d sent after the third reply; want 3 replies from 6 probes or more, at most 1 after the third", ts.Addr, ts.Transmitted, ts.Received, after)
		}
	}
}

// TestMessageTooLongIsALocalError: a probe the kernel refuses as longer
// than the path MTU (EMSGSIZE, ping -M do) is transmitted and counted as an
// error, with the MTU, as iputils counts "+N errors"; other send failures
// stay send errors.
func TestMessageTooLongIsALocalError(t *testing.T) {
	saved := pathMTU
	defer func() { pathMTU = saved }()
	pathMTU = func(netip.Addr) (int, error) { return 1500, nil }
	dst := netip.MustParseAddr("198.18.1.2")
	for _, tc := range []struct {
		err              error
		kind             EventKind
		errors, sendErrs int
	}{
		{fmt.Errorf("icmp: send to %s: %w", dst, syscall.EMSGSIZE), EventLocalError, 3, 0},
		{fmt.Errorf("icmp: send to %s: %w", dst, syscall.EACCES), EventSent, 0, 3},
	} {
		c := newFake(false, 7, nil)
		c.writeErr = tc.err
		sum, evs := run(t, Config{Targets: []netip.Addr{dst}, Count: 3, Interval: time.Millisecond}, c, nil)
		st := sum.Targets[0]
		if st.Transmitted != 3 || st.Received != 0 || st.Errors != tc.errors || st.SendErrors != tc.sendErrs {
			t.Errorf("%v: stats %+v, want 3 transmitted, %d errors, %d send errors", tc.err, st, tc.errors, tc.sendErrs)
		}
		if len(evs) != 3 {
			t.Fatalf("%v: %d events, want 3: %+v", tc.err, len(evs), evs)
		}
		for i, ev := range evs {
			if ev.Kind != tc.kind || ev.Seq != uint32(i+1) || ev.Err == nil || (tc.kind == EventLocalError) != (ev.Info == 1500) {
				t.Errorf("%v: event %+v, want %v for seq %d", tc.err, ev, tc.kind, i+1)
			}
		}
	}
}

// TestRingWrapTimesOut: a probe whose ring slot is taken by a later one
// while it still waits (the coordinator fell behind on a loaded machine;
// here a ring shrunk to 4 slots under a timeout of 12 probes) is reported
// as timed out, once, like every other lost probe: before, it vanished
// without an event.
func TestRingWrapTimesOut(t *testing.T) {
	v4 := newFake(false, 31, func([]byte, netip.Addr) []fakeReply { return nil })
	cfg := Config{Targets: addrs("198.18.3.2"), Count: 12, Interval: 2 * time.Millisecond, Timeout: 100 * time.Millisecond}
	p, err := New(withConns(cfg, v4))
	if err != nil {
		t.Fatal(err)
	}
	p.targets[0].ring, p.targets[0].mask = make([]slot, 4), 3
	sum, evs := runPinger(t, p)
	seen := map[uint32]int{}
	for _, e := range evs {
		if e.Kind == EventTimeout {
			seen[e.Seq]++
		}
	}
	for seq := uint32(1); seq <= 12; seq++ {
		if seen[seq] != 1 {
			t.Errorf("seq %d: %d timeout events, want 1 (all: %v)", seq, seen[seq], seen)
		}
	}
	if ts := sum.Targets[0]; ts.Transmitted != 12 || ts.Received != 0 {
		t.Errorf("stats %+v, want 12 sent, none received", ts)
	}
}
