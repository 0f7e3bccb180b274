package trace

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/rawnet/rawnet/internal/icmpmsg"
)

// Kind says what answered a probe.
type Kind uint8

const (
	// KindNone: no answer (a timeout).
	KindNone Kind = iota
	// KindTimeExceeded: a router on the path.
	KindTimeExceeded
	// KindUnreachable: a destination unreachable error; from the target
	// itself for a UDP probe's port unreachable (the trace reached it).
	KindUnreachable
	// KindEchoReply: the target answered an ICMP probe.
	KindEchoReply
	// KindSynAck and KindRST: the target answered a TCP probe.
	KindSynAck
	KindRST
	// KindOther: another ICMP error quoting the probe (parameter problem,
	// packet too big).
	KindOther
)

func (k Kind) String() string {
	return [...]string{"timeout", "time-exceeded", "unreachable", "echo-reply", "syn-ack", "rst", "icmp-error"}[k]
}

// maxLabels is how many MPLS label stack entries a reply keeps.
const maxLabels = 8

// MPLSLabel is one label stack entry from an RFC 4950 ICMP extension
// (the codec's icmpmsg.MPLSLabel, as trace results carry it).
type MPLSLabel struct {
	Label uint32 // 20 bits
	TC    uint8  // traffic class (formerly EXP), 3 bits
	S     bool   // bottom of stack
	TTL   uint8
}

// reply is one received packet that answers a probe of this run, as a
// reader parsed it: a plain value, so that it crosses to the engine
// without allocating.
type reply struct {
	id       uint16 // the probe's identity
	flow     uint16 // the flow it names, when the packet says (quotes of UDP/TCP)
	hasFlow  bool
	kind     Kind
	typ      uint8
	code     uint8
	info     uint32 // MTU of "packet too big" / "frag needed"
	from     netip.Addr
	target   netip.Addr // the probe's destination
	received time.Time
	// kernelStamp: received is the kernel's receive stamp
	kernelStamp bool
	// what the quoted probe says, for the middlebox check
	quoted  bool
	qTTL    uint8
	qTOS    uint8
	qDF     bool
	qSport  uint16
	qDport  uint16
	labels  [maxLabels]MPLSLabel
	nLabels uint8
}

// parseICMP reads an ICMP or ICMPv6 message from `from` that may answer a
// probe of this run: an echo reply to an ICMP probe, or an error quoting
// one. It reports whether msg belongs to the run.
func (fp *flowParams) parseICMP(msg []byte, from netip.Addr, r *reply) bool {
	if len(msg) < icmpHeaderLen {
		return false
	}
	class := icmpmsg.Classify(fp.v6, msg[0])
	if class == icmpmsg.ClassEchoReply {
		if fp.method != ICMP || binary.BigEndian.Uint16(msg[4:]) != fp.icmpID {
			return false
		}
		*r = reply{kind: KindEchoReply, typ: msg[0], from: from, target: from}
		r.id = binary.BigEndian.Uint16(msg[6:])
		return validID(r.id)
	}
	if !class.IsError() {
		return false
	}
	var q icmpmsg.Quote
	var err error
	if fp.v6 { // not icmpmsg.ParseError: one more copy of the Quote costs a third more here
		q, err = icmpmsg.ParseError6(msg)
	} else {
		q, err = icmpmsg.ParseError4(msg)
	}
	if err != nil || q.Proto != fp.method.proto(fp.v6) {
		return false
	}
	*r = reply{typ: q.Type, code: q.Code, info: q.Info, from: from, target: q.Dst, kind: errorKind(q.Type, fp.v6)}
	if ok := fp.matchQuote(q.Payload, r); !ok || (r.hasFlow && r.flow >= fp.flowCount()) {
		// Not a probe of ours as quoted; over IPv4 it may be a UDP probe
		// whose source port (and so checksum) a NAT rewrote.
		if !fp.matchIPID(q, r) {
			return false
		}
	}
	r.quoted, r.qTTL, r.qTOS, r.qDF = true, q.TTL, q.TOS, q.DF
	r.nLabels = uint8(parseMPLS(msg, fp.v6, r.labels[:]))
	return true
}

