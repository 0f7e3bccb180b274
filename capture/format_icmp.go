package capture

import (
	"strconv"

	"github.com/gopacket/gopacket/layers"
)

// unreachV4 holds tcpdump's wording for ICMPv4 destination unreachable
// codes: the text before and after the quoted destination address.
var unreachV4 = [...]struct{ pre, post string }{
	0:  {"net ", " unreachable"},
	1:  {"host ", " unreachable"},
	2:  {"", " protocol"},
	3:  {"", ""}, // port: built from the quote
	4:  {"", " unreachable - need to frag"},
	5:  {"", " unreachable - source route failed"},
	6:  {"net ", " unreachable - unknown"},
	7:  {"host ", " unreachable - unknown"},
	8:  {"", " unreachable - source host isolated"},
	9:  {"net ", " unreachable - admin prohibited"},
	10: {"host ", " unreachable - admin prohibited"},
	11: {"net ", " unreachable - tos prohibited"},
	12: {"host ", " unreachable - tos prohibited"},
	13: {"host ", " unreachable - admin prohibited filter"},
	14: {"host ", " unreachable - host precedence violation"},
	15: {"host ", " unreachable - precedence cutoff"},
}

func (s *stack) appendICMPv4(b []byte) []byte {
	ic := &s.icmp4
	start := len(b) // tcpdump prints nothing of a message cut short but " [|icmp]"
	b = append(b, "ICMP "...)
	typ, code := ic.TypeCode.Type(), ic.TypeCode.Code()
	switch typ {
	case layers.ICMPv4TypeEchoRequest, layers.ICMPv4TypeEchoReply:
		if typ == layers.ICMPv4TypeEchoRequest {
			b = append(b, "echo request, id "...)
		} else {
			b = append(b, "echo reply, id "...)
		}
		b = strconv.AppendUint(b, uint64(ic.Id), 10)
		b = append(b, ", seq "...)
		b = strconv.AppendUint(b, uint64(ic.Seq), 10)
	case layers.ICMPv4TypeDestinationUnreachable:
		b = s.appendUnreachV4(b, code)
	case layers.ICMPv4TypeTimeExceeded:
		if code == 1 {
			b = append(b, "ip reassembly time exceeded"...)
		} else {
			b = append(b, "time exceeded in-transit"...)
		}
	case layers.ICMPv4TypeParameterProblem:
		b = append(b, "parameter problem - "...)
		if code == 0 && len(ic.Contents) >= 5 {
			b = append(b, "octet "...)
			b = strconv.AppendUint(b, uint64(ic.Contents[4]), 10)
		} else {
			b = append(b, "code "...)
			b = strconv.AppendUint(b, uint64(code), 10)
		}
	case layers.ICMPv4TypeRedirect:
		b = append(b, "redirect"...)
		if code >= 2 {
			b = append(b, "-tos"...)
		}
		b = append(b, ' ')
		b = appendIP(b, s.quotedDst())
		if code&1 == 0 {
			b = append(b, " to net "...)
		} else {
			b = append(b, " to host "...)
		}
		b = appendIP(b, ic.Contents[4:8])
	case layers.ICMPv4TypeSourceQuench:
		b = append(b, "source quench"...)
	case layers.ICMPv4TypeTimestampRequest:
		b = append(b, "time stamp query id "...)
		b = strconv.AppendUint(b, uint64(ic.Id), 10)
		b = append(b, " seq "...)
		b = strconv.AppendUint(b, uint64(ic.Seq), 10)
	case layers.ICMPv4TypeTimestampReply:
		if len(ic.Payload) < 12 {
			return append(b[:start], " [|icmp]"...)
		}
		b = append(b, "time stamp reply id "...)
		b = strconv.AppendUint(b, uint64(ic.Id), 10)
		b = append(b, " seq "...)
		b = strconv.AppendUint(b, uint64(ic.Seq), 10)
		for i, name := range [3]string{": org ", ", recv ", ", xmit "} {
			b = append(b, name...)
			b = appendMsOfDay(b, be.Uint32(ic.Payload[4*i:]))
		}
	default:
		var ok bool
		if b, ok = appendICMPv4Other(b, typ, ic.Contents, ic.Payload); !ok {
			return append(b[:start], " [|icmp]"...)
		}
	}
	b = append(b, ", length "...)
	b = strconv.AppendInt(b, int64(s.l4Len), 10)
	return s.appendQuoted(b)
}

