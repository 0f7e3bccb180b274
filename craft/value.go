package craft

import (
	"math/bits"
	"net/netip"
)

// span is an inclusive range of numbers.
type span struct{ lo, hi uint64 }

func (s span) size() uint64 { return s.hi - s.lo + 1 }

// Value is what a spec says about one field: nothing (unset), one value, a
// list of alternatives (numbers, ranges, prefixes) that the spec expands
// over, or rand, a fresh random value for every packet.
type Value struct {
	set   bool
	rand  bool
	col   int            // column of the value in the spec, for messages
	ord   int            // the order in which the spec gave it (for TCP options)
	nums  []span         // numbers and ranges
	pfx   []netip.Prefix // addresses and prefixes
	bytes []byte         // bytes, text, MAC, option encodings
	count uint64         // alternatives (1 for a single value, 0 when unset or rand)
	zone  string         // the IPv6 zone an address gave (fe80::1%eth0)

	cur  uint64     // the current number
	addr netip.Addr // the current address
}

// pick makes the i-th alternative current.
func (v *Value) pick(i uint64) {
	if len(v.nums) > 0 {
		for _, s := range v.nums {
			if i < s.size() {
				v.cur = s.lo + i
				return
			}
			i -= s.size()
		}
		return
	}
	for _, p := range v.pfx {
		n := prefixSize(p)
		if i < n {
			v.addr = nthAddr(p, i)
			return
		}
		i -= n
	}
}

// prefixSize is the number of addresses in p, saturating at 1<<62.
func prefixSize(p netip.Prefix) uint64 {
	host := p.Addr().BitLen() - p.Bits()
	if host >= 62 {
		return 1 << 62
	}
	return 1 << host
}

// nthAddr is the i-th address of prefix p.
func nthAddr(p netip.Prefix, i uint64) netip.Addr {
	b := p.Masked().Addr().As16()
	var carry uint64
	lo := uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 |
		uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15])
	lo, carry = bits.Add64(lo, i, 0)
	for k := 15; k >= 8; k-- {
		b[k] = byte(lo)
		lo >>= 8
	}
	for k := 7; k >= 0 && carry != 0; k-- {
		sum := uint64(b[k]) + carry
		b[k] = byte(sum)
		carry = sum >> 8
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		return a.Unmap()
	}
	return a
}

// rng is a small fast random generator (xorshift64*), so that rand fields
// cost nothing per packet.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s ^= r.s >> 12
	r.s ^= r.s << 25
	r.s ^= r.s >> 27
	return r.s * 2685821657736338717
}

// upTo returns a number in [0, max].
func (r *rng) upTo(max uint64) uint64 {
	if max == ^uint64(0) {
		return r.next()
	}
	hi, _ := bits.Mul64(r.next(), max+1)
	return hi
}

func (r *rng) fill(b []byte) {
	for len(b) >= 8 {
		x := r.next()
		for k := 0; k < 8; k++ {
			b[k] = byte(x >> (8 * k))
		}
		b = b[8:]
	}
	if len(b) > 0 {
		x := r.next()
		for k := range b {
			b[k] = byte(x >> (8 * k))
		}
	}
}
