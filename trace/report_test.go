package trace

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

const ms = time.Millisecond

// answered and lost make the probes of synthetic hop events.
func answered(a netip.Addr, rtt time.Duration) Probe {
	return Probe{Addr: a, RTT: rtt, Kind: KindTimeExceeded, QuotedTTL: 1}
}

func lost() Probe { return Probe{Timeout: true, QuotedTTL: -1} }

func TestReportStatistics(t *testing.T) {
	r1, r2 := netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.1.2")
	dst := netip.MustParseAddr("198.18.2.9")
	// Three cycles of three probes at TTL 1 and 2; the RTTs in the order
	// they were sent, with timeouts between.
	hop1 := [][]Probe{
		{answered(r1, 10*ms), answered(r1, 12*ms), lost()},
		{answered(r1, 9*ms), answered(r2, 15*ms), answered(r1, 11*ms)},
		{lost(), lost(), answered(r1, 20*ms)},
	}
	hop2 := [][]Probe{
		{answered(dst, 30*ms), answered(dst, 30*ms), answered(dst, 31*ms)},
		{answered(dst, 29*ms), answered(dst, 33*ms), answered(dst, 30*ms)},
		{answered(dst, 30*ms), answered(dst, 30*ms), answered(dst, 30*ms)},
	}
	var rep Report
	for c := range 3 {
		rep.Add(&Hop{TTL: 1, Probes: hop1[c]})
		rep.Add(&Hop{TTL: 2, Probes: hop2[c]})
		rep.AddResult(&Result{Cycle: c, Reached: true, Hops: 2})
	}
	rep.Finish()
	if rep.Cycles != 3 || rep.Reached != 3 || len(rep.Hops) != 2 {
		t.Fatalf("cycles %d reached %d hops %d, want 3 3 2", rep.Cycles, rep.Reached, len(rep.Hops))
	}
	h := rep.Hops[0]
	// RTTs of hop 1 in order: 10 12 9 15 11 20; |diffs| 2 3 6 4 9.
	if h.TTL != 1 || h.Sent != 9 || h.Received != 6 || h.LossPct() != 100*3.0/9 {
		t.Errorf("hop 1: ttl %d sent %d received %d loss %v; want 1, 9, 6, 33.3", h.TTL, h.Sent, h.Received, h.LossPct())
	}
	if h.RTT.Min() != 9*ms || h.RTT.Max() != 20*ms || h.RTT.Avg() != 77*ms/6 || h.Last != 20*ms {
		t.Errorf("hop 1: best %v worst %v avg %v last %v; want 9ms 20ms %v 20ms", h.RTT.Min(), h.RTT.Max(), h.RTT.Avg(), h.Last, 77*ms/6)
	}
	if h.Jitter != 24*ms/5 {
		t.Errorf("hop 1 jitter %v, want %v (mean |diff| of consecutive RTTs)", h.Jitter, 24*ms/5)
	}
	if !slices.Equal(h.Addrs, []netip.Addr{r1, r2}) {
		t.Errorf("hop 1 addrs %v, want [%s %s] in the order first seen", h.Addrs, r1, r2)
	}
	h = rep.Hops[1]
	// 30 30 31 29 33 30 30 30 30: |diffs| 0 1 2 4 3 0 0 0 = 10 over 8.
	if h.Sent != 9 || h.Received != 9 || h.LossPct() != 0 || h.RTT.Min() != 29*ms || h.RTT.Max() != 33*ms ||
		h.RTT.Avg() != 273*ms/9 || h.Jitter != 10*ms/8 {
		t.Errorf("hop 2: sent %d recv %d loss %v best %v worst %v avg %v jitter %v", h.Sent, h.Received, h.LossPct(), h.RTT.Min(), h.RTT.Max(), h.RTT.Avg(), h.Jitter)
	}
	// Hop 1's loss is not rate limiting beyond chance with 9 probes each.
	if rep.Hops[0].RateLimited || rep.Hops[1].RateLimited {
		t.Errorf("rate limited on 9 probes: %v %v", rep.Hops[0].RateLimited, rep.Hops[1].RateLimited)
	}
}

