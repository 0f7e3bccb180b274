// Package live is rawnet trace --live (rawnet mtr): a full-screen view
// that refreshes the per-hop statistics of a repeated trace as the
// answers come in, as mtr and trippy do.
//
// It has three parts that know little of each other: Feed carries the
// engine's events to the view without ever holding up the prober; Stats
// is the statistics model, which applies events and builds the rows to
// draw with trace.Report, the same figures as rawnet trace --report; and
// View draws Stats with bubbletea and handles the keys.
package live

import (
	"net/netip"
	"slices"
	"time"

	"github.com/rawnet/rawnet/trace"
)

// HistoryLen is how many cycles of round trips each hop keeps for its
// history chart.
const HistoryLen = 256

// AllFlows selects the statistics of every flow together.
const AllFlows = -1

// Stats is the statistics model of a live trace: per target, the report
// of every flow together and of each flow alone.
type Stats struct {
	Targets []*TargetStats
	v6      []bool
	first   int // the first TTL probed
}

// TargetStats is one target's statistics since the start or the last
// reset.
type TargetStats struct {
	Addr    netip.Addr
	Cycles  int // cycles ended (interrupted ones are not counted)
	Reached int // cycles in which the target answered
	Probes  int // probes counted
	All     *FlowStats
	Flows   []int // flow numbers seen, sorted
	byFlow  map[int]*FlowStats
	first   int
	scratch trace.Hop
}

// FlowStats is a report over one flow, or over all of them, with what a
// report does not keep: every address's own figures and annotations, and
// each hop's recent history.
type FlowStats struct {
	rep   trace.Report
	hops  []*HopInfo // by TTL - first TTL, as rep.Hops
	first int
}

// HopInfo is what one TTL showed beyond the report's figures.
type HopInfo struct {
	TTL   int
	Addrs []*AddrInfo
	hist  [HistoryLen]Sample
	n     int // samples pushed in all
}

// Sample is one cycle at one hop: the best round trip of its answers, or
// Lost when none came.
type Sample struct {
	RTT  time.Duration
	Lost bool
}

// AddrInfo is one address that answered at a hop.
type AddrInfo struct {
	Addr       netip.Addr
	Labels     []trace.MPLSLabel // the MPLS label stack of its last answer
	Changed    trace.Changes     // what its last answer's quote says changed
	Answer     string            // its last answer in words ("Time to live exceeded")
	Annotation string            // traceroute's mark of its last answer (!H, !N, ...)
	FlowList   []int             // flows it answered, sorted
	rep        trace.Report      // one hop: its answers' figures
}

// NewStats returns an empty model for the targets, traced from TTL
// firstTTL (0 means 1).
func NewStats(targets []netip.Addr, firstTTL int) *Stats {
	s := &Stats{first: max(firstTTL, 1)}
	for _, a := range targets {
		s.Targets = append(s.Targets, newTargetStats(a, s.first))
		s.v6 = append(s.v6, !a.Is4())
	}
	return s
}

func newTargetStats(a netip.Addr, first int) *TargetStats {
	return &TargetStats{Addr: a, All: &FlowStats{first: first}, byFlow: map[int]*FlowStats{}, first: first}
}

// Reset forgets every figure, as if the trace had just started.
func (s *Stats) Reset() {
	for i, t := range s.Targets {
		s.Targets[i] = newTargetStats(t.Addr, s.first)
	}
}

// Apply takes one engine event into the statistics.
func (s *Stats) Apply(it *Item) {
	if it.Target < 0 || it.Target >= len(s.Targets) {
		return
	}
	t := s.Targets[it.Target]
	switch it.Kind {
	case trace.EventHop:
		s.applyHop(t, &it.Hop, s.v6[it.Target])
	case trace.EventDone:
		// An interrupted cycle (a pause or the end) reports its waiting
		// probes as timed out, though they were not lost: it is left out.
		if it.Result.Interrupted {
			return
		}
		t.Cycles++
		if it.Result.Reached {
			t.Reached++
		}
		t.All.rep.AddResult(&it.Result)
		t.All.trim()
		for _, f := range t.byFlow {
			f.rep.AddResult(&it.Result)
			f.trim()
		}
	}
}

