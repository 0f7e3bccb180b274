package capture

import (
	"net"
	"net/netip"
	"strconv"

	"github.com/gopacket/gopacket/layers"
)

// AppendLine appends a one-line summary of the decoded packet in the style
// of tcpdump -nn (without the timestamp and without a newline), e.g.
//
//	IP 198.18.0.1.4000 > 198.18.5.2.53: UDP, length 4
//	IP6 fd00::1 > fd00::2: ICMP6, echo request, id 1, seq 2, length 64
//
// Deliberate differences from tcpdump: TCP sequence numbers are absolute
// (as with tcpdump -S), application protocols (DNS, HTTP, ...) are not
// decoded, and an ICMP error ends with the packet it quotes in brackets,
// e.g. "ICMP time exceeded in-transit, length 36 [IP 198.18.0.1.40000 >
// 198.18.5.2.33434: UDP, length 32]".
func (d *Decoder) AppendLine(dst []byte) []byte {
	if d.first == kindNone {
		dst = append(dst, "unsupported link type "...)
		dst = strconv.AppendUint(dst, uint64(d.link), 10)
		dst = append(dst, ", length "...)
		return strconv.AppendInt(dst, int64(len(d.data)), 10)
	}
	if d.outer.n > 0 && d.outer.order[0].kind == kindLinuxSLL2 {
		dst = d.appendSLL2Prefix(dst)
	}
	return d.outer.appendLine(dst, len(d.data))
}

// appendSLL2Prefix writes what tcpdump puts before a Linux cooked v2
// packet: the interface (named as on this host) and the direction.
func (d *Decoder) appendSLL2Prefix(b []byte) []byte {
	idx := d.outer.sll2.InterfaceIndex
	name, ok := d.ifNames[idx]
	if !ok {
		if d.ifNames == nil {
			d.ifNames = make(map[uint32]string)
		}
		if ifc, err := net.InterfaceByIndex(int(idx)); err == nil {
			name = ifc.Name
		} else {
			name = strconv.FormatUint(uint64(idx), 10)
		}
		d.ifNames[idx] = name
	}
	start := len(b)
	b = append(b, name...)
	for len(b)-start < 5 {
		b = append(b, ' ')
	}
	b = append(b, ' ')
	var dir string
	switch d.outer.sll2.PacketType {
	case 0:
		dir = "In "
	case 1:
		dir = "B  "
	case 2:
		dir = "M  "
	case 3:
		dir = "P  "
	case 4:
		dir = "Out"
	default:
		dir = "?  "
	}
	b = append(b, dir...)
	return append(b, ' ')
}

func (s *stack) netIndex() int {
	for i := 0; i < s.n; i++ {
		if isNetwork(s.order[i].kind) {
			return i
		}
	}
	return -1
}

func (s *stack) appendLine(b []byte, caplen int) []byte {
	i := s.netIndex()
	if i < 0 {
		return s.appendLinkOnly(b, caplen)
	}
	switch s.order[i].kind {
	case kindARP:
		return s.appendARP(b, caplen-s.netOff)
	case kindIPv4:
		b = append(b, "IP "...)
	default:
		b = append(b, "IP6 "...)
	}
	return s.appendIP(b, i+1)
}

// appendLinkOnly describes a frame with no network layer decoded.
func (s *stack) appendLinkOnly(b []byte, caplen int) []byte {
	if s.n == 0 || s.failK != kindNone && s.n <= 1 {
		switch s.failK {
		case kindIPv4: // as tcpdump: "IP " and then the truncation mark
			return append(b, "IP  [|ip]"...)
		case kindIPv6:
			return append(b, " [|ip6]"...)
		}
		b = append(b, "[|"...)
		b = append(b, kindName(s.failK)...)
		return append(b, ']')
	}
	var et layers.EthernetType
	for i := 0; i < s.n; i++ {
		e := s.order[i]
		switch e.kind {
		case kindEthernet:
			et = s.eth.EthernetType
		case kindDot1Q:
			et = s.vlan[e.idx].Type
		case kindLinuxSLL:
			et = s.sll.EthernetType
		case kindLinuxSLL2:
			et = s.sll2.ProtocolType
		case kindLoopback:
			b = append(b, "loopback family "...)
			b = strconv.AppendUint(b, uint64(s.loop.Family), 10)
			b = append(b, ", length "...)
			return strconv.AppendInt(b, int64(caplen), 10)
		case kindPayload:
			if i == 0 {
				b = append(b, "unknown, length "...)
				return strconv.AppendInt(b, int64(caplen), 10)
			}
		}
	}
	b = append(b, "ethertype Unknown (0x"...)
	b = appendHex16(b, uint16(et))
	b = append(b, "), length "...)
	return strconv.AppendInt(b, int64(caplen), 10)
}

