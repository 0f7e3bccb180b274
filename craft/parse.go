package craft

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// ErrSpec marks every error about a spec's text or values.
var ErrSpec = errors.New("craft: bad spec")

// SpecError is a spec that does not parse or holds an impossible value: it
// names the column (1-based) and what was wrong or expected there.
type SpecError struct {
	Col int
	Msg string
}

func (e *SpecError) Error() string { return fmt.Sprintf("spec column %d: %s", e.Col, e.Msg) }

// Is lets errors.Is(err, ErrSpec) find spec errors.
func (e *SpecError) Is(target error) bool { return target == ErrSpec }

// Layer is one layer of a parsed spec.
type Layer struct {
	def  *layerDef
	col  int
	vals []Value
}

// Name is the layer's name in the spec language (ip, udp, ...).
func (l *Layer) Name() string { return l.def.name }

// Spec is a parsed packet spec.
type Spec struct {
	Text   string
	Layers []*Layer
	multi  []*Value // fields that take several values, outermost first
	rands  []*randField
	total  uint64
}

type randField struct {
	v   *Value
	max uint64
}

// MaxPackets bounds how many packets one spec may expand to.
const MaxPackets = 1 << 32

// Parse parses a spec. Errors are *SpecError (errors.Is ErrSpec).
func Parse(text string) (*Spec, error) {
	p := parser{s: text}
	s := &Spec{Text: text}
	for {
		p.space()
		l, err := p.layer()
		if err != nil {
			return nil, err
		}
		s.Layers = append(s.Layers, l)
		p.space()
		if p.eof() {
			break
		}
		if p.peek() != '/' {
			return nil, p.errf(p.col(), "expected '/' and the next layer, or the end of the spec, after %s", l.def.name)
		}
		p.pos++
	}
	if err := s.checkOrder(); err != nil {
		return nil, err
	}
	if err := s.index(); err != nil {
		return nil, err
	}
	return s, nil
}

type parser struct {
	s   string
	pos int
	ord int
}

func (p *parser) eof() bool  { return p.pos >= len(p.s) }
func (p *parser) peek() byte { return p.s[p.pos] }
func (p *parser) col() int   { return p.pos + 1 }

func (p *parser) space() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t' || p.peek() == '\n') {
		p.pos++
	}
}

func (p *parser) errf(col int, format string, args ...any) error {
	return &SpecError{Col: col, Msg: fmt.Sprintf(format, args...)}
}

func isIdentByte(c byte, first bool) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || !first && c >= '0' && c <= '9'
}

func (p *parser) ident() string {
	start := p.pos
	for !p.eof() && isIdentByte(p.peek(), p.pos == start) {
		p.pos++
	}
	return p.s[start:p.pos]
}

func (p *parser) layer() (*Layer, error) {
	col := p.col()
	name := p.ident()
	if name == "" {
		if p.eof() {
			return nil, p.errf(col, "expected a layer (%s)", layerNames())
		}
		return nil, p.errf(col, "expected a layer (%s), found %q", layerNames(), p.s[p.pos:p.pos+1])
	}
	def := lookupLayer(strings.ToLower(name))
	if def == nil {
		return nil, p.errf(col, "unknown layer %q (layers: %s)", name, layerNames())
	}
	l := &Layer{def: def, col: col, vals: make([]Value, len(def.fields))}
	p.space()
	if p.eof() || p.peek() != '(' {
		return l, nil
	}
	open := p.col()
	p.pos++
	return l, p.items(l, open)
}

