package icmpmsg

import (
	"encoding/binary"

	"github.com/rawnet/rawnet/internal/inet"
)

// MPLSLabel is one label stack entry from an RFC 4950 ICMP extension
// object (class 1, c-type 1: the incoming label stack).
type MPLSLabel struct {
	Label uint32 // 20 bits
	TC    uint8  // traffic class (formerly EXP), 3 bits
	S     bool   // bottom of stack
	TTL   uint8
}

// compatOffset is where routers that predate RFC 4884 put the extension
// structure: after 128 bytes of quoted datagram, without a length field.
const compatOffset = 128

// Extensions returns the RFC 4884 extension structure of an ICMPv4 (v6
// false) or ICMPv6 error message, its 4-byte header included, or nil when
// there is none. The length field (in 32-bit words for ICMPv4, 64-bit
// words for ICMPv6) says where the quoted datagram ends; when it is zero
// the structure is taken from byte 128 of the quoted datagram, as routers
// that predate RFC 4884 put it, but only when its version and checksum
// are right. The result aliases msg.
func Extensions(msg []byte, v6 bool) []byte {
	if len(msg) < HeaderLen {
		return nil
	}
	t := msg[0]
	var words, unit int
	switch {
	case !v6 && (t == TypeDestUnreachable4 || t == TypeTimeExceeded4 || t == TypeParamProblem4):
		words, unit = int(msg[5]), 4
	case v6 && (t == TypeDestUnreachable6 || t == TypeTimeExceeded6):
		words, unit = int(msg[4]), 8
	default:
		return nil
	}
	start := HeaderLen + words*unit
	strict := words > 0
	if !strict {
		start = HeaderLen + compatOffset
	} else if words*unit < compatOffset {
		return nil
	}
	if len(msg) < start+4 {
		return nil
	}
	ext := msg[start:]
	if ext[0]>>4 != 2 {
		return nil
	}
	if c := binary.BigEndian.Uint16(ext[2:]); (c != 0 || !strict) && inet.Checksum(ext, 0) != 0 {
		return nil
	}
	return ext
}

// MPLS copies the MPLS label stack entries of the RFC 4950 objects in an
// error message's extension structure into labels and returns how many it
// copied (at most len(labels)). It allocates nothing.
func MPLS(msg []byte, v6 bool, labels []MPLSLabel) int {
	ext := Extensions(msg, v6)
	if ext == nil {
		return 0
	}
	n := 0
	for objs := ext[4:]; len(objs) >= 4; {
		olen := int(binary.BigEndian.Uint16(objs))
		if olen < 4 || olen > len(objs) {
			break
		}
		if objs[2] == 1 && objs[3] == 1 { // MPLS label stack, incoming
			for e := objs[4:olen]; len(e) >= 4 && n < len(labels); e = e[4:] {
				v := binary.BigEndian.Uint32(e)
				labels[n] = MPLSLabel{Label: v >> 12, TC: uint8(v>>9) & 7, S: v&0x100 != 0, TTL: uint8(v)}
				n++
			}
		}
		objs = objs[olen:]
	}
	return n
}
