package craft

import (
	"encoding/binary"
	"errors"

	"github.com/rawnet/rawnet/internal/inet"
)

// errNoIP is returned when asked to fragment something that is not IP.
var errNoIP = errors.New("craft: --fragment needs an IPv4 or IPv6 packet")

// fragmentPlan says where a packet's fragmentable part starts and how many
// fragments of at most size payload bytes it makes.
type fragmentPlan struct {
	v6    bool
	hl    int // bytes before the fragmentable part (IP header, IPv6 extension headers)
	nhAt  int // IPv6: offset of the next-header byte that must point to the fragment header
	size  int // payload bytes per fragment, a multiple of 8
	count int
}

// planFragments plans the fragments of the IP packet ip (no link header).
func planFragments(ip []byte, size int) (fragmentPlan, error) {
	p := fragmentPlan{size: max(8, size&^7)}
	if len(ip) < 20 {
		return p, errNoIP
	}
	switch ip[0] >> 4 {
	case 4:
		var err error
		if p.hl, err = inet.IPv4HeaderLength(ip); err != nil {
			return p, errNoIP
		}
	case 6:
		if len(ip) < 40 {
			return p, errNoIP
		}
		p.v6 = true
		p.hl, p.nhAt = 40, 6
		// The unfragmentable part: hop-by-hop and routing headers.
		for p.hl+8 <= len(ip) && (ip[p.nhAt] == 0 || ip[p.nhAt] == 43) {
			n := 8 + int(ip[p.hl+1])*8
			if p.hl+n > len(ip) {
				break
			}
			p.nhAt = p.hl
			p.hl += n
		}
	default:
		return p, errNoIP
	}
	payload := len(ip) - p.hl
	p.count = max(1, (payload+p.size-1)/p.size)
	return p, nil
}

// writeFragment appends fragment k of plan p of the packet link+ip to dst:
// the link header as is, the IP header with its offset, more-fragments
// flag, length and checksum set, and the payload slice.
func writeFragment(dst, link, ip []byte, p fragmentPlan, k int, id uint32) []byte {
	from := k * p.size
	to := min(from+p.size, len(ip)-p.hl)
	last := k == p.count-1
	dst = append(dst[:0], link...)
	start := len(dst)
	if p.v6 {
		return writeFragment6(dst, start, ip, p, from, to, last, id)
	}
	hdr := ip[:p.hl]
	if k > 0 {
		hdr = copiedOptions(ip[:p.hl])
	}
	dst = append(dst, hdr...)
	h := dst[start:]
	h[0] = 0x40 | byte(len(hdr)/4)
	flags := binary.BigEndian.Uint16(ip[6:])
	off := flags&0x1fff + uint16(from/8)
	keepMF := flags & 0x2000 // fragmenting a fragment keeps its MF on the last piece
	mf := uint16(0x2000)
	if last {
		mf = keepMF
	}
	binary.BigEndian.PutUint16(h[6:], flags&0xc000|mf|off&0x1fff)
	binary.BigEndian.PutUint16(h[2:], uint16(len(hdr)+to-from))
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:], inet.Checksum(h[:len(hdr)], 0))
	return append(dst, ip[p.hl+from:p.hl+to]...)
}

// copiedOptions is the IPv4 header with only the options whose copied bit
// is set, as later fragments carry them (RFC 791).
func copiedOptions(hdr []byte) []byte {
	var buf [60]byte
	out := append(buf[:0], hdr[:20]...)
	opts := hdr[20:]
	for len(opts) > 0 {
		t := opts[0]
		if t == 0 {
			break
		}
		if t == 1 {
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || int(opts[1]) < 2 || int(opts[1]) > len(opts) {
			break
		}
		n := int(opts[1])
		if t&0x80 != 0 {
			out = append(out, opts[:n]...)
		}
		opts = opts[n:]
	}
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	return out
}

func writeFragment6(dst []byte, start int, ip []byte, p fragmentPlan, from, to int, last bool, id uint32) []byte {
	dst = append(dst, ip[:p.hl]...)
	h := dst[start:]
	next := h[p.nhAt]
	h[p.nhAt] = 44
	binary.BigEndian.PutUint16(h[4:], uint16(p.hl-40+8+to-from))
	m := uint16(1)
	if last {
		m = 0
	}
	dst = append(dst, next, 0, 0, 0, 0, 0, 0, 0)
	fh := dst[len(dst)-8:]
	binary.BigEndian.PutUint16(fh[2:], uint16(from/8)<<3|m)
	binary.BigEndian.PutUint32(fh[4:], id)
	return append(dst, ip[p.hl+from:p.hl+to]...)
}
