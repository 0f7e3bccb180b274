package live

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/rawnet/rawnet/trace"
)

const ms = time.Millisecond

var (
	r1  = netip.MustParseAddr("198.18.0.2")
	r2a = netip.MustParseAddr("198.18.1.2")
	r2b = netip.MustParseAddr("198.18.101.2")
	dst = netip.MustParseAddr("198.18.2.2")
)

func te(a netip.Addr, rtt time.Duration, flow int) trace.Probe {
	return trace.Probe{Flow: flow, Addr: a, RTT: rtt, Kind: trace.KindTimeExceeded, Type: 11, QuotedTTL: 1}
}

func reach(a netip.Addr, rtt time.Duration, flow int) trace.Probe {
	return trace.Probe{Flow: flow, Addr: a, RTT: rtt, Kind: trace.KindUnreachable, Type: 3, Code: 3, Reached: true, QuotedTTL: 1}
}

func lostProbe(flow int) trace.Probe { return trace.Probe{Flow: flow, Timeout: true, QuotedTTL: -1} }

// feedEvents puts events through a Feed and applies them, as the view
// does.
func feedEvents(s *Stats, evs ...trace.Event) {
	f := NewFeed(1000)
	for _, ev := range evs {
		f.Put(ev)
	}
	items, _ := f.Take(nil)
	for i := range items {
		s.Apply(&items[i])
	}
}

func hopEv(target, cycle, ttl int, probes ...trace.Probe) trace.Event {
	return trace.Event{Kind: trace.EventHop, Target: target, Cycle: cycle, Hop: &trace.Hop{TTL: ttl, Probes: probes}}
}

func doneEv(target, cycle, hops int, reached, interrupted bool) trace.Event {
	return trace.Event{Kind: trace.EventDone, Target: target, Cycle: cycle,
		Result: &trace.Result{Cycle: cycle, Hops: hops, Reached: reached, Interrupted: interrupted}}
}

// The model's figures are trace.Report's, the ones --report prints, for
// the same probes.
func TestStatsMatchReport(t *testing.T) {
	cycles := [][2][]trace.Probe{
		{{te(r1, 1*ms, 0)}, {reach(dst, 3*ms, 0)}},
		{{lostProbe(0)}, {reach(dst, 5*ms, 0)}},
		{{te(r1, 2*ms, 0)}, {lostProbe(0)}},
		{{te(r1, 4*ms, 0)}, {reach(dst, 4*ms, 0)}},
	}
	s := NewStats([]netip.Addr{dst}, 1)
	var want trace.Report
	for c, hops := range cycles {
		feedEvents(s, hopEv(0, c, 1, hops[0]...), hopEv(0, c, 2, hops[1]...), doneEv(0, c, 2, !hops[1][0].Timeout, false))
		want.Add(&trace.Hop{TTL: 1, Probes: hops[0]})
		want.Add(&trace.Hop{TTL: 2, Probes: hops[1]})
		want.AddResult(&trace.Result{Hops: 2, Reached: !hops[1][0].Timeout})
	}
	want.Target = dst
	want.Finish()
	ts := s.Targets[0]
	got := ts.All.Report(dst)
	if ts.Cycles != 4 || ts.Reached != 3 || got.Cycles != 4 || got.Reached != 3 || len(got.Hops) != 2 {
		t.Fatalf("cycles %d reached %d, report %d/%d with %d hops; want 4, 3, 2 hops", ts.Cycles, ts.Reached, got.Cycles, got.Reached, len(got.Hops))
	}
	rows := ts.All.Rows(dst)
	for i := range want.Hops {
		w, g, r := want.Hops[i], got.Hops[i], rows[i].ReportHop
		for _, h := range []trace.ReportHop{g, r} {
			if h.TTL != w.TTL || h.Sent != w.Sent || h.Received != w.Received || h.Last != w.Last || h.RTT != w.RTT || h.Jitter != w.Jitter || h.LossPct() != w.LossPct() {
				t.Errorf("hop %d: %+v, want %+v", i+1, h, w)
			}
		}
	}
	if l := rows[0].LossPct(); l != 25 {
		t.Errorf("hop 1 loss %v%%, want 25%%", l)
	}
	// Rows are built on a copy: counting goes on after them.
	feedEvents(s, hopEv(0, 4, 1, te(r1, 1*ms, 0)), hopEv(0, 4, 2, reach(dst, 3*ms, 0)), doneEv(0, 4, 2, true, false))
	if rows := ts.All.Rows(dst); rows[0].Sent != 5 || rows[1].Jitter == 0 {
		t.Errorf("after a fifth cycle: hop 1 sent %d, hop 2 jitter %v; want 5 and jitter above 0", rows[0].Sent, rows[1].Jitter)
	}
}

