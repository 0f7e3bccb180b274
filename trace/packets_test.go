package trace

// Builders of what the network sends back to a probe: ICMP errors quoting
// it (with RFC 4884 / RFC 4950 MPLS extensions), echo replies and TCP
// answers. They write into caller-owned buffers, so that the fake network
// allocates nothing per packet, and compute checksums with refSum, written
// here independently of internal/inet.

import (
	"encoding/binary"
	"net/netip"

	"github.com/rawnet/rawnet/internal/inet"
)

// refSum is the one's complement sum of b's 16-bit words plus s, folded.
func refSum(b []byte, s uint32) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
		if s > 0xffff0000 {
			s = s&0xffff + s>>16
		}
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return s
}

func refChecksum(b []byte, s uint32) uint16 { return ^uint16(refSum(b, s)) }

// refPseudo is the pseudo header's sum, word by word.
func refPseudo(src, dst netip.Addr, proto uint8, n int) uint32 {
	var s uint32
	if src.Is4() {
		a, b := src.As4(), dst.As4()
		s = refSum(a[:], refSum(b[:], 0))
	} else {
		a, b := src.As16(), dst.As16()
		s = refSum(a[:], refSum(b[:], 0))
	}
	return refSum(nil, s+uint32(proto)+uint32(n>>16)+uint32(n&0xffff))
}

// verifies reports whether an upper-layer packet's checksum verifies.
func verifies(l4 []byte, pseudo uint32) bool {
	s := refSum(l4, pseudo)
	return s == 0xffff || s == 0
}

// errSpec says what ICMP error a router sends about a datagram.
type errSpec struct {
	v6        bool
	typ, code uint8
	info      uint32     // the 32-bit field after the checksum (MTU); the length byte is added
	from, to  netip.Addr // the router, and the probe's source (the error's destination)
	// The quoted header as the router saw the datagram arrive.
	ttl     uint8
	tos     uint8
	clearDF bool // a middlebox before the router cleared DF (IPv4)
	// setDport: a middlebox before the router changed the destination
	// port to dport (UDP, TCP)
	setDport bool
	dport    uint16
	// quote caps the bytes of the datagram quoted; 0 quotes all of it.
	quote int
	// RFC 4950 label stack in an RFC 4884 extension structure.
	labels []MPLSLabel
	compat bool // pre-RFC 4884 layout: no length field, extension at byte 128
	badSum bool // corrupt the extension checksum
}

// Type numbers for building answers.
const (
	tEchoReply4, tUnreach4, tEcho4, tTimeExceeded4 = 0, 3, 8, 11
	tUnreach6, tTooBig6, tTimeExceeded6            = 1, 2, 3
	tEcho6, tEchoReply6                            = 128, 129
)

// write writes the ICMP(v6) error message quoting datagram dg into b and
// returns it. dg is not modified.
func (s *errSpec) write(b, dg []byte) []byte {
	msg := b[:8]
	msg[0], msg[1], msg[2], msg[3] = s.typ, s.code, 0, 0
	binary.BigEndian.PutUint16(msg[4:], uint16(s.info>>16))
	binary.BigEndian.PutUint16(msg[6:], uint16(s.info))
	q := dg
	if s.quote > 0 && len(q) > s.quote {
		q = q[:s.quote]
	}
	n := copy(b[8:], q)
	quoted := b[8 : 8+n]
	if s.v6 {
		if n >= 40 {
			v := binary.BigEndian.Uint32(quoted)
			v = v&^(0xff<<20) | uint32(s.tos)<<20
			binary.BigEndian.PutUint32(quoted, v)
			quoted[7] = s.ttl
		}
	} else if n >= 20 {
		quoted[1], quoted[8] = s.tos, s.ttl
		if s.clearDF {
			quoted[6] &^= 0x40
		}
		quoted[10], quoted[11] = 0, 0
		binary.BigEndian.PutUint16(quoted[10:], refChecksum(quoted[:20], 0))
	}
	if hl := hdrLen(s.v6); s.setDport && n >= hl+4 {
		binary.BigEndian.PutUint16(quoted[hl+2:], s.dport)
	}
	end := 8 + n
	if len(s.labels) > 0 {
		// RFC 4884: the original datagram field is zero padded to 128
		// bytes (and cut there) when an extension structure follows.
		const orig = 128
		clear(b[8+min(n, orig) : 8+orig])
		end = 8 + orig
		if !s.compat {
			if s.v6 {
				b[4] = orig / 8
			} else {
				b[5] = orig / 4
			}
		}
		end += writeMPLSExt(b[end:], s.labels, s.badSum)
	}
	msg = b[:end]
	var pseudo uint32
	if s.v6 {
		pseudo = refPseudo(s.from, s.to, inet.ProtoICMPv6, len(msg))
	}
	binary.BigEndian.PutUint16(msg[2:], refChecksum(msg, pseudo))
	return msg
}

