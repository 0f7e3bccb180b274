package capture

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/stats"
)

// Analysis sums up decoded packets, for rawnet read --stats: how many of
// each protocol, who sent most, which ICMP types, and what the ICMP tells
// of the probes in the packets: echo requests paired with their replies
// (pings) and probes paired with the ICMP errors that quote them (traces,
// per TTL and responder). Add each packet, then call Result once.
//
// Replies and errors are matched to requests and probes in Result, once
// every packet is in: files written by programs (rawnet's own --write
// among them) do not always hold a reply after its request.
type Analysis struct {
	res       AnalysisResult
	talkers   map[netip.Addr]*Talker
	icmpTypes map[icmpTypeKey]int
	echoes    map[echoKey]time.Time // echo requests by addresses, id and sequence
	replies   []echoReply
	pings     map[addrPair]*PingStats
	probes    map[ProbeKey]probe // every packet an ICMP error could quote
	errors    []quotingError
}

// AnalysisResult is what an Analysis found, each list in a fixed order.
type AnalysisResult struct {
	Packets, Bytes int
	First, Last    time.Time // timestamps of the first and last packet
	Protocols      ProtocolCounts
	Talkers        []Talker        // by packets sent, most first, then by address
	ICMPTypes      []ICMPTypeCount // by family, type and code
	Pings          []PingStats     // by source and destination
	Hops           []HopStats      // by source, destination, protocol name, TTL, responder, type and code
	Unmatched      int             // ICMP errors quoting no packet of the file
}

// ProtocolCounts counts packets by link and transport protocol.
type ProtocolCounts struct {
	IPv4, IPv6, ARP, OtherLink int
	ICMP, ICMPv6, UDP, TCP     int
	Fragments                  int // fragments that do not start their packet
	OtherIP                    int
}

// Talker is a source address and what it sent.
type Talker struct {
	Addr           netip.Addr
	Packets, Bytes int
}

// ICMPTypeCount counts one ICMP (Network 4) or ICMPv6 (Network 6) type
// and code.
type ICMPTypeCount struct {
	Network    int
	Type, Code uint8
	Count      int
}

// PingStats are the echo requests from Src to Dst and their replies.
type PingStats struct {
	Src, Dst netip.Addr
	Requests int // echo requests, less those an ICMP error answered (traceroute probes)
	Replies  int
	// UnmatchedReplies counts the echo replies that answer no request of
	// the file (or one already answered).
	UnmatchedReplies int
	RTT              stats.RTT
}

// LossPct is the share of requests without a reply, in percent.
func (p *PingStats) LossPct() float64 { return stats.LossPct(p.Requests, p.Replies) }

// HopStats are the ICMP errors of one type and code that one responder
// sent about probes from Src to Dst with one TTL.
type HopStats struct {
	Src, Dst   netip.Addr
	Proto      uint8 // the probes' transport protocol
	TTL        uint8 // the probes' TTL as sent
	Responder  netip.Addr
	Type, Code uint8
	Replies    int
	RTT        stats.RTT // from the probe to the error
}

type icmpTypeKey struct {
	network   int
	typ, code uint8
}

type echoKey struct {
	src, dst netip.Addr
	id, seq  uint16
}

type echoReply struct {
	key echoKey // as the request's
	at  time.Time
}

type addrPair struct{ src, dst netip.Addr }

type probe struct {
	at  time.Time
	ttl uint8
}

type quotingError struct {
	quoted    Summary
	responder netip.Addr
	typ, code uint8
	at        time.Time
}

type hopKey struct {
	src, dst  netip.Addr
	proto     uint8
	ttl       uint8
	responder netip.Addr
	typ, code uint8
}

// NewAnalysis returns an empty Analysis.
func NewAnalysis() *Analysis {
	return &Analysis{
		talkers: map[netip.Addr]*Talker{}, icmpTypes: map[icmpTypeKey]int{},
		echoes: map[echoKey]time.Time{}, pings: map[addrPair]*PingStats{},
		probes: map[ProbeKey]probe{},
	}
}

// Add counts the packet d last decoded, received at `at` with origLen
// bytes on the wire.
func (a *Analysis) Add(at time.Time, origLen int, d *Decoder) {
	r := &a.res
	if r.Packets == 0 {
		r.First = at
	}
	r.Packets++
	r.Bytes += origLen
	r.Last = at
	sum := d.Summary()
	if sum.Network == 0 {
		if sum.ARP {
			r.Protocols.ARP++
		} else {
			r.Protocols.OtherLink++
		}
		return
	}
	a.countIP(&sum)
	t := a.talkers[sum.Src]
	if t == nil {
		t = &Talker{Addr: sum.Src}
		a.talkers[sum.Src] = t
	}
	t.Packets++
	t.Bytes += origLen
	if sum.LaterFragment {
		return
	}
	if sum.ICMP {
		a.icmpTypes[icmpTypeKey{sum.Network, sum.ICMPType, sum.ICMPCode}]++
	}
	switch class := icmpClass(&sum); {
	case sum.ICMPError:
		if q, ok := d.Quoted(); ok && q.Network != 0 {
			a.errors = append(a.errors, quotingError{q, sum.Src, sum.ICMPType, sum.ICMPCode, at})
		} else {
			r.Unmatched++
		}
	case class == icmpmsg.ClassEchoRequest:
		k := echoKey{sum.Src, sum.Dst, sum.ICMPID, sum.ICMPSeq}
		if _, dup := a.echoes[k]; !dup {
			a.echoes[k] = at
			a.ping(sum.Src, sum.Dst).Requests++
		}
		a.addProbe(&sum, at)
	case class == icmpmsg.ClassEchoReply:
		a.replies = append(a.replies, echoReply{echoKey{sum.Dst, sum.Src, sum.ICMPID, sum.ICMPSeq}, at})
	default:
		a.addProbe(&sum, at)
	}
}

