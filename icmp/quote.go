package icmp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// ErrNotError reports a message that is not an ICMP error message.
var ErrNotError = errors.New("icmp: not an error message")

// Quote is what an ICMP or ICMPv6 error message says: its type and code,
// the 32-bit field after the checksum (next-hop MTU, parameter pointer)
// and the header of the datagram that caused it, with whatever of the
// datagram's payload the router quoted.
type Quote struct {
	Type, Code uint8
	Info       uint32     // MTU for "fragmentation needed" / "packet too big", pointer for parameter problems
	Src, Dst   netip.Addr // addresses of the quoted datagram
	Proto      uint8      // its transport protocol (after IPv6 extension headers)
	TTL        uint8      // its TTL or hop limit when the router quoted it
	TOS        uint8      // its TOS / traffic class
	DF         bool       // its IPv4 don't-fragment bit
	ID         uint16     // its IPv4 identification
	Payload    []byte     // quoted transport header and data; aliases the message
}

// IsError4 reports whether an ICMPv4 type is an error message.
func IsError4(t uint8) bool {
	switch t {
	case TypeDestUnreachable4, TypeSourceQuench4, TypeRedirect4, TypeTimeExceeded4, TypeParamProblem4:
		return true
	}
	return false
}

// IsError6 reports whether an ICMPv6 type is an error message (types < 128).
func IsError6(t uint8) bool { return t < 128 }

// ParseError4 parses an ICMPv4 error message (starting at the ICMP header)
// and the IPv4 header it quotes.
func ParseError4(msg []byte) (Quote, error) {
	q, ip, err := errorHeader(msg, IsError4)
	if err != nil {
		return q, err
	}
	if len(ip) < ipv4HeaderLen || ip[0]>>4 != 4 {
		return q, fmt.Errorf("%w: quoted IPv4 header", ErrShort)
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl < ipv4HeaderLen || len(ip) < ihl {
		return q, fmt.Errorf("%w: quoted IPv4 header length %d", ErrShort, ihl)
	}
	q.TOS, q.TTL, q.Proto = ip[1], ip[8], ip[9]
	q.ID, q.DF = binary.BigEndian.Uint16(ip[4:]), ip[6]&0x40 != 0
	q.Src = netip.AddrFrom4([4]byte(ip[12:16]))
	q.Dst = netip.AddrFrom4([4]byte(ip[16:20]))
	q.Payload = ip[ihl:]
	return q, nil
}

// ParseError6 parses an ICMPv6 error message (starting at the ICMPv6
// header) and the IPv6 header it quotes, skipping extension headers.
func ParseError6(msg []byte) (Quote, error) {
	q, ip, err := errorHeader(msg, IsError6)
	if err != nil {
		return q, err
	}
	if len(ip) < ipv6HeaderLen || ip[0]>>4 != 6 {
		return q, fmt.Errorf("%w: quoted IPv6 header", ErrShort)
	}
	q.TOS = ip[0]<<4 | ip[1]>>4
	q.TTL = ip[7]
	q.Src = netip.AddrFrom16([16]byte(ip[8:24]))
	q.Dst = netip.AddrFrom16([16]byte(ip[24:40]))
	next, rest := ip[6], ip[ipv6HeaderLen:]
	for isExtension6(next) {
		if len(rest) < 8 {
			return q, fmt.Errorf("%w: quoted IPv6 extension header", ErrShort)
		}
		n := (int(rest[1]) + 1) * 8
		if next == 44 { // fragment header: fixed 8 bytes
			n = 8
		}
		if len(rest) < n {
			return q, fmt.Errorf("%w: quoted IPv6 extension header", ErrShort)
		}
		next, rest = rest[0], rest[n:]
	}
	q.Proto, q.Payload = next, rest
	return q, nil
}

// errorHeader reads the ICMP(v6) error header both families share (type,
// code, the 32-bit field after the checksum) and returns what follows: the
// quoted IP header.
func errorHeader(msg []byte, isError func(uint8) bool) (Quote, []byte, error) {
	var q Quote
	if len(msg) < echoHeaderLen {
		return q, nil, ErrShort
	}
	if !isError(msg[0]) {
		return q, nil, ErrNotError
	}
	q.Type, q.Code = msg[0], msg[1]
	q.Info = binary.BigEndian.Uint32(msg[4:])
	return q, msg[echoHeaderLen:], nil
}

func isExtension6(next uint8) bool {
	switch next {
	case 0, 43, 44, 60: // hop-by-hop, routing, fragment, destination options
		return true
	}
	return false
}

// Describe returns the one-line text for an ICMP error, in the words ping
// users know ("Time to live exceeded", "Destination Host Unreachable").
func Describe(v6 bool, typ, code uint8, info uint32) string {
	if v6 {
		return describe6(typ, code, info)
	}
	return describe4(typ, code, info)
}

var unreach4 = [...]string{
	"Destination Net Unreachable", "Destination Host Unreachable",
	"Destination Protocol Unreachable", "Destination Port Unreachable",
	"Frag needed and DF set", "Source Route Failed",
	"Destination Net Unknown", "Destination Host Unknown",
	"Source Host Isolated", "Destination Net Prohibited",
	"Destination Host Prohibited", "Destination Net Unreachable for Type of Service",
	"Destination Host Unreachable for Type of Service", "Packet filtered",
	"Precedence Violation", "Precedence Cutoff",
}

func describe4(typ, code uint8, info uint32) string {
	switch typ {
	case TypeDestUnreachable4:
		if code == 4 {
			return fmt.Sprintf("Frag needed and DF set (mtu = %d)", info&0xffff)
		}
		if int(code) < len(unreach4) {
			return unreach4[code]
		}
		return fmt.Sprintf("Destination Unreachable, Bad Code: %d", code)
	case TypeTimeExceeded4:
		if code == 1 {
			return "Frag reassembly time exceeded"
		}
		return "Time to live exceeded"
	case TypeParamProblem4:
		return fmt.Sprintf("Parameter problem: pointer = %d", info>>24)
	case TypeSourceQuench4:
		return "Source Quench"
	case TypeRedirect4:
		return fmt.Sprintf("Redirect (code %d, new nexthop %s)", code, netip.AddrFrom4([4]byte{byte(info >> 24), byte(info >> 16), byte(info >> 8), byte(info)}))
	}
	return fmt.Sprintf("ICMP type %d code %d", typ, code)
}

var unreach6 = [...]string{
	"Destination unreachable: No route", "Destination unreachable: Administratively prohibited",
	"Destination unreachable: Beyond scope of source address", "Destination unreachable: Address unreachable",
	"Destination unreachable: Port unreachable", "Destination unreachable: Source address failed ingress/egress policy",
	"Destination unreachable: Reject route to destination",
}

func describe6(typ, code uint8, info uint32) string {
	switch typ {
	case TypeDestUnreachable6:
		if int(code) < len(unreach6) {
			return unreach6[code]
		}
		return fmt.Sprintf("Destination unreachable: code %d", code)
	case TypePacketTooBig6:
		return fmt.Sprintf("Packet too big: mtu=%d", info)
	case TypeTimeExceeded6:
		if code == 1 {
			return "Fragment reassembly time exceeded"
		}
		return "Time to live exceeded"
	case TypeParamProblem6:
		return fmt.Sprintf("Parameter problem: code %d, pointer = %d", code, info)
	}
	return fmt.Sprintf("ICMPv6 type %d code %d", typ, code)
}
