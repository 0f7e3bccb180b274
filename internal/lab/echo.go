package lab

import (
	"encoding/binary"

	"github.com/rawnet/rawnet/internal/inet"
)

// ICMP message types the delayed responder handles.
const (
	icmp4EchoRequest = 8
	icmp4EchoReply   = 0
	icmp6EchoRequest = 128
	icmp6EchoReply   = 129
)

// echoReply turns the ICMP (v6=false) or ICMPv6 echo request in b, which
// starts at the ICMP header, into the matching reply in place: the type
// changes, identifier, sequence number and payload stay. The ICMPv4
// checksum is recomputed; the ICMPv6 checksum is zeroed, since it covers a
// pseudo header that the kernel fills in on a raw ICMPv6 socket. It
// reports false, leaving b alone, when b is not an echo request.
func echoReply(b []byte, v6 bool) bool {
	if len(b) < 8 || b[1] != 0 {
		return false
	}
	if v6 {
		if b[0] != icmp6EchoRequest {
			return false
		}
		b[0] = icmp6EchoReply
		b[2], b[3] = 0, 0
		return true
	}
	if b[0] != icmp4EchoRequest {
		return false
	}
	b[0] = icmp4EchoReply
	b[2], b[3] = 0, 0
	binary.BigEndian.PutUint16(b[2:], inet.Checksum(b, 0))
	return true
}