// A cycle cut short (pause, quit) reports its waiting probes as timed
// out; it must not count as loss.
func TestStatsSkipInterruptedCycle(t *testing.T) {
	s := NewStats([]netip.Addr{dst}, 1)
	feedEvents(s, hopEv(0, 0, 1, te(r1, 1*ms, 0)), hopEv(0, 0, 2, reach(dst, 2*ms, 0)), doneEv(0, 0, 2, true, false))
	feedEvents(s, doneEv(0, 1, 0, false, true))
	ts := s.Targets[0]
	if ts.Cycles != 1 || ts.All.Report(dst).Cycles != 1 {
		t.Errorf("cycles %d, report cycles %d after an interrupted one; want 1", ts.Cycles, ts.All.Report(dst).Cycles)
	}
}

// Several flows: every flow has its own rows, and all together sum them;
// ECMP shows both branches with each address's own figures.
func TestStatsFlowsAndAddresses(t *testing.T) {
	s := NewStats([]netip.Addr{dst}, 1)
	for c := range 3 {
		feedEvents(s,
			hopEv(0, c, 1, te(r1, 1*ms, 0), te(r1, 1*ms, 1)),
			hopEv(0, c, 2, te(r2a, 2*ms, 0), lostProbe(1)),
			hopEv(0, c, 3, reach(dst, 3*ms, 0), reach(dst, 3*ms, 1)),
			doneEv(0, c, 3, true, false))
	}
	// flow 1 answers at r2b from cycle 3 on.
	feedEvents(s, hopEv(0, 3, 1, te(r1, 1*ms, 0), te(r1, 1*ms, 1)),
		hopEv(0, 3, 2, te(r2a, 2*ms, 0), te(r2b, 6*ms, 1)),
		hopEv(0, 3, 3, reach(dst, 3*ms, 0), reach(dst, 3*ms, 1)),
		doneEv(0, 3, 3, true, false))
	ts := s.Targets[0]
	if !slices.Equal(ts.Flows, []int{0, 1}) {
		t.Fatalf("flows %v, want [0 1]", ts.Flows)
	}
	all, f0, f1 := ts.Flow(AllFlows).Rows(dst), ts.Flow(0).Rows(dst), ts.Flow(1).Rows(dst)
	if all[1].Sent != 8 || all[1].Received != 5 || f0[1].Sent != 4 || f0[1].Received != 4 || f1[1].Sent != 4 || f1[1].Received != 1 {
		t.Errorf("hop 2 sent/received: all %d/%d flow 0 %d/%d flow 1 %d/%d; want 8/5, 4/4, 4/1",
			all[1].Sent, all[1].Received, f0[1].Sent, f0[1].Received, f1[1].Sent, f1[1].Received)
	}
	if !slices.Equal(all[1].Addrs, []netip.Addr{r2a, r2b}) || len(all[1].Info.Addrs) != 2 {
		t.Fatalf("hop 2 addresses %v, want [%s %s]", all[1].Addrs, r2a, r2b)
	}
	a, b := all[1].Info.Addrs[0], all[1].Info.Addrs[1]
	fa, fb := a.Figures(), b.Figures()
	if fa.Received != 4 || fa.RTT.Avg() != 2*ms || fb.Received != 1 || fb.RTT.Avg() != 6*ms || fb.LossPct() != 0 {
		t.Errorf("per address: %s %d answers avg %v, %s %d avg %v; want 4 at 2ms, 1 at 6ms", a.Addr, fa.Received, fa.RTT.Avg(), b.Addr, fb.Received, fb.RTT.Avg())
	}
	if !slices.Equal(a.FlowList, []int{0}) || !slices.Equal(b.FlowList, []int{1}) {
		t.Errorf("flows per address: %v %v, want [0] [1]", a.FlowList, b.FlowList)
	}
	if ts.Flow(7) != ts.All {
		t.Error("an unknown flow does not fall back to all flows")
	}
}

// MPLS labels and quoted-header changes are kept per address, as last
// seen, and survive the feed's reuse of its buffers.
func TestStatsAnnotations(t *testing.T) {
	s := NewStats([]netip.Addr{dst}, 1)
	p := te(r2a, 2*ms, 0)
	p.Labels = []trace.MPLSLabel{{Label: 100, TC: 1, S: true, TTL: 1}}
	p.Changed = trace.Changes{TOS: true, SentTOS: 0, GotTOS: 0x20}
	f := NewFeed(10)
	f.Put(hopEv(0, 0, 1, te(r1, 1*ms, 0)))
	f.Put(hopEv(0, 0, 2, p))
	items, _ := f.Take(nil)
	for i := range items {
		s.Apply(&items[i])
	}
	// The feed reuses the items' storage for the next events.
	p.Labels = []trace.MPLSLabel{{Label: 999}}
	f.Put(hopEv(0, 0, 1, te(r1, 1*ms, 0)))
	f.Put(hopEv(0, 0, 3, p))
	_, _ = f.Take(items)
	a := s.Targets[0].All.Rows(dst)[1].Info.Addrs[0]
	if len(a.Labels) != 1 || a.Labels[0].Label != 100 || !a.Changed.TOS || a.Changed.GotTOS != 0x20 || a.Answer != "Time to live exceeded" {
		t.Errorf("annotations %+v %+v %q, want label 100, tos 0x00->0x20, time exceeded", a.Labels, a.Changed, a.Answer)
	}
}

