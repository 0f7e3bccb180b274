package craft

import (
	"encoding/binary"
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
		hl := int(b[0]&0xf) * 4
		if hl < 20 || hl > len(b) || binary.BigEndian.Uint16(b[6:])&0x1fff != 0 {
			return v, false
		}
		v.proto = b[9]
		copy(v.src[:], b[12:16])
		copy(v.dst[:], b[16:20])
		v.l4 = b[hl:]
		return v, true
	case 6:
		if len(b) < 40 {
			return v, false
		}
		v.v6 = true
		copy(v.src[:], b[8:24])
		copy(v.dst[:], b[24:40])
		return skipExtensions(v, b[6], b[40:])
	}
	return v, false
}

func skipExtensions(v ipView, nh uint8, b []byte) (ipView, bool) {
	for {
		switch nh {
		case 0, 43, 60:
			if len(b) < 8 {
				return v, false
			}
			nh, b = b[0], b[min(len(b), 8+int(b[1])*8):]
		case 44:
			if len(b) < 8 || binary.BigEndian.Uint16(b[2:])&0xfff8 != 0 {
				return v, false
			}
			nh, b = b[0], b[8:]
		case 51:
			if len(b) < 8 {
				return v, false
			}
			nh, b = b[0], b[min(len(b), (int(b[1])+2)*4):]
		default:
			v.proto, v.l4 = nh, b
			return v, true
		}
	}
}

// icmpQuery maps ICMP query types to the request type and says whether the
// type is a reply.
func icmpQuery(v6 bool, t uint8) (request uint8, reply, ok bool) {
	if v6 {
		switch t {
		case 128:
			return 128, false, true
		case 129:
			return 128, true, true
		}
		return 0, false, false
	}
	switch t {
	case 8, 13, 15, 17:
		return t, false, true
	case 0:
		return 8, true, true
	case 14, 16, 18:
		return t - 1, true, true
	}
	return 0, false, false
}

func isICMPError(v6 bool, t uint8) bool {
	if v6 {
		return t >= 1 && t <= 4
	}
	return t == 3 || t == 4 || t == 5 || t == 11 || t == 12
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
		if v.v6 && (v.l4[0] == 133 || v.l4[0] == 135) {
			return ndKey(v, v.l4[0], v.src)
		}
		req, reply, ok := icmpQuery(v.v6, v.l4[0])
		if !ok || reply {
			k.query = v.l4[0]
			k.a = uint16(v.l4[1])
			return k, true
		}
		k.query = req
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
		if isICMPError(v.v6, t) {
			k, ok = sentKey(v.l4[8:])
			return k, true, ok
		}
		if v.v6 && (t == 134 || t == 136) {
			k, ok = ndKey(v, t-1, v.dst)
			return k, false, ok
		}
		req, reply, ok := icmpQuery(v.v6, t)
		if !ok || !reply {
			return k, false, false
		}
		k.query = req
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
	if request == 133 {
		return k, true
	}
	if len(v.l4) < 24 {
		return k, false
	}
	if asker == ([16]byte{}) {
		asker = allNodes
	}
	k.src = asker
	copy(k.dst[:], v.l4[8:24])
	return k, true
}

var allNodes = [16]byte{0: 0xff, 1: 0x02, 15: 1}
