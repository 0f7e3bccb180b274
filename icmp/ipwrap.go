package icmp

import (
	"net/netip"

	"github.com/rawnet/rawnet/internal/ipwrap"
)

// wrapIP writes an IP header for a packet of payload bytes from src to dst
// into b and copies payload after it; it returns the whole packet. It is
// used to record what was sent (and what a datagram or IPv6 socket
// received without its IP header) as complete IP packets in pcap files.
// b must have room for the header and payload.
func wrapIP(b []byte, src, dst netip.Addr, w Wire, proto uint8, payload []byte) []byte {
	return ipwrap.IP(b, src, dst, ipwrap.Header{Proto: proto, TTL: w.TTL, TOS: w.TOS, DF: w.DF}, payload)
}

func wrapIPv4(b []byte, src, dst netip.Addr, w Wire, payload []byte) []byte {
	return wrapIP(b, src, dst, w, protoICMP4, payload)
}

// icmpProto is the protocol number of ICMP over IPv4 or IPv6.
func icmpProto(v6 bool) uint8 {
	if v6 {
		return protoICMP6
	}
	return protoICMP4
}
