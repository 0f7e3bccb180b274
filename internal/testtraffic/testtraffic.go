// Package testtraffic builds the mixed traffic that the tests of rawnet's
// decoder, filters and read command share: Ethernet frames of IPv4 and
// IPv6 ICMP echoes and errors (quoting probes), UDP, TCP, neighbor
// discovery, fragments, extension headers, VLAN, ARP. Only tests use it.
package testtraffic

import (
	"encoding/binary"
	"net"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/rawnet/rawnet/pcap"
)

// The test traffic: a mixed set of IPv4/IPv6 ICMP, UDP and TCP packets in
// Ethernet frames, with the kinds tcpdump prints in distinct ways.

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
	v4A  = net.IP{198, 18, 0, 1}
	v4B  = net.IP{198, 18, 5, 2}
	v4R  = net.IP{198, 19, 0, 254}
	v4C  = net.IP{10, 1, 2, 3}
	v6A  = net.ParseIP("fd00::1")
	v6B  = net.ParseIP("fd00:5::2")
	v6R  = net.ParseIP("fd00:ff::1")
)

func serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	for _, l := range ls {
		switch n := l.(type) {
		case *layers.UDP:
			for _, m := range ls {
				if nl, ok := m.(gopacket.NetworkLayer); ok {
					n.SetNetworkLayerForChecksum(nl)
				}
			}
		case *layers.TCP:
			for _, m := range ls {
				if nl, ok := m.(gopacket.NetworkLayer); ok {
					n.SetNetworkLayerForChecksum(nl)
				}
			}
		case *layers.ICMPv6:
			for _, m := range ls {
				if nl, ok := m.(gopacket.NetworkLayer); ok {
					n.SetNetworkLayerForChecksum(nl)
				}
			}
		}
	}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		panic("testtraffic: " + err.Error()) // the layers are constants
	}
	return append([]byte(nil), buf.Bytes()...)
}

func eth4() *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
}

func eth6() *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv6}
}

func ip4(src, dst net.IP, proto layers.IPProtocol, ttl uint8) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Id: 0x1234, Flags: layers.IPv4DontFragment, Protocol: proto, SrcIP: src, DstIP: dst}
}

func ip6(src, dst net.IP, next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: src, DstIP: dst}
}

func payload(n int) gopacket.Payload {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// icmp4Error is an ICMPv4 error quoting inner (an IP packet) cut to quoteLen bytes.
func icmp4Error(typ, code uint8, rest uint32, from, to net.IP, inner []byte, quoteLen int) []byte {
	q := inner
	if len(q) > quoteLen {
		q = q[:quoteLen]
	}
	ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code), Id: uint16(rest >> 16), Seq: uint16(rest)}
	return serialize(eth4(), ip4(from, to, layers.IPProtocolICMPv4, 64), ic, gopacket.Payload(q))
}

func icmp6Error(typ, code uint8, rest uint32, from, to net.IP, inner []byte, quoteLen int) []byte {
	q := inner
	if len(q) > quoteLen {
		q = q[:quoteLen]
	}
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, code)}
	b := make([]byte, 4+len(q))
	binary.BigEndian.PutUint32(b, rest)
	copy(b[4:], q)
	return serialize(eth6(), ip6(from, to, layers.IPProtocolICMPv6), ic, gopacket.Payload(b))
}