// items parses "field=value, flag, value-continuation, ..." up to ')'.
func (p *parser) items(l *Layer, open int) error {
	last := -1
	for {
		p.space()
		if p.eof() {
			return p.errf(p.col(), "expected a field or ')' to close the '(' at column %d", open)
		}
		if p.peek() == ')' {
			p.pos++
			return nil
		}
		start := p.pos
		tok, err := p.token()
		if err != nil {
			return err
		}
		if err := p.item(l, start, tok, &last); err != nil {
			return err
		}
		p.space()
		switch {
		case p.eof():
			return p.errf(p.col(), "expected ',' or ')' to close the '(' at column %d", open)
		case p.peek() == ',':
			p.pos++
		case p.peek() == ')':
			p.pos++
			return nil
		default:
			return p.errf(p.col(), "expected ',' or ')', found %q", p.s[p.pos:p.pos+1])
		}
	}
}

// token reads up to the next ',' or ')' outside double quotes.
func (p *parser) token() (string, error) {
	start := p.pos
	for !p.eof() {
		c := p.peek()
		if c == ',' || c == ')' {
			break
		}
		if c == '(' {
			return "", p.errf(p.col(), "expected ',' or ')', found '('")
		}
		if c == '"' {
			q := p.col()
			p.pos++
			for !p.eof() && p.peek() != '"' {
				if p.peek() == '\\' {
					p.pos++
				}
				p.pos++
			}
			if p.eof() {
				return "", p.errf(q, "unterminated string")
			}
		}
		p.pos++
	}
	return strings.TrimRight(p.s[start:p.pos], " \t\n"), nil
}

func (p *parser) item(l *Layer, start int, tok string, last *int) error {
	col := start + 1
	def := l.def
	if eq := strings.IndexByte(tok, '='); eq >= 0 && !strings.HasPrefix(tok, "\"") {
		name := strings.TrimSpace(tok[:eq])
		fi := p.fieldIndex(def, name, col)
		if fi < 0 {
			return p.unknownField(def, name, col)
		}
		if l.vals[fi].set {
			return p.errf(col, "%s.%s given twice", def.name, def.fields[fi].name)
		}
		vcol := col + eq + 1
		for vcol-1 < len(p.s) && p.s[vcol-1] == ' ' {
			vcol++
		}
		v := &l.vals[fi]
		v.col = vcol
		p.ord++
		v.ord = p.ord
		if err := parseValue(def, fi, strings.TrimSpace(tok[eq+1:]), vcol, v); err != nil {
			return err
		}
		v.set = true
		*last = fi
		return nil
	}
	word := strings.TrimSpace(tok)
	if fi := p.flagIndex(def, word); fi >= 0 {
		v := &l.vals[fi]
		if v.set {
			return p.errf(col, "%s.%s given twice", def.name, def.fields[fi].name)
		}
		p.ord++
		*v = Value{set: true, col: col, ord: p.ord, nums: []span{{1, 1}}, count: 1}
		*last = -1
		return nil
	}
	if fi := def.field(strings.ToLower(word)); fi >= 0 {
		return p.errf(col, "%s.%s needs a value: %s=...", def.name, def.fields[fi].name, def.fields[fi].name)
	}
	if *last >= 0 && continues(def.fields[*last].kind) && word != "" {
		v := &l.vals[*last]
		if v.rand {
			return p.errf(col, "%s.%s: rand cannot be part of a list", def.name, def.fields[*last].name)
		}
		return addAlternative(def, *last, word, col, v)
	}
	if word == "" {
		return p.errf(col, "expected a field of %s (%s)", def.name, def.fieldNames())
	}
	return p.unknownField(def, word, col)
}

func (p *parser) fieldIndex(def *layerDef, name string, col int) int {
	return def.field(strings.ToLower(name))
}

// flagIndex finds a bare flag: a kFlag field, or tcp's "ack" (the ACK flag
// when bare, the acknowledgment number as ack=N).
func (p *parser) flagIndex(def *layerDef, word string) int {
	w := strings.ToLower(word)
	if def.kind == lTCP && w == "ack" {
		return tcpACK
	}
	fi := def.field(w)
	if fi >= 0 && def.fields[fi].kind == kFlag {
		return fi
	}
	return -1
}

