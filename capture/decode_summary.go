package capture

import (
	"net/netip"

	"github.com/gopacket/gopacket/layers"
	"github.com/rawnet/rawnet/internal/icmpmsg"
)

// Summary is the gist of a decoded IP packet, for statistics and matching:
// addresses, transport protocol, ports, ICMP fields.
type Summary struct {
	// Network is 4 or 6 for IP packets, 0 when no IP layer was decoded.
	Network int
	// ARP is set for an ARP message (Network is 0 then).
	ARP      bool
	Src, Dst netip.Addr
	// Proto is the transport protocol (after IPv6 extension headers).
	Proto uint8
	// Fragment is set for every fragment of a fragmented packet;
	// LaterFragment for those that do not start it.
	Fragment, LaterFragment bool
	TTL                     uint8 // TTL or hop limit
	IPID                    uint16
	// Length is the IP packet's length from its header(s).
	Length int

	// Ports are set for UDP and TCP (HasPorts).
	HasPorts         bool
	SrcPort, DstPort uint16

	// ICMP fields (ICMPv4 or ICMPv6 by Network); ID and Seq for echoes.
	ICMP               bool
	ICMPType, ICMPCode uint8
	ICMPID, ICMPSeq    uint16
	// ICMPError is set for errors (unreachable, time exceeded, ...), whose
	// quoted packet Decoder.Quoted returns.
	ICMPError bool

	// Key identifies the packet the way the quote in an ICMP error about it
	// does; see ProbeKey.
	Key ProbeKey
}

// ProbeKey identifies an IP packet by what an ICMP error quoting it keeps
// unchanged: addresses, protocol, IPv4 identification and the first eight
// bytes of the transport header (ports and checksum, TCP sequence number,
// ICMP type, id and sequence).
type ProbeKey struct {
	Src, Dst netip.Addr
	Proto    uint8
	IPID     uint16
	Head     [8]byte
}

// Summary returns the summary of the packet last decoded.
func (d *Decoder) Summary() Summary { return d.outer.summary() }

// Quoted returns the summary of the packet quoted by the ICMP error last
// decoded, and whether there is one.
func (d *Decoder) Quoted() (Summary, bool) {
	if !d.outer.hasQuoted {
		return Summary{}, false
	}
	return d.inner.summary(), true
}

func addr(ip []byte) netip.Addr {
	switch len(ip) {
	case 4:
		return netip.AddrFrom4([4]byte(ip))
	case 16:
		return netip.AddrFrom16([16]byte(ip))
	}
	return netip.Addr{}
}

func (s *stack) summary() Summary {
	var sum Summary
	i := s.netIndex()
	if i < 0 {
		return sum
	}
	switch s.order[i].kind {
	case kindARP:
		sum.ARP = true
		return sum
	case kindIPv4:
		ip := &s.ip4
		sum.Network, sum.Src, sum.Dst = 4, addr(ip.SrcIP), addr(ip.DstIP)
		sum.TTL, sum.IPID, sum.Length = ip.TTL, ip.Id, int(ip.Length)
		sum.LaterFragment = ip.FragOffset != 0
	case kindIPv6:
		ip := &s.ip6
		sum.Network, sum.Src, sum.Dst = 6, addr(ip.SrcIP), addr(ip.DstIP)
		sum.TTL, sum.Length = ip.HopLimit, int(ip.Length)+40
		sum.LaterFragment = s.has(kindIPv6Fragment) && s.frag6.FragmentOffset != 0
	default:
		return sum
	}
	sum.Proto = uint8(s.ipProto)
	sum.Fragment = s.fragment
	sum.Key = ProbeKey{Src: sum.Src, Dst: sum.Dst, Proto: sum.Proto, IPID: sum.IPID}
	if !sum.LaterFragment {
		copy(sum.Key.Head[:], s.l4)
		s.transportSummary(&sum)
	}
	return sum
}

func (s *stack) transportSummary(sum *Summary) {
	switch {
	case s.has(kindUDP):
		sum.HasPorts, sum.SrcPort, sum.DstPort = true, uint16(s.udp.SrcPort), uint16(s.udp.DstPort)
	case s.has(kindTCP):
		sum.HasPorts, sum.SrcPort, sum.DstPort = true, uint16(s.tcp.SrcPort), uint16(s.tcp.DstPort)
	case (s.failK == kindTCP || s.failK == kindUDP) && len(s.l4) >= 4:
		sum.HasPorts, sum.SrcPort, sum.DstPort = true, be.Uint16(s.l4), be.Uint16(s.l4[2:])
	case s.has(kindICMPv4):
		ic := &s.icmp4
		sum.ICMP, sum.ICMPType, sum.ICMPCode = true, ic.TypeCode.Type(), ic.TypeCode.Code()
		switch sum.ICMPType {
		case layers.ICMPv4TypeEchoRequest, layers.ICMPv4TypeEchoReply:
			sum.ICMPID, sum.ICMPSeq = ic.Id, ic.Seq
		}
		sum.ICMPError = icmpmsg.Classify(false, sum.ICMPType) == icmpmsg.ClassError
	case s.has(kindICMPv6):
		ic := &s.icmp6
		sum.ICMP, sum.ICMPType, sum.ICMPCode = true, ic.TypeCode.Type(), ic.TypeCode.Code()
		if s.has(kindICMPv6Echo) {
			sum.ICMPID, sum.ICMPSeq = s.echo6.Identifier, s.echo6.SeqNumber
		}
		sum.ICMPError = icmpmsg.Classify(true, sum.ICMPType) == icmpmsg.ClassError
	case (s.failK == kindICMPv4 || s.failK == kindICMPv6) && len(s.l4) >= 2:
		sum.ICMP, sum.ICMPType, sum.ICMPCode = true, s.l4[0], s.l4[1]
	}
}
