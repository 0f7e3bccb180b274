package capture

import (
	"github.com/gopacket/gopacket/layers"
)

// AppendVerbose appends every field of every decoded layer, one per line,
// in the manner of tshark -V: a title line per layer and indented
// "Name: value" lines, checksums marked [correct] or [incorrect, should be
// 0x....] (or [unverified] when the packet was not captured whole). The
// packet an ICMP error quotes follows, indented, under "Quoted packet".
func (d *Decoder) AppendVerbose(dst []byte) []byte {
	w := fieldWriter{b: dst}
	d.outer.writeFields(&w)
	return w.b
}

// AppendJSON appends the decoded packet as one JSON array with an object
// per layer: {"layer":"ipv4","version":4,...}. Checksums come with
// "<name>_status" (correct, incorrect, none, unverified); an ICMP error's
// object has the layers of the packet it quotes under "quoted"; a packet
// that could not be decoded to its end ends with a "truncated" object.
func (d *Decoder) AppendJSON(dst []byte) []byte {
	w := fieldWriter{b: append(dst, '['), json: true, first: true}
	d.outer.writeFields(&w)
	return append(w.b, ']')
}

func (s *stack) writeFields(w *fieldWriter) {
	for i := 0; i < s.n; i++ {
		e := s.order[i]
		switch e.kind {
		case kindEthernet:
			s.ethernetFields(w)
		case kindDot1Q:
			v := &s.vlan[e.idx]
			w.layer("dot1q", "802.1Q Virtual LAN")
			w.uint("priority", "Priority", uint64(v.Priority))
			w.boolean("dei", "DEI", v.DropEligible)
			w.uint("id", "ID", uint64(v.VLANIdentifier))
			w.hex("type", "Type", uint64(v.Type), 4)
			w.endLayer()
		case kindLinuxSLL:
			l := &s.sll
			w.layer("linux_sll", "Linux cooked capture v1")
			w.uintNote("packet_type", "Packet type", uint64(l.PacketType), l.PacketType.String())
			w.uint("hatype", "Link-layer address type", uint64(l.AddrType))
			w.uint("halen", "Link-layer address length", uint64(l.AddrLen))
			w.mac("address", "Source", l.Addr)
			w.hex("protocol", "Protocol", uint64(l.EthernetType), 4)
			w.endLayer()
		case kindLinuxSLL2:
			l := &s.sll2
			w.layer("linux_sll2", "Linux cooked capture v2")
			w.hex("protocol", "Protocol", uint64(l.ProtocolType), 4)
			w.uint("ifindex", "Interface index", uint64(l.InterfaceIndex))
			w.uint("hatype", "Link-layer address type", uint64(l.ARPHardwareType))
			w.uintNote("packet_type", "Packet type", uint64(l.PacketType), l.PacketType.String())
			w.uint("halen", "Link-layer address length", uint64(l.AddrLength))
			w.mac("address", "Source", l.Addr)
			w.endLayer()
		case kindLoopback:
			w.layer("loopback", "Null/Loopback")
			w.uint("family", "Family", uint64(s.loop.Family))
			w.endLayer()
		case kindARP:
			s.arpFields(w)
		case kindIPv4:
			s.ipv4Fields(w)
		case kindIPv6:
			s.ipv6Fields(w)
		case kindIPv6Ext:
			s.extFields(w, &s.ext[e.idx])
		case kindIPv6Fragment:
			f := &s.frag6
			w.layer("ipv6_fragment", "IPv6 Fragment Header")
			w.uint("next_header", "Next header", uint64(f.NextHeader))
			w.uint("offset", "Offset", uint64(f.FragmentOffset)*8)
			w.boolean("more_fragments", "More fragments", f.MoreFragments)
			w.hex("id", "Identification", uint64(f.Identification), 8)
			w.endLayer()
		case kindICMPv4:
			s.icmpv4Fields(w)
		case kindICMPv6:
			s.icmpv6Fields(w)
		case kindUDP:
			s.udpFields(w)
		case kindTCP:
			s.tcpFields(w)
		case kindFragment:
			w.layer("fragment", "Fragment data")
			w.data("data", "Data", s.payload)
			w.endLayer()
		case kindGRE, kindESP, kindEncap, kindVXLAN, kindGeneve:
			s.tunnelFields(w, e.kind)
		case kindPayload:
			if i > 0 && (s.order[i-1].kind == kindUDP || s.order[i-1].kind == kindTCP) && s.appFields(w) {
				continue
			}
			w.layer("payload", "Data")
			w.data("data", "Data", s.payload)
			w.endLayer()
		}
	}
	if s.err != nil {
		w.layer("truncated", "[Malformed or truncated packet]")
		w.str("at", "Layer", kindName(s.failK))
		w.str("error", "Error", s.err.Error())
		if s.failK != kindNone && len(s.payload) > 0 {
			w.data("data", "Undecoded bytes", s.payload)
		}
		w.endLayer()
	}
}