func (s *stack) appendARP(b []byte, length int) []byte {
	a := &s.arp
	b = append(b, "ARP, "...)
	switch {
	case a.Operation == 1 && len(a.DstProtAddress) == 4 && len(a.SourceProtAddress) == 4:
		b = append(b, "Request who-has "...)
		b = appendIP(b, a.DstProtAddress)
		b = append(b, " tell "...)
		b = appendIP(b, a.SourceProtAddress)
	case a.Operation == 2 && len(a.SourceProtAddress) == 4:
		b = append(b, "Reply "...)
		b = appendIP(b, a.SourceProtAddress)
		b = append(b, " is-at "...)
		b = appendMAC(b, a.SourceHwAddress)
	default:
		b = append(b, "op "...)
		b = strconv.AppendUint(b, uint64(a.Operation), 10)
	}
	b = append(b, ", length "...)
	return strconv.AppendInt(b, int64(length), 10)
}

func (s *stack) srcDst() (src, dst []byte) {
	if s.order[s.netIndex()].kind == kindIPv4 {
		return s.ip4.SrcIP, s.ip4.DstIP
	}
	return s.ip6.SrcIP, s.ip6.DstIP
}

// appendIP writes what follows "IP " or "IP6 ": addresses, extension
// headers, the transport layer; j is the index of the layer after IP.
func (s *stack) appendIP(b []byte, j int) []byte {
	src, dst := s.srcDst()
	addrs := true
	// IPv6 extension headers and fragments: tcpdump names them after the
	// addresses and then prints ports without addresses.
	for ; j < s.n; j++ {
		e := s.order[j]
		if e.kind != kindIPv6Ext && e.kind != kindIPv6Fragment {
			break
		}
		if addrs {
			b = appendIPPair(b, src, dst)
			addrs = false
		}
		if e.kind == kindIPv6Fragment {
			f := &s.frag6
			b = append(b, "frag ("...)
			b = strconv.AppendUint(b, uint64(f.FragmentOffset)*8, 10)
			b = append(b, '|')
			b = strconv.AppendInt(b, int64(s.l4Len), 10)
			b = append(b, ')')
			if f.FragmentOffset != 0 {
				return s.appendQuoteTail(b)
			}
			b = append(b, ' ')
			continue
		}
		b = appendExtName(b, &s.ext[e.idx])
	}
	if j == s.n {
		return s.appendNoTransport(b, src, dst, addrs)
	}
	if s.ipProto == layers.IPProtocolNoNextHeader {
		if addrs {
			b = appendIPPair(b, src, dst)
		}
		return append(b, "no next header"...)
	}
	switch s.order[j].kind {
	case kindUDP:
		b = s.appendUDP(b, src, dst, addrs)
	case kindTCP:
		b = s.appendTCP(b, src, dst, addrs)
	case kindICMPv4:
		if addrs {
			b = appendIPPair(b, src, dst)
		}
		b = s.appendICMPv4(b)
	case kindICMPv6:
		if addrs {
			b = appendIPPair(b, src, dst)
		}
		b = s.appendICMPv6(b)
	case kindGRE, kindESP, kindEncap:
		if addrs {
			b = appendIPPair(b, src, dst)
		}
		b = s.appendIPTunnel(b, s.order[j].kind)
	case kindFragment:
		if addrs {
			b = appendIPPair(b, src, dst)
		}
		b = append(b, "ip-proto-"...)
		b = strconv.AppendUint(b, uint64(s.ipProto), 10)
	default: // payload of a protocol not decoded
		if addrs {
			b = appendIPPair(b, src, dst)
		}
		b = append(b, " ip-proto-"...)
		b = strconv.AppendUint(b, uint64(s.ipProto), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(s.l4Len), 10)
	}
	return b
}

