package craft

import (
	"encoding/binary"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/inet"
)

// flowKey identifies what a sent packet asks and what a received packet
// answers: the protocol, the sender's and receiver's addresses, and the
// ports (UDP, TCP) or identifier and sequence number (ICMP queries) of the
// sent packet. A reply's key is turned around to be the key of the packet
// it answers, so that the two compare equal.
type flowKey struct {
	proto    uint8
	query    uint8 // ICMP: the request type (8, 13, 15, 17; 128)
	src, dst [16]byte
	a, b     uint16
}

// ipView is what matching needs of an IP header.
type ipView struct {
	v6       bool
	proto    uint8
	src, dst [16]byte
	l4       []byte // from the transport header on (may be cut short)
}

// viewIP parses the IP packet at the start of b; ok is false when b is not
// IP or is a fragment other than the first. b may be cut short, as quotes in
// ICMP errors are.
func viewIP(b []byte) (v ipView, ok bool) {
	if len(b) < 20 {
		return v, false
	}
	switch b[0] >> 4 {
	case 4:
		h, err := inet.ParseIPv4(b)
		if err != nil || h.FragOffset != 0 {
			return v, false
		}
		v.proto = h.Proto
		copy(v.src[:], b[12:16])
		copy(v.dst[:], b[16:20])
		v.l4 = b[h.Len:]
		return v, true
	case 6:
		if len(b) < 40 {
			return v, false
		}
		v.v6 = true
		copy(v.src[:], b[8:24])
		copy(v.dst[:], b[24:40])
		var fragOff uint16
		v.proto, v.l4, fragOff, ok = inet.SkipExtensions6(b[6], b[40:])
		return v, ok && fragOff == 0
	}
	return v, false
}

func isICMP(v ipView) bool {
	return !v.v6 && v.proto == 1 || v.v6 && v.proto == 58
}

// sentKey is the key of a packet we send (its IP part).
func sentKey(ip []byte) (flowKey, bool) {
	v, ok := viewIP(ip)
	if !ok {
		return flowKey{}, false
	}
	k := flowKey{proto: v.proto, src: v.src, dst: v.dst}
	switch {
	case v.proto == 17 || v.proto == 6:
		if len(v.l4) < 4 {
			return k, false
		}
		k.a, k.b = binary.BigEndian.Uint16(v.l4), binary.BigEndian.Uint16(v.l4[2:])
	case isICMP(v):
		if len(v.l4) < 8 {
			return k, false
		}
		if v.v6 && (v.l4[0] == icmpmsg.TypeRouterSolicit6 || v.l4[0] == icmpmsg.TypeNeighborSolicit6) {
			return ndKey(v, v.l4[0], v.src)
		}
		k.query = v.l4[0]
		if !icmpmsg.Classify(v.v6, v.l4[0]).IsRequest() {
			k.a = uint16(v.l4[1])
			return k, true
		}
		k.a, k.b = binary.BigEndian.Uint16(v.l4[4:]), binary.BigEndian.Uint16(v.l4[6:])
	}
	return k, true
}

// answerKey is the key of the sent packet that a received IP packet
// answers, if it can answer one: a reply in the reverse direction of a
// flow, an ICMP query reply, or an ICMP error quoting the sent packet
// (isError true).
func answerKey(ip []byte) (k flowKey, isError, ok bool) {
	v, ok := viewIP(ip)
	if !ok {
		return k, false, false
	}
	k = flowKey{proto: v.proto, src: v.dst, dst: v.src}
	switch {
	case v.proto == 17 || v.proto == 6:
		if len(v.l4) < 4 {
			return k, false, false
		}
		k.a, k.b = binary.BigEndian.Uint16(v.l4[2:]), binary.BigEndian.Uint16(v.l4)
		return k, false, true
	case isICMP(v):
		if len(v.l4) < 8 {
			return k, false, false
		}
		t := v.l4[0]
		c := icmpmsg.Classify(v.v6, t)
		if c.IsError() {
			k, ok = sentKey(v.l4[8:])
			return k, true, ok
		}
		if v.v6 && (t == icmpmsg.TypeRouterAdvert6 || t == icmpmsg.TypeNeighborAdvert6) {
			k, ok = ndKey(v, t-1, v.dst) // each advertisement is numbered after its solicitation
			return k, false, ok
		}
		if !c.IsReply() {
			return k, false, false
		}
		k.query, _ = icmpmsg.RequestType(v.v6, t)
		k.a, k.b = binary.BigEndian.Uint16(v.l4[4:]), binary.BigEndian.Uint16(v.l4[6:])
		return k, false, true
	}
	return k, false, false
}

// ndKey is the key of a neighbour discovery exchange (RFC 4861), which
// carries no identifier: a neighbour solicitation (135) is answered by an
// advertisement for the same target sent to the solicitation's source
// (to all nodes, ff02::1, when that was ::); a router solicitation (133)
// by any router advertisement. asker is the solicitation's source, or the
// advertisement's destination.
func ndKey(v ipView, request uint8, asker [16]byte) (flowKey, bool) {
	k := flowKey{proto: 58, query: request}
	if request == icmpmsg.TypeRouterSolicit6 {
		return k, true
	}
	m, err := icmpmsg.ParseNeighbor(v.l4)
	if err != nil {
		return k, false
	}
	if asker == ([16]byte{}) {
		asker = allNodes
	}
	k.src, k.dst = asker, m.Target.As16()
	return k, true
}

var allNodes = [16]byte{0: 0xff, 1: 0x02, 15: 1}
