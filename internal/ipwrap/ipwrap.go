// Package ipwrap builds whole IPv4 and IPv6 packets around payloads that a
// socket sent or received without their IP header (datagram sockets, IPv6
// raw sockets), so that they can be recorded in pcap files as they were on
// the wire; headers and checksums come from internal/inet. Everything here
// is a pure function over byte slices and allocates nothing.
package ipwrap

import (
	"encoding/binary"
	"net/netip"

	"github.com/rawnet/rawnet/internal/inet"
)

// Header and protocol constants.
const (
	IPv4HeaderLen = inet.IPv4HeaderLen
	IPv6HeaderLen = inet.IPv6HeaderLen
	UDPHeaderLen  = 8
	ProtoICMP4    = inet.ProtoICMP
	ProtoUDP      = inet.ProtoUDP
	ProtoICMP6    = inet.ProtoICMPv6
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
	// id 0 (the kernel's is not known), no fragment offset
	inet.WriteIPv4(b, inet.IPv4{TOS: uint8(h.TOS), DF: h.DF, TTL: uint8(h.TTL), Proto: h.Proto, Src: src.Unmap(), Dst: dst.Unmap()}, len(payload))
	n := copy(b[IPv4HeaderLen:], payload)
	return b[:IPv4HeaderLen+n]
}

func ipv6(b []byte, src, dst netip.Addr, h Header, payload []byte) []byte {
	inet.WriteIPv6(b, inet.IPv6{TrafficClass: uint8(h.TOS), HopLimit: uint8(h.TTL), Next: h.Proto, Src: src, Dst: dst}, len(payload))
	n := copy(b[IPv6HeaderLen:], payload)
	return b[:IPv6HeaderLen+n]
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
	sum := inet.Checksum(u, inet.PseudoSum(sa, da, ProtoUDP, len(u)))
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
		initial = inet.PseudoSum(router, dst, ProtoICMP6, len(m))
	}
	binary.BigEndian.PutUint16(m[2:], inet.Checksum(m, initial))
	return IP(b, router, dst, h, m)
}
