package trace

import (
	"math"
	"net/netip"
	"slices"
)

// PathTracker follows the path to one target from trace to trace (the
// cycles of one target, or the periodic traces of a prober) and says when
// it changed: when the ordered list of hop addresses is not the one seen
// before.
//
// Two traces of one path rarely look identical: routers rate-limit their
// ICMP errors (a `*` in the middle is not loss, nor a new router), and a
// trace over several flows crosses a load balancer's branches in varying
// shares. So a path changes only on evidence:
//
//   - a hop that no probe got an answer from is unknown, and an unknown
//     hop matches anything; the tracker remembers the last address seen at
//     every TTL, so a hop that changes while it is silent in between is
//     still caught when it answers again;
//   - a hop is the set of addresses that answered at its TTL, and two sets
//     that share an address are the same hop (ECMP: one trace may see both
//     branches, the next only one of them); the tracker keeps the union of
//     the sets a hop showed since its last change, and a set disjoint from
//     it is a change;
//   - an address of that union that the hop's answers have left out for
//     too long has left the hop, and its departure is a change: a route
//     that moves while one trace's probes are out (the first answered by
//     the old router, the later ones by the new) shows both in that trace,
//     which overlaps the old set, and only the new one afterwards, which
//     overlaps the union; without departures that change would never
//     count. How long is too long depends on how many addresses the hop
//     has (leaveAfter): were the hop a balancer that spreads every packet
//     evenly over its n addresses, one of them would be missing from that
//     many answers in a row with probability below 1e-9;
//   - when both traces reached the target, a different hop count is a
//     change (the path grew or shrank); when one did not, only the TTLs
//     both have are compared (a target that stops answering is reported as
//     not reached, not as a new path);
//   - after a change the current trace is the whole reference (the TTLs
//     where a straddling change's old routers linger leave with the first
//     departure, so one route change counts once);
//   - the first trace, and an interrupted one, change nothing.
//
// A per-packet load balancer (one that spreads the probes of one flow)
// makes real changes, which this reports only when it flips to a disjoint
// set of addresses or (rarely, see leaveAfter) leaves one out for long.
// The zero value is ready to use; Hop and Done are called with the
// engine's events, in order. Neither allocates once the tracker has seen
// the path's length and its hops' addresses.
type PathTracker struct {
	ref     []refHop       // by TTL: the addresses seen there since its last change
	refLen  int            // TTLs of the reference path
	reached bool           // the reference reached the target
	have    bool           // there is a reference
	cur     [][]netip.Addr // by TTL: the trace being built
	curN    []uint32       // by TTL: the trace's answers
}

// refHop is one TTL of the reference: its addresses (sorted), each with
// the count of the hop's answers when it last answered.
type refHop struct {
	addrs   []refAddr
	answers uint32 // answers at this TTL since the reference took it whole
}

type refAddr struct {
	addr netip.Addr
	seen uint32 // refHop.answers after the trace that last saw addr
}

// leaveAfter[n] is how many answers of a hop with n addresses in a row
// must leave an address out for it to have left the hop: the least m with
// n(1-1/n)^m <= 1e-9, so that a hop balancing every packet evenly over
// its n addresses makes one look gone in fewer than one of 10^9 answers
// (n = 2: 31; 3: 54; 4: 77; 8: 171; 16: 365). A straddled route change
// (n = 2) thus counts 31 answers after the trace that straddled it: 11
// traces of 3 probes per hop all answered. A balancer with N = 2 branches
// and Q = 3 probes per hop makes a false change in about 1.4 of 10^9
// traces (a branch's run of 31 misses starts at a given answer with
// probability 2^-32: times 2 branches and 3 answers per trace);
// a hop with one address never has a departure (any set that overlaps it
// holds it).
var leaveAfter = func() (t [maxHopAddrs + 1]uint32) {
	const eps = 1e-9
	t[0], t[1] = math.MaxUint32, math.MaxUint32
	for n := 2; n <= maxHopAddrs; n++ {
		f := float64(n)
		t[n] = uint32(math.Ceil(math.Log(eps/f) / math.Log(1-1/f)))
	}
	return t
}()

// LeaveAfter is the tracker's departure threshold (see leaveAfter): how
// many answers of a hop with n addresses in a row must leave one of them
// out for it to have left the hop. A hop with fewer than two addresses
// never loses one this way (math.MaxUint32); n above MaxHopAddrs counts
// as MaxHopAddrs. Those who follow hop addresses beside a tracker (the
// exporter's per-hop series) use it to agree with its rule.
func LeaveAfter(n int) uint32 {
	return leaveAfter[min(max(n, 0), maxHopAddrs)]
}

// MaxHopAddrs bounds the addresses a tracker keeps for one hop: a hop
// that shows more is taken as the set of its last trace.
const MaxHopAddrs = maxHopAddrs

// Hop records what one TTL of the current trace brought back.
func (p *PathTracker) Hop(h *Hop) {
	p.cur = grow(p.cur, h.TTL+1)
	p.curN = growN(p.curN, h.TTL+1)
	set, n := p.cur[h.TTL][:0], uint32(0)
	for i := range h.Probes {
		pr := &h.Probes[i]
		if pr.Timeout || !pr.Addr.IsValid() {
			continue
		}
		n++
		if !slices.Contains(set, pr.Addr) {
			set = append(set, pr.Addr)
		}
	}
	slices.SortFunc(set, netip.Addr.Compare)
	p.cur[h.TTL], p.curN[h.TTL] = set, n
}