// appendNoTransport ends a line whose IP layer carries nothing decoded:
// a truncated transport header, or an empty payload.
func (s *stack) appendNoTransport(b []byte, src, dst []byte, addrs bool) []byte {
	if s.failK == kindUDP || s.failK == kindTCP {
		if len(s.payload) >= 4 {
			b = appendEndpoint(b, src, be.Uint16(s.payload), addrs)
			b = append(b, " > "...)
			b = appendEndpoint(b, dst, be.Uint16(s.payload[2:]), addrs)
			b = append(b, ":  "...)
		} else if addrs {
			b = appendIPPair(b, src, dst)
		}
		b = append(b, "[|"...)
		b = append(b, kindName(s.failK)...)
		return append(b, ']')
	}
	if addrs {
		b = appendIPPair(b, src, dst)
	}
	if s.failK != kindNone {
		b = append(b, "[|"...)
		b = append(b, kindName(s.failK)...)
		return append(b, ']')
	}
	if s.ipProto == layers.IPProtocolNoNextHeader {
		return append(b, "no next header"...)
	}
	b = append(b, " ip-proto-"...)
	b = strconv.AppendUint(b, uint64(s.ipProto), 10)
	b = append(b, ' ')
	return strconv.AppendInt(b, int64(s.l4Len), 10)
}

