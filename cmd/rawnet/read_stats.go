package main

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"time"

	"github.com/rawnet/rawnet/capture"
	"github.com/rawnet/rawnet/internal/stats"
	"github.com/rawnet/rawnet/pcap"
)

// readStats summarizes the packets of a file for rawnet read --stats.
type readStats struct {
	top         int
	json        bool
	packets     int
	bytes       int
	first, last time.Time
	protos      protoCounts
	talkers     map[netip.Addr]*talker
	icmpTypes   map[icmpKind]int
	echoes      map[echoKey]time.Time // echo requests by addresses, id and sequence
	replies     []echoReply
	pings       map[addrPair]*pingStat
	probes      map[capture.ProbeKey]probe // every packet an ICMP error could quote
	errors      []icmpError
	hops        map[hopKey]*hopStat
	unmatched   int // ICMP errors quoting no packet in the file
}

// Replies and errors are matched to requests and probes once the whole
// file is read: files written by programs (rawnet's own --write among
// them) do not always hold a reply after its request.

type echoReply struct {
	key echoKey // as the request's
	at  time.Time
}

type icmpError struct {
	quoted    capture.Summary
	responder netip.Addr
	typ, code uint8
	at        time.Time
}

type protoCounts struct {
	IPv4      int `json:"ipv4"`
	IPv6      int `json:"ipv6"`
	ARP       int `json:"arp"`
	OtherLink int `json:"other_link"`
	ICMP      int `json:"icmp"`
	ICMPv6    int `json:"icmp6"`
	UDP       int `json:"udp"`
	TCP       int `json:"tcp"`
	Fragments int `json:"later_fragments"`
	OtherIP   int `json:"other_ip"`
}

type talker struct{ packets, bytes int }

type icmpKind struct {
	network   int
	typ, code uint8
}

type echoKey struct {
	src, dst netip.Addr
	id, seq  uint16
}

type addrPair struct{ src, dst netip.Addr }

type pingStat struct {
	requests, replies, duplicates int
	rtt                           stats.RTT
}

type probe struct {
	at  time.Time
	ttl uint8
}

type hopKey struct {
	src, dst  netip.Addr
	proto     uint8
	ttl       uint8
	responder netip.Addr
	typ, code uint8
}

type hopStat struct {
	replies int
	rtt     stats.RTT
}

func newReadStats(cfg readConfig) *readStats {
	return &readStats{
		top: cfg.top, json: cfg.json,
		talkers: map[netip.Addr]*talker{}, icmpTypes: map[icmpKind]int{},
		echoes: map[echoKey]time.Time{}, pings: map[addrPair]*pingStat{},
		probes: map[capture.ProbeKey]probe{}, hops: map[hopKey]*hopStat{},
	}
}

func (s *readStats) packet(_ int, p *pcap.Packet, d *capture.Decoder) error {
	if s.packets == 0 {
		s.first = p.Timestamp
	}
	s.packets++
	s.bytes += p.OrigLen
	s.last = p.Timestamp
	sum := d.Summary()
	if sum.Network == 0 {
		s.countLink(d)
		return nil
	}
	s.countIP(&sum)
	t := s.talkers[sum.Src]
	if t == nil {
		t = &talker{}
		s.talkers[sum.Src] = t
	}
	t.packets++
	t.bytes += p.OrigLen
	if sum.LaterFragment {
		return nil
	}
	if sum.ICMP {
		s.icmpTypes[icmpKind{sum.Network, sum.ICMPType, sum.ICMPCode}]++
	}
	switch {
	case sum.ICMPError:
		if q, ok := d.Quoted(); ok && q.Network != 0 {
			s.errors = append(s.errors, icmpError{q, sum.Src, sum.ICMPType, sum.ICMPCode, p.Timestamp})
		} else {
			s.unmatched++
		}
	case sum.ICMP && isEchoRequest(&sum):
		k := echoKey{sum.Src, sum.Dst, sum.ICMPID, sum.ICMPSeq}
		if _, dup := s.echoes[k]; !dup {
			s.echoes[k] = p.Timestamp
			s.ping(sum.Src, sum.Dst).requests++
		}
		s.addProbe(&sum, p.Timestamp)
	case sum.ICMP && isEchoReply(&sum):
		s.replies = append(s.replies, echoReply{echoKey{sum.Dst, sum.Src, sum.ICMPID, sum.ICMPSeq}, p.Timestamp})
	default:
		s.addProbe(&sum, p.Timestamp)
	}
	return nil
}

