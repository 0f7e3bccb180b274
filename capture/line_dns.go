package capture

import (
	"strconv"
)

// DNS as tcpdump -nn prints it on one line (print-domain.c, without -v):
//
//	query:    ID[op][+][%][ [Na]][ [Nq]][ [Nn]][ [Nau]] TYPE[ CLASS]? NAME. (LEN)
//	response: ID[op][ rcode][*][-][|][$][ [Nq]] AN/NS/AR[ TYPE DATA,...] (LEN)
//
// The message is walked over its bytes, not through gopacket's DNS layer,
// for two reasons: tcpdump prints as much of a malformed or cut message as
// it can and then " [|domain]", where gopacket's decoder gives up on the
// whole message; and gopacket allocates for TXT records, EDNS options and
// names with dots in their labels, which the line path must not.
// gopacket's layer decodes the fields for -v and --json.

// dnsLine formats one DNS message; msg is what was captured of it, from
// its first byte to the end of the IP packet (tcpdump's snapend).
type dnsLine struct {
	b     []byte
	msg   []byte
	mdns  bool
	trunc bool // a read past the captured bytes: the line ends in [|domain]
}

// nul is tcpdump's NULL: a name or record that could not be read.
const nul = -1

func (p *dnsLine) has(off, n int) bool { return off >= 0 && off+n <= len(p.msg) }

func (p *dnsLine) u8(off int) int {
	if !p.has(off, 1) {
		p.trunc = true
		return 0
	}
	return int(p.msg[off])
}

func (p *dnsLine) u16(off int) int {
	if !p.has(off, 2) {
		p.trunc = true
		return 0
	}
	return int(be.Uint16(p.msg[off:]))
}

// appendDNS writes the DNS message in data (length bytes on the wire,
// data may be shorter) as tcpdump does; overTCP messages start with their
// two-byte length.
func appendDNS(b []byte, data []byte, length int, overTCP, mdns bool) []byte {
	if overTCP {
		if length < 2 {
			b = append(b, " [DNS over TCP: length "...)
			b = strconv.AppendInt(b, int64(length), 10)
			return append(b, " < 2] (invalid)"...)
		}
		length -= 2
		if len(data) < 2 {
			return append(b, " [|domain]"...)
		}
		if prefix := int(be.Uint16(data)); prefix != length {
			b = append(b, " [prefix length("...)
			b = strconv.AppendInt(b, int64(prefix), 10)
			b = append(b, ") != length("...)
			b = strconv.AppendInt(b, int64(length), 10)
			return append(b, ")] (invalid)"...)
		}
		data = data[2:]
		b = append(b, ' ')
	}
	if length < 12 {
		b = append(b, "domain [length "...)
		b = strconv.AppendInt(b, int64(length), 10)
		return append(b, " < 12] (invalid)"...)
	}
	p := dnsLine{b: b, msg: data, mdns: mdns}
	p.message()
	if p.trunc {
		return append(p.b, " [|domain]"...)
	}
	p.b = append(p.b, " ("...)
	p.b = strconv.AppendInt(p.b, int64(length), 10)
	return append(p.b, ')')
}

var dnsOps = [16]string{"", " inv_q", " stat", " op3", " notify", " update", " op6", " op7",
	" op8", " updateA", " updateD", " updateDA", " updateM", " updateMA", " zoneInit", " zoneRef"}

var dnsRcodes = [...]string{"", " FormErr", " ServFail", " NXDomain", " NotImp", " Refused", " YXDomain", " YXRRSet",
	" NXRRSet", " NotAuth", " NotZone", " Resp11", " Resp12", " Resp13", " Resp14", " NoChange",
	" BadVers", "Resp17", " Resp18", " Resp19", " Resp20", "Resp21", " Resp22", " BadCookie"}