func (s *stack) appendQuoteTail(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

func appendExtName(b []byte, e *ip6Ext) []byte {
	switch e.proto {
	case layers.IPProtocolIPv6HopByHop:
		return append(b, "HBH "...)
	case layers.IPProtocolIPv6Destination:
		return append(b, "DSTOPT "...)
	case layers.IPProtocolIPv6Routing:
		return appendRoutingHeader(b, e.data)
	}
	return b
}

// appendRoutingHeader writes an IPv6 routing header as tcpdump does:
// "RT6 (len=2, type=0 [Deprecated], segleft=1, [0]fd00::9) ".
func appendRoutingHeader(b []byte, h []byte) []byte {
	b = append(b, "RT6 (len="...)
	b = strconv.AppendUint(b, uint64(h[1]), 10)
	if len(h) < 8 {
		return append(b, ") "...)
	}
	b = append(b, ", type="...)
	b = strconv.AppendUint(b, uint64(h[2]), 10)
	if h[2] == 0 {
		b = append(b, " [Deprecated]"...)
	}
	b = append(b, ", segleft="...)
	b = strconv.AppendUint(b, uint64(h[3]), 10)
	switch h[2] {
	case 0:
	case 4: // segment routing
		b = append(b, ", last-entry="...)
		b = strconv.AppendUint(b, uint64(h[4]), 10)
		b = append(b, ", tag="...)
		b = strconv.AppendUint(b, uint64(be.Uint16(h[6:])), 16)
	default:
		return append(b, ") "...)
	}
	for i, off := 0, 8; off+16 <= len(h); i, off = i+1, off+16 {
		b = append(b, ", ["...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ']')
		b = appendIP(b, h[off:off+16])
	}
	return append(b, ") "...)
}

func (s *stack) appendUDP(b []byte, src, dst []byte, addrs bool) []byte {
	u := &s.udp
	b = appendEndpoint(b, src, uint16(u.SrcPort), addrs)
	b = append(b, " > "...)
	b = appendEndpoint(b, dst, uint16(u.DstPort), addrs)
	b = append(b, ": "...)
	if u.Length < 8 && u.Length != 0 {
		b = append(b, "truncated-udplength "...)
		return strconv.AppendUint(b, uint64(u.Length), 10)
	}
	n := s.l4Len
	if u.Length != 0 && int(u.Length) < n {
		n = int(u.Length)
	}
	switch s.udpApp { // chosen when the UDP header was decoded
	case AppDNS:
		return appendDNS(b, u.Payload, n-8, false, false)
	case AppMDNS:
		return appendDNS(b, u.Payload, n-8, false, true)
	case AppNTP:
		return appendNTP(b, u.Payload, n-8)
	case AppDHCPv4:
		return appendBOOTP(b, u.Payload, n-8)
	case AppDHCPv6:
		return appendDHCPv6(b, u.Payload)
	case AppVXLAN:
		return s.appendVXLAN(b, n-8)
	case AppGeneve:
		return s.appendGeneve(b, n-8)
	case AppESP:
		return appendUDPESP(b, u.Payload, n-8)
	}
	b = append(b, "UDP, length "...)
	return strconv.AppendInt(b, int64(n-8), 10)
}

// tcpFlags are TCP's flag letters in tcpdump's order.
var tcpFlags = [...]struct {
	bit    uint8
	letter byte
}{{0x01, 'F'}, {0x02, 'S'}, {0x04, 'R'}, {0x08, 'P'}, {0x10, '.'}, {0x20, 'U'}, {0x40, 'E'}, {0x80, 'W'}}

func tcpFlagBits(t *layers.TCP) uint8 {
	if len(t.Contents) < 14 {
		return 0
	}
	return t.Contents[13]
}

func (s *stack) appendTCP(b []byte, src, dst []byte, addrs bool) []byte {
	t := &s.tcp
	b = appendEndpoint(b, src, uint16(t.SrcPort), addrs)
	b = append(b, " > "...)
	b = appendEndpoint(b, dst, uint16(t.DstPort), addrs)
	b = append(b, ": Flags ["...)
	flags := tcpFlagBits(t)
	if flags == 0 {
		b = append(b, "none"...)
	}
	for _, f := range tcpFlags {
		if flags&f.bit != 0 {
			b = append(b, f.letter)
		}
	}
	b = append(b, ']')
	plen := s.l4Len - int(t.DataOffset)*4
	if plen < 0 {
		plen = 0
	}
	num := &s.tcpNum
	if plen > 0 || flags&0x07 != 0 {
		b = append(b, ", seq "...)
		b = strconv.AppendUint(b, uint64(num.seq), 10)
		if plen > 0 {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(num.seq+uint32(plen)), 10)
		}
	}
	if t.ACK {
		b = append(b, ", ack "...)
		b = strconv.AppendUint(b, uint64(num.ack), 10)
	}
	b = append(b, ", win "...)
	b = strconv.AppendUint(b, uint64(t.Window), 10)
	if t.URG {
		b = append(b, ", urg "...)
		b = strconv.AppendUint(b, uint64(t.Urgent), 10)
	}
	if len(t.Options) > 0 {
		b = append(b, ", options ["...)
		for i := range t.Options {
			if i > 0 {
				b = append(b, ',')
			}
			o := &t.Options[i]
			if o.OptionType == layers.TCPOptionKindMultipathTCP {
				var ok bool
				if b, ok = appendMPTCP(b, o.OptionData, flags); !ok {
					// tcpdump gives up on the segment here.
					b = append(b, "[bad opt]"...)
					if i > 0 {
						b = append(b, ']')
					}
					return b
				}
				continue
			}
			b = appendTCPOption(b, o, num)
		}
		b = append(b, ']')
	}
	b = append(b, ", length "...)
	b = strconv.AppendInt(b, int64(plen), 10)
	if plen > 0 && s.tcpApp == AppDNS {
		b = appendDNS(b, t.Payload, plen, true, false)
	}
	return b
}