func (s *Stats) applyHop(t *TargetStats, h *trace.Hop, v6 bool) {
	if len(h.Probes) == 0 || h.TTL < t.first {
		return
	}
	t.Probes += len(h.Probes)
	t.All.add(h, v6)
	for _, p := range h.Probes {
		if _, ok := t.byFlow[p.Flow]; !ok {
			t.byFlow[p.Flow] = &FlowStats{first: t.first}
			t.Flows = append(t.Flows, p.Flow)
			slices.Sort(t.Flows)
		}
	}
	if len(t.Flows) == 1 {
		t.byFlow[t.Flows[0]].add(h, v6)
		return
	}
	for _, f := range t.Flows {
		t.scratch.TTL = h.TTL
		t.scratch.Probes = t.scratch.Probes[:0]
		for _, p := range h.Probes {
			if p.Flow == f {
				t.scratch.Probes = append(t.scratch.Probes, p)
			}
		}
		if len(t.scratch.Probes) > 0 {
			t.byFlow[f].add(&t.scratch, v6)
		}
	}
}

// Flow returns the statistics of flow f, or of all flows for AllFlows or
// a flow not seen.
func (t *TargetStats) Flow(f int) *FlowStats {
	if fs, ok := t.byFlow[f]; ok && f != AllFlows {
		return fs
	}
	return t.All
}

// add counts one hop event.
func (f *FlowStats) add(h *trace.Hop, v6 bool) {
	// Rows start at the first TTL even for a flow first seen farther
	// (multipath adds flows as it goes), so that every row has its place.
	if len(f.rep.Hops) == 0 {
		f.rep.Add(&trace.Hop{TTL: f.first})
	}
	f.rep.Add(h)
	for len(f.hops) < len(f.rep.Hops) {
		f.hops = append(f.hops, &HopInfo{TTL: f.rep.Hops[len(f.hops)].TTL})
	}
	hi := f.hops[h.TTL-f.rep.Hops[0].TTL]
	best, answered := time.Duration(0), false
	for i := range h.Probes {
		p := &h.Probes[i]
		if p.Timeout {
			continue
		}
		if !answered || p.RTT < best {
			best = p.RTT
		}
		answered = true
		hi.addr(p).add(p, v6)
	}
	hi.push(Sample{RTT: best, Lost: !answered})
}

// trim drops what the report dropped (hops past the end of a trace that
// never answered).
func (f *FlowStats) trim() {
	if len(f.hops) > len(f.rep.Hops) {
		f.hops = f.hops[:len(f.rep.Hops)]
	}
}

func (h *HopInfo) addr(p *trace.Probe) *AddrInfo {
	for _, a := range h.Addrs {
		if a.Addr == p.Addr {
			return a
		}
	}
	a := &AddrInfo{Addr: p.Addr}
	h.Addrs = append(h.Addrs, a)
	return a
}

func (a *AddrInfo) add(p *trace.Probe, v6 bool) {
	a.rep.Add(&trace.Hop{TTL: 1, Probes: []trace.Probe{{Addr: p.Addr, RTT: p.RTT}}})
	a.Labels = append(a.Labels[:0], p.Labels...)
	a.Changed = p.Changed
	a.Answer = p.Describe(v6)
	a.Annotation = p.Annotation(v6)
	if i, found := slices.BinarySearch(a.FlowList, p.Flow); !found {
		a.FlowList = slices.Insert(a.FlowList, i, p.Flow)
	}
}

// Figures is the address's own report figures (its Loss is always 0: an
// address does not lose probes, a hop does).
func (a *AddrInfo) Figures() trace.ReportHop {
	r := a.rep
	r.Hops = slices.Clone(a.rep.Hops)
	r.Finish()
	if len(r.Hops) == 0 {
		return trace.ReportHop{}
	}
	return r.Hops[0]
}

func (h *HopInfo) push(s Sample) {
	h.hist[h.n%HistoryLen] = s
	h.n++
}

// History returns the last n samples, oldest first (fewer when fewer
// cycles have been seen).
func (h *HopInfo) History(n int) []Sample {
	n = min(n, h.n, HistoryLen)
	out := make([]Sample, n)
	for i := range n {
		out[i] = h.hist[(h.n-n+i)%HistoryLen]
	}
	return out
}

// Row is one hop as drawn: the report's figures and the hop's details.
type Row struct {
	trace.ReportHop
	Info *HopInfo
}

// Rows returns the hops as --report would print them now: the report
// finished on a copy (jitter, rate limiting, rows past the target
// dropped), so that counting goes on.
func (f *FlowStats) Rows(target netip.Addr) []Row {
	r := f.rep
	r.Target = target
	r.Hops = slices.Clone(f.rep.Hops)
	r.Finish()
	rows := make([]Row, len(r.Hops))
	for i := range r.Hops {
		rows[i] = Row{ReportHop: r.Hops[i], Info: f.hops[i]}
	}
	return rows
}

// Report returns the finished report, as --report prints it.
func (f *FlowStats) Report(target netip.Addr) trace.Report {
	r := f.rep
	r.Target = target
	r.Hops = slices.Clone(f.rep.Hops)
	r.Finish()
	return r
}