func (s *stack) appendUnreachV4(b []byte, code uint8) []byte {
	qdst := s.quotedDst()
	if qdst == nil || int(code) >= len(unreachV4) {
		b = append(b, "unreachable code "...)
		return strconv.AppendUint(b, uint64(code), 10)
	}
	switch code {
	case 2:
		b = appendIP(b, qdst)
		b = append(b, " protocol "...)
		b = strconv.AppendUint(b, uint64(s.quoted.ipProto), 10)
		return append(b, " unreachable"...)
	case 3:
		b = appendIP(b, qdst)
		name, port, ok := s.quotedPort()
		if !ok {
			b = append(b, " protocol "...)
			b = strconv.AppendUint(b, uint64(s.quoted.ipProto), 10)
			return append(b, " port unreachable"...)
		}
		b = append(b, ' ')
		b = append(b, name...)
		b = append(b, " port "...)
		b = strconv.AppendUint(b, uint64(port), 10)
		return append(b, " unreachable"...)
	}
	w := unreachV4[code]
	b = append(b, w.pre...)
	b = appendIP(b, qdst)
	b = append(b, w.post...)
	if code == 4 && s.icmp4.Seq != 0 {
		b = append(b, " (mtu "...)
		b = strconv.AppendUint(b, uint64(s.icmp4.Seq), 10)
		b = append(b, ')')
	}
	return b
}