func TestStatsHistory(t *testing.T) {
	s := NewStats([]netip.Addr{dst}, 1)
	for c := range HistoryLen + 3 {
		p := te(r1, time.Duration(c+1)*ms, 0)
		if c%2 == 1 {
			p = lostProbe(0)
		}
		feedEvents(s, hopEv(0, c, 1, p, te(r1, 500*ms, 0)), doneEv(0, c, 1, false, false))
	}
	h := s.Targets[0].All.Rows(dst)[0].Info.History(4)
	want := []Sample{{RTT: 500 * ms}, {RTT: 257 * ms}, {RTT: 500 * ms}, {RTT: 259 * ms}}
	if !slices.Equal(h, want) {
		t.Errorf("last 4 samples %v, want %v (best RTT of each cycle)", h, want)
	}
	if n := len(s.Targets[0].All.Rows(dst)[0].Info.History(10000)); n != HistoryLen {
		t.Errorf("history holds %d samples, want %d", n, HistoryLen)
	}
	s2 := NewStats([]netip.Addr{dst}, 1)
	feedEvents(s2, hopEv(0, 0, 1, lostProbe(0)), doneEv(0, 0, 1, false, false))
	if h := s2.Targets[0].All.Rows(dst)[0].Info.History(5); !slices.Equal(h, []Sample{{Lost: true}}) {
		t.Errorf("a silent cycle: %v, want one lost sample", h)
	}
}

func TestStatsReset(t *testing.T) {
	s := NewStats([]netip.Addr{dst, r2b}, 1)
	feedEvents(s, hopEv(0, 0, 1, te(r1, 1*ms, 0)), hopEv(0, 0, 2, reach(dst, 2*ms, 0)), doneEv(0, 0, 2, true, false),
		hopEv(1, 0, 1, te(r1, 1*ms, 0)))
	s.Reset()
	for _, ts := range s.Targets {
		if ts.Cycles != 0 || ts.Probes != 0 || len(ts.All.Rows(ts.Addr)) != 0 || len(ts.Flows) != 0 {
			t.Errorf("%s after reset: cycles %d probes %d rows %d", ts.Addr, ts.Cycles, ts.Probes, len(ts.All.Rows(ts.Addr)))
		}
	}
	feedEvents(s, hopEv(0, 1, 1, te(r1, 1*ms, 0)))
	if r := s.Targets[0].All.Rows(dst); len(r) != 1 || r[0].Sent != 1 {
		t.Errorf("counting after reset: %+v", r)
	}
}

// Multipath adds flows at farther TTLs: a flow first seen at TTL 3 and
// then at TTL 1 has its rows from the first TTL.
func TestStatsFlowFirstSeenFarther(t *testing.T) {
	s := NewStats([]netip.Addr{dst}, 1)
	feedEvents(s, hopEv(0, 0, 1, te(r1, 1*ms, 0)), hopEv(0, 0, 3, te(r2a, 1*ms, 0), te(r2b, 1*ms, 5)),
		doneEv(0, 0, 3, false, false), hopEv(0, 1, 1, te(r1, 1*ms, 0), te(r1, 1*ms, 5)))
	rows := s.Targets[0].Flow(5).Rows(dst)
	if len(rows) != 3 || rows[0].TTL != 1 || rows[0].Sent != 1 || rows[1].Sent != 0 || rows[2].Sent != 1 {
		t.Errorf("flow 5 rows %+v, want TTL 1..3 with 1, 0, 1 sent", rows)
	}
}

func TestFeedNeverWaits(t *testing.T) {
	f := NewFeed(3)
	for i := range 10 {
		f.Put(hopEv(0, i, 1, te(r1, ms, 0))) // nobody takes: must not block
	}
	items, dropped := f.Take(nil)
	if len(items) != 3 || dropped != 7 {
		t.Errorf("%d items, %d dropped; want 3 kept and 7 dropped", len(items), dropped)
	}
	select {
	case <-f.Ready():
	default:
		t.Error("no ready signal after Put")
	}
	f.SetDiscard(true)
	f.Put(hopEv(0, 0, 1, te(r1, ms, 0)))
	if items, dropped := f.Take(items); len(items) != 0 || dropped != 7 {
		t.Errorf("paused: %d items, %d dropped; want 0 and still 7", len(items), dropped)
	}
}

// Put copies into reused buffers: in steady state it allocates nothing,
// so the prober's sink costs no garbage.
func TestFeedPutAllocatesNothing(t *testing.T) {
	f := NewFeed(100)
	p := te(r2a, ms, 0)
	p.Labels = []trace.MPLSLabel{{Label: 1}, {Label: 2}}
	ev := hopEv(0, 0, 2, p, te(r2a, ms, 0), lostProbe(0))
	var spare []Item
	round := func() {
		for range 10 {
			f.Put(ev)
		}
		spare, _ = f.Take(spare)
	}
	round()
	round()
	if n := testing.AllocsPerRun(100, round); n != 0 {
		t.Errorf("%v allocations per 10 Puts and a Take, want 0", n)
	}
}
