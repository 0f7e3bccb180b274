package trace

import (
	"context"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// tr is one trace for the path tests: its hops, TTL 1 first, each a list
// of the addresses its probes got answers from ("*" a timeout); the
// trace reached the target when its last hop is "dst".
type tr string

func (s tr) feed(p *PathTracker) bool {
	hops := strings.Fields(string(s))
	for i, h := range hops {
		hop := Hop{TTL: i + 1}
		for _, a := range strings.Split(h, ",") {
			pr := Probe{Timeout: a == "*"}
			if !pr.Timeout {
				pr.Addr = pathAddr(a)
			}
			hop.Probes = append(hop.Probes, pr)
		}
		p.Hop(&hop)
	}
	return p.Done(&Result{Hops: len(hops), Reached: strings.HasSuffix(string(s), "dst")})
}

func pathAddr(name string) netip.Addr {
	if name == "dst" {
		return netip.MustParseAddr("198.19.0.1")
	}
	return netip.AddrFrom4([4]byte{198, 18, name[0], name[len(name)-1]})
}

func TestPathTracker(t *testing.T) {
	cases := []struct {
		name   string
		traces []tr
		want   []bool // changed, per trace
	}{
		{"same path", []tr{"a b dst", "a b dst", "a b dst"}, []bool{false, false, false}},
		{"first trace is no change", []tr{"a b dst"}, []bool{false}},
		{"middle hop replaced", []tr{"a b dst", "a c dst", "a c dst"}, []bool{false, true, false}},
		{"rate-limited hop", []tr{"a b dst", "a * dst", "a b dst"}, []bool{false, false, false}},
		{"one of three probes answered", []tr{"a b,b,b dst", "a *,b,* dst"}, []bool{false, false}},
		{"changed while silent", []tr{"a b dst", "a * dst", "a c dst"}, []bool{false, false, true}},
		{"ecmp subsets", []tr{"a b,c dst", "a b dst", "a c dst", "a b,c dst"}, []bool{false, false, false, false}},
		{"ecmp other branch", []tr{"a b dst", "a c dst"}, []bool{false, true}},
		{"path grew", []tr{"a b dst", "a b c dst"}, []bool{false, true}},
		{"path shrank", []tr{"a b c dst", "a b dst"}, []bool{false, true}},
		{"target silent once", []tr{"a b dst", "a b *", "a b dst"}, []bool{false, false, false}},
		{"target silent, then longer", []tr{"a b dst", "a b * * *", "a b c dst"}, []bool{false, false, true}},
		{"never reached, timeouts vary", []tr{"a b * *", "a * * * * *", "a b *"}, []bool{false, false, false}},
		{"unknown hop filled in later", []tr{"a * dst", "a b dst", "a c dst"}, []bool{false, false, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p PathTracker
			for i, trace := range c.traces {
				if got := trace.feed(&p); got != c.want[i] {
					t.Errorf("trace %d %q: changed %v, want %v (reference %v)", i, trace, got, c.want[i], p.Path())
				}
			}
		})
	}
}

func TestPathTrackerInterrupted(t *testing.T) {
	var p PathTracker
	tr("a b dst").feed(&p)
	p.Hop(&Hop{TTL: 1, Probes: []Probe{{Addr: pathAddr("x")}}})
	if p.Done(&Result{Hops: 1, Interrupted: true}) {
		t.Error("an interrupted trace changed the path")
	}
	if tr("a b dst").feed(&p) {
		t.Error("the interrupted trace's hops were kept")
	}
	if got, want := p.Addr(2), pathAddr("b"); got != want {
		t.Errorf("Addr(2) = %v, want %v", got, want)
	}
	if p.Addr(4).IsValid() || p.Addr(0).IsValid() {
		t.Error("Addr beyond the path is valid")
	}
}

// TestPathTrackerRouteChangeMidTrace is issue 12's lost route change: the
// probes of one trace at TTL 2 straddle the change (the first answered by
// b, the later ones by c), and every trace after it sees only c. The
// mixed trace overlaps the reference {b}, so it is no change yet; but b
// must leave once c alone has answered long enough, and that departure
// is the change, counted once.
func TestPathTrackerRouteChangeMidTrace(t *testing.T) {
	var p PathTracker
	for range 3 {
		if tr("a b,b,b dst").feed(&p) {
			t.Fatal("a path that did not move changed")
		}
	}
	if tr("a b,c,c dst").feed(&p) {
		t.Error("the straddling trace changed the path: it overlaps the reference")
	}
	changes, at := 0, 0
	for i := 1; i <= 40; i++ {
		if tr("a c,c,c dst").feed(&p) {
			changes++
			at = i
		}
	}
	if changes != 1 {
		t.Fatalf("%d path changes in 40 traces through c alone after the straddling one, want 1 (reference %v)", changes, p.Path())
	}
	if want := (int(leaveAfter[2]) + 2) / 3; at != want {
		t.Errorf("the change counted at the %dth trace through c alone, want the %dth (b unseen for %d answers)", at, want, leaveAfter[2])
	}
	if got := p.Path()[1]; len(got) != 1 || got[0] != pathAddr("c") {
		t.Errorf("reference hop 2 = %v, want [c]", got)
	}
}

// TestPathTrackerStraddleOverSeveralHops: a change that moves two hops
// while a trace's probes are out counts once, even when the hops' old
// addresses leave in different traces (hop 3 answers one probe in three,
// so its old address lingers longer).
func TestPathTrackerStraddleOverSeveralHops(t *testing.T) {
	var p PathTracker
	tr("a b,b,b c,c,c dst").feed(&p)
	if tr("a b,d,d c,e,e dst").feed(&p) {
		t.Error("the straddling trace changed the path")
	}
	changes := 0
	for range 60 {
		if tr("a d,d,d *,e,* dst").feed(&p) {
			changes++
		}
	}
	if changes != 1 {
		t.Errorf("%d path changes, want 1 (reference %v)", changes, p.Path())
	}
}

// TestPathTrackerSilenceDoesNotAge: traces in which a hop did not answer
// do not age its addresses: the old router leaves after leaveAfter
// answers of the new one, however many silent traces come between.
func TestPathTrackerSilenceDoesNotAge(t *testing.T) {
	var p PathTracker
	tr("a b dst").feed(&p)
	tr("a b,c dst").feed(&p)
	for range 100 {
		if tr("a * dst").feed(&p) {
			t.Fatal("a silent hop changed the path")
		}
	}
	for i := 1; i <= int(leaveAfter[2]); i++ {
		if changed := tr("a c dst").feed(&p); changed != (i == int(leaveAfter[2])) {
			t.Fatalf("answer %d from c alone: changed %v, want it at answer %d", i, changed, leaveAfter[2])
		}
	}
}

// TestDepartureRulePerPacketBalancer: a hop that spreads every probe at
// random over N routers (the probes of one flow, which Paris ids cannot
// keep on one branch), whose reference knows all N, never has an address
// leave in 20,000 traces of Q = 3 probes, all answered or one in three
// (leaveAfter expects about 1.4e-9 per trace at N = 2, all answered).
// Before its reference knows them all, such a hop may show a set
// disjoint from it, a change under the older rule, as before.
func TestDepartureRulePerPacketBalancer(t *testing.T) {
	for _, n := range []int{2, 3, 4, 8} {
		for _, answered := range []float64{1, 1.0 / 3} {
			rng := rand.New(rand.NewPCG(uint64(n), 12))
			all := make([]netip.Addr, n)
			for i := range all {
				all[i] = netip.AddrFrom4([4]byte{198, 18, 2, byte(i)})
			}
			var h refHop
			h.set(all, 0)
			left := 0
			var cur []netip.Addr
			for range 20000 {
				cur = cur[:0]
				got := uint32(0)
				for range 3 {
					if rng.Float64() >= answered {
						continue
					}
					got++
					if a := all[rng.IntN(n)]; !slices.Contains(cur, a) {
						cur = append(cur, a)
					}
				}
				slices.SortFunc(cur, netip.Addr.Compare)
				if got > 0 && h.merge(cur, got) {
					left++
					h.set(all, h.answers)
				}
			}
			if left != 0 {
				t.Errorf("N=%d, %.0f%% answered: %d departures in 20000 traces, want 0", n, 100*answered, left)
			}
		}
	}
}

// TestPathTrackerDoesNotAllocate: once the tracker knows the path and
// its balancer's branches, a trace costs no allocation.
func TestPathTrackerDoesNotAllocate(t *testing.T) {
	hops := []Hop{
		{TTL: 1, Probes: []Probe{{Addr: pathAddr("a")}, {Timeout: true}, {Addr: pathAddr("a")}}},
		{TTL: 2, Probes: []Probe{{Addr: pathAddr("b")}, {Addr: pathAddr("c")}, {Addr: pathAddr("b")}}},
		{TTL: 3, Probes: []Probe{{Addr: pathAddr("dst")}, {Addr: pathAddr("dst")}, {Addr: pathAddr("dst")}}},
	}
	other := Hop{TTL: 2, Probes: []Probe{{Addr: pathAddr("c")}, {Addr: pathAddr("c")}, {Addr: pathAddr("c")}}}
	res := Result{Hops: 3, Reached: true}
	var p PathTracker
	trace := func(hop2 *Hop) {
		p.Hop(&hops[0])
		p.Hop(hop2)
		p.Hop(&hops[2])
		p.Done(&res)
	}
	trace(&hops[1])
	trace(&other)
	if n := testing.AllocsPerRun(200, func() { trace(&hops[1]); trace(&other) }); n != 0 {
		t.Errorf("%v allocations per two traces", n)
	}
	// A departure (b left out too long) and the whole reference it
	// takes allocate nothing either.
	if n := testing.AllocsPerRun(1, func() {
		for range leaveAfter[2] {
			trace(&other)
		}
		trace(&hops[1])
	}); n != 0 {
		t.Errorf("%v allocations through a departure", n)
	}
}

// BenchmarkPathTracker is one trace of a 3-hop path through a balanced
// hop, fed to the tracker: ns and allocations per trace.
func BenchmarkPathTracker(b *testing.B) {
	hops := []Hop{
		{TTL: 1, Probes: []Probe{{Addr: pathAddr("a")}, {Timeout: true}, {Addr: pathAddr("a")}}},
		{TTL: 2, Probes: []Probe{{Addr: pathAddr("b")}, {Addr: pathAddr("c")}, {Addr: pathAddr("b")}}},
		{TTL: 3, Probes: []Probe{{Addr: pathAddr("dst")}, {Addr: pathAddr("dst")}, {Addr: pathAddr("dst")}}},
	}
	res := Result{Hops: 3, Reached: true}
	var p PathTracker
	b.ReportAllocs()
	for b.Loop() {
		for i := range hops {
			p.Hop(&hops[i])
		}
		p.Done(&res)
	}
}

// routeSwitch is a fake network whose route to dst moves from one path
// to another right after the probe that makes it have sent at TTL 2.
type routeSwitch struct {
	*fakeNet
	dst    netip.Addr
	to     *fakePath
	after  int // TTL 2 probes before the move
	sentAt int
}

func (r *routeSwitch) Send(pkt []byte, dst netip.Addr) error {
	err := r.fakeNet.Send(pkt, dst)
	if pkt[8] == 2 { // IPv4 TTL
		r.sentAt++
		if r.sentAt == r.after {
			r.mu.Lock()
			r.paths[r.dst] = r.to
			r.mu.Unlock()
		}
	}
	return err
}

// TestPathTrackerEngineStraddle: the engine's own traces (one flow, three
// probes per hop: one per TTL first, the other two once the target has
// answered) show the old and the new router at TTL 2 in the cycle whose
// first probe there left before the route moved, and the tracker counts
// that change once, when the old router has been left out of
// leaveAfter[2] answers.
func TestPathTrackerEngineStraddle(t *testing.T) {
	dst := targetAddr(false, 1)
	old, moved := linearPath(false, 3, 1), linearPath(false, 3, 1)
	moved.hops[1] = fakeHop{addrs: []netip.Addr{routerAddr(false, 1, 2, 1)}}
	f := newFakeNet(false).addPath(dst, old)
	conn := &routeSwitch{fakeNet: f, dst: dst, to: moved, after: 3*2 + 1} // the first of cycle 2
	cfg := testConfig(ICMP, dst)
	cfg.Cycles = 20
	var p PathTracker
	var mixed []int
	changedAt := []int{}
	_, err := runGuarded(t, context.Background(), cfg, []Conn{conn}, func(ev Event) error {
		switch ev.Kind {
		case EventHop:
			p.Hop(ev.Hop)
			if ev.Hop.TTL == 2 && ev.Hop.Probes[0].Addr != ev.Hop.Probes[len(ev.Hop.Probes)-1].Addr {
				mixed = append(mixed, ev.Cycle)
			}
		case EventDone:
			if p.Done(ev.Result) {
				changedAt = append(changedAt, ev.Cycle)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(mixed, []int{2}) {
		t.Errorf("cycles with two routers at TTL 2: %v, want [2]", mixed)
	}
	if want := []int{2 + (int(leaveAfter[2])+2)/3}; !slices.Equal(changedAt, want) {
		t.Errorf("path changes at cycles %v, want %v", changedAt, want)
	}
}

// LeaveAfter is the tracker's own threshold, for those who follow hop
// addresses beside it.
func TestLeaveAfterExported(t *testing.T) {
	for n, want := range map[int]uint32{-1: math.MaxUint32, 0: math.MaxUint32, 1: math.MaxUint32, 2: 31, 3: 54, 16: 365, 17: 365, 1000: 365} {
		if got := LeaveAfter(n); got != want {
			t.Errorf("LeaveAfter(%d) = %d, want %d", n, got, want)
		}
	}
}