// addProbe remembers a packet an ICMP error may quote (the first of
// identical ones).
func (s *readStats) addProbe(sum *capture.Summary, at time.Time) {
	if _, dup := s.probes[sum.Key]; !dup {
		s.probes[sum.Key] = probe{at, sum.TTL}
	}
}

func isEchoRequest(s *capture.Summary) bool {
	return s.Network == 4 && s.ICMPType == 8 || s.Network == 6 && s.ICMPType == 128
}

func isEchoReply(s *capture.Summary) bool {
	return s.Network == 4 && s.ICMPType == 0 || s.Network == 6 && s.ICMPType == 129
}

func (s *readStats) countLink(d *capture.Decoder) {
	line := d.AppendLine(nil)
	if len(line) >= 3 && string(line[:3]) == "ARP" {
		s.protos.ARP++
	} else {
		s.protos.OtherLink++
	}
}

func (s *readStats) countIP(sum *capture.Summary) {
	if sum.Network == 4 {
		s.protos.IPv4++
	} else {
		s.protos.IPv6++
	}
	switch {
	case sum.LaterFragment:
		s.protos.Fragments++
	case sum.Proto == 1:
		s.protos.ICMP++
	case sum.Proto == 58:
		s.protos.ICMPv6++
	case sum.Proto == 17:
		s.protos.UDP++
	case sum.Proto == 6:
		s.protos.TCP++
	default:
		s.protos.OtherIP++
	}
}

func (s *readStats) ping(src, dst netip.Addr) *pingStat {
	ps := s.pings[addrPair{src, dst}]
	if ps == nil {
		ps = &pingStat{}
		s.pings[addrPair{src, dst}] = ps
	}
	return ps
}

// match pairs ICMP errors with the probes they quote, then echo replies
// with their requests. An echo request answered by an ICMP error was a
// traceroute probe, not a ping whose reply went missing.
func (s *readStats) match() {
	for i := range s.errors {
		e := &s.errors[i]
		q := &e.quoted
		pr, ok := s.probes[q.Key]
		if !ok {
			s.unmatched++
			continue
		}
		if q.ICMP && isEchoRequest(q) {
			k := echoKey{q.Src, q.Dst, q.ICMPID, q.ICMPSeq}
			if _, waiting := s.echoes[k]; waiting {
				delete(s.echoes, k)
				s.ping(q.Src, q.Dst).requests--
			}
		}
		k := hopKey{q.Src, q.Dst, q.Proto, pr.ttl, e.responder, e.typ, e.code}
		h := s.hops[k]
		if h == nil {
			h = &hopStat{}
			s.hops[k] = h
		}
		h.replies++
		h.rtt.Add(e.at.Sub(pr.at))
	}
	for _, r := range s.replies {
		sent, ok := s.echoes[r.key]
		ps := s.pings[addrPair{r.key.src, r.key.dst}]
		if !ok || ps == nil {
			if ps != nil {
				ps.duplicates++
			}
			continue
		}
		delete(s.echoes, r.key) // a second reply is a duplicate
		ps.replies++
		ps.rtt.Add(r.at.Sub(sent))
	}
}

func (s *readStats) finish(out *bufio.Writer) error {
	s.match()
	r := s.report()
	r.Type = "stats"
	if s.json {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		out.Write(b)
		return out.WriteByte('\n')
	}
	r.print(out)
	return nil
}
