// Package ipwrap builds whole IPv4 and IPv6 packets around payloads that a
// socket sent or received without their IP header (datagram sockets, IPv6
// raw sockets), so that they can be recorded in pcap files as they were on
// the wire. It also holds the Internet checksum (RFC 1071) that the headers,
// UDP and ICMPv6 need. Everything here is a pure function over byte slices
// and allocates nothing.
package ipwrap

import (
	"encoding/binary"
	"net/netip"
)

// Header and protocol constants.
const (
	IPv4HeaderLen = 20
	IPv6HeaderLen = 40
	UDPHeaderLen  = 8
	ProtoICMP4    = 1
	ProtoUDP      = 17
	ProtoICMP6    = 58
)

// Header is what an IP header carries beyond its addresses and length.
type Header struct {
	Proto uint8 // protocol / next header
	TTL   int   // TTL or hop limit
	TOS   int   // TOS or traffic class
	DF    bool  // IPv4 don't-fragment bit
}

// IP writes an IP header for a packet of payload bytes from src to dst
// into b and copies payload after it; it returns the whole packet. The
// family is dst's. b must have room for header and payload.
func IP(b []byte, src, dst netip.Addr, h Header, payload []byte) []byte {
	if dst.Is4() {
		return ipv4(b, src, dst, h, payload)
	}
	return ipv6(b, src, dst, h, payload)
}

func ipv4(b []byte, src, dst netip.Addr, h Header, payload []byte) []byte {
	total := IPv4HeaderLen + len(payload)
	ip := b[:IPv4HeaderLen]
	ip[0] = 0x45
	ip[1] = byte(h.TOS)
	binary.BigEndian.PutUint16(ip[2:], uint16(total))
	binary.BigEndian.PutUint32(ip[4:], 0) // id 0 (the kernel's is not known), no fragment offset
	if h.DF {
		ip[6] = 0x40
	}
	ip[8], ip[9] = byte(h.TTL), h.Proto
	ip[10], ip[11] = 0, 0
	s, d := src.Unmap().As4(), dst.Unmap().As4()
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
	binary.BigEndian.PutUint16(ip[10:], Checksum(ip, 0))
	copy(b[IPv4HeaderLen:], payload)
	return b[:total]
}

func ipv6(b []byte, src, dst netip.Addr, h Header, payload []byte) []byte {
	ip := b[:IPv6HeaderLen]
	binary.BigEndian.PutUint32(ip[0:], 6<<28|uint32(h.TOS&0xff)<<20)
	binary.BigEndian.PutUint16(ip[4:], uint16(len(payload)))
	ip[6], ip[7] = h.Proto, byte(h.TTL)
	s, d := src.As16(), dst.As16()
	copy(ip[8:24], s[:])
	copy(ip[24:40], d[:])
	copy(b[IPv6HeaderLen:], payload)
	return b[:IPv6HeaderLen+len(payload)]
}

// HeaderLen is the IP header length of a packet to dst.
func HeaderLen(dst netip.Addr) int {
	if dst.Is4() || dst.Is4In6() {
		return IPv4HeaderLen
	}
	return IPv6HeaderLen
}

// UDP writes a whole IP packet carrying one UDP datagram from src to dst,
// with its checksum, into b and returns it. b must have room for
// HeaderLen(dst)+UDPHeaderLen+len(payload) bytes. IPv4-mapped IPv6
// addresses make an IPv4 packet.
func UDP(b []byte, src, dst netip.AddrPort, h Header, payload []byte) []byte {
	sa, da := src.Addr().Unmap(), dst.Addr().Unmap()
	hl := HeaderLen(da)
	u := b[hl : hl+UDPHeaderLen+len(payload)]
	binary.BigEndian.PutUint16(u[0:], src.Port())
	binary.BigEndian.PutUint16(u[2:], dst.Port())
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	u[6], u[7] = 0, 0
	copy(u[UDPHeaderLen:], payload)
	sum := Checksum(u, PseudoSum(sa, da, len(u), ProtoUDP))
	if sum == 0 {
		sum = 0xffff // 0 means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(u[6:], sum)
	h.Proto = ProtoUDP
	return IP(b, sa, da, h, u)
}

// ICMPError writes a whole IP packet from router to dst carrying an ICMP
// (or ICMPv6) error message of the given type and code that quotes the
// packet quoted (itself a whole IP packet), into b, and returns it. It
// rebuilds errors that a datagram socket reports through its error queue.
func ICMPError(b []byte, router, dst netip.Addr, typ, code uint8, quoted []byte) []byte {
	router, dst = router.Unmap(), dst.Unmap()
	hl := HeaderLen(dst)
	m := b[hl : hl+8+len(quoted)]
	m[0], m[1], m[2], m[3] = typ, code, 0, 0
	binary.BigEndian.PutUint32(m[4:], 0)
	copy(m[8:], quoted)
	h := Header{Proto: ProtoICMP4, TTL: 64}
	var initial uint32
	if !dst.Is4() {
		h.Proto = ProtoICMP6
		initial = PseudoSum(router, dst, len(m), ProtoICMP6)
	}
	binary.BigEndian.PutUint16(m[2:], Checksum(m, initial))
	return IP(b, router, dst, h, m)
}

// Checksum returns the Internet checksum (RFC 1071) of b, starting from a
// partial sum (for pseudo headers).
func Checksum(b []byte, initial uint32) uint16 {
	return Fold(initial + Sum16(b))
}

// PseudoSum is the partial checksum of the IPv4 or IPv6 pseudo header for
// an upper-layer packet of the given length and protocol.
func PseudoSum(src, dst netip.Addr, length int, proto uint8) uint32 {
	var sum uint32
	if src.Is4() && dst.Is4() {
		s, d := src.As4(), dst.As4()
		sum = Sum16(s[:]) + Sum16(d[:])
	} else {
		s, d := src.As16(), dst.As16()
		sum = Sum16(s[:]) + Sum16(d[:])
	}
	sum += uint32(length>>16) + uint32(length&0xffff)
	sum += uint32(proto)
	return sum
}

// Sum16 is the unfolded one's complement sum of b as 16-bit words.
func Sum16(b []byte) uint32 {
	var sum uint32
	n := len(b) &^ 1
	for i := 0; i < n; i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)&1 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return sum
}

// Fold folds a sum into 16 bits and complements it.
func Fold(sum uint32) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
