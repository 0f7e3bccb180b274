package capture

import (
	"github.com/gopacket/gopacket/layers"
)

// Fields of the protocols above UDP and TCP and of tunnels, for -v and
// --json. The application layers are decoded here, with gopacket's layers
// (preallocated in the stack), only when fields are asked for: the line
// reads the bytes itself. Nothing allocates per packet except inside
// gopacket's DNS decoder: a slice for each TXT record and each OPT record
// with options (most EDNS queries carry a cookie), and an error for a cut
// or malformed message.

// appFields writes the layer of the UDP or TCP payload when its protocol
// is one the Decoder knows, and says whether it did.
func (s *stack) appFields(w *fieldWriter) bool {
	var app AppProto
	data := s.payload
	switch {
	case s.has(kindUDP):
		app = s.udpApp
	case s.has(kindTCP):
		app = s.tcpApp
		if app != AppDNS || len(data) < 2 || int(be.Uint16(data)) != len(data)-2 {
			return false
		}
		data = data[2:]
	}
	switch app {
	case AppDNS, AppMDNS:
		if s.dns.DecodeFromBytes(data, &s.appFb) != nil {
			return false
		}
		s.dnsFields(w)
	case AppNTP:
		if len(data) < 48 || s.ntp.DecodeFromBytes(data, &s.appFb) != nil {
			return false
		}
		s.ntpFields(w)
	case AppDHCPv4:
		if len(data) < 240 || s.dhcp4.DecodeFromBytes(data, &s.appFb) != nil { // gopacket formats an error for less
			return false
		}
		s.dhcp4Fields(w)
	case AppDHCPv6:
		if len(data) < 4 || s.dhcp6.DecodeFromBytes(data, &s.appFb) != nil {
			return false
		}
		s.dhcp6Fields(w)
	case AppESP:
		if len(data) < 8 || be.Uint32(data) == 0 {
			return false
		}
		espFields(w, data)
	default:
		return false
	}
	return true
}

var dnsRcodeNames = [...]string{"NoError", "FormErr", "ServFail", "NXDomain", "NotImp", "Refused", "YXDomain", "YXRRSet", "NXRRSet", "NotAuth", "NotZone",
	16: "BADVERS", 23: "BADCOOKIE"}

func dnsRcodeName(c int) string {
	if c < len(dnsRcodeNames) {
		return dnsRcodeNames[c]
	}
	return ""
}

func dnsTypeName(t layers.DNSType) string { return dnsTypes[int(t)] }

func (s *stack) dnsFields(w *fieldWriter) {
	d := &s.dns
	w.layer("dns", "Domain Name System")
	w.hex("id", "Transaction ID", uint64(d.ID), 4)
	w.boolean("response", "Response", d.QR)
	w.uintNote("opcode", "Opcode", uint64(d.OpCode), d.OpCode.String())
	w.boolean("authoritative", "Authoritative", d.AA)
	w.boolean("truncated", "Truncated", d.TC)
	w.boolean("recursion_desired", "Recursion desired", d.RD)
	w.boolean("recursion_available", "Recursion available", d.RA)
	if len(d.Contents) >= 4 {
		w.boolean("authenticated_data", "Answer authenticated", d.Contents[3]&0x20 != 0)
		w.boolean("checking_disabled", "Non-authenticated data", d.Contents[3]&0x10 != 0)
	}
	w.uintNote("rcode", "Reply code", uint64(d.ResponseCode), dnsRcodeName(int(d.ResponseCode)))
	w.uint("questions", "Questions", uint64(d.QDCount))
	w.uint("answers", "Answer RRs", uint64(d.ANCount))
	w.uint("authorities", "Authority RRs", uint64(d.NSCount))
	w.uint("additionals", "Additional RRs", uint64(d.ARCount))
	if len(d.Questions) > 0 {
		w.beginList("query", "Queries")
		for i := range d.Questions {
			q := &d.Questions[i]
			w.beginItem("question")
			dnsName(w, "qname", "Name", q.Name)
			w.uintNote("qtype", "Type", uint64(q.Type), dnsTypeName(q.Type))
			w.uintNote("qclass", "Class", uint64(q.Class), dnsClassName(uint16(q.Class)))
			w.endItem()
		}
		w.endList()
	}
	dnsRecords(w, "answer", "Answers", d.Answers)
	dnsRecords(w, "authority", "Authoritative nameservers", d.Authorities)
	dnsRecords(w, "additional", "Additional records", d.Additionals)
	w.endLayer()
}

