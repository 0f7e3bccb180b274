package trace

import (
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
//   - when both traces reached the target, a different hop count is a
//     change (the path grew or shrank); when one did not, only the TTLs
//     both have are compared (a target that stops answering is reported as
//     not reached, not as a new path);
//   - the first trace, and an interrupted one, change nothing.
//
// A per-packet load balancer (one that spreads the probes of one flow)
// makes real changes, which this reports. The zero value is ready to use;
// Hop and Done are called with the engine's events, in order.
type PathTracker struct {
	ref     [][]netip.Addr // by TTL: the addresses last seen there
	refLen  int            // TTLs of the reference path
	reached bool           // the reference reached the target
	have    bool           // there is a reference
	cur     [][]netip.Addr // by TTL: the trace being built
}

// Hop records what one TTL of the current trace brought back.
func (p *PathTracker) Hop(h *Hop) {
	p.cur = grow(p.cur, h.TTL+1)
	set := p.cur[h.TTL][:0]
	for i := range h.Probes {
		pr := &h.Probes[i]
		if pr.Timeout || !pr.Addr.IsValid() || slices.Contains(set, pr.Addr) {
			continue
		}
		set = append(set, pr.Addr)
	}
	slices.SortFunc(set, netip.Addr.Compare)
	p.cur[h.TTL] = set
}

// Done ends the current trace and reports whether its path differs from
// the one before (see PathTracker).
func (p *PathTracker) Done(res *Result) (changed bool) {
	n := res.Hops + 1
	p.cur = grow(p.cur, n)
	defer func() {
		for i := range p.cur {
			p.cur[i] = p.cur[i][:0]
		}
	}()
	if res.Interrupted {
		return false
	}
	if p.have {
		changed = p.differs(n, res.Reached)
	}
	p.adopt(n, res.Reached, changed || !p.have)
	p.have = true
	return changed
}

func (p *PathTracker) differs(n int, reached bool) bool {
	if reached && p.reached && n != p.refLen {
		return true
	}
	for ttl := 1; ttl < min(n, p.refLen); ttl++ {
		a, b := p.cur[ttl], p.ref[ttl]
		if len(a) > 0 && len(b) > 0 && !overlap(a, b) {
			return true
		}
	}
	return false
}

// adopt makes the current trace the reference: wholly after a change (or
// the first time), else hop by hop the union of both (so that the
// branches of a balancer seen in different traces are all known), with
// the old addresses where the current trace has none.
func (p *PathTracker) adopt(n int, reached, whole bool) {
	old := p.refLen
	p.ref = grow(p.ref, max(n, old))
	for ttl := 1; ttl < len(p.ref); ttl++ {
		var cur []netip.Addr
		if ttl < n {
			cur = p.cur[ttl]
		}
		switch {
		case whole || ttl >= old || len(p.ref[ttl])+len(cur) > maxHopAddrs:
			p.ref[ttl] = append(p.ref[ttl][:0], cur...)
		case len(cur) > 0: // overlaps the reference: the same hop
			p.ref[ttl] = union(p.ref[ttl], cur)
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
}

// Addr is the address last seen at ttl (the lowest, when several
// answered), invalid when none has been.
func (p *PathTracker) Addr(ttl int) netip.Addr {
	if ttl < 1 || ttl >= p.refLen || ttl >= len(p.ref) || len(p.ref[ttl]) == 0 {
		return netip.Addr{}
	}
	return p.ref[ttl][0]
}

// Path is the reference path: the addresses last seen at TTL 1, 2, ...
// (nil for a hop never heard from). It allocates; for tests and logs.
func (p *PathTracker) Path() [][]netip.Addr {
	out := make([][]netip.Addr, 0, p.refLen)
	for ttl := 1; ttl < p.refLen; ttl++ {
		out = append(out, slices.Clone(p.ref[ttl]))
	}
	return out
}

// maxHopAddrs bounds the addresses the reference keeps for one hop.
const maxHopAddrs = 16

// union adds the addresses of cur (sorted) missing from ref (sorted).
func union(ref, cur []netip.Addr) []netip.Addr {
	for _, a := range cur {
		if i, ok := slices.BinarySearchFunc(ref, a, netip.Addr.Compare); !ok {
			ref = slices.Insert(ref, i, a)
		}
	}
	return ref
}

func grow(s [][]netip.Addr, n int) [][]netip.Addr {
	for len(s) < n {
		s = append(s, nil)
	}
	return s
}

// overlap reports whether two sorted sets share an address.
func overlap(a, b []netip.Addr) bool {
	for _, x := range a {
		if _, ok := slices.BinarySearchFunc(b, x, netip.Addr.Compare); ok {
			return true
		}
	}
	return false
}
