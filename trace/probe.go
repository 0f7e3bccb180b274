package trace

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/rawnet/rawnet/internal/inet"
)

// Method is the kind of probe a trace sends.
type Method uint8

const (
	// UDP probes go to a (normally closed) port; the destination answers
	// with port unreachable. The default, as in traceroute.
	UDP Method = iota
	// ICMP probes are echo requests; the destination answers with an
	// echo reply.
	ICMP
	// TCP probes are half-open SYNs; the destination answers SYN-ACK
	// (open port) or RST (closed).
	TCP
)

func (m Method) String() string {
	switch m {
	case ICMP:
		return "icmp"
	case TCP:
		return "tcp"
	}
	return "udp"
}

// ParseMethod reads "udp", "icmp" or "tcp".
func ParseMethod(s string) (Method, error) {
	switch strings.ToLower(s) {
	case "udp":
		return UDP, nil
	case "icmp":
		return ICMP, nil
	case "tcp":
		return TCP, nil
	}
	return UDP, fmt.Errorf("trace: unknown probe method %q (want udp, icmp or tcp)", s)
}

func (m Method) proto(v6 bool) uint8 {
	switch m {
	case ICMP:
		if v6 {
			return inet.ProtoICMPv6
		}
		return inet.ProtoICMP
	case TCP:
		return inet.ProtoTCP
	}
	return inet.ProtoUDP
}

// Sizes of what a probe carries after the IP header.
const (
	udpHeaderLen  = 8
	icmpHeaderLen = 8
	tcpHeaderLen  = 20
	tcpOptionsLen = 20 // MSS, SACK permitted, timestamps, NOP, window scale
	compLen       = 2  // the word that keeps a Paris checksum constant
)

// MinSize is the smallest probe (IP packet) a method and family allow.
func MinSize(m Method, v6 bool) int {
	hl := inet.IPv4HeaderLen
	if v6 {
		hl = inet.IPv6HeaderLen
	}
	switch m {
	case TCP:
		return hl + tcpHeaderLen
	case ICMP:
		return hl + icmpHeaderLen + compLen
	}
	return hl + udpHeaderLen + compLen
}

// DefaultSize is traceroute's probe size: 60 bytes over IPv4, 80 over
// IPv6.
func DefaultSize(v6 bool) int {
	if v6 {
		return 80
	}
	return 60
}

// Probe identity. Every probe of a run carries a 16-bit identity, 1..0xfffe,
// where load balancers do not look and ICMP errors quote it:
//   - UDP: the checksum (a compensating payload word makes it come out so),
//   - ICMP: the echo sequence (a compensating payload word keeps the
//     checksum, which balancers may hash, constant per flow),
//   - TCP: the low half of the sequence number (the high half is the run's
//     cookie).
//
// IPv4 probes carry it in the IP identification too. The flow (which
// balancers do hash) is the source port for UDP and TCP, the checksum for
// ICMP, and for IPv6 also the flow label.
const maxID = 0xfffe

// flowParams are the fields a run keeps constant, from which each probe is
// built.
type flowParams struct {
	method Method
	v6     bool
	size   int    // whole IP packet
	tos    uint8  // TOS / traffic class
	df     bool   // IPv4 don't fragment
	dport  uint16 // UDP, TCP
	sport  uint16 // first source port: flow f uses sport+f (UDP, TCP)
	flows  uint16 // how many flows the run uses (1 when unset)
	icmpID uint16 // echo identifier (ICMP)
	csum   uint16 // flow 0's ICMP checksum; flow f uses the f-th after it
	cookie uint16 // high half of the TCP sequence number
	label  uint32 // flow 0's IPv6 flow label
}

// flowCount is how many flows the run uses.
func (fp *flowParams) flowCount() uint16 { return max(fp.flows, 1) }

// flowChecksum is the ICMP checksum of flow f: never 0 or 0xffff.
func (fp *flowParams) flowChecksum(f uint16) uint16 {
	return uint16(1 + (uint32(fp.csum)+uint32(f))%maxID)
}

