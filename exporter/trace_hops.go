package exporter

import (
	"net/netip"
	"slices"
	"strconv"

	"github.com/rawnet/rawnet/trace"
)

// The per-hop series of a trace target (hop_labels: true) describe the
// addresses a TTL answers from. When an address leaves the hop (a route
// moved) or the path no longer reaches a TTL (it got shorter), its series
// stop being exported, as Prometheus users expect of a thing that is no
// longer there: Prometheus marks them stale, and a series that comes back
// starts again from 0, which rate() and increase() take as a counter
// reset. Without that, a churning or per-packet balanced path would grow
// the series, and the exporter's memory, without bound.
//
// When a series goes follows trace.PathTracker's evidence rule, with its
// own threshold (trace.LeaveAfter), rather than a time:
//
//   - the series of an address at a TTL go once that TTL's answers have
//     left it out trace.LeaveAfter(n) times in a row, n the addresses
//     with series at the TTL (2: 31 answers, 11 traces of 3 probes; 3:
//     54). A route change from a to b thus drops a's series 31 answers
//     from b after the change, and a per-packet balancer spreading the
//     probes over its n addresses leaves one out that long less than once
//     in 10^9 answers, so its addresses keep their series. The tracker's
//     reference itself is not used: it is replaced whole at every path
//     change, which would drop (and restart) a balancer's addresses at
//     every change elsewhere on the path;
//   - silence is no evidence: a hop whose probes all time out keeps the
//     series it has (its requests go on, its replies do not: loss), and a
//     hop that never answered keeps its hop_ip="" series as long as its
//     TTL is probed; once the hop answers, its lost probes count for the
//     address, and hop_ip="" leaves as an address that no longer answers
//     (31 answers later);
//   - the series of a TTL that trace.LeaveAfter(2) (31) traces in a row
//     did not probe all go: the path got shorter, or the target answers
//     from nearer. A path whose length alternated evenly between two
//     values would leave the longer one unprobed that long in fewer than
//     one of 10^9 traces;
//   - a TTL keeps at most trace.MaxHopAddrs (16) addresses, as the
//     tracker does: a new one beyond them takes the place of the one
//     that answered least recently.
//
// A target's per-hop series are thus at most max_hops × 16 addresses ×
// 3 series, whatever the path does.

// hopTTL is what the per-hop series of one TTL remember.
type hopTTL struct {
	answers  uint32 // the TTL's answers since its first series
	unprobed uint32 // traces in a row that did not probe the TTL
	probed   uint64 // the last trace (TraceSeries.traces) that did
	ips      []hopIP
}

// hopIP is one address with series at a TTL.
type hopIP struct {
	addr  netip.Addr // invalid: hop_ip=""
	label string
	seen  uint32 // hopTTL.answers after the trace that last saw it answer, or when it was made
}

// lastAnswered is the address with series at ttl that answered last (the
// lowest of those that answered in the same trace), invalid if none has.
// The caller holds s.mu.
func (s *TraceSeries) lastAnswered(ttl int) netip.Addr {
	var best *hopIP
	if ttl < len(s.ttls) {
		for i := range s.ttls[ttl].ips {
			ip := &s.ttls[ttl].ips[i]
			if ip.addr.IsValid() && (best == nil || ip.seen > best.seen || ip.seen == best.seen && ip.addr.Less(best.addr)) {
				best = ip
			}
		}
	}
	if best == nil {
		return netip.Addr{}
	}
	return best.addr
}

// countHops counts the probes of one trace that ended (appendHop, in
// TTL order) into the per-hop series, then drops the series of what the
// trace shows has left (see above).
func (s *TraceSeries) countHops(obs []hopObs) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.HopRequests == nil {
		return
	}
	s.traces++
	for len(obs) > 0 {
		n := 1
		for n < len(obs) && obs[n].ttl == obs[0].ttl {
			n++
		}
		s.countTTL(obs[:n])
		obs = obs[n:]
	}
	gone := trace.LeaveAfter(2)
	for ttl := range s.ttls {
		h := &s.ttls[ttl]
		if len(h.ips) == 0 || h.probed == s.traces {
			continue
		}
		if h.unprobed++; h.unprobed >= gone {
			hop := strconv.Itoa(ttl)
			for i := range h.ips {
				s.deleteHop(hop, h.ips[i].label)
			}
			*h = hopTTL{ips: h.ips[:0]}
		}
	}
}

// countTTL counts the probes of one TTL of a trace.
func (s *TraceSeries) countTTL(obs []hopObs) {
	ttl := obs[0].ttl
	for len(s.ttls) <= ttl {
		s.ttls = append(s.ttls, hopTTL{})
	}
	h := &s.ttls[ttl]
	h.unprobed, h.probed = 0, s.traces
	for i := range obs {
		if obs[i].answered {
			h.answers++
		}
	}
	hop := strconv.Itoa(ttl)
	for i := range obs {
		o := &obs[i]
		ip := h.ip(s, hop, o.addr)
		s.HopRequests.WithLabelValues(hop, ip.label).Inc()
		if o.answered {
			ip.seen = h.answers
			s.HopReplies.WithLabelValues(hop, ip.label).Inc()
			s.HopRTT.WithLabelValues(hop, ip.label).Observe(o.rtt.Seconds())
		}
	}
	need := trace.LeaveAfter(len(h.ips))
	h.ips = slices.DeleteFunc(h.ips, func(ip hopIP) bool {
		if h.answers-ip.seen < need {
			return false
		}
		s.deleteHop(hop, ip.label)
		return true
	})
}

// ip returns the TTL's entry of addr, made if it has none: in place of
// the one that answered least recently when the TTL has MaxHopAddrs.
func (h *hopTTL) ip(s *TraceSeries, hop string, addr netip.Addr) *hopIP {
	if i := slices.IndexFunc(h.ips, func(ip hopIP) bool { return ip.addr == addr }); i >= 0 {
		return &h.ips[i]
	}
	if len(h.ips) >= trace.MaxHopAddrs {
		old := 0
		for i := range h.ips {
			if h.answers-h.ips[i].seen > h.answers-h.ips[old].seen { // (ages: the counts may wrap)
				old = i
			}
		}
		s.deleteHop(hop, h.ips[old].label)
		h.ips = slices.Delete(h.ips, old, old+1)
	}
	label := ""
	if addr.IsValid() {
		label = addr.String()
	}
	h.ips = append(h.ips, hopIP{addr: addr, label: label, seen: h.answers})
	return &h.ips[len(h.ips)-1]
}

// deleteHop drops the series of one hop and hop_ip.
func (s *TraceSeries) deleteHop(hop, ip string) {
	s.HopRequests.DeleteLabelValues(hop, ip)
	s.HopReplies.DeleteLabelValues(hop, ip)
	s.HopRTT.DeleteLabelValues(hop, ip)
}