func (p *dnsLine) message() {
	if len(p.msg) < 12 {
		p.trunc = true
		return
	}
	m := p.msg
	flags := int(be.Uint16(m[2:]))
	qd, an, ns, ar := int(be.Uint16(m[4:])), int(be.Uint16(m[6:])), int(be.Uint16(m[8:])), int(be.Uint16(m[10:]))
	id := uint64(be.Uint16(m))
	b := strconv.AppendUint(p.b, id, 10)
	b = append(b, dnsOps[flags>>11&15]...)
	if flags&0x8000 == 0 {
		p.b = p.query(b, flags, qd, an, ns, ar)
		return
	}
	rcode := p.extendedRcode(flags&15, qd, an+ns, ar)
	if rcode < len(dnsRcodes) {
		b = append(b, dnsRcodes[rcode]...)
	} else {
		b = append(b, " Resp"...)
		b = strconv.AppendInt(b, int64(rcode&0xfff), 10)
	}
	if flags&0x0400 != 0 {
		b = append(b, '*')
	}
	if flags&0x0080 == 0 {
		b = append(b, '-')
	}
	if flags&0x0200 != 0 {
		b = append(b, '|')
	}
	if flags&0x0020 != 0 {
		b = append(b, '$')
	}
	if qd != 1 {
		b = appendCount(b, qd, "q")
	}
	p.b = b
	cp := 12
	for i := 0; i < qd; i++ {
		if i != 0 {
			p.b = append(p.b, ',')
		}
		if cp = p.skipName(cp); cp == nul {
			p.trunc = true
			return
		}
		cp += 4
	}
	p.b = append(p.b, ' ')
	p.b = strconv.AppendInt(p.b, int64(an), 10)
	p.b = append(p.b, '/')
	p.b = strconv.AppendInt(p.b, int64(ns), 10)
	p.b = append(p.b, '/')
	p.b = strconv.AppendInt(p.b, int64(ar), 10)
	for i := 0; i < an; i++ {
		if i > 0 {
			if cp >= len(p.msg) {
				p.trunc = true
				return
			}
			p.b = append(p.b, ',')
		}
		if cp = p.record(cp); cp == nul || p.trunc {
			p.trunc = true
			return
		}
	}
}

func appendCount(b []byte, n int, what string) []byte {
	b = append(b, " ["...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, what...)
	return append(b, ']')
}

func (p *dnsLine) query(b []byte, flags, qd, an, ns, ar int) []byte {
	if flags&0x0100 != 0 {
		b = append(b, '+')
	}
	if flags&0x0010 != 0 {
		b = append(b, '%')
	}
	if flags&0x6cf != 0 {
		b = append(b, " [b2&3=0x"...)
		b = strconv.AppendUint(b, uint64(flags), 16)
		b = append(b, ']')
	}
	if flags>>11&15 == 1 { // inverse query
		if qd != 0 {
			b = appendCount(b, qd, "q")
		}
		if an != 1 {
			b = appendCount(b, an, "a")
		}
	} else {
		if an != 0 {
			b = appendCount(b, an, "a")
		}
		if qd != 1 {
			b = appendCount(b, qd, "q")
		}
	}
	if ns != 0 {
		b = appendCount(b, ns, "n")
	}
	if ar != 0 {
		b = appendCount(b, ar, "au")
	}
	p.b = b
	cp := 12
	for i := 0; i < qd; i++ {
		if i > 0 && cp >= len(p.msg) {
			break
		}
		if cp = p.question(cp); cp == nul {
			p.trunc = true
			return p.b
		}
		if i == qd-1 {
			return p.b
		}
	}
	if qd > 0 {
		p.trunc = true
	}
	return p.b
}

// extendedRcode adds the upper bits of an EDNS OPT record's extended
// rcode, found as tcpdump finds it (the first OPT among the additional
// records; a cut or malformed message keeps the header's rcode).
func (p *dnsLine) extendedRcode(rcode, qd, anns, ar int) int {
	cp := 12
	for i := 0; i < qd; i++ {
		if cp = p.skipName(cp); cp == nul {
			return rcode
		}
		if cp += 4; cp >= len(p.msg) {
			return rcode
		}
	}
	for i := 0; i < anns; i++ {
		if cp = p.skipName(cp); cp == nul {
			return rcode
		}
		if cp += 8; cp+2 > len(p.msg) {
			return rcode
		}
		if cp += 2 + int(be.Uint16(p.msg[cp:])); cp >= len(p.msg) {
			return rcode
		}
	}
	for i := 0; i < ar; i++ {
		if cp = p.skipName(cp); cp == nul || cp+2 > len(p.msg) {
			return rcode
		}
		typ := be.Uint16(p.msg[cp:])
		if cp += 4; cp+1 > len(p.msg) {
			return rcode
		}
		if typ == 41 {
			return rcode | int(p.msg[cp])<<4
		}
		if cp += 4; cp+2 > len(p.msg) {
			return rcode
		}
		if cp += 2 + int(be.Uint16(p.msg[cp:])); cp >= len(p.msg) {
			return rcode
		}
	}
	return rcode
}