// simulate feeds `cycles` cycles of a 5-hop path to a report; lossAt
// says whether probe q of cycle c at ttl is lost.
func simulate(cycles int, lossAt func(c, ttl, q int) bool) *Report {
	var rep Report
	for c := range cycles {
		for ttl := 1; ttl <= 5; ttl++ {
			ps := make([]Probe, 3)
			for q := range ps {
				if lossAt(c, ttl, q) {
					ps[q] = lost()
				} else {
					ps[q] = answered(netip.AddrFrom4([4]byte{198, 18, byte(ttl), 1}), time.Duration(ttl)*ms)
				}
			}
			rep.Add(&Hop{TTL: ttl, Probes: ps})
		}
		rep.AddResult(&Result{Cycle: c, Reached: true, Hops: 5})
	}
	rep.Finish()
	return &rep
}

func rateLimited(rep *Report) []int {
	var out []int
	for _, h := range rep.Hops {
		if h.RateLimited {
			out = append(out, h.TTL)
		}
	}
	return out
}

func TestReportRateLimited(t *testing.T) {
	// Hop 2 answers every other probe; everything after it answers all:
	// the router limits its ICMP errors, the path loses nothing.
	rep := simulate(40, func(c, ttl, q int) bool { return ttl == 2 && (3*c+q)%2 == 0 })
	if got := rep.Hops[1].LossPct(); got != 50 {
		t.Fatalf("hop 2 loss %v, want 50", got)
	}
	if got := rateLimited(rep); !slices.Equal(got, []int{2}) {
		t.Errorf("rate limited at %v, want [2]", got)
	}
}

func TestReportPathLossNotRateLimited(t *testing.T) {
	// 30% loss from hop 3 on, as a lossy link before hop 3 gives: every
	// later hop's probes cross it and lose as much (each its own draws).
	rnd := rand.New(rand.NewPCG(11, 12))
	rep := simulate(40, func(c, ttl, q int) bool { return ttl >= 3 && rnd.Float64() < 0.3 })
	for _, h := range rep.Hops[2:] {
		if h.LossPct() < 15 || h.LossPct() > 45 {
			t.Fatalf("hop %d loss %v: the simulation is off", h.TTL, h.LossPct())
		}
	}
	if got := rateLimited(rep); len(got) != 0 {
		t.Errorf("path loss labelled rate limiting at %v", got)
	}
	// The same loss exactly: nothing farther shows less.
	rep = simulate(40, func(c, ttl, q int) bool { return ttl >= 3 && (3*c+q)%10 < 3 })
	if got := rateLimited(rep); len(got) != 0 {
		t.Errorf("equal path loss labelled rate limiting at %v", got)
	}
}

func TestReportTrimsHopsBeyondTheEnd(t *testing.T) {
	// Cycle 0 went to TTL 4 (unanswered beyond 2); cycle 1 ended at 2.
	var rep Report
	a := netip.MustParseAddr("198.18.1.1")
	rep.Add(&Hop{TTL: 1, Probes: []Probe{answered(a, ms)}})
	rep.Add(&Hop{TTL: 2, Probes: []Probe{answered(a, ms)}})
	rep.Add(&Hop{TTL: 3, Probes: []Probe{lost()}})
	rep.Add(&Hop{TTL: 4, Probes: []Probe{lost()}})
	rep.AddResult(&Result{Hops: 2, Reached: false})
	if len(rep.Hops) != 2 || rep.Reached != 0 || rep.Cycles != 1 {
		t.Errorf("%d hops, reached %d, cycles %d; want 2, 0, 1", len(rep.Hops), rep.Reached, rep.Cycles)
	}
	// A hop that answered once stays.
	rep.Add(&Hop{TTL: 3, Probes: []Probe{answered(a, ms)}})
	rep.AddResult(&Result{Hops: 2, Reached: true})
	if len(rep.Hops) != 3 || rep.Reached != 1 {
		t.Errorf("%d hops, reached %d; want 3, 1", len(rep.Hops), rep.Reached)
	}
}
