package capture

import "strconv"

// MPTCP options as tcpdump prints them (print-mptcp.c): "mptcp LEN
// SUBTYPE" and the subtype's fields. d is the option's data (after kind
// and length); false when tcpdump would call the option bad, which ends
// its line.

var mptcpSubtypes = [...]string{"capable", "join", "dss", "add-addr", "rem-addr", "prio", "fail", "fast-close", "unknown"}

func appendMPTCP(b []byte, d []byte, flags uint8) ([]byte, bool) {
	const syn, ack = 0x02, 0x10
	n := len(d) + 2 // the option's length
	b = append(b, "mptcp"...)
	if n < 3 {
		return b, false
	}
	sub := min(int(d[0]>>4), 8)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, ' ')
	b = append(b, mptcpSubtypes[sub]...)
	opt := func(off int) []byte { return d[off-2:] } // offsets as from the kind byte
	hex64 := func(b []byte, off int) []byte { return strconv.AppendUint(b, be.Uint64(opt(off)), 16) }
	switch sub {
	case 0: // capable
		if !((n == 12 || n == 4) && flags&syn != 0) && !((n == 20 || n == 22) && flags&(syn|ack) == ack) {
			return b, false
		}
		if v := d[0] & 0xf; v > 1 {
			b = append(b, " Unknown Version ("...)
			b = strconv.AppendUint(b, uint64(v), 10)
			return append(b, ')'), true
		} else {
			b = append(b, " v"...)
			b = strconv.AppendUint(b, uint64(v), 10)
		}
		if d[1]&0x80 != 0 {
			b = append(b, " csum"...)
		}
		if n == 12 || n >= 20 {
			b = append(b, " {0x"...)
			b = hex64(b, 4)
			if n >= 20 {
				b = append(b, ",0x"...)
				b = hex64(b, 12)
			}
			b = append(b, '}')
		}
	case 1: // join
		if !(n == 12 && flags&syn != 0) && !(n == 16 && flags&(syn|ack) == syn|ack) && !(n == 24 && flags&ack != 0) {
			return b, false
		}
		if n != 24 {
			if d[0]&1 != 0 {
				b = append(b, " backup"...)
			}
			b = append(b, " id "...)
			b = strconv.AppendUint(b, uint64(d[1]), 10)
		}
		switch n {
		case 12:
			b = append(b, " token 0x"...)
			b = strconv.AppendUint(b, uint64(be.Uint32(opt(4))), 16)
			b = append(b, " nonce 0x"...)
			b = strconv.AppendUint(b, uint64(be.Uint32(opt(8))), 16)
		case 16:
			b = append(b, " hmac 0x"...)
			b = hex64(b, 4)
			b = append(b, " nonce 0x"...)
			b = strconv.AppendUint(b, uint64(be.Uint32(opt(12))), 16)
		case 24:
			b = append(b, " hmac 0x"...)
			b = appendHexBytes(b, opt(4)[:20])
		}
	case 2: // dss
		return appendMPTCPDSS(b, d, flags&syn != 0)
	case 3: // add-addr
		return appendMPTCPAddAddr(b, d)
	case 4: // rem-addr
		if n < 4 {
			return b, false
		}
		b = append(b, " id"...)
		for _, id := range d[1:] {
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(id), 10)
		}
	case 5: // prio
		if n != 3 && n != 4 {
			return b, false
		}
		if d[0]&1 != 0 {
			b = append(b, " backup"...)
		} else {
			b = append(b, " non-backup"...)
		}
		if n == 4 {
			b = append(b, " id "...)
			b = strconv.AppendUint(b, uint64(d[1]), 10)
		}
	case 6, 7: // fail, fast-close
		if n != 12 {
			return b, false
		}
		if sub == 6 {
			b = append(b, " seq "...)
			b = strconv.AppendUint(b, be.Uint64(opt(4)), 10)
		} else {
			b = append(b, " key 0x"...)
			b = hex64(b, 4)
		}
	}
	return b, true
}

func appendMPTCPDSS(b []byte, d []byte, syn bool) ([]byte, bool) {
	if len(d) < 2 || syn {
		return b, false
	}
	f := d[1]
	if f&0x10 != 0 {
		b = append(b, " fin"...)
	}
	rest := d[2:]
	num := func(wide bool) bool {
		switch {
		case wide && len(rest) >= 8:
			b = strconv.AppendUint(b, be.Uint64(rest), 10)
			rest = rest[8:]
		case !wide && len(rest) >= 4:
			b = strconv.AppendUint(b, uint64(be.Uint32(rest)), 10)
			rest = rest[4:]
		default:
			return false
		}
		return true
	}
	if f&0x01 != 0 {
		b = append(b, " ack "...)
		if !num(f&0x02 != 0) {
			return b, false
		}
	}
	if f&0x04 != 0 {
		b = append(b, " seq "...)
		if !num(f&0x08 != 0) || len(rest) < 4 {
			return b, false
		}
		b = append(b, " subseq "...)
		b = strconv.AppendUint(b, uint64(be.Uint32(rest)), 10)
		if rest = rest[4:]; len(rest) < 2 {
			return b, false
		}
		b = append(b, " len "...)
		b = strconv.AppendUint(b, uint64(be.Uint16(rest)), 10)
		if rest = rest[2:]; len(rest) >= 2 {
			b = append(b, " csum 0x"...)
			b = strconv.AppendUint(b, uint64(be.Uint16(rest)), 16)
			rest = rest[2:]
		}
	}
	return b, len(rest) == 0
}

func appendMPTCPAddAddr(b []byte, d []byte) ([]byte, bool) {
	n := len(d) + 2
	switch n {
	case 8, 10, 16, 18, 20, 22, 28, 30:
	default:
		return b, false
	}
	b = append(b, ' ')
	switch d[0] & 0xf {
	case 6:
		b = append(b, "v0-ip6"...)
	case 4:
		b = append(b, "v0-ip4"...)
	case 1:
		b = append(b, "v1-echo"...)
	case 0:
		b = append(b, "v1"...)
	default:
		b = append(b, "[bad version/echo]"...)
	}
	b = append(b, " id "...)
	b = strconv.AppendUint(b, uint64(d[1]), 10)
	a := d[2:] // the address, then a port and an HMAC as the length says
	alen := 4
	if n >= 20 {
		alen = 16
	}
	b = append(b, ' ')
	b = appendIP(b, a[:alen])
	port := n == 10 || n == 18 || n == 22 || n == 30
	if port {
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(be.Uint16(a[alen:])), 10)
	}
	if n == 16 || n == 18 || n == 28 || n == 30 {
		at := alen
		if port {
			at += 2
		}
		b = append(b, " hmac 0x"...)
		b = strconv.AppendUint(b, be.Uint64(a[at:]), 16)
	}
	return b, true
}