// skipName returns the offset after the name at off, or nul.
func (p *dnsLine) skipName(off int) int {
	if !p.has(off, 1) {
		return nul
	}
	i := int(p.msg[off])
	off++
	for i != 0 {
		switch i & 0xc0 {
		case 0xc0:
			return off + 1
		case 0x40:
			if i&0x3f != 1 || !p.has(off, 1) {
				return nul
			}
			bits := int(p.msg[off])
			if bits == 0 {
				bits = 256
			}
			off += 1 + (bits+7)/8
		case 0x80:
			return nul
		default:
			off += i
		}
		if !p.has(off, 1) {
			return nul
		}
		i = int(p.msg[off])
		off++
	}
	return off
}

// labelLen is tcpdump's labellen: the length of the label at off, or nul
// (with a note for label types it does not know).
func (p *dnsLine) labelLen(off int) int {
	if !p.has(off, 1) {
		return nul
	}
	i := int(p.msg[off])
	switch i & 0xc0 {
	case 0x40:
		if i&0x3f != 1 {
			p.b = append(p.b, "<ELT "...)
			p.b = strconv.AppendInt(p.b, int64(i&0x3f), 10)
			p.b = append(p.b, '>')
			return nul
		}
		if !p.has(off+1, 1) {
			return nul
		}
		bits := int(p.msg[off+1])
		if bits == 0 {
			bits = 256
		}
		return (bits+7)/8 + 1
	case 0x80:
		p.b = append(p.b, "<BAD LABEL TYPE>"...)
		return nul
	}
	return i
}

const maxDNSName = 255

// name prints the name at off as tcpdump's fqdn_print does and returns
// the offset after it (after the first pointer for compressed names), or
// nul. Pointers must point backwards, as BIND requires, so a name ends.
func (p *dnsLine) name(off int) int {
	l := p.labelLen(off)
	if l == nul {
		return nul
	}
	maxOff := off
	i := int(p.msg[off])
	off++
	rp, compressed := nul, false
	if i&0xc0 != 0xc0 {
		rp = off + l
	}
	if i == 0 {
		p.b = append(p.b, '.')
		return rp
	}
	chars := 0
	for i != 0 && off < len(p.msg) {
		switch i & 0xc0 {
		case 0xc0:
			if !compressed {
				rp, compressed = off+1, true
			}
			if !p.has(off, 1) {
				return nul
			}
			ptr := (i<<8 | int(p.msg[off])) & 0x3fff
			if ptr >= maxOff {
				p.b = append(p.b, "<BAD PTR>"...)
				return nul
			}
			maxOff, off = ptr, ptr
			i = int(p.msg[off])
			if l = p.labelLen(off); l == nul {
				return nul
			}
			off++
			continue
		case 0x40:
			if !p.bitLabel(off) {
				return nul
			}
		default:
			n := l
			if chars+l > maxDNSName {
				n = max(maxDNSName-chars, 0)
			}
			if !p.printn(off, n) {
				return nul
			}
			chars += l
		}
		off += l
		if chars <= maxDNSName {
			p.b = append(p.b, '.')
		}
		chars++
		if !p.has(off, 1) {
			return nul
		}
		i = int(p.msg[off])
		if l = p.labelLen(off); l == nul {
			return nul
		}
		off++
		if !compressed {
			rp += l + 1
		}
	}
	if chars > maxDNSName {
		p.b = append(p.b, "<DOMAIN NAME TOO LONG>"...)
	}
	return rp
}

