package trace

import (
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/rawnet/rawnet/stats"
)

// Report sums up the cycles of a repeated trace per hop, as mtr's report
// does. Add every hop event of one target to it, then call Finish.
type Report struct {
	Target  netip.Addr
	Cycles  int
	Reached int // cycles in which the target answered
	Hops    []ReportHop
}

// ReportHop is one TTL over all cycles.
type ReportHop struct {
	TTL      int
	Addrs    []netip.Addr // everyone who answered, in the order first seen
	Sent     int
	Received int
	Last     time.Duration
	RTT      stats.RTT // min, avg, max and standard deviation (mdev)
	// Jitter is the mean difference between consecutive round trips
	// (mtr's Javg).
	Jitter time.Duration
	// RateLimited marks loss here that farther hops do not show: the
	// router limits the ICMP errors it sends; packets are not lost.
	RateLimited bool

	jitterSum time.Duration
	jitterN   int
	prev      time.Duration
	hasPrev   bool
}

// LossPct is the share of probes unanswered, in percent.
func (h *ReportHop) LossPct() float64 { return stats.LossPct(h.Sent, h.Received) }

// Add counts the probes of one hop event.
func (r *Report) Add(h *Hop) {
	for len(r.Hops) == 0 || r.Hops[len(r.Hops)-1].TTL < h.TTL {
		next := h.TTL
		if len(r.Hops) > 0 {
			next = r.Hops[len(r.Hops)-1].TTL + 1
		}
		r.Hops = append(r.Hops, ReportHop{TTL: next})
	}
	rh := &r.Hops[h.TTL-r.Hops[0].TTL]
	for i := range h.Probes {
		p := &h.Probes[i]
		rh.Sent++
		if p.Timeout {
			continue
		}
		rh.Received++
		if !slices.Contains(rh.Addrs, p.Addr) {
			rh.Addrs = append(rh.Addrs, p.Addr)
		}
		rh.RTT.Add(p.RTT)
		rh.Last = p.RTT
		if rh.hasPrev {
			rh.jitterSum += (p.RTT - rh.prev).Abs()
			rh.jitterN++
		}
		rh.prev, rh.hasPrev = p.RTT, true
	}
}

// AddResult counts one cycle's end.
func (r *Report) AddResult(res *Result) {
	r.Cycles++
	if res.Reached {
		r.Reached++
	}
	// Hops past the end of this cycle's trace were not probed in it.
	for len(r.Hops) > 0 && r.Hops[len(r.Hops)-1].TTL > res.Hops && r.Hops[len(r.Hops)-1].Received == 0 {
		r.Hops = r.Hops[:len(r.Hops)-1]
	}
}

// Finish computes jitter and labels the losses that are ICMP rate
// limiting: loss at a hop that a farther hop, which every probe to it had
// to cross, significantly does not show.
//
// Rows past the first where the target answered are dropped: they come
// from cycles whose probe to the target's own TTL was lost, so that a
// farther probe reached it; that loss is counted on the target's row.
func (r *Report) Finish() {
	for i := range r.Hops {
		if slices.Contains(r.Hops[i].Addrs, r.Target) {
			r.Hops = r.Hops[:i+1]
			break
		}
	}
	for i := range r.Hops {
		h := &r.Hops[i]
		if h.jitterN > 0 {
			h.Jitter = h.jitterSum / time.Duration(h.jitterN)
		}
	}
	for i := range r.Hops {
		h := &r.Hops[i]
		if h.Received == 0 || h.Received == h.Sent {
			continue
		}
		for j := i + 1; j < len(r.Hops); j++ {
			if later := &r.Hops[j]; later.Received > 0 && lessLoss(later, h) {
				h.RateLimited = true
				break
			}
		}
	}
}

// lessLoss reports whether a's loss is below b's beyond chance (a
// one-sided two-proportion z test, z > 3) and below half of it: a path's
// loss only grows along it, so two hops behind one lossy link show the
// same loss.
func lessLoss(a, b *ReportHop) bool {
	la, lb := float64(a.Sent-a.Received), float64(b.Sent-b.Received)
	na, nb := float64(a.Sent), float64(b.Sent)
	pa, pb := la/na, lb/nb
	if pa >= pb {
		return false
	}
	p := (la + lb) / (na + nb)
	se := math.Sqrt(p * (1 - p) * (1/na + 1/nb))
	return se > 0 && (pb-pa)/se > 3 && pa < pb/2
}