// icmpClass is the class of an ICMP packet's type, ClassUnknown for
// other packets.
func icmpClass(s *Summary) icmpmsg.Class {
	if !s.ICMP {
		return icmpmsg.ClassUnknown
	}
	return icmpmsg.Classify(s.Network == 6, s.ICMPType)
}

// addProbe remembers a packet an ICMP error may quote (the first of
// identical ones).
func (a *Analysis) addProbe(sum *Summary, at time.Time) {
	if _, dup := a.probes[sum.Key]; !dup {
		a.probes[sum.Key] = probe{at, sum.TTL}
	}
}

func (a *Analysis) countIP(sum *Summary) {
	p := &a.res.Protocols
	if sum.Network == 4 {
		p.IPv4++
	} else {
		p.IPv6++
	}
	switch {
	case sum.LaterFragment:
		p.Fragments++
	case sum.Proto == 1:
		p.ICMP++
	case sum.Proto == 58:
		p.ICMPv6++
	case sum.Proto == 17:
		p.UDP++
	case sum.Proto == 6:
		p.TCP++
	default:
		p.OtherIP++
	}
}

func (a *Analysis) ping(src, dst netip.Addr) *PingStats {
	ps := a.pings[addrPair{src, dst}]
	if ps == nil {
		ps = &PingStats{Src: src, Dst: dst}
		a.pings[addrPair{src, dst}] = ps
	}
	return ps
}

// Result matches the errors and replies to what they answer and returns
// the figures. Call it once, after the last Add.
func (a *Analysis) Result() *AnalysisResult {
	hops := a.matchErrors()
	a.matchReplies()
	r := &a.res
	r.Talkers, r.ICMPTypes, r.Pings, r.Hops = []Talker{}, []ICMPTypeCount{}, []PingStats{}, []HopStats{}
	for _, t := range a.talkers {
		r.Talkers = append(r.Talkers, *t)
	}
	slices.SortFunc(r.Talkers, func(x, y Talker) int {
		return cmp.Or(cmp.Compare(y.Packets, x.Packets), cmp.Compare(x.Addr.String(), y.Addr.String()))
	})
	for k, n := range a.icmpTypes {
		r.ICMPTypes = append(r.ICMPTypes, ICMPTypeCount{k.network, k.typ, k.code, n})
	}
	slices.SortFunc(r.ICMPTypes, func(x, y ICMPTypeCount) int {
		return cmp.Or(cmp.Compare(x.Network, y.Network), cmp.Compare(x.Type, y.Type), cmp.Compare(x.Code, y.Code))
	})
	for _, p := range a.pings {
		if p.Requests > 0 || p.Replies > 0 { // else only traceroute probes
			r.Pings = append(r.Pings, *p)
		}
	}
	slices.SortFunc(r.Pings, func(x, y PingStats) int {
		return cmp.Or(cmp.Compare(x.Src.String(), y.Src.String()), cmp.Compare(x.Dst.String(), y.Dst.String()))
	})
	for _, h := range hops {
		r.Hops = append(r.Hops, *h)
	}
	slices.SortFunc(r.Hops, func(x, y HopStats) int {
		return cmp.Or(cmp.Compare(x.Src.String(), y.Src.String()), cmp.Compare(x.Dst.String(), y.Dst.String()),
			cmp.Compare(ProtoKeyword(x.Proto), ProtoKeyword(y.Proto)), cmp.Compare(x.TTL, y.TTL),
			cmp.Compare(x.Responder.String(), y.Responder.String()), cmp.Compare(x.Type, y.Type), cmp.Compare(x.Code, y.Code))
	})
	return r
}

// matchErrors pairs ICMP errors with the probes they quote. An echo
// request answered by an ICMP error was a traceroute probe, not a ping
// whose reply went missing.
func (a *Analysis) matchErrors() map[hopKey]*HopStats {
	hops := map[hopKey]*HopStats{}
	for i := range a.errors {
		e := &a.errors[i]
		q := &e.quoted
		pr, ok := a.probes[q.Key]
		if !ok {
			a.res.Unmatched++
			continue
		}
		if icmpClass(q) == icmpmsg.ClassEchoRequest {
			k := echoKey{q.Src, q.Dst, q.ICMPID, q.ICMPSeq}
			if _, waiting := a.echoes[k]; waiting {
				delete(a.echoes, k)
				a.ping(q.Src, q.Dst).Requests--
			}
		}
		k := hopKey{q.Src, q.Dst, q.Proto, pr.ttl, e.responder, e.typ, e.code}
		h := hops[k]
		if h == nil {
			h = &HopStats{Src: k.src, Dst: k.dst, Proto: k.proto, TTL: k.ttl, Responder: k.responder, Type: k.typ, Code: k.code}
			hops[k] = h
		}
		h.Replies++
		h.RTT.Add(e.at.Sub(pr.at))
	}
	return hops
}

// matchReplies pairs echo replies with their requests; a second reply to
// a request, or one to no request, answers nothing.
func (a *Analysis) matchReplies() {
	for _, r := range a.replies {
		sent, ok := a.echoes[r.key]
		ps := a.pings[addrPair{r.key.src, r.key.dst}]
		if !ok || ps == nil {
			if ps != nil {
				ps.UnmatchedReplies++
			}
			continue
		}
		delete(a.echoes, r.key)
		ps.Replies++
		ps.RTT.Add(r.at.Sub(sent))
	}
}

// ProtoKeyword names an IP protocol number as filter expressions do
// ("icmp", "tcp", "udp", "icmp6"), else "ip-proto-N".
func ProtoKeyword(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmp6"
	}
	return "ip-proto-" + strconv.Itoa(int(p))
}
