package icmp

import (
	"encoding/binary"
	"net/netip"
)

// wrapIP writes an IP header for a packet of payload bytes from src to dst
// into b and copies payload after it; it returns the whole packet. It is
// used to record what was sent (and what a datagram or IPv6 socket
// received without its IP header) as complete IP packets in pcap files.
// b must have room for the header and payload.
func wrapIP(b []byte, src, dst netip.Addr, w Wire, payload []byte) []byte {
	if dst.Is4() {
		return wrapIPv4(b, src, dst, w, payload)
	}
	return wrapIPv6(b, src, dst, w, payload)
}

func wrapIPv4(b []byte, src, dst netip.Addr, w Wire, payload []byte) []byte {
	total := ipv4HeaderLen + len(payload)
	h := b[:ipv4HeaderLen]
	h[0] = 0x45
	h[1] = byte(w.TOS)
	binary.BigEndian.PutUint16(h[2:], uint16(total))
	binary.BigEndian.PutUint32(h[4:], 0) // id 0 (the kernel's is not known), no fragment offset
	if w.DF {
		h[6] = 0x40
	}
	h[8], h[9] = byte(w.TTL), protoICMP4
	h[10], h[11] = 0, 0
	s, d := src.As4(), dst.As4()
	copy(h[12:16], s[:])
	copy(h[16:20], d[:])
	binary.BigEndian.PutUint16(h[10:], Checksum(h, 0))
	copy(b[ipv4HeaderLen:], payload)
	return b[:total]
}

func wrapIPv6(b []byte, src, dst netip.Addr, w Wire, payload []byte) []byte {
	h := b[:ipv6HeaderLen]
	binary.BigEndian.PutUint32(h[0:], 6<<28|uint32(w.TOS&0xff)<<20)
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = protoICMP6, byte(w.TTL)
	s, d := src.As16(), dst.As16()
	copy(h[8:24], s[:])
	copy(h[24:40], d[:])
	copy(b[ipv6HeaderLen:], payload)
	return b[:ipv6HeaderLen+len(payload)]
}
