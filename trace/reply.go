package trace

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/rawnet/rawnet/icmp"
	"github.com/rawnet/rawnet/internal/inet"
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

// MPLSLabel is one label stack entry from an RFC 4950 ICMP extension.
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
	if isEchoReply(msg[0], fp.v6) {
		if fp.method != ICMP || binary.BigEndian.Uint16(msg[4:]) != fp.icmpID {
			return false
		}
		*r = reply{kind: KindEchoReply, typ: msg[0], from: from, target: from}
		r.id = binary.BigEndian.Uint16(msg[6:])
		return validID(r.id)
	}
	var q icmp.Quote
	var err error
	if fp.v6 {
		q, err = icmp.ParseError6(msg)
	} else {
		q, err = icmp.ParseError4(msg)
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
		if !isEchoRequest(p[0], fp.v6) || binary.BigEndian.Uint16(p[4:]) != fp.icmpID {
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
func (fp *flowParams) matchIPID(q icmp.Quote, r *reply) bool {
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

func isEchoReply(t uint8, v6 bool) bool {
	if v6 {
		return t == icmp.TypeEchoReply6
	}
	return t == icmp.TypeEchoReply4
}

func isEchoRequest(t uint8, v6 bool) bool {
	if v6 {
		return t == icmp.TypeEchoRequest6
	}
	return t == icmp.TypeEchoRequest4
}

func errorKind(t uint8, v6 bool) Kind {
	switch {
	case !v6 && t == icmp.TypeTimeExceeded4, v6 && t == icmp.TypeTimeExceeded6:
		return KindTimeExceeded
	case !v6 && t == icmp.TypeDestUnreachable4, v6 && t == icmp.TypeDestUnreachable6:
		return KindUnreachable
	}
	return KindOther
}

// parseMPLS finds an RFC 4884 extension structure in an ICMP error and
// copies the MPLS label stack entries of its RFC 4950 objects into labels;
// it returns how many it copied. Routers that predate RFC 4884 put the
// structure at byte 128 of the quoted datagram without a length field; it
// is taken from there only when its version and checksum are right.
func parseMPLS(msg []byte, v6 bool, labels []MPLSLabel) int {
	ext := extensions(msg, v6)
	if ext == nil {
		return 0
	}
	n := 0
	for objs := ext[4:]; len(objs) >= 4; {
		olen := int(binary.BigEndian.Uint16(objs))
		if olen < 4 || olen > len(objs) {
			break
		}
		if objs[2] == 1 && objs[3] == 1 { // MPLS label stack, incoming
			for e := objs[4:olen]; len(e) >= 4 && n < len(labels); e = e[4:] {
				v := binary.BigEndian.Uint32(e)
				labels[n] = MPLSLabel{Label: v >> 12, TC: uint8(v>>9) & 7, S: v&0x100 != 0, TTL: uint8(v)}
				n++
			}
		}
		objs = objs[olen:]
	}
	return n
}

// extensions returns the ICMP extension structure of an error message
// (header included), or nil.
func extensions(msg []byte, v6 bool) []byte {
	if len(msg) < icmpHeaderLen {
		return nil
	}
	t := msg[0]
	var words, unit int
	switch {
	case !v6 && (t == icmp.TypeDestUnreachable4 || t == icmp.TypeTimeExceeded4 || t == icmp.TypeParamProblem4):
		words, unit = int(msg[5]), 4
	case v6 && (t == icmp.TypeDestUnreachable6 || t == icmp.TypeTimeExceeded6):
		words, unit = int(msg[4]), 8
	default:
		return nil
	}
	const compatOffset = 128
	start := icmpHeaderLen + words*unit
	strict := words > 0
	if !strict {
		start = icmpHeaderLen + compatOffset
	} else if words*unit < compatOffset {
		return nil
	}
	if len(msg) < start+4 {
		return nil
	}
	ext := msg[start:]
	if ext[0]>>4 != 2 {
		return nil
	}
	if c := binary.BigEndian.Uint16(ext[2:]); (c != 0 || !strict) && inet.Checksum(ext, 0) != 0 {
		return nil
	}
	return ext
}