func appendTCPOption(b []byte, o *layers.TCPOption, num *relTCP) []byte {
	d := o.OptionData
	k := uint8(o.OptionType)
	if int(k) < len(tcpOptionNames) && tcpOptionNames[k] != "" || k == 13 {
		b = append(b, tcpOptionNames[k]...)
	} else {
		b = append(b, "unknown-"...)
		b = strconv.AppendUint(b, uint64(k), 10)
	}
	want := len(d) // the data length the option's kind has (tcpdump's datalen)
	switch k {
	case 0, 1, 4: // eol, nop, sackOK
		want = 0
	case 2: // mss
		want = 2
		if len(d) >= 2 {
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(be.Uint16(d)), 10)
		}
	case 3: // wscale
		want = 1
		if len(d) >= 1 {
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(d[0]), 10)
		}
	case 5: // sack
		if len(d)%8 != 0 {
			return append(b, " invalid sack"...)
		}
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(d)/8), 10)
		b = append(b, ' ')
		base := num.thack // SACK blocks are the other side's numbers
		if num.rev {
			base = num.thseq
		}
		for i := 0; i+8 <= len(d); i += 8 {
			b = append(b, '{')
			b = strconv.AppendUint(b, uint64(be.Uint32(d[i:])-base), 10)
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(be.Uint32(d[i+4:])-base), 10)
			b = append(b, '}')
		}
	case 6, 7, 11, 12, 13: // echo, echoreply, cc, ccnew, ccecho
		want = 4
		if len(d) >= 4 {
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(be.Uint32(d)), 10)
		}
	case 8: // timestamps
		want = 8
		if len(d) >= 8 {
			b = append(b, " val "...)
			b = strconv.AppendUint(b, uint64(be.Uint32(d)), 10)
			b = append(b, " ecr "...)
			b = strconv.AppendUint(b, uint64(be.Uint32(d[4:])), 10)
		}
	case 19: // md5: tcpdump cannot check it without the secret
		want = 16
		if len(d) >= 16 {
			b = append(b, " shared secret not supplied with -M, can't check - "...)
			b = appendHexBytes(b, d[:16])
		}
	case 20: // scps
		want = 2
		if len(d) >= 2 {
			b = append(b, " cap "...)
			b = append(b, hexDigits[d[0]>>4], hexDigits[d[0]&15])
			b = append(b, " id "...)
			b = strconv.AppendUint(b, uint64(d[1]), 10)
		}
	case 28: // user timeout
		want = 2
		if len(d) >= 2 {
			v := be.Uint16(d)
			b = append(b, " 0x"...)
			b = strconv.AppendUint(b, uint64(v), 16)
			if v&1 != 0 {
				v = (v >> 1) * 60
			} else {
				v >>= 1
			}
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(v), 10)
		}
	case 29: // tcp-ao
		if len(d) < 2 {
			return append(b, " (invalid)"...)
		}
		b = append(b, " keyid "...)
		b = strconv.AppendUint(b, uint64(d[0]), 10)
		b = append(b, " rnextkeyid "...)
		b = strconv.AppendUint(b, uint64(d[1]), 10)
		if len(d) > 2 {
			b = append(b, " mac 0x"...)
			b = appendHexBytes(b, d[2:])
		}
	case 34: // fast open
		b = append(b, ' ')
		b = appendFastOpen(b, d)
	case 254: // experimental (RFC 6994)
		if len(d) >= 2 {
			b = append(b, '-')
			if magic := be.Uint16(d); magic == 0xf989 {
				b = append(b, "tfo"...)
				b = appendFastOpen(b, d[2:])
			} else {
				b = appendHex16(b, magic)
			}
		}
	default:
		if len(d) > 0 {
			b = append(b, " 0x"...)
			b = appendHexBytes(b, d)
		}
	}
	if k > 1 && want+2 != int(o.OptionLength) {
		b = append(b, "[len "...)
		b = strconv.AppendUint(b, uint64(o.OptionLength), 10)
		b = append(b, ']')
	}
	return b
}

// tcpOptionNames are tcpdump's names of TCP options (ccecho's is empty).
var tcpOptionNames = [...]string{0: "eol", 1: "nop", 2: "mss", 3: "wscale", 4: "sackOK", 5: "sack", 6: "echo", 7: "echoreply",
	8: "TS", 11: "cc", 12: "ccnew", 19: "md5", 20: "scps", 28: "uto", 29: "tcp-ao", 30: "mptcp", 34: "tfo", 254: "exp"}