// Frames returns the Ethernet frames of the mixed test traffic.
func Frames() [][]byte {
	var out [][]byte
	add := func(b []byte) { out = append(out, b) }
	for seq := uint16(1); seq <= 3; seq++ {
		add(serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolICMPv4, 64),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 77, Seq: seq}, payload(56)))
		add(serialize(eth4(), ip4(v4B, v4A, layers.IPProtocolICMPv4, 64),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 77, Seq: seq}, payload(56)))
		add(serialize(eth6(), ip6(v6A, v6B, layers.IPProtocolICMPv6),
			&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, &layers.ICMPv6Echo{Identifier: 99, SeqNumber: seq}, payload(56)))
		add(serialize(eth6(), ip6(v6B, v6A, layers.IPProtocolICMPv6),
			&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(129, 0)}, &layers.ICMPv6Echo{Identifier: 99, SeqNumber: seq}, payload(56)))
	}
	// UDP both families, including a well-known port tcpdump leaves alone.
	add(serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolUDP, 64), &layers.UDP{SrcPort: 4000, DstPort: 5001}, payload(4)))
	add(serialize(eth4(), ip4(v4C, v4B, layers.IPProtocolUDP, 64), &layers.UDP{SrcPort: 40000, DstPort: 9}, payload(200)))
	add(serialize(eth6(), ip6(v6A, v6B, layers.IPProtocolUDP), &layers.UDP{SrcPort: 4000, DstPort: 5001}, payload(12)))
	// TCP handshake pieces and data with absolute numbers.
	add(serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolTCP, 64), &layers.TCP{SrcPort: 33434, DstPort: 34567, Seq: 1, Window: 64240, SYN: true,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}}}))
	add(serialize(eth4(), ip4(v4B, v4A, layers.IPProtocolTCP, 64), &layers.TCP{SrcPort: 34567, DstPort: 33434, Seq: 1000, Ack: 2, Window: 65160, SYN: true, ACK: true,
		Options: []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
			{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 1, 0, 0, 0, 2}},
			{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
		}}))
	add(serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolTCP, 64), &layers.TCP{SrcPort: 33434, DstPort: 34567, Seq: 2, Ack: 1001, Window: 502, ACK: true}))
	add(serialize(eth6(), ip6(v6A, v6B, layers.IPProtocolTCP), &layers.TCP{SrcPort: 33434, DstPort: 34567, Seq: 2, Ack: 1001, Window: 502, ACK: true, PSH: true}, payload(20)))
	add(serialize(eth6(), ip6(v6B, v6A, layers.IPProtocolTCP), &layers.TCP{SrcPort: 34567, DstPort: 33434, Seq: 1001, Ack: 22, Window: 500, RST: true, ACK: true}))
	add(serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolTCP, 64), &layers.TCP{SrcPort: 33434, DstPort: 34567, Seq: 22, Ack: 1001, Window: 502, FIN: true, ACK: true, URG: true, Urgent: 3}, payload(5)))
	// Traceroute-style probes and the ICMP errors that quote them.
	udpProbe := serialize(ip4(v4A, v4B, layers.IPProtocolUDP, 1), &layers.UDP{SrcPort: 40000, DstPort: 33434}, payload(32))
	add(serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolUDP, 1), &layers.UDP{SrcPort: 40000, DstPort: 33434}, payload(32)))
	add(icmp4Error(11, 0, 0, v4R, v4A, udpProbe, 28))
	add(icmp4Error(3, 3, 0, v4B, v4A, udpProbe, 1000))
	add(icmp4Error(3, 1, 0, v4R, v4A, udpProbe, 28))
	add(icmp4Error(3, 4, 1400, v4R, v4A, udpProbe, 28))
	add(icmp4Error(3, 13, 0, v4R, v4A, udpProbe, 28))
	tcpProbe := serialize(ip4(v4A, v4B, layers.IPProtocolTCP, 2), &layers.TCP{SrcPort: 40001, DstPort: 80, Seq: 5, SYN: true, Window: 1024})
	add(icmp4Error(11, 0, 0, v4R, v4A, tcpProbe, 28))
	icmpProbe := serialize(ip4(v4A, v4B, layers.IPProtocolICMPv4, 3), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 77, Seq: 9}, payload(8))
	add(icmp4Error(11, 0, 0, v4R, v4A, icmpProbe, 1000))
	udp6Probe := serialize(ip6(v6A, v6B, layers.IPProtocolUDP), &layers.UDP{SrcPort: 40000, DstPort: 33435}, payload(16))
	add(serialize(eth6(), ip6(v6A, v6B, layers.IPProtocolUDP), &layers.UDP{SrcPort: 40000, DstPort: 33435}, payload(16)))
	add(icmp6Error(3, 0, 0, v6R, v6A, udp6Probe, 1000))
	add(icmp6Error(1, 4, 0, v6B, v6A, udp6Probe, 1000))
	add(icmp6Error(1, 0, 0, v6R, v6A, udp6Probe, 1000))
	add(icmp6Error(2, 0, 1280, v6R, v6A, udp6Probe, 1000))
	// Neighbor discovery.
	add(serialize(eth6(), ip6(v6A, net.ParseIP("ff02::1:ff00:2"), layers.IPProtocolICMPv6),
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(135, 0)}, &layers.ICMPv6NeighborSolicitation{TargetAddress: v6B,
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: macA}}}))
	add(serialize(eth6(), ip6(v6B, v6A, layers.IPProtocolICMPv6),
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(136, 0)}, &layers.ICMPv6NeighborAdvertisement{TargetAddress: v6B, Flags: 0x60,
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptTargetAddress, Data: macB}}}))
	// Fragments: IPv4 first and later, IPv6 first and later.
	f1 := ip4(v4A, v4B, layers.IPProtocolUDP, 64)
	f1.Flags = layers.IPv4MoreFragments
	add(serialize(eth4(), f1, &layers.UDP{SrcPort: 4000, DstPort: 5001, Length: 2008}, payload(1472)))
	f2 := ip4(v4A, v4B, layers.IPProtocolUDP, 64)
	f2.Flags = 0
	f2.FragOffset = 185
	add(serialize(eth4(), f2, payload(528)))
	add(serialize(eth6(), ip6(v6A, v6B, layers.IPProtocolIPv6Fragment),
		&layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, MoreFragments: true, Identification: 7},
		&layers.UDP{SrcPort: 4000, DstPort: 5001, Length: 3008}, payload(1000)))
	add(serialize(eth6(), ip6(v6A, v6B, layers.IPProtocolIPv6Fragment),
		&layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: 126, Identification: 7}, payload(1000)))
	// IPv6 with a destination options header, and a VLAN-tagged frame.
	add(serialize(eth6(), ip6(v6A, v6B, layers.IPProtocolIPv6Destination),
		gopacket.Payload([]byte{byte(layers.IPProtocolUDP), 0, 1, 4, 0, 0, 0, 0}), &layers.UDP{SrcPort: 4000, DstPort: 5002}, payload(8)))
	add(serialize(&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4},
		ip4(v4A, v4B, layers.IPProtocolUDP, 64), &layers.UDP{SrcPort: 4000, DstPort: 5003}, payload(10)))
	// ARP request and an unknown IP protocol.
	add(serialize(&layers.Ethernet{SrcMAC: macA, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
			SourceHwAddress: macA, SourceProtAddress: v4A, DstHwAddress: make([]byte, 6), DstProtAddress: v4B}))
	add(serialize(eth4(), ip4(v4A, v4B, 253, 64), payload(12)))
	// IPv4 with options (record route).
	o := ip4(v4A, v4B, layers.IPProtocolUDP, 64)
	o.Options = []layers.IPv4Option{{OptionType: 7, OptionLength: 11, OptionData: []byte{4, 0, 0, 0, 0, 0, 0, 0, 0}}, {OptionType: 0, OptionLength: 1}}
	add(serialize(eth4(), o, &layers.UDP{SrcPort: 4000, DstPort: 5004}, payload(4)))
	// An MLDv2 report behind a hop-by-hop header (router alert), as Linux
	// sends on every link.
	mld := append([]byte{0, 0, 0, 1, 4, 0, 0, 0}, net.ParseIP("ff02::1:ff00:1")...)
	add(serialize(eth6(), ip6(net.ParseIP("fe80::1"), net.ParseIP("ff02::16"), layers.IPProtocolIPv6HopByHop),
		gopacket.Payload([]byte{byte(layers.IPProtocolICMPv6), 0, 5, 2, 0, 0, 1, 0}),
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(143, 0)}, gopacket.Payload(mld)))
	// IPv6 routing headers (type 0 and segment routing), an unknown next
	// header, no next header, and a TCP header cut short.
	rt0 := append([]byte{byte(layers.IPProtocolUDP), 2, 0, 1, 0, 0, 0, 0}, v6R...)
	srh := append([]byte{byte(layers.IPProtocolUDP), 2, 4, 0, 0, 0, 0, 0}, v6R...)
	add(serialize(eth6(), ip6(v6A, v6B, layers.IPProtocolIPv6Routing), gopacket.Payload(rt0), &layers.UDP{SrcPort: 1000, DstPort: 2000}, payload(3)))
	add(serialize(eth6(), ip6(v6A, v6B, layers.IPProtocolIPv6Routing), gopacket.Payload(srh), &layers.UDP{SrcPort: 1000, DstPort: 2000}, payload(3)))
	add(serialize(eth6(), ip6(v6A, v6B, 253), payload(3)))
	add(serialize(eth6(), ip6(v6A, v6B, layers.IPProtocolNoNextHeader)))
	add(serialize(eth6(), ip6(v6A, v6B, layers.IPProtocolTCP), payload(10)))
	return out
}

