package icmpmsg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/rawnet/rawnet/internal/inet"
)

// ErrNotError reports a message that is not an ICMP error message.
var ErrNotError = errors.New("icmpmsg: not an error message")

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

// ParseError parses an ICMPv4 (v6 false) or ICMPv6 error message.
func ParseError(v6 bool, msg []byte) (Quote, error) {
	if v6 {
		return ParseError6(msg)
	}
	return ParseError4(msg)
}

// ParseError4 parses an ICMPv4 error message (starting at the ICMP header)
// and the IPv4 header it quotes. It allocates nothing.
func ParseError4(msg []byte) (q Quote, err error) {
	ip, err := errorHeader(&q, msg, false)
	if err != nil {
		return q, err
	}
	h, err := inet.ParseIPv4(ip)
	if err != nil {
		return q, fmt.Errorf("%w: quoted IPv4 header length %d", ErrShort, int(ip[0]&0x0f)*4)
	}
	q.TOS, q.TTL, q.Proto = h.TOS, h.TTL, h.Proto
	q.ID, q.DF = h.ID, h.DF
	q.Src, q.Dst = h.Src, h.Dst
	q.Payload = ip[h.Len:]
	return q, nil
}

// ParseError6 parses an ICMPv6 error message (starting at the ICMPv6
// header) and the IPv6 header it quotes, skipping extension headers. It
// allocates nothing.
func ParseError6(msg []byte) (q Quote, err error) {
	ip, err := errorHeader(&q, msg, true)
	if err != nil {
		return q, err
	}
	q.TOS = ip[0]<<4 | ip[1]>>4
	q.TTL = ip[7]
	q.Src = netip.AddrFrom16([16]byte(ip[8:24]))
	q.Dst = netip.AddrFrom16([16]byte(ip[24:40]))
	next, rest, _, ok := inet.SkipExtensions6(ip[6], ip[inet.IPv6HeaderLen:])
	if !ok {
		return q, fmt.Errorf("%w: quoted IPv6 extension header", ErrShort)
	}
	q.Proto, q.Payload = next, rest
	return q, nil
}

// errorHeader reads into q the header both families' errors share (type,
// code, the 32-bit field after the checksum) and returns what follows:
// the quoted IP packet, at least as long as its version's fixed header.
func errorHeader(q *Quote, msg []byte, v6 bool) ([]byte, error) {
	if len(msg) < HeaderLen {
		return nil, ErrShort
	}
	if !IsError(v6, msg[0]) {
		return nil, ErrNotError
	}
	q.Type, q.Code = msg[0], msg[1]
	q.Info = binary.BigEndian.Uint32(msg[4:])
	ip := msg[HeaderLen:]
	version, fixed := 4, inet.IPv4HeaderLen
	if v6 {
		version, fixed = 6, inet.IPv6HeaderLen
	}
	if len(ip) < fixed || int(ip[0]>>4) != version {
		return nil, fmt.Errorf("%w: quoted IPv%d header", ErrShort, version)
	}
	return ip, nil
}