// Done ends the current trace and reports whether its path differs from
// the one before (see PathTracker).
func (p *PathTracker) Done(res *Result) (changed bool) {
	n := res.Hops + 1
	p.cur = grow(p.cur, n)
	p.curN = growN(p.curN, n)
	defer func() {
		for i := range p.cur {
			p.cur[i], p.curN[i] = p.cur[i][:0], 0
		}
	}()
	if res.Interrupted {
		return false
	}
	if !p.have {
		p.adopt(n, res.Reached, true)
		p.have = true
		return false
	}
	changed = p.differs(n, res.Reached)
	if !changed {
		changed = p.adopt(n, res.Reached, false) // an address left
	}
	if changed {
		p.adopt(n, res.Reached, true)
	}
	return changed
}

func (p *PathTracker) differs(n int, reached bool) bool {
	if reached && p.reached && n != p.refLen {
		return true
	}
	for ttl := 1; ttl < min(n, p.refLen); ttl++ {
		if a, b := p.cur[ttl], p.ref[ttl].addrs; len(a) > 0 && len(b) > 0 && !overlapRef(a, b) {
			return true
		}
	}
	return false
}

// adopt makes the current trace the reference: wholly after a change (or
// the first time), else hop by hop the union of both (so that the
// branches of a balancer seen in different traces are all known), with
// the old addresses where the current trace has none. It reports whether
// an address of the union has left its hop (see leaveAfter).
func (p *PathTracker) adopt(n int, reached, whole bool) (left bool) {
	old := p.refLen
	for len(p.ref) < max(n, old) {
		p.ref = append(p.ref, refHop{})
	}
	for ttl := 1; ttl < len(p.ref); ttl++ {
		var cur []netip.Addr
		var got uint32
		if ttl < n {
			cur, got = p.cur[ttl], p.curN[ttl]
		}
		h := &p.ref[ttl]
		switch {
		case whole || ttl >= old || len(h.addrs)+len(cur) > maxHopAddrs:
			h.set(cur, got)
		case len(cur) > 0: // overlaps the reference: the same hop
			left = h.merge(cur, got) || left
		}
	}
	switch {
	case whole || reached:
		p.refLen, p.reached = n, reached
	case !p.reached:
		p.refLen = max(n, old)
	}
	// An unreached trace of a path that reached the target before keeps
	// its length: the target was silent this time.
	return left
}

// set makes cur, which got answers, the hop's only addresses.
func (h *refHop) set(cur []netip.Addr, answers uint32) {
	h.answers = answers
	h.addrs = h.addrs[:0]
	for _, a := range cur {
		h.addrs = append(h.addrs, refAddr{addr: a, seen: answers})
	}
}

// merge adds cur (sorted), which got answers, to the hop, and reports
// whether an address has been missing from the hop's last leaveAfter
// answers.
func (h *refHop) merge(cur []netip.Addr, answers uint32) (left bool) {
	h.answers += answers
	for _, a := range cur {
		i, ok := slices.BinarySearchFunc(h.addrs, a, func(r refAddr, a netip.Addr) int { return r.addr.Compare(a) })
		if !ok {
			h.addrs = slices.Insert(h.addrs, i, refAddr{addr: a})
		}
		h.addrs[i].seen = h.answers
	}
	need := leaveAfter[len(h.addrs)]
	for _, r := range h.addrs {
		if h.answers-r.seen >= need {
			return true
		}
	}
	return false
}

// Addr is the address last seen at ttl (the lowest, when several
// answered), invalid when none has been.
func (p *PathTracker) Addr(ttl int) netip.Addr {
	if ttl < 1 || ttl >= p.refLen || ttl >= len(p.ref) || len(p.ref[ttl].addrs) == 0 {
		return netip.Addr{}
	}
	return p.ref[ttl].addrs[0].addr
}

// Path is the reference path: the addresses last seen at TTL 1, 2, ...
// (nil for a hop never heard from). It allocates; for tests and logs.
func (p *PathTracker) Path() [][]netip.Addr {
	out := make([][]netip.Addr, 0, p.refLen)
	for ttl := 1; ttl < p.refLen; ttl++ {
		var hop []netip.Addr
		for _, r := range p.ref[ttl].addrs {
			hop = append(hop, r.addr)
		}
		out = append(out, hop)
	}
	return out
}

// maxHopAddrs bounds the addresses the reference keeps for one hop.
const maxHopAddrs = 16

func grow(s [][]netip.Addr, n int) [][]netip.Addr {
	for len(s) < n {
		s = append(s, nil)
	}
	return s
}

func growN(s []uint32, n int) []uint32 {
	for len(s) < n {
		s = append(s, 0)
	}
	return s
}

// overlapRef reports whether a sorted set and a hop's sorted addresses
// share an address.
func overlapRef(a []netip.Addr, b []refAddr) bool {
	for _, x := range a {
		if _, ok := slices.BinarySearchFunc(b, x, func(r refAddr, a netip.Addr) int { return r.addr.Compare(a) }); ok {
			return true
		}
	}
	return false
}
