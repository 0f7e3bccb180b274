package trace

import (
	"math"
	"net/netip"
	"slices"
)

// mdaTable returns n where n[k] is how many flows a TTL must see answered,
// having found k interfaces there, to rule out a (k+1)th at the given
// confidence, assuming a balancer spreads flows evenly: the least n with
// (k+1) * (k/(k+1))^n <= 1-confidence, the union bound of the Multipath
// Detection Algorithm (Augustin et al.). At 95% it starts 6, 11, 16, 21,
// 27. Entries are capped at max.
func mdaTable(confidence float64, max int) []int {
	alpha := 1 - confidence
	n := []int{1}
	for k := 1; ; k++ {
		f := float64(k)
		need := int(math.Ceil(math.Log(alpha/(f+1)) / math.Log(f/(f+1))))
		n = append(n, min(need, max))
		if need >= max {
			return n
		}
	}
}

// mdaNeed is how many flows a TTL needs with k interfaces found.
func mdaNeed(table []int, k int) int {
	if k >= len(table) {
		return table[len(table)-1]
	}
	return table[max(k, 1)]
}

// updateFlows raises the number of flows every TTL is probed with to what
// the TTL that needs most asks for: each interface found raises its
// stopping point, and each lost probe is replaced (up to as many again).
func (t *targetState) updateFlows(table []int) {
	for ttl := t.cfg.FirstTTL; ttl <= t.limit; ttl++ {
		k, lost := 0, 0
		probes := t.hops[ttl]
		for i := range probes {
			p := &probes[i]
			switch {
			case p.pending:
			case p.Timeout:
				lost++
			case !seenBefore(probes[:i], p.Addr):
				k++
			}
		}
		if k == 0 {
			continue // a silent hop: more flows will not make it talk
		}
		need := mdaNeed(table, k)
		need = min(need+min(lost, need), t.cfg.MaxFlows)
		t.flows = max(t.flows, need)
	}
}

func seenBefore(probes []probeRec, a netip.Addr) bool {
	for i := range probes {
		if !probes[i].Timeout && !probes[i].pending && probes[i].Addr == a {
			return true
		}
	}
	return false
}

// links appends to out, once each, the pairs of interfaces at consecutive
// TTLs that one flow answered from.
func (t *targetState) links(last int, out []Link) []Link {
	for ttl := t.cfg.FirstTTL; ttl < last; ttl++ {
		here, there := t.hops[ttl], t.hops[ttl+1]
		for f := 0; f < len(here) && f < len(there); f++ {
			a, b := &here[f], &there[f]
			if a.Timeout || b.Timeout || a.pending || b.pending {
				continue
			}
			l := Link{TTL: ttl, From: a.Addr, To: b.Addr}
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	return out
}
