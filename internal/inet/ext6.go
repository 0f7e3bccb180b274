package inet

import "encoding/binary"

// IPv6 extension headers that SkipExtensions6 walks over.
const (
	ExtHopByHop    = 0
	ExtRouting     = 43
	ExtFragment    = 44
	ExtAuth        = 51
	ExtDestOptions = 60
)

// SkipExtensions6 walks the IPv6 extension headers at the start of b,
// next being the Next Header field of the IPv6 header before them:
// hop-by-hop options, routing and destination options (length in 8-byte
// units, not counting the first 8), fragment (8 bytes), and
// authentication (RFC 4302: length in 4-byte units, not counting the
// first 2). It returns the upper-layer protocol and the bytes from its
// header on, and the fragment offset in 8-byte units (non-zero: b is not
// the first fragment, and payload is not the start of the upper-layer
// header). ok is false when an extension header is cut short. Any other
// next header, ESP (50) and No Next Header (59) included, ends the walk.
func SkipExtensions6(next uint8, b []byte) (proto uint8, payload []byte, fragOffset uint16, ok bool) {
	for isExtension6(next) {
		if len(b) < 8 {
			return next, nil, fragOffset, false
		}
		n := (int(b[1]) + 1) * 8
		switch next {
		case ExtFragment:
			n, fragOffset = 8, binary.BigEndian.Uint16(b[2:])>>3
		case ExtAuth:
			n = (int(b[1]) + 2) * 4
		}
		if len(b) < n {
			return next, nil, fragOffset, false
		}
		next, b = b[0], b[n:]
	}
	return next, b, fragOffset, true
}

func isExtension6(next uint8) bool {
	switch next {
	case ExtHopByHop, ExtRouting, ExtFragment, ExtAuth, ExtDestOptions:
		return true
	}
	return false
}