func (s *stack) ethernetFields(w *fieldWriter) {
	e := &s.eth
	w.layer("ethernet", "Ethernet II")
	w.mac("dst", "Destination", e.DstMAC)
	w.mac("src", "Source", e.SrcMAC)
	w.hex("type", "Type", uint64(e.EthernetType), 4)
	if len(e.Payload) > 0 && s.netIndex() >= 0 {
		// Padding after the IP packet is shown by the payload accounting
		// of the IP layer; nothing more to say here.
	}
	w.endLayer()
}

func (s *stack) arpFields(w *fieldWriter) {
	a := &s.arp
	w.layer("arp", "Address Resolution Protocol")
	w.uint("hardware_type", "Hardware type", uint64(a.AddrType))
	w.hex("protocol_type", "Protocol type", uint64(a.Protocol), 4)
	w.uint("hardware_size", "Hardware size", uint64(a.HwAddressSize))
	w.uint("protocol_size", "Protocol size", uint64(a.ProtAddressSize))
	op := ""
	switch a.Operation {
	case 1:
		op = "request"
	case 2:
		op = "reply"
	}
	w.uintNote("opcode", "Opcode", uint64(a.Operation), op)
	w.mac("sender_mac", "Sender MAC address", a.SourceHwAddress)
	if len(a.SourceProtAddress) == 4 {
		w.addr("sender_ip", "Sender IP address", a.SourceProtAddress)
	}
	w.mac("target_mac", "Target MAC address", a.DstHwAddress)
	if len(a.DstProtAddress) == 4 {
		w.addr("target_ip", "Target IP address", a.DstProtAddress)
	}
	w.endLayer()
}

func protoName(p layers.IPProtocol) string {
	switch p {
	case layers.IPProtocolICMPv4:
		return "ICMP"
	case layers.IPProtocolTCP:
		return "TCP"
	case layers.IPProtocolUDP:
		return "UDP"
	case layers.IPProtocolICMPv6:
		return "ICMPv6"
	case layers.IPProtocolIPv6HopByHop:
		return "IPv6 Hop-by-Hop Option"
	case layers.IPProtocolIPv6Routing:
		return "Routing Header for IPv6"
	case layers.IPProtocolIPv6Fragment:
		return "Fragment Header for IPv6"
	case layers.IPProtocolIPv6Destination:
		return "Destination Options for IPv6"
	case layers.IPProtocolNoNextHeader:
		return "No Next Header"
	}
	return ""
}

func (s *stack) ipv4Fields(w *fieldWriter) {
	ip := &s.ip4
	w.layer("ipv4", "Internet Protocol Version 4")
	w.uint("version", "Version", uint64(ip.Version))
	w.uint("ihl", "Header length (words)", uint64(ip.IHL))
	w.uint("dscp", "DSCP", uint64(ip.TOS>>2))
	w.uint("ecn", "ECN", uint64(ip.TOS&3))
	w.uint("total_length", "Total length", uint64(ip.Length))
	w.hex("id", "Identification", uint64(ip.Id), 4)
	w.boolean("df", "Don't fragment", ip.Flags&layers.IPv4DontFragment != 0)
	w.boolean("mf", "More fragments", ip.Flags&layers.IPv4MoreFragments != 0)
	w.uint("fragment_offset", "Fragment offset (bytes)", uint64(ip.FragOffset)*8)
	w.uint("ttl", "Time to live", uint64(ip.TTL))
	w.uintNote("protocol", "Protocol", uint64(ip.Protocol), protoName(ip.Protocol))
	st, want := s.ipv4HeaderChecksum()
	w.checksum("checksum", "Header checksum", ip.Checksum, st, want)
	w.addr("src", "Source address", ip.SrcIP)
	w.addr("dst", "Destination address", ip.DstIP)
	if len(ip.Options) > 0 {
		w.beginList("options", "Options")
		for i := range ip.Options {
			o := &ip.Options[i]
			w.item(ipv4OptionName(o.OptionType), o.OptionData)
		}
		w.endList()
	}
	w.endLayer()
}

func ipv4OptionName(t uint8) string {
	switch t {
	case 0:
		return "eol"
	case 1:
		return "nop"
	case 7:
		return "record-route"
	case 68:
		return "timestamp"
	case 130:
		return "security"
	case 131:
		return "loose-source-route"
	case 137:
		return "strict-source-route"
	case 148:
		return "router-alert"
	}
	return "unknown"
}