// Epoch is the time of the first frame in files written by WritePcap; the
// others follow 1 ms apart.
var Epoch = time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)

// wireLen is the length of an Ethernet frame on the wire: longer than
// the frame when its IP header says the packet goes on (a frame cut as
// a capture's snap length cuts it).
func wireLen(link pcap.LinkType, b []byte) int {
	if link != pcap.Ethernet || len(b) < 14+20 {
		return len(b)
	}
	n := len(b)
	switch binary.BigEndian.Uint16(b[12:]) {
	case 0x0800:
		n = 14 + int(binary.BigEndian.Uint16(b[16:]))
	case 0x86dd:
		if len(b) >= 14+40 {
			n = 14 + 40 + int(binary.BigEndian.Uint16(b[18:]))
		}
	}
	return max(n, len(b))
}

// WritePcap writes frames to a new pcap file of the given link type. An
// Ethernet frame shorter than its IP packet is written as cut by a snap
// length: its wire length is the IP packet's.
func WritePcap(path string, link pcap.LinkType, frames [][]byte) error {
	f, err := pcap.Create(path, link)
	if err != nil {
		return err
	}
	for i, b := range frames {
		if err := f.WriteCaptured(Epoch.Add(time.Duration(i)*time.Millisecond), b, wireLen(link, b), 0); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
