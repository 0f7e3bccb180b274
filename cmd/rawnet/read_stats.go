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
	echoes      map[echoKey]time.Time // requests waiting for a reply
	pings       map[addrPair]*pingStat
	probes      map[capture.ProbeKey]probe // every packet an ICMP error could quote
	hops        map[hopKey]*hopStat
	unmatched   int // ICMP errors quoting no packet in the file
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
		s.matchError(&sum, d, p.Timestamp)
	case sum.ICMP && isEchoRequest(&sum):
		s.echoes[echoKey{sum.Src, sum.Dst, sum.ICMPID, sum.ICMPSeq}] = p.Timestamp
		s.ping(sum.Src, sum.Dst).requests++
		s.probes[sum.Key] = probe{p.Timestamp, sum.TTL}
	case sum.ICMP && isEchoReply(&sum):
		s.matchEcho(&sum, p.Timestamp)
	default:
		s.probes[sum.Key] = probe{p.Timestamp, sum.TTL}
	}
	return nil
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

func (s *readStats) matchEcho(sum *capture.Summary, at time.Time) {
	k := echoKey{sum.Dst, sum.Src, sum.ICMPID, sum.ICMPSeq}
	sent, ok := s.echoes[k]
	ps := s.pings[addrPair{sum.Dst, sum.Src}]
	if !ok || ps == nil {
		if ps != nil {
			ps.duplicates++
		}
		return
	}
	delete(s.echoes, k)
	ps.replies++
	ps.rtt.Add(at.Sub(sent))
}

// matchError matches an ICMP error to the probe it quotes.
func (s *readStats) matchError(sum *capture.Summary, d *capture.Decoder, at time.Time) {
	q, ok := d.Quoted()
	if !ok || q.Network == 0 {
		s.unmatched++
		return
	}
	pr, ok := s.probes[q.Key]
	if !ok {
		s.unmatched++
		return
	}
	if q.ICMP && isEchoRequest(&q) {
		// A traceroute probe, not a ping whose reply went missing.
		k := echoKey{q.Src, q.Dst, q.ICMPID, q.ICMPSeq}
		if _, waiting := s.echoes[k]; waiting {
			delete(s.echoes, k)
			s.ping(q.Src, q.Dst).requests--
		}
	}
	k := hopKey{q.Src, q.Dst, q.Proto, pr.ttl, sum.Src, sum.ICMPType, sum.ICMPCode}
	h := s.hops[k]
	if h == nil {
		h = &hopStat{}
		s.hops[k] = h
	}
	h.replies++
	h.rtt.Add(at.Sub(pr.at))
}

func (s *readStats) finish(out *bufio.Writer) error {
	r := s.report()
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
