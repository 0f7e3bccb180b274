package craft

// kind says how a field's value is written in a spec and stored.
type kind uint8

const (
	kUint     kind = iota // an unsigned number up to max: 7, 0x1f, 1..5, rand
	kFlag                 // a bit given by its bare name (df) or name=0/1
	kAddr4                // an IPv4 address or prefix (a prefix expands to its addresses)
	kAddr6                // an IPv6 address or prefix
	kMAC                  // an Ethernet address
	kBytes                // bytes: hex for most fields
	kText                 // text (raw's text=)
	kPath                 // a file name (raw's file=)
	kTCPFlags             // letters FSRPAUECN or a number
	kIPFlags              // DF, MF, evil (also "DF+MF") or a number
	kSack                 // TCP SACK blocks: left:right;left:right
	kStamp                // TCP timestamps: value:echo
	kAddrs6               // IPv6 address list for routing headers: a;b;c
)

// fieldDef describes one field of a layer.
type fieldDef struct {
	name    string
	kind    kind
	max     uint64 // for kUint
	aliases []string
	help    string
}

// layerKind names a layer type.
type layerKind uint8

const (
	lEth layerKind = iota
	lVLAN
	lIP
	lIP6
	lHBH
	lDstOpt
	lRouting
	lFrag6
	lICMP
	lICMP6
	lUDP
	lTCP
	lRaw
)

// layerDef describes one layer type of the spec language.
type layerDef struct {
	kind    layerKind
	name    string
	aliases []string
	fields  []fieldDef
}

// Field indexes, per layer, in the order of the layer's fields table.
const (
	ethSrc = iota
	ethDst
	ethType
)

const (
	vlanID = iota
	vlanPCP
	vlanDEI
	vlanType
)

const (
	ipVersion = iota
	ipIHL
	ipTOS
	ipDSCP
	ipECN
	ipLen
	ipID
	ipFlags
	ipDF
	ipMF
	ipEvil
	ipFrag
	ipTTL
	ipProto
	ipChksum
	ipSrc
	ipDst
	ipRR
	ipTS
	ipOpts
)

const (
	ip6Version = iota
	ip6TC
	ip6DSCP
	ip6ECN
	ip6FL
	ip6Plen
	ip6NH
	ip6Hlim
	ip6Src
	ip6Dst
)

// Hop-by-hop and destination options headers share one table.
const (
	optNH = iota
	optLen
	optRA
	optPad
	optOpts
)

const (
	rtNH = iota
	rtLen
	rtType
	rtSegs
	rtAddrs
	rtData
)

const (
	fragNH = iota
	fragOffset
	fragM
	fragID
	fragRes
)

const (
	icmpType = iota
	icmpCode
	icmpChksum
	icmpID
	icmpSeq
	icmpMTU
	icmpPtr
	icmpGW
	icmpLen
	icmpRest
)

// ICMPv4 fields after the ones both ICMP layers share: the bodies of the
// timestamp (13/14) and address mask (17/18) messages.
const (
	icmpOrig = icmpRest + 1 + iota
	icmpRecv
	icmpXmit
	icmpMask
)

// ICMPv6 fields after the shared ones: neighbour discovery (RFC 4861).
const (
	icmp6Target = icmpRest + 1 + iota
	icmp6Router
	icmp6Solicited
	icmp6Override
	icmp6SLL
	icmp6TLL
)

const (
	udpSport = iota
	udpDport
	udpLen
	udpChksum
)

const (
	tcpSport = iota
	tcpDport
	tcpSeq
	tcpAck
	tcpOff
	tcpRes
	tcpFlags
	tcpFIN
	tcpSYN
	tcpRST
	tcpPSH
	tcpACK
	tcpURG
	tcpECE
	tcpCWR
	tcpNS
	tcpWin
	tcpChksum
	tcpUrp
	tcpMSS
	tcpWS
	tcpSackOK
	tcpSack
	tcpTS
	tcpNOP
	tcpEOL
	tcpOpts
)

const (
	rawText = iota
	rawHex
	rawFile
	rawLen
	rawFill
	rawRand
)

func u(name string, max uint64, help string, aliases ...string) fieldDef {
	return fieldDef{name: name, kind: kUint, max: max, help: help, aliases: aliases}
}

func f(name, help string, aliases ...string) fieldDef {
	return fieldDef{name: name, kind: kFlag, max: 1, help: help, aliases: aliases}
}

func k(name string, kd kind, help string, aliases ...string) fieldDef {
	return fieldDef{name: name, kind: kd, help: help, aliases: aliases}
}

var optionFields = []fieldDef{
	u("nh", 255, "next header", "next"),
	u("len", 255, "header length in 8-octet units, not counting the first"),
	u("ra", 0xffff, "router alert option with this value"),
	u("pad", 0xffff, "pad the options with this many bytes (PadN); left out, to a multiple of 8"),
	k("opts", kBytes, "raw options, hex"),
}