func (s *stack) appendICMPv6(b []byte) []byte {
	ic := &s.icmp6
	b = append(b, "ICMP6, "...)
	typ, code := ic.TypeCode.Type(), ic.TypeCode.Code()
	rest := ic.Payload
	switch typ {
	case layers.ICMPv6TypeEchoRequest, layers.ICMPv6TypeEchoReply:
		if typ == layers.ICMPv6TypeEchoRequest {
			b = append(b, "echo request"...)
		} else {
			b = append(b, "echo reply"...)
		}
		if s.has(kindICMPv6Echo) {
			b = append(b, ", id "...)
			b = strconv.AppendUint(b, uint64(s.echo6.Identifier), 10)
			b = append(b, ", seq "...)
			b = strconv.AppendUint(b, uint64(s.echo6.SeqNumber), 10)
		}
	case layers.ICMPv6TypeDestinationUnreachable:
		b = append(b, "destination unreachable, "...)
		b = s.appendUnreachV6(b, code)
	case layers.ICMPv6TypePacketTooBig:
		b = append(b, "packet too big, mtu "...)
		if len(rest) >= 4 {
			b = strconv.AppendUint(b, uint64(be.Uint32(rest)), 10)
		}
	case layers.ICMPv6TypeTimeExceeded:
		if code == 1 {
			b = append(b, "time exceeded reassembly"...)
		} else {
			b = append(b, "time exceeded in-transit"...)
			if q := s.quotedDst(); q != nil {
				b = append(b, " for "...)
				b = appendIP(b, q)
			}
		}
	case layers.ICMPv6TypeParameterProblem:
		b = append(b, "parameter problem, "...)
		switch code {
		case 0:
			b = append(b, "errorneous"...)
		case 1:
			b = append(b, "next header"...)
		case 2:
			b = append(b, "option"...)
		default:
			b = append(b, "code-#"...)
			b = strconv.AppendUint(b, uint64(code), 10)
		}
		if len(rest) >= 4 {
			b = append(b, " - octet "...)
			b = strconv.AppendUint(b, uint64(be.Uint32(rest)), 10)
		}
	case layers.ICMPv6TypeNeighborSolicitation:
		b = append(b, "neighbor solicitation"...)
		if s.has(kindNeighborSolicitation) {
			b = append(b, ", who has "...)
			b = appendIP(b, s.ns.TargetAddress)
		}
	case layers.ICMPv6TypeNeighborAdvertisement:
		b = append(b, "neighbor advertisement"...)
		if s.has(kindNeighborAdvertisement) {
			b = append(b, ", tgt is "...)
			b = appendIP(b, s.na.TargetAddress)
		}
	case layers.ICMPv6TypeRouterSolicitation:
		b = append(b, "router solicitation"...)
	case layers.ICMPv6TypeRouterAdvertisement:
		b = append(b, "router advertisement"...)
	case layers.ICMPv6TypeRedirect:
		b = append(b, "redirect"...)
		if len(rest) < 36 {
			return append(b, " [|icmp6]"...)
		}
		b = append(b, ", "...)
		b = appendIP(b, rest[20:36]) // destination
		b = append(b, " to "...)
		b = appendIP(b, rest[4:20]) // better first hop
	case layers.ICMPv6TypeMLDv1MulticastListenerQueryMessage:
		b = append(b, "multicast listener query"...)
		b = s.appendMLDQuery(b, rest)
	case layers.ICMPv6TypeMLDv1MulticastListenerReportMessage:
		b = append(b, "multicast listener report"...)
		b = appendMLD(b, rest)
	case layers.ICMPv6TypeMLDv1MulticastListenerDoneMessage:
		b = append(b, "multicast listener done"...)
		b = appendMLD(b, rest)
	case layers.ICMPv6TypeMLDv2MulticastListenerReportMessageV2:
		b = append(b, "multicast listener report v2"...)
		if len(rest) >= 4 {
			b = append(b, ", "...)
			b = strconv.AppendUint(b, uint64(be.Uint16(rest[2:])), 10)
			b = append(b, " group record(s)"...)
		}
	case 141:
		b = append(b, "inverse neighbor solicitation"...)
	case 142:
		b = append(b, "inverse neighbor advertisement"...)
	case 144, 146: // home agent discovery request, mobile prefix solicitation
		if typ == 144 {
			b = append(b, "ha discovery request"...)
		} else {
			b = append(b, "mobile router solicitation"...)
		}
		if len(rest) < 2 {
			return append(b, " [|icmp6]"...)
		}
		b = append(b, ", id 0x"...)
		b = appendHex16(b, be.Uint16(rest))
	case 145:
		b = append(b, "ha discovery reply"...)
	case 147:
		b = append(b, "mobile router advertisement"...)
	default:
		// tcpdump names a few more types but decodes none of these:
		// their bytes follow, as a hex dump on lines of their own.
		switch typ {
		case 200:
			b = append(b, "mtrace response"...)
		case 201:
			b = append(b, "mtrace message"...)
		default:
			b = append(b, "unknown icmp6 type ("...)
			b = strconv.AppendUint(b, uint64(typ), 10)
			b = append(b, ')')
		}
		b = append(b, ", length "...)
		b = strconv.AppendInt(b, int64(s.l4Len), 10)
		msg := s.l4[:min(len(s.l4), max(s.l4Len, 0))]
		if n := len(msg); n > 0 {
			b = append(b, '\n')
			b = AppendHexDump(b, msg)
			b = b[:len(b)-1] // the line's own newline is the caller's
		}
		return b
	}
	b = append(b, ", length "...)
	b = strconv.AppendInt(b, int64(s.l4Len), 10)
	return s.appendQuoted(b)
}

// appendMLD writes an MLDv1 message's fields as tcpdump does, right after
// the type's name: "max resp delay: 0 addr: ff02::1:ff00:1".
func appendMLD(b []byte, rest []byte) []byte {
	if len(rest) < 20 {
		return b
	}
	b = append(b, "max resp delay: "...)
	b = strconv.AppendUint(b, uint64(be.Uint16(rest)), 10)
	b = append(b, " addr: "...)
	return appendIP(b, rest[4:20])
}

// appendMLDQuery writes an MLD query: version 1 as appendMLD, version 2
// (28 bytes or more) as " v2 [gaddr G, N source(s)]".
func (s *stack) appendMLDQuery(b []byte, rest []byte) []byte {
	switch n := s.l4Len; {
	case n == 24:
		return appendMLD(b, rest)
	case n >= 28:
		b = append(b, " v2 [gaddr "...)
		if len(rest) < 24 {
			return append(b, " [|icmp6]"...)
		}
		b = appendIP(b, rest[4:20])
		if srcs := int(be.Uint16(rest[22:])); srcs > 0 {
			if n < 28+16*srcs {
				b = append(b, " [invalid number of sources]"...)
			} else {
				b = append(b, ", "...)
				b = strconv.AppendInt(b, int64(srcs), 10)
				b = append(b, " source(s)"...)
			}
		}
		return append(b, ']')
	default:
		b = append(b, " unknown-version (len "...)
		b = strconv.AppendInt(b, int64(n), 10)
		return append(b, ") "...)
	}
}

