package testtraffic

import (
	"net"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// AppFrames returns Ethernet frames of what runs above UDP and TCP: DNS
// (queries and answers of many record types, EDNS, rcodes, flags, mDNS,
// DNS over TCP, cut and malformed messages).
func AppFrames() [][]byte {
	var out [][]byte
	add := func(b []byte) { out = append(out, b) }
	udp4 := func(sport, dport layers.UDPPort, msg []byte) []byte {
		return serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolUDP, 64), &layers.UDP{SrcPort: sport, DstPort: dport}, gopacket.Payload(msg))
	}
	udp6 := func(sport, dport layers.UDPPort, msg []byte) []byte {
		return serialize(eth6(), ip6(v6A, v6B, layers.IPProtocolUDP), &layers.UDP{SrcPort: sport, DstPort: dport}, gopacket.Payload(msg))
	}
	q := func(name string, t layers.DNSType) layers.DNSQuestion {
		return layers.DNSQuestion{Name: []byte(name), Type: t, Class: layers.DNSClassIN}
	}
	rr := func(name string, t layers.DNSType) layers.DNSResourceRecord {
		return layers.DNSResourceRecord{Name: []byte(name), Type: t, Class: layers.DNSClassIN, TTL: 300}
	}
	a := rr("www.example.com", layers.DNSTypeA)
	a.IP = net.IP{198, 18, 9, 9}
	aaaa := rr("www.example.com", layers.DNSTypeAAAA)
	aaaa.IP = net.ParseIP("fd00:9::9")
	cname := rr("alias.example.com", layers.DNSTypeCNAME)
	cname.CNAME = []byte("www.example.com")
	mx := rr("example.com", layers.DNSTypeMX)
	mx.MX = layers.DNSMX{Preference: 10, Name: []byte("mail.example.com")}
	txt := rr("example.com", layers.DNSTypeTXT)
	txt.TXTs = [][]byte{[]byte("v=spf1 -all"), []byte("a\x01b\xffc")}
	srv := rr("_sip._udp.example.com", layers.DNSTypeSRV)
	srv.SRV = layers.DNSSRV{Priority: 1, Weight: 5, Port: 5060, Name: []byte("sip.example.com")}
	ptr := rr("9.9.18.198.in-addr.arpa", layers.DNSTypePTR)
	ptr.PTR = []byte("www.example.com")
	ns := rr("example.com", layers.DNSTypeNS)
	ns.NS = []byte("ns1.example.com")
	soa := rr("example.com", layers.DNSTypeSOA)
	soa.SOA = layers.DNSSOA{MName: []byte("ns1.example.com"), RName: []byte("hostmaster.example.com"), Serial: 7, Refresh: 3600, Retry: 600, Expire: 86400, Minimum: 60}
	opt := layers.DNSResourceRecord{Type: layers.DNSTypeOPT, Class: 1232, OPT: []layers.DNSOPT{
		{Code: layers.DNSOptionCodeCookie, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}}}}
	optDO := layers.DNSResourceRecord{Type: layers.DNSTypeOPT, Class: 4096, TTL: 0x8000}
	optBadVers := layers.DNSResourceRecord{Type: layers.DNSTypeOPT, Class: 512, TTL: 1 << 24}

	msgs := []*layers.DNS{
		{ID: 0x1234, RD: true, Questions: []layers.DNSQuestion{q("www.example.com", layers.DNSTypeA)}},
		{ID: 0x1234, QR: true, RD: true, RA: true, Questions: []layers.DNSQuestion{q("www.example.com", layers.DNSTypeA)}, Answers: []layers.DNSResourceRecord{a}},
		{ID: 7, RD: true, Questions: []layers.DNSQuestion{q("alias.example.com", layers.DNSTypeAAAA)}, Additionals: []layers.DNSResourceRecord{opt}},
		{ID: 7, QR: true, AA: true, RD: true, RA: true, Questions: []layers.DNSQuestion{q("alias.example.com", layers.DNSTypeAAAA)},
			Answers: []layers.DNSResourceRecord{cname, aaaa}, Additionals: []layers.DNSResourceRecord{opt}},
		{ID: 8, QR: true, RD: true, Questions: []layers.DNSQuestion{q("example.com", layers.DNSTypeMX)}, Answers: []layers.DNSResourceRecord{mx, txt}, Authorities: []layers.DNSResourceRecord{ns}},
		{ID: 9, QR: true, RA: true, ResponseCode: layers.DNSResponseCodeNXDomain, Questions: []layers.DNSQuestion{q("nx.example.com", layers.DNSTypeA)}, Authorities: []layers.DNSResourceRecord{soa}},
		{ID: 10, QR: true, TC: true, ResponseCode: layers.DNSResponseCodeServFail, Questions: []layers.DNSQuestion{q("x.example.com", layers.DNSTypeTXT)}},
		{ID: 11, QR: true, RA: true, Questions: []layers.DNSQuestion{q("_sip._udp.example.com", layers.DNSTypeSRV)}, Answers: []layers.DNSResourceRecord{srv}},
		{ID: 12, QR: true, RA: true, Questions: []layers.DNSQuestion{q("9.9.18.198.in-addr.arpa", layers.DNSTypePTR)}, Answers: []layers.DNSResourceRecord{ptr}},
		{ID: 13, RD: true, Questions: []layers.DNSQuestion{q("example.com", layers.DNSTypeSOA), q("example.com", layers.DNSTypeNS)}},
		{ID: 14, Questions: []layers.DNSQuestion{{Name: []byte("version.bind"), Type: layers.DNSTypeTXT, Class: layers.DNSClassCH}}, Additionals: []layers.DNSResourceRecord{optDO}},
		{ID: 15, QR: true, Questions: []layers.DNSQuestion{q("example.com", layers.DNSTypeA)}, Additionals: []layers.DNSResourceRecord{optBadVers}},
		{ID: 16, OpCode: layers.DNSOpCodeNotify, AA: true, Questions: []layers.DNSQuestion{q("example.com", layers.DNSTypeSOA)}},
		{ID: 17, QR: true, RA: true, Questions: []layers.DNSQuestion{q("", layers.DNSTypeNS)}, Answers: []layers.DNSResourceRecord{func() layers.DNSResourceRecord {
			r := rr("", layers.DNSTypeNS)
			r.NS = []byte("a.root-servers.net")
			return r
		}()}},
	}
	for i, m := range msgs {
		b := dnsBytes(m)
		if i%2 == 0 {
			add(udp4(40000+layers.UDPPort(i), 53, b))
		} else {
			add(udp6(53, 40000+layers.UDPPort(i), b))
		}
	}
	// A response cut short (snaplen), a message shorter than a header,
	// a pointer that points forwards, and bytes that are not DNS.
	full := udp4(53, 40001, dnsBytes(msgs[3]))
	add(full[:len(full)-40])
	add(udp4(40002, 53, []byte{1, 2, 3, 4, 5}))
	bad := dnsBytes(msgs[0])
	bad[12] = 0xc0
	bad[13] = 0x30
	add(udp4(40003, 53, bad))
	add(udp4(53, 53, []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")))
	// mDNS: a QU question and an answer with cache flush.
	mq := &layers.DNS{Questions: []layers.DNSQuestion{{Name: []byte("printer.local"), Type: layers.DNSTypeA, Class: layers.DNSClassIN | 0x8000}}}
	add(udp4(5353, 5353, dnsBytes(mq)))
	ma := rr("printer.local", layers.DNSTypeA)
	ma.Class |= 0x8000
	ma.IP = net.IP{198, 18, 9, 10}
	add(udp6(5353, 5353, dnsBytes(&layers.DNS{QR: true, AA: true, Answers: []layers.DNSResourceRecord{ma}})))
	// DNS over TCP: a query and its answer with the length prefix, and a
	// segment whose prefix does not match.
	tcpq := lengthPrefixed(dnsBytes(msgs[0]))
	tcpa := lengthPrefixed(dnsBytes(msgs[1]))
	add(serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolTCP, 64), &layers.TCP{SrcPort: 40100, DstPort: 53, Seq: 100, Ack: 500, ACK: true, PSH: true, Window: 502}, gopacket.Payload(tcpq)))
	add(serialize(eth4(), ip4(v4B, v4A, layers.IPProtocolTCP, 64), &layers.TCP{SrcPort: 53, DstPort: 40100, Seq: 500, Ack: 100 + uint32(len(tcpq)), ACK: true, PSH: true, Window: 509}, gopacket.Payload(tcpa)))
	add(serialize(eth4(), ip4(v4A, v4B, layers.IPProtocolTCP, 64), &layers.TCP{SrcPort: 40100, DstPort: 53, Seq: 100 + uint32(len(tcpq)), Ack: 500 + uint32(len(tcpa)), ACK: true, PSH: true, Window: 502}, gopacket.Payload(tcpq[:20])))
	// NTP client and server, DHCPv4 discover and offer, DHCPv6 solicit
	// and advertise, and each cut short.
	ntpq := serializePayload(&layers.NTP{LeapIndicator: 3, Version: 4, Mode: 3, TransmitTimestamp: 0xe0000000_00000001})
	ntpr := serializePayload(&layers.NTP{Version: 4, Mode: 4, Stratum: 2, ReferenceID: 0xc6120909})
	add(udp4(123, 123, ntpq))
	add(udp6(123, 40123, ntpr))
	add(udp4(40124, 123, ntpq[:0]))
	disc := serializePayload(&layers.DHCPv4{Operation: layers.DHCPOpRequest, HardwareType: layers.LinkTypeEthernet, HardwareLen: 6, Xid: 0x1234,
		ClientHWAddr: macA, Options: layers.DHCPOptions{layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(layers.DHCPMsgTypeDiscover)})}})
	offer := serializePayload(&layers.DHCPv4{Operation: layers.DHCPOpReply, HardwareType: layers.LinkTypeEthernet, HardwareLen: 6, Xid: 0x1234,
		YourClientIP: net.IP{198, 18, 0, 50}, ClientHWAddr: macA, Options: layers.DHCPOptions{layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(layers.DHCPMsgTypeOffer)})}})
	add(serialize(eth4(), ip4(net.IPv4zero, net.IPv4bcast, layers.IPProtocolUDP, 64), &layers.UDP{SrcPort: 68, DstPort: 67}, gopacket.Payload(disc)))
	add(udp4(67, 68, offer))
	add(udp4(68, 67, disc[:20]))
	sol := serializePayload(&layers.DHCPv6{MsgType: layers.DHCPv6MsgTypeSolicit, TransactionID: []byte{1, 2, 3}})
	adv := serializePayload(&layers.DHCPv6{MsgType: layers.DHCPv6MsgTypeAdvertise, TransactionID: []byte{1, 2, 3}})
	add(serialize(eth6(), ip6(net.ParseIP("fe80::a"), net.ParseIP("ff02::1:2"), layers.IPProtocolUDP), &layers.UDP{SrcPort: 546, DstPort: 547}, gopacket.Payload(sol)))
	add(udp6(547, 546, adv))
	add(udp6(547, 546, adv[:3]))
	return out
}