func (p *parser) unknownField(def *layerDef, name string, col int) error {
	if !isIdent(name) {
		return p.errf(col, "expected field=value in %s, found %q", def.name, name)
	}
	return p.errf(col, "unknown field %q for %s (fields: %s)", name, def.name, def.fieldNames())
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

// continues reports whether a field of this kind takes a list: bare items
// after it are more alternatives (dport=53,80,443).
func continues(k kind) bool {
	return k == kUint || k == kAddr4 || k == kAddr6 || k == kTCPFlags || k == kIPFlags
}

func valueErr(def *layerDef, fi int, col int, format string, args ...any) error {
	return &SpecError{Col: col, Msg: def.name + "." + def.fields[fi].name + ": " + fmt.Sprintf(format, args...)}
}

// parseValue parses the text after "field=".
func parseValue(def *layerDef, fi int, text string, col int, v *Value) error {
	fd := def.fields[fi]
	if text == "" {
		return valueErr(def, fi, col, "missing value")
	}
	switch fd.kind {
	case kUint:
		if strings.EqualFold(text, "rand") {
			v.rand = true
			return nil
		}
	case kFlag:
		switch strings.ToLower(text) {
		case "1", "true", "yes", "on":
			v.nums, v.count = []span{{1, 1}}, 1
		case "0", "false", "no", "off":
			v.nums, v.count = []span{{0, 0}}, 1
		default:
			return valueErr(def, fi, col, "%q is not 0 or 1", text)
		}
		return nil
	case kMAC:
		hw, err := net.ParseMAC(text)
		if err != nil || len(hw) != 6 {
			return valueErr(def, fi, col, "%q is not a MAC address like 02:00:00:00:00:01", text)
		}
		v.bytes, v.count = hw, 1
		return nil
	case kBytes:
		b, err := ParseHex(text)
		if err != nil {
			return valueErr(def, fi, col, "%v", err)
		}
		v.bytes, v.count = b, 1
		return nil
	case kText:
		s := text
		if strings.HasPrefix(text, "\"") {
			u, err := strconv.Unquote(text)
			if err != nil {
				return valueErr(def, fi, col, "bad quoted text: %v", err)
			}
			s = u
		}
		v.bytes, v.count = []byte(s), 1
		return nil
	case kPath:
		name := text
		if u, err := strconv.Unquote(text); err == nil {
			name = u
		}
		b, err := readPayloadFile(name)
		if err != nil {
			return valueErr(def, fi, col, "%v", err)
		}
		v.bytes, v.count = b, 1
		return nil
	case kSack:
		return parseSack(def, fi, text, col, v)
	case kStamp:
		return parseStamp(def, fi, text, col, v)
	case kAddrs6:
		return parseAddrs6(def, fi, text, col, v)
	}
	return addAlternative(def, fi, text, col, v)
}

// addAlternative adds one list item (a number, range, address, prefix or
// flag set) to a value.
func addAlternative(def *layerDef, fi int, text string, col int, v *Value) error {
	fd := def.fields[fi]
	if strings.EqualFold(text, "rand") {
		return valueErr(def, fi, col, "rand cannot be part of a list")
	}
	var n uint64
	switch fd.kind {
	case kUint:
		s, err := parseSpan(text, fd.max)
		if err != nil {
			return valueErr(def, fi, col, "%v", err)
		}
		v.nums = append(v.nums, s)
		n = s.size()
	case kTCPFlags:
		x, err := parseTCPFlags(text)
		if err != nil {
			return valueErr(def, fi, col, "%v", err)
		}
		v.nums = append(v.nums, span{x, x})
		n = 1
	case kIPFlags:
		x, err := parseIPFlags(text)
		if err != nil {
			return valueErr(def, fi, col, "%v", err)
		}
		v.nums = append(v.nums, span{x, x})
		n = 1
	case kAddr4, kAddr6:
		pfx, zone, err := parsePrefix(text, fd.kind == kAddr6)
		if err != nil {
			return valueErr(def, fi, col, "%v", err)
		}
		v.pfx = append(v.pfx, pfx)
		if zone != "" {
			v.zone = zone
		}
		n = prefixSize(pfx)
	default:
		return valueErr(def, fi, col, "takes one value")
	}
	if v.count+n < v.count || v.count+n > MaxPackets {
		return valueErr(def, fi, col, "more than %d values", uint64(MaxPackets))
	}
	v.count += n
	return nil
}

func parseNumber(s string) (uint64, error) {
	x, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return x, nil
}

func parseSpan(text string, max uint64) (span, error) {
	lo, hi := text, text
	if i := strings.Index(text, ".."); i >= 0 {
		lo, hi = strings.TrimSpace(text[:i]), strings.TrimSpace(text[i+2:])
	}
	a, err := parseNumber(lo)
	if err != nil {
		return span{}, err
	}
	b, err := parseNumber(hi)
	if err != nil {
		return span{}, err
	}
	if a > max || b > max {
		return span{}, fmt.Errorf("%s is out of range 0..%d", text, max)
	}
	if a > b {
		return span{}, fmt.Errorf("range %s runs backwards", text)
	}
	return span{a, b}, nil
}

// TCP flag bits as they sit in the 9 flag bits of the header.
const (
	flagFIN = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
	flagURG
	flagECE
	flagCWR
	flagNS
)

func parseTCPFlags(s string) (uint64, error) {
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		x, err := parseNumber(s)
		if err != nil || x > 0x1ff {
			return 0, fmt.Errorf("%q is not flag letters (FSRPAUECN) or a number 0..0x1ff", s)
		}
		return x, nil
	}
	var x uint64
	for _, c := range strings.ToUpper(s) {
		i := strings.IndexRune("FSRPAUECN", c)
		if i < 0 {
			return 0, fmt.Errorf("%q is not flag letters (F S R P A U E C N) or a number", s)
		}
		x |= 1 << i
	}
	return x, nil
}