func (s *stack) appendUnreachV6(b []byte, code uint8) []byte {
	q := s.quotedDst()
	switch code {
	case 0:
		b = append(b, "unreachable route "...)
	case 1:
		b = append(b, "unreachable prohibited "...)
	case 2:
		b = append(b, "beyond scope "...)
	case 3:
		b = append(b, "unreachable address "...)
	case 4:
		b = append(b, "unreachable port, "...)
		if q == nil {
			return b
		}
		b = appendIP(b, q)
		if name, port, ok := s.quotedPort(); ok {
			b = append(b, ' ')
			b = append(b, name...)
			b = append(b, " port "...)
			b = strconv.AppendUint(b, uint64(port), 10)
		}
		return b
	default:
		b = append(b, "unknown code ("...)
		b = strconv.AppendUint(b, uint64(code), 10)
		return append(b, ')')
	}
	if q != nil {
		b = appendIP(b, q)
	}
	return b
}

// has reports whether a layer of kind k was decoded.
func (s *stack) has(k kind) bool {
	for i := 0; i < s.n; i++ {
		if s.order[i].kind == k {
			return true
		}
	}
	return false
}

// appendICMPv4Other names the ICMPv4 types tcpdump names besides echo,
// errors and time stamps: router advertisement (with its addresses),
// router solicitation, information request and reply, address mask
// request and reply; "type-#N" for others. It says false when the
// message is cut before what tcpdump reads.
func appendICMPv4Other(b []byte, typ uint8, head, data []byte) ([]byte, bool) {
	switch typ {
	case 9: // router advertisement: count, entry size, lifetime, then {address, preference}
		if len(head) < 8 {
			return b, false
		}
		b = append(b, "router advertisement lifetime "...)
		life := uint64(be.Uint16(head[6:]))
		switch {
		case life < 60:
			b = strconv.AppendUint(b, life, 10)
		case life < 3600:
			b = strconv.AppendUint(b, life/60, 10)
			b = appendColon2(b, life%60)
		default:
			b = strconv.AppendUint(b, life/3600, 10)
			b = appendColon2(b, life%3600/60)
			b = appendColon2(b, life%60)
		}
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(head[4]), 10)
		b = append(b, ':')
		if head[5] != 2 {
			b = append(b, " [size "...)
			b = strconv.AppendUint(b, uint64(head[5]), 10)
			return append(b, ']'), true
		}
		for i := 0; i < int(head[4]); i++ {
			if len(data) < 8*i+8 {
				return b, false
			}
			b = append(b, " {"...)
			b = appendIP(b, data[8*i:8*i+4])
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(be.Uint32(data[8*i+4:])), 10)
			b = append(b, '}')
		}
		return b, true
	case 10:
		return append(b, "router solicitation"...), true
	case 15:
		return append(b, "information request"...), true
	case 16:
		return append(b, "information reply"...), true
	case 17:
		return append(b, "address mask request"...), true
	case 18:
		if len(data) < 4 {
			return b, false
		}
		b = append(b, "address mask is 0x"...)
		v := be.Uint32(data)
		for i := 28; i >= 0; i -= 4 {
			b = append(b, hexDigits[v>>uint(i)&15])
		}
		return b, true
	}
	b = append(b, "type-#"...)
	return strconv.AppendUint(b, uint64(typ), 10), true
}

func appendColon2(b []byte, v uint64) []byte {
	return append(b, ':', byte('0'+v/10), byte('0'+v%10))
}

// appendMsOfDay writes milliseconds since midnight (UT) as HH:MM:SS.mmm,
// as tcpdump shows ICMP time stamps.
func appendMsOfDay(b []byte, ms uint32) []byte {
	sec := ms / 1000
	h, m, s := sec/3600, sec/60%60, sec%60
	if h < 10 {
		b = append(b, '0')
	}
	b = strconv.AppendUint(b, uint64(h), 10)
	b = appendColon2(b, uint64(m))
	b = appendColon2(b, uint64(s))
	b = append(b, '.')
	f := ms % 1000
	return append(b, byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}