func serializePayload(l gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := l.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		panic("testtraffic: " + err.Error())
	}
	return append([]byte(nil), buf.Bytes()...)
}

func dnsBytes(m *layers.DNS) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := m.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		panic("testtraffic: dns: " + err.Error())
	}
	return append([]byte(nil), buf.Bytes()...)
}

func lengthPrefixed(m []byte) []byte {
	return append([]byte{byte(len(m) >> 8), byte(len(m))}, m...)
}

// OnPort returns copies of IPv4/IPv6 UDP frames with port from changed to
// to (either side), the UDP checksum recomputed.
func OnPort(frames [][]byte, from, to uint16) [][]byte {
	var out [][]byte
	for _, f := range frames {
		p := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
		u, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if u == nil {
			continue
		}
		if uint16(u.SrcPort) == from {
			u.SrcPort = layers.UDPPort(to)
		}
		if uint16(u.DstPort) == from {
			u.DstPort = layers.UDPPort(to)
		}
		ls := []gopacket.SerializableLayer{}
		for _, l := range p.Layers() {
			if s, ok := l.(gopacket.SerializableLayer); ok && l.LayerType() != layers.LayerTypeDNS && l.LayerType() != layers.LayerTypeVXLAN {
				ls = append(ls, s)
			}
			if l.LayerType() == layers.LayerTypeUDP {
				ls = append(ls, gopacket.Payload(u.Payload))
				break
			}
		}
		out = append(out, serialize(ls...))
	}
	return out
}