func parseIPFlags(s string) (uint64, error) {
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		x, err := parseNumber(s)
		if err != nil || x > 7 {
			return 0, fmt.Errorf("%q is not DF, MF, evil (joined with +) or a number 0..7", s)
		}
		return x, nil
	}
	var x uint64
	for _, part := range strings.Split(s, "+") {
		switch strings.ToLower(strings.TrimSpace(part)) {
		case "df":
			x |= 2
		case "mf":
			x |= 1
		case "evil", "rb", "reserved":
			x |= 4
		case "", "none":
		default:
			return 0, fmt.Errorf("%q is not DF, MF, evil (joined with +) or a number 0..7", s)
		}
	}
	return x, nil
}

// maxPrefixAddrs bounds what one prefix may expand to.
const maxPrefixAddrs = 1 << 24

// parsePrefix parses an address or a prefix; an IPv6 address may name
// its zone (fe80::1%eth0), which is returned apart.
func parsePrefix(text string, v6 bool) (pfx netip.Prefix, zone string, err error) {
	pfx, err = parsePrefixOnly(text, v6)
	if err == nil && !strings.Contains(text, "/") {
		_, zone, _ = strings.Cut(text, "%")
	}
	return pfx, zone, err
}

func parsePrefixOnly(text string, v6 bool) (netip.Prefix, error) {
	fam := "IPv4"
	if v6 {
		fam = "IPv6"
	}
	var pfx netip.Prefix
	if strings.Contains(text, "/") {
		p, err := netip.ParsePrefix(text)
		if err != nil {
			return pfx, fmt.Errorf("%q is not an %s address or prefix", text, fam)
		}
		pfx = p.Masked()
	} else {
		a, err := netip.ParseAddr(text)
		if err != nil {
			return pfx, fmt.Errorf("%q is not an %s address", text, fam)
		}
		pfx = netip.PrefixFrom(a.WithZone(""), a.BitLen())
	}
	if pfx.Addr().Is6() != v6 || pfx.Addr().Is4In6() {
		return pfx, fmt.Errorf("%q is not an %s address", text, fam)
	}
	if prefixSize(pfx) > maxPrefixAddrs {
		return pfx, fmt.Errorf("%s has more than %d addresses", text, maxPrefixAddrs)
	}
	return pfx, nil
}

