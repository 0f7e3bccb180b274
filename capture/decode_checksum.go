package capture

import (
	"github.com/gopacket/gopacket/layers"

	"github.com/rawnet/rawnet/internal/inet"
)

// Checksums verified without allocating: the one's-complement sum of the
// bytes (inet.Sum, with the IPv4/IPv6 pseudo-header for UDP, TCP and
// ICMPv6).

type csumStatus uint8

const (
	csumCorrect   csumStatus = iota
	csumIncorrect            // the sum does not check out
	csumNone                 // UDP over IPv4 with checksum 0: not computed
	csumPartial              // the segment was not captured whole
)

// verify checks a checksum stored in field over a message whose sum
// (including the field) is s, and returns the value the field should hold.
func verify(s uint32, field uint16) (csumStatus, uint16) {
	if inet.Fold(s) == 0xffff {
		return csumCorrect, field
	}
	// The sum without the field, complemented, is what it should be.
	without := uint32(inet.Fold(s)) + uint32(^field)
	return csumIncorrect, ^inet.Fold(without)
}

func (s *stack) ipv4HeaderChecksum() (csumStatus, uint16) {
	h := s.ip4.Contents
	if len(h) < 20 {
		return csumPartial, 0
	}
	return verify(inet.Sum(h, 0), s.ip4.Checksum)
}

// pseudoSum is the sum of the pseudo-header of the network layer for a
// transport segment of length n and protocol proto.
func (s *stack) pseudoSum(proto layers.IPProtocol, n int) uint32 {
	var sum uint32
	if s.order[s.netIndex()].kind == kindIPv4 {
		sum = inet.Sum(s.ip4.SrcIP, 0)
		sum = inet.Sum(s.ip4.DstIP, sum)
	} else {
		sum = inet.Sum(s.ip6.SrcIP, 0)
		sum = inet.Sum(s.ip6.DstIP, sum)
	}
	return sum + uint32(proto) + uint32(n)
}

// segmentChecksum checks the checksum of a transport layer whose header
// is hdr and whose payload follows it: when the whole segment was captured.
func (s *stack) segmentChecksum(proto layers.IPProtocol, hdr, payload []byte, field uint16) (csumStatus, uint16) {
	n := len(hdr) + len(payload)
	if n != s.l4Len || s.fragment || s.netIndex() < 0 {
		return csumPartial, 0
	}
	// Headers have even lengths, so summing hdr and payload apart is the
	// same as summing them together.
	sum := inet.Sum(hdr, s.pseudoSum(proto, n))
	sum = inet.Sum(payload, sum)
	return verify(sum, field)
}

func (s *stack) udpChecksum() (csumStatus, uint16) {
	if s.udp.Checksum == 0 && s.order[s.netIndex()].kind == kindIPv4 {
		return csumNone, 0
	}
	return s.segmentChecksum(layers.IPProtocolUDP, s.udp.Contents, s.udp.Payload, s.udp.Checksum)
}

func (s *stack) tcpChecksum() (csumStatus, uint16) {
	return s.segmentChecksum(layers.IPProtocolTCP, s.tcp.Contents, s.tcp.Payload, s.tcp.Checksum)
}

func (s *stack) icmp6Checksum() (csumStatus, uint16) {
	return s.segmentChecksum(layers.IPProtocolICMPv6, s.icmp6.Contents, s.icmp6.Payload, s.icmp6.Checksum)
}

func (s *stack) icmp4Checksum() (csumStatus, uint16) {
	ic := &s.icmp4
	if len(ic.Contents)+len(ic.Payload) != s.l4Len || s.fragment {
		return csumPartial, 0
	}
	return verify(inet.Sum(ic.Payload, inet.Sum(ic.Contents, 0)), ic.Checksum)
}