func dnsClassName(c uint16) string {
	switch c &^ 0x8000 {
	case 1:
		return "IN"
	case 3:
		return "CH"
	case 4:
		return "HS"
	case 255:
		return "ANY"
	}
	return ""
}

// dnsName writes a name as tshark shows it: without the final dot,
// "<Root>" for the root.
func dnsName(w *fieldWriter, key, label string, name []byte) {
	if len(name) == 0 {
		w.str(key, label, "<Root>")
		return
	}
	w.bytesStr(key, label, name)
}

func dnsRecords(w *fieldWriter, key, label string, rrs []layers.DNSResourceRecord) {
	if len(rrs) == 0 {
		return
	}
	w.beginList(key, label)
	for i := range rrs {
		rr := &rrs[i]
		w.beginItem("record")
		dnsName(w, "rrname", "Name", rr.Name)
		w.uintNote("type", "Type", uint64(rr.Type), dnsTypeName(rr.Type))
		if rr.Type == layers.DNSTypeOPT {
			dnsOPTFields(w, rr)
			w.endItem()
			continue
		}
		w.uintNote("class", "Class", uint64(rr.Class), dnsClassName(uint16(rr.Class)))
		w.uint("ttl", "Time to live", uint64(rr.TTL))
		w.uint("data_length", "Data length", uint64(rr.DataLength))
		dnsRData(w, rr)
		w.endItem()
	}
	w.endList()
}

func dnsRData(w *fieldWriter, rr *layers.DNSResourceRecord) {
	switch rr.Type {
	case layers.DNSTypeA, layers.DNSTypeAAAA:
		w.addr("address", "Address", rr.IP)
	case layers.DNSTypeCNAME:
		dnsName(w, "cname", "CNAME", rr.CNAME)
	case layers.DNSTypeNS:
		dnsName(w, "ns", "Name server", rr.NS)
	case layers.DNSTypePTR:
		dnsName(w, "ptr", "Domain name", rr.PTR)
	case layers.DNSTypeMX:
		w.uint("preference", "Preference", uint64(rr.MX.Preference))
		dnsName(w, "mx", "Mail exchange", rr.MX.Name)
	case layers.DNSTypeSRV:
		w.uint("priority", "Priority", uint64(rr.SRV.Priority))
		w.uint("weight", "Weight", uint64(rr.SRV.Weight))
		w.uint("port", "Port", uint64(rr.SRV.Port))
		dnsName(w, "target", "Target", rr.SRV.Name)
	case layers.DNSTypeSOA:
		dnsName(w, "mname", "Primary name server", rr.SOA.MName)
		dnsName(w, "rname", "Responsible authority's mailbox", rr.SOA.RName)
		w.uint("serial", "Serial number", uint64(rr.SOA.Serial))
		w.uint("refresh", "Refresh interval", uint64(rr.SOA.Refresh))
		w.uint("retry", "Retry interval", uint64(rr.SOA.Retry))
		w.uint("expire", "Expire limit", uint64(rr.SOA.Expire))
		w.uint("minimum", "Minimum TTL", uint64(rr.SOA.Minimum))
	case layers.DNSTypeTXT:
		w.beginList("txt", "TXT")
		for _, t := range rr.TXTs {
			w.beginItem("string")
			w.bytesStr("text", "Text", t)
			w.endItem()
		}
		w.endList()
	default:
		w.data("data", "Data", rr.Data)
	}
}

// dnsOPTFields writes an EDNS OPT record: its class is the UDP payload
// size, its TTL the extended rcode, version and DO flag.
func dnsOPTFields(w *fieldWriter, rr *layers.DNSResourceRecord) {
	w.uint("udp_payload_size", "UDP payload size", uint64(rr.Class))
	w.uint("extended_rcode", "Higher bits in extended RCODE", uint64(rr.TTL>>24))
	w.uint("edns_version", "EDNS0 version", uint64(rr.TTL>>16&0xff))
	w.boolean("do", "DO bit", rr.TTL&0x8000 != 0)
	w.uint("data_length", "Data length", uint64(rr.DataLength))
	if len(rr.OPT) == 0 {
		return
	}
	w.beginList("options", "Options")
	for i := range rr.OPT {
		o := &rr.OPT[i]
		name := ednsOptions[int(o.Code)]
		if name == "" {
			name = "unknown"
		}
		w.item(name, o.Data)
	}
	w.endList()
}