// writeMPLSExt writes an RFC 4884 extension structure (version 2) holding
// one RFC 4950 MPLS label stack object into b and returns its length.
func writeMPLSExt(b []byte, labels []MPLSLabel, badSum bool) int {
	objLen := 4 + 4*len(labels)
	ext := b[:4+objLen]
	ext[0], ext[1], ext[2], ext[3] = 2<<4, 0, 0, 0
	o := ext[4:]
	binary.BigEndian.PutUint16(o, uint16(objLen))
	o[2], o[3] = 1, 1 // class MPLS label stack, C-type incoming
	for i, l := range labels {
		v := l.Label<<12 | uint32(l.TC&7)<<9 | uint32(l.TTL)
		if l.S {
			v |= 0x100
		}
		binary.BigEndian.PutUint32(o[4+4*i:], v)
	}
	cs := refChecksum(ext, 0)
	if badSum {
		cs ^= 0x5a5a
	}
	binary.BigEndian.PutUint16(ext[2:], cs)
	return len(ext)
}

// writeEchoReply writes the echo reply a host sends to the echo request
// probe (the ICMP message of a probe, without IP header).
func writeEchoReply(b []byte, v6 bool, req []byte, from, to netip.Addr) []byte {
	msg := b[:copy(b, req)]
	msg[0] = tEchoReply4
	var pseudo uint32
	if v6 {
		msg[0] = tEchoReply6
		pseudo = refPseudo(from, to, inet.ProtoICMPv6, len(msg))
	}
	msg[2], msg[3] = 0, 0
	binary.BigEndian.PutUint16(msg[2:], refChecksum(msg, pseudo))
	return msg
}

// writeTCPAnswer writes the SYN-ACK (open port) or RST-ACK (closed) a host
// sends to the SYN syn.
func writeTCPAnswer(b []byte, syn []byte, open bool, from, to netip.Addr) []byte {
	seg := b[:20]
	copy(seg[0:], syn[2:4]) // from the probed port
	copy(seg[2:], syn[0:2]) // to the probe's source port
	binary.BigEndian.PutUint32(seg[4:], 0x0badcafe)
	binary.BigEndian.PutUint32(seg[8:], binary.BigEndian.Uint32(syn[4:])+1)
	seg[12] = 5 << 4
	seg[13] = tcpSYN | tcpACK
	if !open {
		seg[13] = tcpRST | tcpACK
		binary.BigEndian.PutUint32(seg[4:], 0)
	}
	binary.BigEndian.PutUint16(seg[14:], 1000)
	seg[16], seg[17], seg[18], seg[19] = 0, 0, 0, 0
	binary.BigEndian.PutUint16(seg[16:], refChecksum(seg, refPseudo(from, to, inet.ProtoTCP, len(seg))))
	return seg
}

// wrapIPv4 writes the IPv4 header of a packet from `from` to `to` whose
// payload (n bytes) is already at b[20:], and returns the whole packet.
func wrapIPv4(b []byte, from, to netip.Addr, proto uint8, n int) []byte {
	inet.WriteIPv4(b, inet.IPv4{TTL: 60, Proto: proto, Src: from, Dst: to}, n)
	return b[:20+n]
}

// testParams is a run's flow parameters with fixed values.
func testParams(m Method, v6 bool, size int) *flowParams {
	if size == 0 {
		size = DefaultSize(v6)
		if m == TCP {
			size = MinSize(TCP, v6) + tcpOptionsLen
		}
	}
	return &flowParams{
		method: m, v6: v6, size: size, tos: 0x28, df: true,
		dport: 33434, sport: 40000, flows: 256, icmpID: 0x1234, csum: 0x4321,
		cookie: 0xc00c, label: 0x5a5a1,
	}
}

func testAddrs(v6 bool) (src, dst, router netip.Addr) {
	if v6 {
		return netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00:99::9"), netip.MustParseAddr("fd00:5::1")
	}
	return netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.19.99.9"), netip.MustParseAddr("198.18.5.1")
}

func hdrLen(v6 bool) int {
	if v6 {
		return inet.IPv6HeaderLen
	}
	return inet.IPv4HeaderLen
}

var methods = []Method{UDP, ICMP, TCP}

func famName(v6 bool) string {
	if v6 {
		return "ipv6"
	}
	return "ipv4"
}