// ParseHex reads bytes written in hex: separators (space, tab, newline,
// ':', '-', '.', ',') and a 0x prefix on any group are allowed. Errors say
// which byte is not hex, or that the digits are odd in number.
func ParseHex(s string) ([]byte, error) {
	var clean []byte
	for _, tok := range strings.FieldsFunc(s, isHexSeparator) {
		tok = strings.TrimPrefix(strings.TrimPrefix(tok, "0x"), "0X")
		clean = append(clean, tok...)
	}
	if len(clean)%2 == 1 {
		return nil, fmt.Errorf("odd number of digits (%d) in hex %q", len(clean), s)
	}
	b := make([]byte, len(clean)/2)
	if _, err := hex.Decode(b, clean); err != nil {
		for k := 0; k+1 < len(clean); k += 2 {
			if _, e := hex.DecodeString(string(clean[k : k+2])); e != nil {
				return nil, fmt.Errorf("byte %d: %q is not hex", k/2, clean[k:k+2])
			}
		}
		return nil, fmt.Errorf("%q is not hex", s)
	}
	return b, nil
}

func isHexSeparator(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == ':' || r == '-' || r == '.' || r == ','
}

func parseSack(def *layerDef, fi int, text string, col int, v *Value) error {
	parts := strings.Split(text, ";")
	if len(parts) > 4 {
		return valueErr(def, fi, col, "at most 4 blocks")
	}
	b := make([]byte, 0, 8*len(parts))
	for _, part := range parts {
		l, r, ok := strings.Cut(strings.TrimSpace(part), ":")
		x, e1 := parseNumber(l)
		y, e2 := parseNumber(r)
		if !ok || e1 != nil || e2 != nil || x > 0xffffffff || y > 0xffffffff {
			return valueErr(def, fi, col, "%q is not left:right (32-bit numbers)", part)
		}
		b = append(b, byte(x>>24), byte(x>>16), byte(x>>8), byte(x), byte(y>>24), byte(y>>16), byte(y>>8), byte(y))
	}
	v.bytes, v.count = b, 1
	return nil
}

func parseStamp(def *layerDef, fi int, text string, col int, v *Value) error {
	a, b, ok := strings.Cut(text, ":")
	x, e1 := parseNumber(a)
	y, e2 := parseNumber(b)
	if !ok || e1 != nil || e2 != nil || x > 0xffffffff || y > 0xffffffff {
		return valueErr(def, fi, col, "%q is not value:echo (32-bit numbers)", text)
	}
	v.bytes = []byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x), byte(y >> 24), byte(y >> 16), byte(y >> 8), byte(y)}
	v.count = 1
	return nil
}

func parseAddrs6(def *layerDef, fi int, text string, col int, v *Value) error {
	parts := strings.Split(text, ";")
	if len(parts) > 127 {
		return valueErr(def, fi, col, "at most 127 addresses")
	}
	b := make([]byte, 0, 16*len(parts))
	for _, part := range parts {
		a, err := netip.ParseAddr(strings.TrimSpace(part))
		if err != nil || !a.Is6() || a.Is4In6() {
			return valueErr(def, fi, col, "%q is not an IPv6 address", part)
		}
		x := a.As16()
		b = append(b, x[:]...)
	}
	v.bytes, v.count = b, 1
	return nil
}

// readPayloadFile reads a regular file of at most 65535 bytes (an IP
// packet holds no more).
func readPayloadFile(name string) ([]byte, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > 65535 {
		return nil, fmt.Errorf("%s: want a regular file of at most 65535 bytes", name)
	}
	return os.ReadFile(name)
}
