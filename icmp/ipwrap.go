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
func wrapIP(b []byte, src, dst netip.Addr, w Wire, payload []byte) []byte {
	proto := uint8(protoICMP4)
	if !dst.Is4() {
		proto = protoICMP6
	}
	return ipwrap.IP(b, src, dst, ipwrap.Header{Proto: proto, TTL: w.TTL, TOS: w.TOS, DF: w.DF}, payload)
}

func wrapIPv4(b []byte, src, dst netip.Addr, w Wire, payload []byte) []byte {
	return wrapIP(b, src, dst, w, payload)
}