func (s *stack) ipv6Fields(w *fieldWriter) {
	ip := &s.ip6
	w.layer("ipv6", "Internet Protocol Version 6")
	w.uint("version", "Version", uint64(ip.Version))
	w.uint("dscp", "DSCP", uint64(ip.TrafficClass>>2))
	w.uint("ecn", "ECN", uint64(ip.TrafficClass&3))
	w.hex("flow_label", "Flow label", uint64(ip.FlowLabel), 5)
	w.uint("payload_length", "Payload length", uint64(ip.Length))
	w.uintNote("next_header", "Next header", uint64(ip.NextHeader), protoName(ip.NextHeader))
	w.uint("hop_limit", "Hop limit", uint64(ip.HopLimit))
	w.addr("src", "Source address", ip.SrcIP)
	w.addr("dst", "Destination address", ip.DstIP)
	w.endLayer()
}

func (s *stack) extFields(w *fieldWriter, e *ip6Ext) {
	switch e.proto {
	case layers.IPProtocolIPv6HopByHop:
		w.layer("ipv6_hop_by_hop", "IPv6 Hop-by-Hop Options")
	case layers.IPProtocolIPv6Routing:
		w.layer("ipv6_routing", "IPv6 Routing Header")
	default:
		w.layer("ipv6_destination", "IPv6 Destination Options")
	}
	w.uintNote("next_header", "Next header", uint64(e.next), protoName(e.next))
	w.uint("length", "Length (bytes)", uint64(len(e.data)))
	if e.proto == layers.IPProtocolIPv6Routing && len(e.data) >= 4 {
		w.uint("routing_type", "Type", uint64(e.data[2]))
		w.uint("segments_left", "Segments left", uint64(e.data[3]))
	}
	w.data("data", "Data", e.data[2:])
	w.endLayer()
}

func (s *stack) udpFields(w *fieldWriter) {
	u := &s.udp
	w.layer("udp", "User Datagram Protocol")
	w.uint("src_port", "Source port", uint64(u.SrcPort))
	w.uint("dst_port", "Destination port", uint64(u.DstPort))
	w.uint("length", "Length", uint64(u.Length))
	st, want := s.udpChecksum()
	w.checksum("checksum", "Checksum", u.Checksum, st, want)
	w.endLayer()
}

func (s *stack) tcpFields(w *fieldWriter) {
	t := &s.tcp
	w.layer("tcp", "Transmission Control Protocol")
	w.uint("src_port", "Source port", uint64(t.SrcPort))
	w.uint("dst_port", "Destination port", uint64(t.DstPort))
	w.uint("seq", "Sequence number", uint64(t.Seq))
	w.uint("ack", "Acknowledgment number", uint64(t.Ack))
	w.uint("data_offset", "Header length (words)", uint64(t.DataOffset))
	w.hex("flags", "Flags", uint64(tcpFlagBits(t))|boolBit(t.NS)<<8, 3)
	w.boolean("cwr", "CWR", t.CWR)
	w.boolean("ece", "ECE", t.ECE)
	w.boolean("urg", "URG", t.URG)
	w.boolean("ack_flag", "ACK", t.ACK)
	w.boolean("psh", "PSH", t.PSH)
	w.boolean("rst", "RST", t.RST)
	w.boolean("syn", "SYN", t.SYN)
	w.boolean("fin", "FIN", t.FIN)
	w.uint("window", "Window", uint64(t.Window))
	st, want := s.tcpChecksum()
	w.checksum("checksum", "Checksum", t.Checksum, st, want)
	w.uint("urgent", "Urgent pointer", uint64(t.Urgent))
	if len(t.Options) > 0 {
		w.beginList("options", "Options")
		for i := range t.Options {
			o := &t.Options[i]
			w.item(tcpOptionName(o.OptionType), o.OptionData)
		}
		w.endList()
	}
	w.endLayer()
}

func boolBit(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func tcpOptionName(k layers.TCPOptionKind) string {
	switch k {
	case layers.TCPOptionKindEndList:
		return "eol"
	case layers.TCPOptionKindNop:
		return "nop"
	case layers.TCPOptionKindMSS:
		return "mss"
	case layers.TCPOptionKindWindowScale:
		return "wscale"
	case layers.TCPOptionKindSACKPermitted:
		return "sackOK"
	case layers.TCPOptionKindSACK:
		return "sack"
	case layers.TCPOptionKindTimestamps:
		return "timestamps"
	case layers.TCPOptionKindMultipathTCP:
		return "mptcp"
	}
	return "unknown"
}