// bitLabel prints an (obsolete) EDNS0 bit-string label at off (its
// bit count byte) as \[xHEX/BITS].
func (p *dnsLine) bitLabel(off int) bool {
	if !p.has(off, 1) {
		return false
	}
	bits := int(p.msg[off])
	if bits == 0 {
		bits = 256
	}
	lim := off + 1 + (bits+3)/4
	p.b = append(p.b, `\[x`...)
	c, rest := off+1, bits
	for ; c < lim && rest > 7; rest, c = rest-8, c+1 {
		if !p.has(c, 1) {
			return false
		}
		p.b = append(p.b, hexDigits[p.msg[c]>>4], hexDigits[p.msg[c]&15])
	}
	if rest > 0 {
		if !p.has(c, 1) {
			return false
		}
		v := p.msg[c]
		if rest > 4 {
			v &= 0xff << (8 - rest)
			p.b = append(p.b, hexDigits[v>>4], hexDigits[v&15])
		} else {
			p.b = append(p.b, hexDigits[(v>>4)&(0x0f<<(4-rest))&15])
		}
	}
	p.b = append(p.b, '/')
	p.b = strconv.AppendInt(p.b, int64(bits), 10)
	p.b = append(p.b, ']')
	return true
}

// printn prints n bytes at off as tcpdump's nd_printn: printable ASCII as
// is, others as M- and ^ escapes; false when the bytes run out.
func (p *dnsLine) printn(off, n int) bool {
	for ; n > 0; n, off = n-1, off+1 {
		if off >= len(p.msg) {
			return false
		}
		p.b = appendPrintable(p.b, p.msg[off])
	}
	return true
}

func appendPrintable(b []byte, c byte) []byte {
	if c >= 0x80 {
		c &= 0x7f
		b = append(b, "M-"...)
	}
	if c < 0x20 || c == 0x7f {
		return append(b, '^', c^0x40)
	}
	return append(b, c)
}

// question prints " TYPE[ CLASS]? NAME" and returns the offset after it.
func (p *dnsLine) question(off int) int {
	cp := p.skipName(off)
	if cp == nul || !p.has(cp, 4) {
		return nul
	}
	typ, class := int(be.Uint16(p.msg[cp:])), int(be.Uint16(p.msg[cp+2:]))
	p.b = append(p.b, ' ')
	p.b = appendDNSType(p.b, typ)
	c := class
	if p.mdns {
		c &^= 0x8000
	}
	if c != 1 {
		p.b = append(p.b, ' ')
		p.b = appendDNSClass(p.b, c)
	}
	if p.mdns {
		if class&0x8000 != 0 {
			p.b = append(p.b, " (QU)"...)
		} else {
			p.b = append(p.b, " (QM)"...)
		}
	}
	p.b = append(p.b, "? "...)
	if rp := p.name(off); rp != nul {
		return rp + 4
	}
	return nul
}