var ntpModeNames = [8]string{"reserved", "symmetric active", "symmetric passive", "client", "server", "broadcast", "control", "private"}

func (s *stack) ntpFields(w *fieldWriter) {
	n := &s.ntp
	w.layer("ntp", "Network Time Protocol")
	w.uint("leap", "Leap indicator", uint64(n.LeapIndicator))
	w.uint("version", "Version", uint64(n.Version))
	w.uintNote("mode", "Mode", uint64(n.Mode), ntpModeNames[n.Mode&7])
	w.uint("stratum", "Stratum", uint64(n.Stratum))
	w.uint("poll", "Poll (log2 seconds)", uint64(uint8(n.Poll)))
	w.uint("precision", "Precision (log2 seconds)", uint64(uint8(n.Precision)))
	w.hex("root_delay", "Root delay", uint64(n.RootDelay), 8)
	w.hex("root_dispersion", "Root dispersion", uint64(n.RootDispersion), 8)
	w.hex("reference_id", "Reference ID", uint64(n.ReferenceID), 8)
	w.hex("reference_timestamp", "Reference timestamp", uint64(n.ReferenceTimestamp), 16)
	w.hex("origin_timestamp", "Origin timestamp", uint64(n.OriginTimestamp), 16)
	w.hex("receive_timestamp", "Receive timestamp", uint64(n.ReceiveTimestamp), 16)
	w.hex("transmit_timestamp", "Transmit timestamp", uint64(n.TransmitTimestamp), 16)
	w.endLayer()
}

func (s *stack) dhcp4Fields(w *fieldWriter) {
	d := &s.dhcp4
	w.layer("dhcp", "Dynamic Host Configuration Protocol")
	w.uintNote("op", "Message type", uint64(d.Operation), d.Operation.String())
	w.uint("htype", "Hardware type", uint64(d.HardwareType))
	w.uint("hlen", "Hardware address length", uint64(d.HardwareLen))
	w.uint("hops", "Hops", uint64(d.RelayHops))
	w.hex("xid", "Transaction ID", uint64(d.Xid), 8)
	w.uint("secs", "Seconds elapsed", uint64(d.Secs))
	w.boolean("broadcast", "Broadcast flag", d.Flags&0x8000 != 0)
	w.addr("ciaddr", "Client IP address", d.ClientIP)
	w.addr("yiaddr", "Your (client) IP address", d.YourClientIP)
	w.addr("siaddr", "Next server IP address", d.NextServerIP)
	w.addr("giaddr", "Relay agent IP address", d.RelayAgentIP)
	w.mac("chaddr", "Client MAC address", d.ClientHWAddr)
	if len(d.ServerName) > 0 && d.ServerName[0] != 0 {
		w.bytesStr("sname", "Server host name", cString(d.ServerName))
	}
	if len(d.File) > 0 && d.File[0] != 0 {
		w.bytesStr("file", "Boot file name", cString(d.File))
	}
	if len(d.Options) > 0 {
		w.beginList("options", "Options")
		for i := range d.Options {
			o := &d.Options[i]
			w.beginItem("option")
			w.uintNote("code", "Code", uint64(o.Type), o.Type.String())
			w.uint("length", "Length", uint64(o.Length))
			if o.Type == layers.DHCPOptMessageType && len(o.Data) == 1 {
				w.str("message_type", "DHCP", layers.DHCPMsgType(o.Data[0]).String())
			} else if len(o.Data) > 0 {
				w.data("value", "Value", o.Data)
			}
			w.endItem()
		}
		w.endList()
	}
	w.endLayer()
}