var layerDefs = []layerDef{
	{kind: lEth, name: "eth", aliases: []string{"ether"}, fields: []fieldDef{
		k("src", kMAC, "source MAC (default: the interface's)"),
		k("dst", kMAC, "destination MAC (default: the next hop's, from the neighbour table)"),
		u("type", 0xffff, "EtherType", "ethertype"),
	}},
	{kind: lVLAN, name: "vlan", aliases: []string{"dot1q"}, fields: []fieldDef{
		u("id", 4095, "VLAN id", "vid"),
		u("pcp", 7, "priority code point", "prio"),
		u("dei", 1, "drop eligible indicator", "cfi"),
		u("type", 0xffff, "EtherType of what follows"),
	}},
	{kind: lIP, name: "ip", aliases: []string{"ip4", "ipv4"}, fields: []fieldDef{
		u("version", 15, "IP version", "ver"),
		u("ihl", 15, "header length in 32-bit words"),
		u("tos", 255, "type of service byte (DSCP<<2 | ECN)"),
		u("dscp", 63, "DSCP"),
		u("ecn", 3, "ECN"),
		u("len", 0xffff, "total length", "totlen"),
		u("id", 0xffff, "identification"),
		k("flags", kIPFlags, "flags: DF, MF, evil, combined with +, or a number 0-7"),
		f("df", "don't fragment"),
		f("mf", "more fragments"),
		f("evil", "the reserved bit (RFC 3514)", "rb"),
		u("frag", 0x1fff, "fragment offset in 8-byte units", "offset"),
		u("ttl", 255, "time to live"),
		u("proto", 255, "protocol", "protocol", "p"),
		u("chksum", 0xffff, "header checksum", "sum", "checksum"),
		k("src", kAddr4, "source address (default: from the route to dst)"),
		k("dst", kAddr4, "destination address"),
		u("rr", 9, "record route option with this many slots"),
		u("ts", 9, "timestamp option (timestamps only) with this many slots"),
		k("opts", kBytes, "raw options, hex (padded with EOL to a multiple of 4)", "options"),
	}},
	{kind: lIP6, name: "ip6", aliases: []string{"ipv6"}, fields: []fieldDef{
		u("version", 15, "IP version", "ver"),
		u("tc", 255, "traffic class", "tclass"),
		u("dscp", 63, "DSCP"),
		u("ecn", 3, "ECN"),
		u("fl", 0xfffff, "flow label", "flow"),
		u("plen", 0xffff, "payload length"),
		u("nh", 255, "next header", "next"),
		u("hlim", 255, "hop limit", "ttl"),
		k("src", kAddr6, "source address (default: from the route to dst)"),
		k("dst", kAddr6, "destination address"),
	}},
	{kind: lHBH, name: "hbh", aliases: []string{"hopbyhop"}, fields: optionFields},
	{kind: lDstOpt, name: "dstopt", aliases: []string{"destopt", "dest"}, fields: optionFields},
	{kind: lRouting, name: "rh", aliases: []string{"routing"}, fields: []fieldDef{
		u("nh", 255, "next header", "next"),
		u("len", 255, "header length in 8-octet units, not counting the first"),
		u("type", 255, "routing type"),
		u("segleft", 255, "segments left (default: the number of addresses)", "segs"),
		k("addrs", kAddrs6, "addresses, separated by ';'"),
		k("data", kBytes, "type-specific data after the first 4 bytes (hex; default 4 zero bytes)"),
	}},
	{kind: lFrag6, name: "frag6", aliases: []string{"fragment"}, fields: []fieldDef{
		u("nh", 255, "next header", "next"),
		u("offset", 0x1fff, "fragment offset in 8-byte units", "frag"),
		f("m", "more fragments", "mf"),
		u("id", 0xffffffff, "identification"),
		u("res", 3, "the two reserved bits"),
	}},
	{kind: lICMP, name: "icmp", aliases: []string{"icmp4"}, fields: []fieldDef{
		u("type", 255, "type (default 8, echo request)"),
		u("code", 255, "code"),
		u("chksum", 0xffff, "checksum", "sum", "checksum"),
		u("id", 0xffff, "identifier (echo, timestamp)"),
		u("seq", 0xffff, "sequence number (default: the packet's number)"),
		u("mtu", 0xffff, "next-hop MTU (type 3 code 4)"),
		u("ptr", 255, "pointer (parameter problem)", "pointer"),
		k("gw", kAddr4, "gateway address (redirect)", "gateway"),
		u("length", 255, "RFC 4884 length of the original datagram in 32-bit words"),
		k("rest", kBytes, "the 4 bytes after the checksum, hex", "unused"),
		u("orig", 0xffffffff, "originate timestamp, ms since midnight UT (types 13/14; default: now)", "originate"),
		u("recv", 0xffffffff, "receive timestamp (default 0 in a request, now in a reply)", "receive"),
		u("xmit", 0xffffffff, "transmit timestamp (default 0 in a request, now in a reply)", "transmit"),
		k("mask", kAddr4, "address mask (types 17/18; default 0.0.0.0)"),
	}},
	{kind: lICMP6, name: "icmp6", aliases: []string{"icmpv6"}, fields: []fieldDef{
		u("type", 255, "type (default 128, echo request)"),
		u("code", 255, "code"),
		u("chksum", 0xffff, "checksum", "sum", "checksum"),
		u("id", 0xffff, "identifier (echo)"),
		u("seq", 0xffff, "sequence number (default: the packet's number)"),
		u("mtu", 0xffffffff, "MTU (packet too big)"),
		u("ptr", 0xffffffff, "pointer (parameter problem)", "pointer"),
		k("gw", kAddr6, "unused"),
		u("length", 255, "RFC 4884 length of the original datagram in 64-bit words"),
		k("rest", kBytes, "the 4 bytes after the checksum, hex", "unused"),
		k("target", kAddr6, "target address (135 neighbour solicitation: default ip6.dst; 136 advertisement: default ip6.src)"),
		f("router", "R flag of a neighbour advertisement"),
		f("solicited", "S flag of a neighbour advertisement (default: set when ip6.dst is unicast)"),
		f("override", "O flag of a neighbour advertisement (default: set)"),
		k("sll", kMAC, "source link-layer address option (133, 135; default: the interface's MAC, none from ::)"),
		k("tll", kMAC, "target link-layer address option (136; default: the interface's MAC)"),
	}},
	{kind: lUDP, name: "udp", fields: []fieldDef{
		u("sport", 0xffff, "source port (default: one random port per run)", "src"),
		u("dport", 0xffff, "destination port (default 53)", "dst"),
		u("len", 0xffff, "length"),
		u("chksum", 0xffff, "checksum (0: none, IPv4 only by the RFCs)", "sum", "checksum"),
	}},
	{kind: lTCP, name: "tcp", fields: []fieldDef{
		u("sport", 0xffff, "source port (default: one random port per run)", "src"),
		u("dport", 0xffff, "destination port (default 80)", "dst"),
		u("seq", 0xffffffff, "sequence number (default: random per run)"),
		u("ack", 0xffffffff, "acknowledgment number"),
		u("off", 15, "data offset in 32-bit words", "dataofs", "doff"),
		u("res", 7, "the reserved bits", "reserved"),
		k("flags", kTCPFlags, "flags as letters FSRPAUECN (default S) or a number"),
		f("fin", "FIN"), f("syn", "SYN"), f("rst", "RST"), f("psh", "PSH"), f("ackf", "ACK flag", "ack_flag"),
		f("urg", "URG"), f("ece", "ECE"), f("cwr", "CWR"), f("ns", "NS (AE)", "ae"),
		u("win", 0xffff, "window", "window"),
		u("chksum", 0xffff, "checksum", "sum", "checksum"),
		u("urp", 0xffff, "urgent pointer", "urgptr"),
		u("mss", 0xffff, "MSS option"),
		u("ws", 255, "window scale option", "wscale"),
		f("sackok", "SACK-permitted option"),
		k("sack", kSack, "SACK option: left:right;left:right"),
		k("ts", kStamp, "timestamps option: value:echo", "timestamp"),
		f("nop", "a NOP option"),
		f("eol", "an end-of-options option"),
		k("opts", kBytes, "raw options, hex (padded with zeros to a multiple of 4)", "options"),
	}},
	{kind: lRaw, name: "raw", aliases: []string{"payload", "data"}, fields: []fieldDef{
		k("text", kText, "the bytes of a text (\"...\" with Go escapes, or bare)"),
		k("hex", kBytes, "hex bytes"),
		k("file", kPath, "the contents of a file"),
		u("len", 65535, "length (with fill, or random bytes with rand)", "size"),
		u("fill", 255, "fill byte for len (default 0)"),
		f("rand", "random bytes (len bytes, new per packet)", "random"),
	}},
}

// lookupLayer finds a layer definition by name or alias.
func lookupLayer(name string) *layerDef {
	for i := range layerDefs {
		d := &layerDefs[i]
		if d.name == name {
			return d
		}
		for _, a := range d.aliases {
			if a == name {
				return d
			}
		}
	}
	return nil
}

// field finds a field's index by name or alias; -1 if there is none.
func (d *layerDef) field(name string) int {
	for i, fd := range d.fields {
		if fd.name == name {
			return i
		}
	}
	for i, fd := range d.fields {
		for _, a := range fd.aliases {
			if a == name {
				return i
			}
		}
	}
	return -1
}

func (d *layerDef) fieldNames() string {
	s := ""
	for i, fd := range d.fields {
		if i > 0 {
			s += " "
		}
		s += fd.name
	}
	return s
}

func layerNames() string {
	s := ""
	for i, d := range layerDefs {
		if i > 0 {
			s += " "
		}
		s += d.name
	}
	return s
}