// record prints a resource record as tcpdump does without -v (" TYPE
// DATA") and returns the offset after it; len(msg) when its fixed part is
// cut (tcpdump then stops quietly), nul when its data is.
func (p *dnsLine) record(off int) int {
	cp := p.skipName(off)
	if cp == nul || !p.has(cp, 10) {
		return len(p.msg)
	}
	typ, rawClass := int(be.Uint16(p.msg[cp:])), int(be.Uint16(p.msg[cp+2:]))
	class := rawClass
	if p.mdns {
		class &^= 0x8000
	}
	if class != 1 && typ != 41 {
		p.b = append(p.b, ' ')
		p.b = appendDNSClass(p.b, class)
	}
	if p.mdns && rawClass&0x8000 != 0 {
		p.b = append(p.b, " (Cache flush)"...)
	}
	optFlags := int(be.Uint16(p.msg[cp+6:]))
	n := int(be.Uint16(p.msg[cp+8:]))
	cp += 10
	rp := cp + n
	p.b = append(p.b, ' ')
	p.b = appendDNSType(p.b, typ)
	if rp > len(p.msg) {
		return nul
	}
	ok := true
	switch typ {
	case 1: // A
		if ok = p.has(cp, 4); ok {
			p.b = append(p.b, ' ')
			p.b = appendIP(p.b, p.msg[cp:cp+4])
		}
	case 2, 5, 12, 39: // NS, CNAME, PTR, DNAME
		p.b = append(p.b, ' ')
		ok = p.name(cp) != nul
	case 15: // MX
		p.b = append(p.b, ' ')
		if ok = p.has(cp, 2) && p.name(cp+2) != nul; ok {
			p.b = append(p.b, ' ')
			p.b = strconv.AppendInt(p.b, int64(be.Uint16(p.msg[cp:])), 10)
		}
	case 16: // TXT
		for ok && cp < rp {
			p.b = append(p.b, ` "`...)
			n := p.u8(cp)
			if ok = !p.trunc && p.printn(cp+1, n); ok {
				cp += 1 + n
				p.b = append(p.b, '"')
			}
		}
	case 33: // SRV
		p.b = append(p.b, ' ')
		if ok = p.has(cp, 6) && p.name(cp+6) != nul; ok {
			p.b = append(p.b, ':')
			p.b = strconv.AppendInt(p.b, int64(be.Uint16(p.msg[cp+4:])), 10)
			p.b = append(p.b, ' ')
			p.b = strconv.AppendInt(p.b, int64(be.Uint16(p.msg[cp:])), 10)
			p.b = append(p.b, ' ')
			p.b = strconv.AppendInt(p.b, int64(be.Uint16(p.msg[cp+2:])), 10)
		}
	case 28: // AAAA
		if ok = p.has(cp, 16); ok {
			p.b = append(p.b, ' ')
			p.b = appendIP(p.b, p.msg[cp:cp+16])
		}
	case 38: // A6
		ok = p.a6(cp)
	case 256: // URI
		if ok = p.has(cp, n) && n >= 4; ok {
			p.b = append(p.b, ' ')
			p.b = strconv.AppendInt(p.b, int64(be.Uint16(p.msg[cp:])), 10)
			p.b = append(p.b, ' ')
			p.b = strconv.AppendInt(p.b, int64(be.Uint16(p.msg[cp+2:])), 10)
			p.b = append(p.b, ' ')
			ok = p.printn(cp+4, n-4)
		}
	case 41: // OPT
		ok = p.opt(cp, rp, class, optFlags)
	case 104: // UNSPECA
		ok = p.printn(cp, n)
	}
	if !ok || p.trunc {
		return nul
	}
	return rp
}

func (p *dnsLine) a6(cp int) bool {
	if !p.has(cp, 1) {
		return false
	}
	bits := int(p.msg[cp])
	if bits > 128 {
		p.b = append(p.b, ' ')
		p.b = strconv.AppendInt(p.b, int64(bits), 10)
		p.b = append(p.b, "(bad plen)"...)
		return true
	}
	pbyte := (bits &^ 7) / 8
	if bits < 128 {
		var a [16]byte
		if !p.has(cp+1, 16-pbyte) {
			return false
		}
		copy(a[pbyte:], p.msg[cp+1:cp+1+16-pbyte])
		p.b = append(p.b, ' ')
		p.b = strconv.AppendInt(p.b, int64(bits), 10)
		p.b = append(p.b, ' ')
		p.b = appendIP(p.b, a[:])
	}
	if bits > 0 {
		p.b = append(p.b, ' ')
		return p.name(cp+1+16-pbyte) != nul
	}
	return true
}

// opt prints an EDNS OPT record: UDPsize, DO and the options.
func (p *dnsLine) opt(cp, rp, size, flags int) bool {
	p.b = append(p.b, " UDPsize="...)
	p.b = strconv.AppendInt(p.b, int64(size), 10)
	if flags&0x8000 != 0 {
		p.b = append(p.b, " DO"...)
	}
	if cp >= rp {
		return true
	}
	p.b = append(p.b, " ["...)
	for cp < rp {
		if cp = p.ednsOption(cp); cp == nul {
			return false
		}
		if cp < rp {
			p.b = append(p.b, ',')
		}
	}
	p.b = append(p.b, ']')
	return true
}

var ednsOptions = map[int]string{1: "LLQ", 2: "UL", 3: "NSID", 5: "DAU", 6: "DHU", 7: "N3U", 8: "ECS",
	9: "EXPIRE", 10: "COOKIE", 11: "KEEPALIVE", 12: "PADDING", 13: "CHAIN", 14: "KEY-TAG", 16: "CLIENT-TAG", 17: "SERVER-TAG"}