// cString is b up to its first NUL.
func cString(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

func (s *stack) dhcp6Fields(w *fieldWriter) {
	d := &s.dhcp6
	w.layer("dhcpv6", "DHCPv6")
	w.uintNote("msg_type", "Message type", uint64(d.MsgType), d.MsgType.String())
	if d.MsgType == layers.DHCPv6MsgTypeRelayForward || d.MsgType == layers.DHCPv6MsgTypeRelayReply {
		w.uint("hop_count", "Hop count", uint64(d.HopCount))
		w.addr("link_address", "Link address", d.LinkAddr)
		w.addr("peer_address", "Peer address", d.PeerAddr)
	} else if len(d.TransactionID) == 3 {
		w.hex("transaction_id", "Transaction ID", uint64(d.TransactionID[0])<<16|uint64(d.TransactionID[1])<<8|uint64(d.TransactionID[2]), 6)
	}
	if len(d.Options) > 0 {
		w.beginList("options", "Options")
		for i := range d.Options {
			o := &d.Options[i]
			w.beginItem("option")
			w.uintNote("code", "Code", uint64(o.Code), o.Code.String())
			w.uint("length", "Length", uint64(o.Length))
			if len(o.Data) > 0 {
				w.data("value", "Value", o.Data)
			}
			w.endItem()
		}
		w.endList()
	}
	w.endLayer()
}

func espFields(w *fieldWriter, data []byte) {
	w.layer("esp", "Encapsulating Security Payload")
	w.hex("spi", "SPI", uint64(be.Uint32(data)), 8)
	w.uint("seq", "Sequence", uint64(be.Uint32(data[4:])))
	w.uint("encrypted_length", "Encrypted data (bytes)", uint64(len(data)-8))
	w.endLayer()
}

// tunnelFields writes the header of a tunnel and, nested, the packet it
// carries.
func (s *stack) tunnelFields(w *fieldWriter, k kind) {
	switch k {
	case kindVXLAN:
		v := &s.vxlan
		w.layer("vxlan", "Virtual eXtensible Local Area Network")
		w.hex("flags", "Flags", uint64(v.Contents[0]), 2)
		w.boolean("valid_vni", "VXLAN Network ID (VNI)", v.ValidIDFlag)
		if v.GBPExtension {
			w.boolean("gbp_dont_learn", "Don't learn", v.GBPDontLearn)
			w.boolean("gbp_applied", "Policy applied", v.GBPApplied)
			w.uint("gbp_group", "Group policy ID", uint64(v.GBPGroupPolicyID))
		}
		w.uint("vni", "VNI", uint64(v.VNI))
	case kindGeneve:
		g := &s.geneve
		w.layer("geneve", "Generic Network Virtualization Encapsulation")
		w.uint("version", "Version", uint64(g.Version))
		w.uint("options_length", "Options length (bytes)", uint64(g.OptionsLength))
		w.boolean("oam", "Operations, Administration and Management frame", g.OAMPacket)
		w.boolean("critical", "Critical options present", g.CriticalOption)
		w.hex("protocol", "Protocol type", uint64(g.Protocol), 4)
		w.hex("vni", "Virtual network identifier", uint64(g.VNI), 6)
		if len(g.Contents) > 8 {
			w.data("options", "Options", g.Contents[8:])
		}
	case kindGRE:
		g := &s.gre
		w.layer("gre", "Generic Routing Encapsulation")
		w.boolean("checksum_present", "Checksum bit", g.ChecksumPresent)
		w.boolean("routing_present", "Routing bit", g.RoutingPresent)
		w.boolean("key_present", "Key bit", g.KeyPresent)
		w.boolean("seq_present", "Sequence number bit", g.SeqPresent)
		w.uint("version", "Version", uint64(g.Version))
		w.hex("protocol", "Protocol type", uint64(g.Protocol), 4)
		if g.ChecksumPresent || g.RoutingPresent {
			w.hex("checksum", "Checksum", uint64(g.Checksum), 4)
			w.uint("offset", "Offset", uint64(g.Offset))
		}
		if g.KeyPresent {
			w.hex("key", "Key", uint64(g.Key), 8)
		}
		if g.SeqPresent {
			w.uint("seq", "Sequence number", uint64(g.Seq))
		}
	case kindESP:
		espFields(w, s.esp.Contents)
		return
	case kindEncap:
		w.layer("ip_in_ip", "IP in IP")
		w.uintNote("protocol", "Encapsulated protocol", uint64(s.ipProto), ipInIPName(s.ipProto))
	}
	if s.hasTunnel {
		w.beginList("encapsulated", "Encapsulated packet")
		s.tunnel.writeFields(w)
		w.endList()
	}
	w.endLayer()
}

func ipInIPName(p layers.IPProtocol) string {
	if p == layers.IPProtocolIPv6 {
		return "IPv6"
	}
	return "IPv4"
}