func appendFastOpen(b []byte, d []byte) []byte {
	switch {
	case len(d) == 0:
		return append(b, " cookiereq"...)
	case len(d)%2 != 0 || len(d) < 4 || len(d) > 16:
		return append(b, " (invalid)"...)
	}
	b = append(b, " cookie "...)
	return appendHexBytes(b, d)
}

// quotedDst is the destination address of the packet an ICMP error quotes.
func (s *stack) quotedDst() []byte {
	q := s.quoted
	if !s.hasQuoted || q.n == 0 {
		return nil
	}
	switch q.order[0].kind {
	case kindIPv4:
		return q.ip4.DstIP
	case kindIPv6:
		return q.ip6.DstIP
	}
	return nil
}

// quotedPort returns the quoted transport protocol name and destination
// port, when the quote reaches that far.
func (s *stack) quotedPort() (string, uint16, bool) {
	q := s.quoted
	if !s.hasQuoted {
		return "", 0, false
	}
	for i := 0; i < q.n; i++ {
		switch q.order[i].kind {
		case kindUDP:
			return "udp", uint16(q.udp.DstPort), true
		case kindTCP:
			return "tcp", uint16(q.tcp.DstPort), true
		}
	}
	if (q.failK == kindTCP || q.failK == kindUDP) && len(q.payload) >= 4 {
		return kindName(q.failK), be.Uint16(q.payload[2:]), true
	}
	return "", 0, false
}

func (s *stack) appendQuoted(b []byte) []byte {
	if !s.hasQuoted || s.quoted.n == 0 && s.quoted.failK == kindNone {
		return b
	}
	b = append(b, " ["...)
	b = s.quoted.appendLine(b, 0)
	return append(b, ']')
}

func appendIPPair(b []byte, src, dst []byte) []byte {
	b = appendIP(b, src)
	b = append(b, " > "...)
	b = appendIP(b, dst)
	return append(b, ": "...)
}

func appendEndpoint(b []byte, ip []byte, port uint16, addr bool) []byte {
	if addr {
		b = appendIP(b, ip)
		b = append(b, '.')
	}
	return strconv.AppendUint(b, uint64(port), 10)
}

// appendIP formats a 4- or 16-byte address as inet_ntop does.
func appendIP(b []byte, ip []byte) []byte {
	switch len(ip) {
	case 4:
		return netip.AddrFrom4([4]byte(ip)).AppendTo(b)
	case 16:
		a := netip.AddrFrom16([16]byte(ip))
		return a.AppendTo(b)
	}
	return append(b, '?')
}

func appendMAC(b []byte, mac []byte) []byte {
	for i, c := range mac {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}

const hexDigits = "0123456789abcdef"

func appendHex16(b []byte, v uint16) []byte {
	return append(b, hexDigits[v>>12], hexDigits[v>>8&15], hexDigits[v>>4&15], hexDigits[v&15])
}

func appendHexBytes(b []byte, d []byte) []byte {
	for _, c := range d {
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}

func kindName(k kind) string {
	switch k {
	case kindEthernet:
		return "ether"
	case kindDot1Q:
		return "vlan"
	case kindLinuxSLL:
		return "sll"
	case kindLinuxSLL2:
		return "sll2"
	case kindLoopback:
		return "null"
	case kindARP:
		return "arp"
	case kindIPv4:
		return "ip"
	case kindIPv6:
		return "ip6"
	case kindIPv6Ext:
		return "ip6-ext"
	case kindIPv6Fragment:
		return "frag"
	case kindICMPv4:
		return "icmp"
	case kindICMPv6, kindICMPv6Echo, kindNeighborSolicitation, kindNeighborAdvertisement,
		kindRouterSolicitation, kindRouterAdvertisement:
		return "icmp6"
	case kindUDP:
		return "udp"
	case kindTCP:
		return "tcp"
	}
	return "payload"
}