// matchQuote finds the probe identity in the quoted transport header.
func (fp *flowParams) matchQuote(p []byte, r *reply) bool {
	if len(p) < 8 { // RFC 792 guarantees 8 bytes
		return false
	}
	switch fp.method {
	case ICMP:
		if icmpmsg.Classify(fp.v6, p[0]) != icmpmsg.ClassEchoRequest || binary.BigEndian.Uint16(p[4:]) != fp.icmpID {
			return false
		}
		r.id = binary.BigEndian.Uint16(p[6:])
	case TCP:
		seq := binary.BigEndian.Uint32(p[4:])
		if uint16(seq>>16) != fp.cookie {
			return false
		}
		r.id = uint16(seq)
		r.qSport, r.qDport = binary.BigEndian.Uint16(p[0:]), binary.BigEndian.Uint16(p[2:])
		r.flow, r.hasFlow = r.qSport-fp.sport, true
		if r.flow >= fp.flowCount() {
			// The cookie says it is ours, the source port is not: a NAT
			// rewrote it. The quoted ports show what it made of it.
			r.flow, r.hasFlow = 0, false
		}
	default:
		r.qSport, r.qDport = binary.BigEndian.Uint16(p[0:]), binary.BigEndian.Uint16(p[2:])
		if r.qDport != fp.dport {
			return false
		}
		r.id = binary.BigEndian.Uint16(p[6:])
		r.flow, r.hasFlow = r.qSport-fp.sport, true
	}
	return validID(r.id)
}

// matchIPID finds an IPv4 UDP probe by the identity it also carries in the
// IP identification, when its UDP header no longer says who it is: a NAT
// rewrote the source port (and with it the checksum) on the way. The flow
// is then unknown; the quoted ports show what the NAT made of it.
func (fp *flowParams) matchIPID(q icmpmsg.Quote, r *reply) bool {
	if fp.v6 || fp.method != UDP || len(q.Payload) < 8 {
		return false
	}
	r.qSport, r.qDport = binary.BigEndian.Uint16(q.Payload[0:]), binary.BigEndian.Uint16(q.Payload[2:])
	if r.qDport != fp.dport || r.qSport-fp.sport < fp.flowCount() {
		// A source NAT leaves the destination port, and changes the
		// source port: with ours intact the checksum would be too.
		return false
	}
	r.id, r.flow, r.hasFlow = q.ID, 0, false
	return validID(r.id)
}

// parseTCP reads a TCP segment from `from` that may answer a TCP probe:
// a SYN-ACK or an RST acknowledging its sequence number.
func (fp *flowParams) parseTCP(seg []byte, from netip.Addr, r *reply) bool {
	if fp.method != TCP || len(seg) < tcpHeaderLen {
		return false
	}
	sport, dport := binary.BigEndian.Uint16(seg[0:]), binary.BigEndian.Uint16(seg[2:])
	flags := seg[13]
	if sport != fp.dport || flags&tcpACK == 0 || flags&(tcpSYN|tcpRST) == 0 {
		return false
	}
	ack := binary.BigEndian.Uint32(seg[8:]) - 1
	if uint16(ack>>16) != fp.cookie {
		return false
	}
	if dport-fp.sport >= fp.flowCount() {
		return false
	}
	*r = reply{kind: KindSynAck, from: from, target: from, id: uint16(ack), flow: dport - fp.sport, hasFlow: true}
	if flags&tcpRST != 0 {
		r.kind = KindRST
	}
	return validID(r.id)
}

func validID(id uint16) bool { return id >= 1 && id <= maxID }

func errorKind(t uint8, v6 bool) Kind {
	switch {
	case !v6 && t == icmpmsg.TypeTimeExceeded4, v6 && t == icmpmsg.TypeTimeExceeded6:
		return KindTimeExceeded
	case !v6 && t == icmpmsg.TypeDestUnreachable4, v6 && t == icmpmsg.TypeDestUnreachable6:
		return KindUnreachable
	}
	return KindOther
}

// parseMPLS copies the MPLS label stack entries of an ICMP error's RFC
// 4884 extension structure into labels (at most maxLabels of them) and
// returns how many it copied.
func parseMPLS(msg []byte, v6 bool, labels []MPLSLabel) int {
	var l [maxLabels]icmpmsg.MPLSLabel
	n := icmpmsg.MPLS(msg, v6, l[:min(len(labels), maxLabels)])
	for i := range n {
		labels[i] = MPLSLabel(l[i])
	}
	return n
}
