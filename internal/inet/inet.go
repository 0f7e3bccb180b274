// Package inet holds the Internet-protocol arithmetic that several rawnet
// engines share: the one's complement checksum (RFC 1071) with IPv4 and
// IPv6 pseudo headers, and writers for plain IPv4 and IPv6 headers. It is
// pure computation over caller-owned byte slices and never allocates.
package inet

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Header lengths and protocol numbers used across rawnet.
const (
	IPv4HeaderLen = 20
	IPv6HeaderLen = 40
	ProtoICMP     = 1
	ProtoTCP      = 6
	ProtoUDP      = 17
	ProtoICMPv6   = 58
)

// Sum is the one's complement sum of b as big-endian 16-bit words, plus
// initial, folded to 16 bits (so that callers may add a few more words to
// it without overflow); an odd last byte is padded with zero.
func Sum(b []byte, initial uint32) uint32 {
	s := uint64(initial)
	for len(b) >= 8 {
		s += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint32(s)
}

// Fold folds a 32-bit partial sum into 16 bits with end-around carry.
func Fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// Checksum is the Internet checksum of b (the complement of its folded
// sum), starting from a partial sum such as a pseudo header's.
func Checksum(b []byte, initial uint32) uint16 {
	return ^Fold(Sum(b, initial))
}

// PseudoSum is the partial sum of the IPv4 or IPv6 pseudo header for an
// upper-layer packet of length bytes and protocol proto from src to dst.
func PseudoSum(src, dst netip.Addr, proto uint8, length int) uint32 {
	s := uint32(proto) + uint32(length>>16) + uint32(length&0xffff)
	if src.Is4() {
		a, b := src.As4(), dst.As4()
		return Sum(a[:], Sum(b[:], s))
	}
	a, b := src.As16(), dst.As16()
	return Sum(a[:], Sum(b[:], s))
}

// Compensate returns the 16-bit word w that lets a message carry the
// checksum want: sum is the partial sum of the message (pseudo header
// included) with its checksum field and the word that will hold w both
// zero. With want in the checksum field and w in that word, the message
// verifies. It is how a probe keeps its checksum at a chosen value while
// another field changes (Paris traceroute's trick). want must not be 0 or
// 0xffff.
func Compensate(sum uint32, want uint16) uint16 {
	// All words must add up to 0xffff (negative zero), so
	// w = -sum - want, and -x is ^x in one's complement.
	return Fold(uint32(^Fold(sum)) + uint32(^want))
}

// IPv4 is what WriteIPv4 writes into an IPv4 header.
type IPv4 struct {
	TOS      uint8
	ID       uint16
	DF       bool
	TTL      uint8
	Proto    uint8
	Src, Dst netip.Addr
}

// WriteIPv4 writes a 20-byte IPv4 header for a payload of payloadLen bytes
// into b, with a valid header checksum, and returns b[:20].
func WriteIPv4(b []byte, h IPv4, payloadLen int) []byte {
	b = b[:IPv4HeaderLen]
	b[0], b[1] = 0x45, h.TOS
	binary.BigEndian.PutUint16(b[2:], uint16(IPv4HeaderLen+payloadLen))
	binary.BigEndian.PutUint16(b[4:], h.ID)
	b[6], b[7] = 0, 0
	if h.DF {
		b[6] = 0x40
	}
	b[8], b[9] = h.TTL, h.Proto
	b[10], b[11] = 0, 0
	s, d := h.Src.As4(), h.Dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:], Checksum(b, 0))
	return b
}

// IPv6 is what WriteIPv6 writes into an IPv6 header.
type IPv6 struct {
	TrafficClass uint8
	FlowLabel    uint32
	HopLimit     uint8
	Next         uint8
	Src, Dst     netip.Addr
}

// WriteIPv6 writes a 40-byte IPv6 header for a payload of payloadLen bytes
// into b and returns b[:40].
func WriteIPv6(b []byte, h IPv6, payloadLen int) []byte {
	b = b[:IPv6HeaderLen]
	binary.BigEndian.PutUint32(b[0:], 6<<28|uint32(h.TrafficClass)<<20|h.FlowLabel&0xfffff)
	binary.BigEndian.PutUint16(b[4:], uint16(payloadLen))
	b[6], b[7] = h.Next, h.HopLimit
	s, d := h.Src.As16(), h.Dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	return b
}

// IPv4HeaderLength checks that b starts with an IPv4 header that fits in
// it and returns the header's length (IHL × 4), for the raw IPv4 sockets
// that deliver the header with the packet.
func IPv4HeaderLength(b []byte) (int, error) {
	if len(b) < IPv4HeaderLen {
		return 0, ErrShortIPv4
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < IPv4HeaderLen || ihl > len(b) {
		return 0, ErrIPv4HeaderLength
	}
	return ihl, nil
}

// IPv4Header is what receivers read from an IPv4 header.
type IPv4Header struct {
	Len        int // IHL × 4
	TOS, TTL   uint8
	Proto      uint8
	ID         uint16
	DF         bool
	FragOffset uint16 // in 8-byte units; non-zero: not the first fragment
	Src, Dst   netip.Addr
}

// ParseIPv4 reads the IPv4 header at the start of b, checked as
// IPv4HeaderLength checks it. It allocates nothing.
func ParseIPv4(b []byte) (IPv4Header, error) {
	n, err := IPv4HeaderLength(b)
	if err != nil {
		return IPv4Header{}, err
	}
	flags := binary.BigEndian.Uint16(b[6:])
	return IPv4Header{
		Len: n, TOS: b[1], TTL: b[8], Proto: b[9],
		ID: binary.BigEndian.Uint16(b[4:]), DF: flags&0x4000 != 0, FragOffset: flags & 0x1fff,
		Src: netip.AddrFrom4([4]byte(b[12:16])), Dst: netip.AddrFrom4([4]byte(b[16:20])),
	}, nil
}

// Errors of IPv4HeaderLength.
var (
	ErrShortIPv4        = errors.New("short IPv4 packet")
	ErrIPv4HeaderLength = errors.New("bad IPv4 header length")
)
