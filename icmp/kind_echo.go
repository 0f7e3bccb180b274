package icmp

import (
	"github.com/rawnet/rawnet/internal/icmpmsg"
)

// Echo is the ICMP echo kind, ping's default (Config.Kind nil): an echo
// request whose payload starts with the run's cookie, the target index and
// the 32-bit sequence when it has room for them (16 bytes or more), matched
// to its echo reply, or to an ICMP error by the request it quotes, by the
// echo identifier (the conn's ID), cookie, target and sequence; shorter
// payloads are matched by address and the 16-bit echo sequence.
type Echo struct {
	tmpl *icmpmsg.EchoTemplate
}

// NewEcho returns the ICMP echo kind.
func NewEcho() *Echo { return &Echo{} }

func (k *Echo) Proto(v6 bool) uint8 {
	if v6 {
		return protoICMP6
	}
	return protoICMP4
}

func (k *Echo) Len(size int) int { return echoHeaderLen + size }

func (k *Echo) Prepare(b []byte, size int, pattern []byte) {
	k.tmpl = icmpmsg.EchoTemplateIn(b, pattern)
}

func (k *Echo) Build(b []byte, pr *Probe) []byte {
	typ := uint8(icmpmsg.TypeEchoRequest4)
	if pr.V6 {
		typ = icmpmsg.TypeEchoRequest6
	}
	return k.tmpl.Marshal(icmpmsg.Echo{Type: typ, ID: pr.ID, Seq: uint16(pr.Seq)},
		icmpmsg.Probe{Cookie: pr.Cookie, Target: pr.Target, Seq: pr.Seq})
}

// Match takes echo replies, ICMP errors quoting an echo request, and the
// errors a datagram socket queues (pkt.Data is then the request).
func (k *Echo) Match(c Conn, pkt *Packet, cookie uint64, m *Match) bool {
	b := pkt.Data
	if pkt.QueuedError {
		*m = Match{Kind: EventError, Peer: pkt.OrigDst, ICMPType: pkt.ErrType, ICMPCode: pkt.ErrCode, Info: pkt.ErrInfo}
		return matchEcho(c, b, cookie, m)
	}
	if len(b) < echoHeaderLen {
		return false
	}
	v6 := c.V6()
	switch icmpmsg.Classify(v6, b[0]) {
	case icmpmsg.ClassEchoReply:
		*m = Match{Kind: EventReply, Peer: pkt.From}
		return matchEcho(c, b, cookie, m)
	case icmpmsg.ClassError, icmpmsg.ClassUnassignedError:
		q, ok := quoteOf(v6, b, k.Proto(v6))
		if !ok {
			return false
		}
		req := uint8(icmpmsg.TypeEchoRequest4)
		if v6 {
			req = icmpmsg.TypeEchoRequest6
		}
		if len(q.Payload) < echoHeaderLen || q.Payload[0] != req {
			return false
		}
		*m = Match{Kind: EventError, Peer: q.Dst, ICMPType: q.Type, ICMPCode: q.Code, Info: q.Info}
		return matchEcho(c, q.Payload, cookie, m)
	}
	return false
}

// quoteOf parses the ICMP error msg and reports whether the datagram it
// quotes is of protocol proto.
func quoteOf(v6 bool, msg []byte, proto uint8) (icmpmsg.Quote, bool) {
	var q icmpmsg.Quote
	var err error
	if v6 {
		q, err = icmpmsg.ParseError6(msg)
	} else {
		q, err = icmpmsg.ParseError4(msg)
	}
	return q, err == nil && q.Proto == proto
}

// matchEcho fills m's probe from the echo message b (a reply, or the
// request an error quotes), whose identifier must be c's.
func matchEcho(c Conn, b []byte, cookie uint64, m *Match) bool {
	e, pr, hasProbe, err := icmpmsg.ParseEcho(b)
	if err != nil || e.ID != c.ID() {
		return false
	}
	if !hasProbe {
		m.By, m.Seq = BySeq16, uint32(e.Seq)
		return true
	}
	if pr.Cookie != cookie || uint16(pr.Seq) != e.Seq {
		return false
	}
	m.By, m.Target, m.Seq = ByProbe, pr.Target, pr.Seq
	return true
}