func (p *dnsLine) ednsOption(cp int) int {
	if !p.has(cp, 4) {
		return nul
	}
	code, n := int(be.Uint16(p.msg[cp:])), int(be.Uint16(p.msg[cp+2:]))
	if name, ok := ednsOptions[code]; ok {
		p.b = append(p.b, name...)
	} else {
		p.b = append(p.b, "Opt"...)
		p.b = strconv.AppendInt(p.b, int64(code), 10)
	}
	cp += 4
	if !p.has(cp, n) {
		return nul
	}
	if n == 0 {
		return cp
	}
	d := p.msg[cp : cp+n]
	p.b = append(p.b, ' ')
	switch code {
	case 8:
		p.b = appendECS(p.b, d)
	case 10:
		if n < 8 || n > 8 && n < 16 || n > 40 {
			p.b = append(p.b, " (invalid)"...)
			break
		}
		p.b = appendHexBytes(p.b, d[:8])
		if n > 8 {
			p.b = append(p.b, ' ')
			p.b = appendHexBytes(p.b, d[8:])
		}
	case 11:
		if n != 2 {
			p.b = append(p.b, " (invalid)"...)
			break
		}
		p.b = strconv.AppendFloat(p.b, float64(be.Uint16(d))/10, 'f', 1, 64)
		p.b = append(p.b, " sec"...)
	case 9:
		if n != 4 {
			p.b = append(p.b, " (invalid)"...)
			break
		}
		p.b = strconv.AppendUint(p.b, uint64(be.Uint32(d)), 10)
		p.b = append(p.b, " sec"...)
	case 12:
		p.b = append(p.b, '(')
		p.b = strconv.AppendInt(p.b, int64(n), 10)
		p.b = append(p.b, ')')
	case 14:
		if n%2 != 0 {
			p.b = append(p.b, " (invalid)"...)
			break
		}
		for i := 0; i < n; i += 2 {
			if i > 0 {
				p.b = append(p.b, ' ')
			}
			p.b = strconv.AppendUint(p.b, uint64(be.Uint16(d[i:])), 10)
		}
	default:
		p.b = appendHexBytes(p.b, d)
	}
	return cp + n
}

// appendECS writes an EDNS client subnet option as ADDR/SOURCE/SCOPE.
func appendECS(b []byte, d []byte) []byte {
	if len(d) < 4 {
		return append(b, " (invalid)"...)
	}
	family, src, scope := be.Uint16(d), int(d[2]), int(d[3])
	bits := 0
	switch family {
	case 1:
		bits = 32
	case 2:
		bits = 128
	default:
		return append(b, " (invalid)"...)
	}
	if len(d)-4 > bits/8 || src > bits || scope > bits || (src+7)/8 != len(d)-4 {
		return append(b, " (invalid)"...)
	}
	var a [16]byte
	copy(a[:], d[4:])
	b = appendIP(b, a[:bits/8])
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(src), 10)
	b = append(b, '/')
	return strconv.AppendInt(b, int64(scope), 10)
}

var dnsTypes = map[int]string{1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR",
	10: "NULL", 11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT", 17: "RP", 18: "AFSDB",
	19: "X25", 20: "ISDN", 21: "RT", 22: "NSAP", 23: "NSAP_PTR", 24: "SIG", 25: "KEY", 26: "PX", 27: "GPOS",
	28: "AAAA", 29: "LOC", 30: "NXT", 31: "EID", 32: "NIMLOC", 33: "SRV", 34: "ATMA", 35: "NAPTR", 36: "KX",
	37: "CERT", 38: "A6", 39: "DNAME", 40: "SINK", 41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY",
	46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 99: "SPF", 100: "UINFO", 101: "UID", 102: "GID", 103: "UNSPEC",
	104: "UNSPECA", 249: "TKEY", 250: "TSIG", 251: "IXFR", 252: "AXFR", 253: "MAILB", 254: "MAILA", 255: "ANY",
	256: "URI"}

func appendDNSType(b []byte, t int) []byte {
	if name, ok := dnsTypes[t]; ok {
		return append(b, name...)
	}
	b = append(b, "Type"...)
	return strconv.AppendInt(b, int64(t), 10)
}

func appendDNSClass(b []byte, c int) []byte {
	switch c {
	case 1:
		return append(b, "IN"...)
	case 3:
		return append(b, "CHAOS"...)
	case 4:
		return append(b, "HS"...)
	case 255:
		return append(b, "ANY"...)
	}
	b = append(b, "(Class "...)
	b = strconv.AppendInt(b, int64(c), 10)
	return append(b, ')')
}
