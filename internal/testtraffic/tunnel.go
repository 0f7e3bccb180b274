package testtraffic

import (
	"net"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TunnelFrames returns Ethernet frames of tunnels and tags: VXLAN and
// Geneve (bridged Ethernet and IP inside, options), GRE (key, sequence,
// bridged Ethernet, a protocol it does not carry), ESP over IP and UDP,
// IPv4 and IPv6 in IPv4, QinQ; whole and cut.
func TunnelFrames() [][]byte {
	var out [][]byte
	add := func(b []byte) { out = append(out, b) }
	v4T1, v4T2 := net.IP{198, 18, 100, 1}, net.IP{198, 18, 100, 2}
	innerICMP := serialize(&layers.Ethernet{SrcMAC: macB, DstMAC: macA, EthernetType: layers.EthernetTypeIPv4},
		ip4(v4T1, v4T2, layers.IPProtocolICMPv4, 64), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 5, Seq: 1}, payload(16))
	innerARP := serialize(&layers.Ethernet{SrcMAC: macB, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
			SourceHwAddress: macB, SourceProtAddress: v4T1, DstHwAddress: make([]byte, 6), DstProtAddress: v4T2})
	innerUDP := serialize(ip4(v4T1, v4T2, layers.IPProtocolUDP, 64), &layers.UDP{SrcPort: 4000, DstPort: 53}, gopacket.Payload(dnsBytes(&layers.DNS{ID: 1, RD: true,
		Questions: []layers.DNSQuestion{{Name: []byte("tunnel.example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}})))
	innerTCP6 := serialize(ip6(v6A, v6B, layers.IPProtocolTCP), &layers.TCP{SrcPort: 40000, DstPort: 33000, Seq: 1000, Ack: 2000, ACK: true, PSH: true, Window: 500}, payload(10))
	udp := func(dport layers.UDPPort, p []byte) []byte {
		return serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolUDP, 64), &layers.UDP{SrcPort: 50000, DstPort: dport}, gopacket.Payload(p))
	}
	vx := func(flags byte, vni uint32, inner []byte) []byte {
		return append([]byte{flags, 0, 0, 0, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}, inner...)
	}
	add(udp(4789, vx(0x08, 100, innerICMP)))
	add(udp(4789, vx(0x08, 16777215, innerARP)))
	add(udp(4789, vx(0x00, 7, innerICMP)))
	add(udp(4789, []byte{8, 0, 0}))
	gen := func(opts []byte, proto uint16, vni uint32, inner []byte) []byte {
		h := []byte{byte(len(opts) / 4), 0, byte(proto >> 8), byte(proto), byte(vni >> 16), byte(vni >> 8), byte(vni), 0}
		return append(append(h, opts...), inner...)
	}
	add(udp(6081, gen(nil, 0x6558, 100, innerICMP)))
	add(udp(6081, gen([]byte{0x01, 0x02, 0x80, 0x01, 1, 2, 3, 4}, 0x0800, 0xabc, innerUDP)))
	add(udp(6081, gen(nil, 0x86dd, 1, innerTCP6)))
	add(udp(6081, gen(nil, 0x1234, 1, payload(8))))
	gre := func(g *layers.GRE, inner []byte) []byte {
		return serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolGRE, 64), g, gopacket.Payload(inner))
	}
	add(gre(&layers.GRE{Protocol: layers.EthernetTypeIPv4}, innerUDP))
	add(gre(&layers.GRE{Protocol: layers.EthernetTypeIPv6, KeyPresent: true, Key: 0x1234, SeqPresent: true, Seq: 9}, innerTCP6))
	add(gre(&layers.GRE{Protocol: layers.EthernetTypeTransparentEthernetBridging}, innerARP))
	add(gre(&layers.GRE{Protocol: 0x1234}, payload(8)))
	esp := append([]byte{0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 42}, payload(40)...)
	add(serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolESP, 64), gopacket.Payload(esp)))
	add(serialize(eth6(), ip6(v6A, v6B, layers.IPProtocolESP), gopacket.Payload(esp)))
	add(serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolESP, 64), gopacket.Payload(esp[:8])))
	add(udp(4500, esp))
	add(udp(4500, []byte{0xff}))
	add(serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolIPv4, 64), gopacket.Payload(innerICMP[14:])))
	add(serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolIPv6, 64), gopacket.Payload(innerTCP6)))
	// The same TCP segment again inside 6in4: relative numbers now.
	add(serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolIPv6, 64), gopacket.Payload(innerTCP6)))
	add(serialize(&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeQinQ},
		&layers.Dot1Q{VLANIdentifier: 10, Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{VLANIdentifier: 20, Type: layers.EthernetTypeIPv4},
		ip4(v4A, v4B, layers.IPProtocolUDP, 64), &layers.UDP{SrcPort: 4000, DstPort: 5003}, payload(10)))
	// A VXLAN frame cut inside the inner IP header.
	cut := udp(4789, vx(0x08, 100, innerICMP))
	add(cut[:14+20+8+8+14+10])
	// TCP options tcpdump names, several to a segment.
	opt := func(kind byte, data ...byte) layers.TCPOption {
		return layers.TCPOption{OptionType: layers.TCPOptionKind(kind), OptionData: data}
	}
	for _, opts := range [][]layers.TCPOption{
		{opt(6, 0, 0, 1, 0), opt(7, 0, 0, 0, 9), opt(28, 0x01, 0x2d), opt(34), opt(34, 1, 2, 3, 4, 5, 6, 7, 8), opt(1), opt(1)},
		{opt(19, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16), opt(20, 0x80, 3), opt(254, 0xf9, 0x89), opt(254, 0x12, 0x34, 1), opt(1), opt(1)},
		{opt(29, 1, 2, 0xaa, 0xbb, 0xcc, 0xdd), opt(99, 1, 2), opt(2, 5, 0xb4, 0), opt(0)},
		{opt(5, 0, 0, 3, 0xe8, 0, 0, 7, 0xd0), opt(5, 1, 2, 3), opt(8, 0, 0, 0, 1, 0, 0, 0, 2)},
	} {
		add(serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolTCP, 64), &layers.TCP{SrcPort: 40200, DstPort: 33001, Seq: 1, Ack: 1000, ACK: true, Window: 100, Options: opts}))
	}
	// An ICMPv6 redirect (fd00:5::2 is better reached through fe80::1)
	// and one cut short.
	redirect := append(append(make([]byte, 4), net.ParseIP("fe80::1")...), v6B...)
	add(serialize(eth6(), ip6(net.ParseIP("fe80::ff"), v6A, layers.IPProtocolICMPv6),
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(137, 0)}, gopacket.Payload(redirect)))
	add(serialize(eth6(), ip6(net.ParseIP("fe80::ff"), v6A, layers.IPProtocolICMPv6),
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(137, 0)}, gopacket.Payload(redirect[:30])))
	// ICMPv4 types tcpdump names: router advertisement and solicitation,
	// information and address mask requests and replies, time stamp
	// replies (whole and cut).
	icmp := func(typ uint8, rest uint32, data []byte) []byte {
		ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: uint16(rest >> 16), Seq: uint16(rest)}
		return serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolICMPv4, 64), ic, gopacket.Payload(data))
	}
	add(icmp(9, 0x0202_0708, []byte{198, 18, 0, 1, 0, 0, 0, 5, 198, 18, 0, 2, 0xff, 0xff, 0xff, 0xff}))
	add(icmp(9, 0x0102_003b, []byte{198, 18, 0, 1, 0, 0, 0, 0}))
	add(icmp(9, 0x0104_0e10, []byte{198, 18, 0, 1, 0, 0, 0, 0}))
	add(icmp(10, 0, nil))
	add(icmp(15, 0x0001_0002, nil))
	add(icmp(16, 0x0001_0002, nil))
	add(icmp(17, 0x0001_0002, []byte{0, 0, 0, 0}))
	add(icmp(18, 0x0001_0002, []byte{255, 255, 255, 0}))
	add(icmp(14, 0x0001_0002, []byte{0, 0, 0, 1, 0x02, 0x93, 0x2e, 0x00, 0x05, 0x26, 0x5b, 0xff}))
	add(icmp(14, 0x0001_0002, []byte{0, 0, 0, 1}))
	add(icmp(42, 0, nil))
	// ICMPv6: MLDv1 query, report and done, an MLDv2 query with sources,
	// inverse ND, home agent discovery, mtrace, an unknown type.
	icmp6 := func(typ uint8, body []byte) []byte {
		return serialize(eth6(), ip6(net.ParseIP("fe80::1"), net.ParseIP("ff02::1"), layers.IPProtocolICMPv6),
			&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}, gopacket.Payload(body))
	}
	group := net.ParseIP("ff02::1:ff00:1")
	mld1 := append([]byte{0x27, 0x10, 0, 0}, group...)
	add(icmp6(130, mld1))
	add(icmp6(131, mld1))
	add(icmp6(132, mld1))
	mld2 := append(append(append([]byte{0x27, 0x10, 0, 0}, group...), 2, 125, 0, 2), append(v6A.To16(), v6B.To16()...)...)
	add(icmp6(130, mld2))
	add(icmp6(130, mld2[:22]))
	add(icmp6(141, make([]byte, 4)))
	add(icmp6(144, []byte{0x12, 0x34, 0, 0}))
	add(icmp6(200, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}))
	add(icmp6(250, []byte{0xaa, 0xbb, 0xcc}))
	// MPTCP options of every subtype, and ones tcpdump calls bad.
	mp := func(flags uint8, ack uint32, opts ...layers.TCPOption) []byte {
		tcp := &layers.TCP{SrcPort: 40300, DstPort: 33002, Seq: 1, Ack: ack, Window: 100, Options: opts,
			SYN: flags&0x02 != 0, ACK: flags&0x10 != 0}
		return serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolTCP, 64), tcp)
	}
	key := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	add(mp(0x02, 0, opt(30, append([]byte{0x01, 0x81}, key...)...)))                                         // capable v1 csum, SYN
	add(mp(0x02, 0, opt(30, 0x00, 0x01)))                                                                    // capable v0, SYN, no key
	add(mp(0x10, 9, opt(30, append(append([]byte{0x01, 0x01}, key...), key...)...)))                         // capable, ACK, both keys
	add(mp(0x02, 0, opt(30, 0x11, 5, 0, 0, 0, 9, 0, 0, 0, 7)))                                               // join SYN backup
	add(mp(0x12, 9, opt(30, append(append([]byte{0x10, 5}, key...), 0, 0, 0, 7)...)))                        // join SYN-ACK
	add(mp(0x10, 9, opt(30, append([]byte{0x10, 0}, make([]byte, 20)...)...)))                               // join ACK hmac
	add(mp(0x10, 9, opt(30, 0x20, 0x15, 0, 0, 0, 9, 0, 0, 0, 5, 0, 0, 0, 1, 0, 10, 0xab, 0xcd)))             // dss fin ack seq csum
	add(mp(0x10, 9, opt(30, 0x20, 0x0f, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 10))) // dss 8-byte numbers
	add(mp(0x10, 9, opt(30, 0x30, 3, 198, 18, 0, 9)))                                                        // add-addr v1 ip4
	add(mp(0x10, 9, opt(30, 0x30, 3, 198, 18, 0, 9, 0x1f, 0x90)))                                            // add-addr with port
	add(mp(0x10, 9, opt(30, append(append([]byte{0x31, 4}, v6B.To16()...), 0x1f, 0x90)...)))                 // add-addr ip6 echo port
	add(mp(0x10, 9, opt(30, 0x40, 3, 4)))                                                                    // rem-addr
	add(mp(0x10, 9, opt(30, 0x51, 2)))                                                                       // prio backup id
	add(mp(0x10, 9, opt(30, append([]byte{0x60, 0}, key...)...)))                                            // fail
	add(mp(0x10, 9, opt(30, append([]byte{0x70, 0}, key...)...)))                                            // fast-close
	add(mp(0x10, 9, opt(30, 0x90, 0)))                                                                       // unknown subtype
	add(mp(0x10, 9, opt(1), opt(30, 0x20, 0x01, 0, 0)))                                                      // dss cut: bad
	add(mp(0x12, 9, opt(30, 0x00, 0x01)))                                                                    // capable on SYN-ACK without keys: bad
	// IPv4 and IPv6 headers cut short.
	add(cut[:14+10])
	add(innerTCP6Frame(innerTCP6)[:14+30])
	return out
}

// innerTCP6Frame puts an IPv6 packet in an Ethernet header (serialize
// would pad the header alone to the minimum frame size).
func innerTCP6Frame(p []byte) []byte {
	h := append(append(append([]byte(nil), macB...), macA...), 0x86, 0xdd)
	return append(h, p...)
}