func (fp *flowParams) flowLabel(f uint16) uint32 {
	return (fp.label + uint32(f)) & 0xfffff
}

// build writes one probe, a whole IP packet, into b (len(b) >= fp.size)
// and returns it.
func (fp *flowParams) build(b []byte, src, dst netip.Addr, ttl uint8, id, flow uint16) []byte {
	pkt := b[:fp.size]
	proto := fp.method.proto(fp.v6)
	hl := inet.IPv4HeaderLen
	if fp.v6 {
		hl = inet.IPv6HeaderLen
		inet.WriteIPv6(pkt, inet.IPv6{TrafficClass: fp.tos, FlowLabel: fp.flowLabel(flow), HopLimit: ttl, Next: proto, Src: src, Dst: dst}, fp.size-hl)
	} else {
		inet.WriteIPv4(pkt, inet.IPv4{TOS: fp.tos, ID: id, DF: fp.df, TTL: ttl, Proto: proto, Src: src, Dst: dst}, fp.size-hl)
	}
	l4 := pkt[hl:]
	pseudo := inet.PseudoSum(src, dst, proto, len(l4))
	switch fp.method {
	case ICMP:
		fp.buildEcho(l4, pseudo, id, flow)
	case TCP:
		fp.buildSYN(l4, pseudo, id, flow)
	default:
		fp.buildUDP(l4, pseudo, id, flow)
	}
	return pkt
}

// fill writes the probes' payload pattern.
func fill(b []byte) {
	for i := range b {
		b[i] = 0x40 + byte(i&0x3f)
	}
}

func (fp *flowParams) buildUDP(b []byte, pseudo uint32, id, flow uint16) {
	binary.BigEndian.PutUint16(b[0:], fp.sport+flow)
	binary.BigEndian.PutUint16(b[2:], fp.dport)
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)))
	b[6], b[7], b[8], b[9] = 0, 0, 0, 0
	fill(b[udpHeaderLen+compLen:])
	w := inet.Compensate(inet.Sum(b, pseudo), id)
	binary.BigEndian.PutUint16(b[6:], id)
	binary.BigEndian.PutUint16(b[udpHeaderLen:], w)
}

func (fp *flowParams) buildEcho(b []byte, pseudo uint32, id, flow uint16) {
	b[0], b[1] = 8, 0
	if fp.v6 {
		b[0] = 128
	} else {
		pseudo = 0 // ICMPv4 has no pseudo header
	}
	b[2], b[3] = 0, 0
	binary.BigEndian.PutUint16(b[4:], fp.icmpID)
	binary.BigEndian.PutUint16(b[6:], id)
	b[8], b[9] = 0, 0
	fill(b[icmpHeaderLen+compLen:])
	c := fp.flowChecksum(flow)
	w := inet.Compensate(inet.Sum(b, pseudo), c)
	binary.BigEndian.PutUint16(b[2:], c)
	binary.BigEndian.PutUint16(b[icmpHeaderLen:], w)
}

func (fp *flowParams) buildSYN(b []byte, pseudo uint32, id, flow uint16) {
	binary.BigEndian.PutUint16(b[0:], fp.sport+flow)
	binary.BigEndian.PutUint16(b[2:], fp.dport)
	binary.BigEndian.PutUint32(b[4:], uint32(fp.cookie)<<16|uint32(id))
	binary.BigEndian.PutUint32(b[8:], 0)
	hdr := tcpHeaderLen
	if len(b) >= tcpHeaderLen+tcpOptionsLen {
		hdr += tcpOptionsLen
		o := b[tcpHeaderLen:hdr]
		copy(o, []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7})
		binary.BigEndian.PutUint32(o[8:], uint32(id)) // TSval: anything; the identity helps reading captures
	}
	b[12] = byte(hdr/4) << 4
	b[13] = tcpSYN
	binary.BigEndian.PutUint16(b[14:], 64240)
	b[16], b[17], b[18], b[19] = 0, 0, 0, 0
	fill(b[hdr:])
	binary.BigEndian.PutUint16(b[16:], inet.Checksum(b, pseudo))
}

// TCP flags.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)
