package craft

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/inet"
)

// Env is what a spec's defaults come from besides the spec itself: the
// source addresses the route to the destination uses and, for frames, the
// interface's MAC and the next hop's.
type Env struct {
	Src4, Src6     netip.Addr
	SrcMAC, DstMAC net.HardwareAddr
}

// Builder writes the packets of a spec. It is not safe for concurrent use.
type Builder struct {
	spec  *Spec
	env   Env
	r     rng
	sport uint16 // one random source port per run
	seq   uint32 // one random TCP sequence number per run
	id    uint16 // one random ICMP id per run
	ipID  uint16 // one random IPv4 id per run, unless idPerPacket
	// idPerPacket draws a new IPv4 id for every packet, as fragmenting
	// needs (a receiver reassembles by id).
	idPerPacket bool
	n           uint64 // packets built so far: the default ICMP sequence number
	// now is the clock of the ICMP timestamp defaults (time.Now; fixed in
	// tests).
	now   func() time.Time
	offs  []int
	hlens []int
}

// NewBuilder returns a Builder for spec with seed for its random values
// (0: from the clock).
func NewBuilder(spec *Spec, env Env, seed uint64) *Builder {
	if seed == 0 {
		seed = uint64(time.Now().UnixNano()) | 1
	}
	b := &Builder{spec: spec, env: env, r: rng{s: seed}, now: time.Now}
	b.sport = uint16(32768 + b.r.upTo(28231))
	b.seq = uint32(b.r.next())
	b.id = uint16(b.r.next())
	b.ipID = uint16(b.r.next())
	b.offs = make([]int, len(spec.Layers))
	b.hlens = make([]int, len(spec.Layers))
	return b
}

// Spec is the spec the Builder builds.
func (b *Builder) Spec() *Spec { return b.spec }

// Build appends packet i of the expansion (i modulo Count) to dst[:0] and
// returns it. Random fields get fresh values on every call; the default
// ICMP sequence number counts the calls.
func (b *Builder) Build(dst []byte, i uint64) []byte {
	s := b.spec
	s.pick(i % s.total)
	s.draw(&b.r)
	pkt := dst[:0]
	for k, l := range s.Layers {
		b.offs[k] = len(pkt)
		pkt = b.write(pkt, k, l)
		b.hlens[k] = len(pkt) - b.offs[k]
	}
	for k := len(s.Layers) - 1; k >= 0; k-- {
		b.finish(pkt, k)
	}
	b.n++
	return pkt
}

// next is the kind of the layer after k, or -1 at the end.
func (b *Builder) next(k int) int {
	if k+1 < len(b.spec.Layers) {
		return int(b.spec.Layers[k+1].def.kind)
	}
	return -1
}

// protoFor is the IP protocol (next header) number for a following layer.
func protoFor(next int, v6 bool) uint8 {
	switch layerKind(next) {
	case lIP:
		return 4
	case lIP6:
		return 41
	case lHBH:
		return 0
	case lDstOpt:
		return 60
	case lRouting:
		return 43
	case lFrag6:
		return 44
	case lICMP:
		return 1
	case lICMP6:
		return 58
	case lUDP:
		return 17
	case lTCP:
		return 6
	}
	if v6 {
		return 59 // no next header
	}
	return 253 // RFC 3692 experimentation
}

func etherType(next int) uint16 {
	switch layerKind(next) {
	case lVLAN:
		return 0x8100
	case lIP:
		return 0x0800
	case lIP6:
		return 0x86dd
	}
	return 0x88b5 // IEEE local experimental
}

// num is a field's current number, or def when the spec leaves it out.
func num(l *Layer, fi int, def uint64) uint64 {
	if v := &l.vals[fi]; v.set {
		return v.cur
	}
	return def
}

func given(l *Layer, fi int) bool { return l.vals[fi].set }

func be16(b []byte, x uint64) []byte { return binary.BigEndian.AppendUint16(b, uint16(x)) }
func be32(b []byte, x uint64) []byte { return binary.BigEndian.AppendUint32(b, uint32(x)) }

func (b *Builder) write(p []byte, k int, l *Layer) []byte {
	switch l.def.kind {
	case lEth:
		return b.writeEth(p, k, l)
	case lVLAN:
		tci := num(l, vlanPCP, 0)<<13 | num(l, vlanDEI, 0)<<12 | num(l, vlanID, 0)
		p = be16(p, tci)
		return be16(p, num(l, vlanType, uint64(etherType(b.next(k)))))
	case lIP:
		return b.writeIP(p, k, l)
	case lIP6:
		return b.writeIP6(p, k, l)
	case lHBH, lDstOpt:
		return b.writeOptions(p, k, l)
	case lRouting:
		return b.writeRouting(p, k, l)
	case lFrag6:
		p = append(p, byte(num(l, fragNH, uint64(protoFor(b.next(k), true)))), 0)
		p = be16(p, num(l, fragOffset, 0)<<3|num(l, fragRes, 0)<<1|num(l, fragM, 0))
		return be32(p, num(l, fragID, b.r.next()))
	case lICMP:
		return b.writeICMP(p, l)
	case lICMP6:
		return b.writeICMP6(p, k, l)
	case lUDP:
		p = be16(p, num(l, udpSport, uint64(b.sport)))
		p = be16(p, num(l, udpDport, 53))
		p = be16(p, num(l, udpLen, 0))
		return be16(p, num(l, udpChksum, 0))
	case lTCP:
		return b.writeTCP(p, l)
	case lRaw:
		return b.writeRaw(p, l)
	}
	return p
}

func (b *Builder) writeEth(p []byte, k int, l *Layer) []byte {
	p = appendMAC(p, l, ethDst, b.env.DstMAC)
	p = appendMAC(p, l, ethSrc, b.env.SrcMAC)
	return be16(p, num(l, ethType, uint64(etherType(b.next(k)))))
}

func appendMAC(p []byte, l *Layer, fi int, def net.HardwareAddr) []byte {
	if v := &l.vals[fi]; v.set {
		return append(p, v.bytes...)
	}
	var zero [6]byte
	if len(def) == 6 {
		return append(p, def...)
	}
	return append(p, zero[:]...)
}

// addr is an address field's current value, or def.
func addr(l *Layer, fi int, def netip.Addr) netip.Addr {
	if v := &l.vals[fi]; v.set {
		return v.addr
	}
	return def
}

func (b *Builder) writeIP(p []byte, k int, l *Layer) []byte {
	start := len(p)
	tos := num(l, ipDSCP, 0)<<2 | num(l, ipECN, 0)
	flags := num(l, ipEvil, 0)<<2 | num(l, ipDF, 0)<<1 | num(l, ipMF, 0)
	p = append(p, 0, byte(num(l, ipTOS, tos)))
	p = be16(p, num(l, ipLen, 0))
	id := uint64(b.ipID)
	if b.idPerPacket {
		id = b.r.upTo(0xffff)
	}
	p = be16(p, num(l, ipID, id))
	p = be16(p, num(l, ipFlags, flags)<<13|num(l, ipFrag, 0))
	p = append(p, byte(num(l, ipTTL, 64)), byte(num(l, ipProto, uint64(protoFor(b.next(k), false)))), 0, 0)
	if v := &l.vals[ipChksum]; v.set {
		binary.BigEndian.PutUint16(p[start+10:], uint16(v.cur))
	}
	src := addr(l, ipSrc, b.env.Src4)
	if !src.Is4() {
		src = netip.IPv4Unspecified()
	}
	s4, d4 := src.As4(), addr(l, ipDst, netip.IPv4Unspecified()).As4()
	p = append(append(p, s4[:]...), d4[:]...)
	p = b.ipOptions(p, l)
	p[start] = byte(num(l, ipVersion, 4)<<4 | num(l, ipIHL, uint64(len(p)-start)/4)&0xf)
	return p
}

// ipOptions appends record route, timestamp and raw options, padded with
// end-of-options bytes to a multiple of 4.
func (b *Builder) ipOptions(p []byte, l *Layer) []byte {
	start := len(p)
	if given(l, ipRR) {
		n := int(l.vals[ipRR].cur)
		p = append(p, 7, byte(3+4*n), 4)
		p = extend(p, 4*n)
	}
	if given(l, ipTS) {
		n := int(l.vals[ipTS].cur)
		p = append(p, 68, byte(4+4*n), 5, 0)
		p = extend(p, 4*n)
	}
	if given(l, ipOpts) {
		p = append(p, l.vals[ipOpts].bytes...)
	}
	for (len(p)-start)%4 != 0 {
		p = append(p, 0)
	}
	return p
}

func (b *Builder) writeIP6(p []byte, k int, l *Layer) []byte {
	tc := num(l, ip6TC, num(l, ip6DSCP, 0)<<2|num(l, ip6ECN, 0))
	p = be32(p, num(l, ip6Version, 6)<<28|(tc&0xff)<<20|num(l, ip6FL, 0))
	p = be16(p, num(l, ip6Plen, 0))
	p = append(p, byte(num(l, ip6NH, uint64(protoFor(b.next(k), true)))), byte(num(l, ip6Hlim, b.hopLimit(k))))
	src := addr(l, ip6Src, b.env.Src6)
	if !src.Is6() {
		src = netip.IPv6Unspecified()
	}
	s6, d6 := src.As16(), addr(l, ip6Dst, netip.IPv6Unspecified()).As16()
	return append(append(p, s6[:]...), d6[:]...)
}

// writeOptions writes a hop-by-hop or destination options header: router
// alert and raw options, then padding (Pad1/PadN) to a multiple of 8.
func (b *Builder) writeOptions(p []byte, k int, l *Layer) []byte {
	start := len(p)
	p = append(p, byte(num(l, optNH, uint64(protoFor(b.next(k), true)))), 0)
	if given(l, optRA) {
		p = append(p, 5, 2)
		p = be16(p, l.vals[optRA].cur)
	}
	if given(l, optOpts) {
		p = append(p, l.vals[optOpts].bytes...)
	}
	pad := (8 - (len(p)-start)%8) % 8
	if given(l, optPad) {
		pad = int(l.vals[optPad].cur)
	}
	p = appendPad(p, pad)
	p[start+1] = byte(num(l, optLen, uint64((len(p)-start+7)/8-1)))
	return p
}

// appendPad appends n bytes of IPv6 option padding.
func appendPad(p []byte, n int) []byte {
	for n > 0 {
		if n == 1 {
			return append(p, 0)
		}
		m := min(n, 257)
		p = append(p, 1, byte(m-2))
		p = extend(p, m-2)
		n -= m
	}
	return p
}

func (b *Builder) writeRouting(p []byte, k int, l *Layer) []byte {
	addrs := l.vals[rtAddrs].bytes
	data := []byte{0, 0, 0, 0}
	if given(l, rtData) {
		data = l.vals[rtData].bytes
	}
	n := len(addrs) / 16
	size := 4 + len(data) + len(addrs)
	p = append(p, byte(num(l, rtNH, uint64(protoFor(b.next(k), true)))), byte(num(l, rtLen, uint64((size+7)/8-1))))
	p = append(p, byte(num(l, rtType, 0)), byte(num(l, rtSegs, uint64(n))))
	p = append(p, data...)
	p = append(p, addrs...)
	for size%8 != 0 {
		p = append(p, 0)
		size++
	}
	return p
}

// icmpHead writes the type, code and checksum (zero unless given) that
// ICMP and ICMPv6 share; done is true when rest= has written the other 4.
func icmpHead(p []byte, l *Layer, defType uint64) (_ []byte, typ uint64, done bool) {
	start := len(p)
	typ = num(l, icmpType, defType)
	p = append(p, byte(typ), byte(num(l, icmpCode, 0)), 0, 0)
	if v := &l.vals[icmpChksum]; v.set {
		binary.BigEndian.PutUint16(p[start+2:], uint16(v.cur))
	}
	if v := &l.vals[icmpRest]; v.set {
		return append(p, fit4(v.bytes)...), typ, true
	}
	return p, typ, false
}

func (b *Builder) writeICMP(p []byte, l *Layer) []byte {
	p, typ, done := icmpHead(p, l, 8)
	if !done {
		p = b.icmpRest(p, l, typ)
	}
	switch typ {
	case icmpmsg.TypeTimestampRequest4, icmpmsg.TypeTimestampReply4: // originate, receive, transmit (RFC 792)
		now := b.msSinceMidnight()
		rx := uint64(0)
		if typ == icmpmsg.TypeTimestampReply4 {
			rx = now
		}
		p = be32(p, num(l, icmpOrig, now))
		p = be32(p, num(l, icmpRecv, rx))
		return be32(p, num(l, icmpXmit, rx))
	case icmpmsg.TypeAddrMaskRequest4, icmpmsg.TypeAddrMaskReply4: // RFC 950
		m := addr(l, icmpMask, netip.IPv4Unspecified()).As4()
		return append(p, m[:]...)
	}
	return p
}

// msSinceMidnight is the time as ICMP timestamps give it: milliseconds
// since midnight UT.
func (b *Builder) msSinceMidnight() uint64 {
	t := b.now().UTC()
	return uint64(t.Unix()%86400)*1000 + uint64(t.Nanosecond()/1e6)
}

// icmpRest writes the 4 bytes after the ICMPv4 checksum.
func (b *Builder) icmpRest(p []byte, l *Layer, typ uint64) []byte {
	switch {
	case icmpmsg.Classify(false, uint8(typ)).HasIDSeq(): // echoes and queries
		p = be16(p, num(l, icmpID, uint64(b.id)))
		return be16(p, num(l, icmpSeq, b.n&0xffff))
	case typ == icmpmsg.TypeRedirect4:
		gw := addr(l, icmpGW, netip.IPv4Unspecified()).As4()
		return append(p, gw[:]...)
	case typ == icmpmsg.TypeParamProblem4:
		return append(p, byte(num(l, icmpPtr, 0)), byte(num(l, icmpLen, 0)), 0, 0)
	}
	p = append(p, 0, byte(num(l, icmpLen, 0)))
	return be16(p, num(l, icmpMTU, 0))
}

func (b *Builder) writeICMP6(p []byte, k int, l *Layer) []byte {
	p, typ, done := icmpHead(p, l, 128)
	if !done {
		p = b.icmp6Rest(p, k, l, typ)
	}
	src, dst := b.ip6Addrs(p, k)
	switch typ {
	case icmpmsg.TypeRouterSolicit6: // options only
		if !src.IsUnspecified() {
			p = b.linkAddrOption(p, l, icmp6SLL, icmpmsg.OptSourceLinkAddr)
		}
	case icmpmsg.TypeNeighborSolicit6: // target, source link-layer address
		t := addr(l, icmp6Target, dst).As16()
		p = append(p, t[:]...)
		if !src.IsUnspecified() {
			p = b.linkAddrOption(p, l, icmp6SLL, icmpmsg.OptSourceLinkAddr)
		}
	case icmpmsg.TypeNeighborAdvert6: // target, target link-layer address
		t := addr(l, icmp6Target, src).As16()
		p = append(p, t[:]...)
		p = b.linkAddrOption(p, l, icmp6TLL, icmpmsg.OptTargetLinkAddr)
	}
	return p
}

// icmp6Rest writes the 4 bytes after the ICMPv6 checksum.
func (b *Builder) icmp6Rest(p []byte, k int, l *Layer, typ uint64) []byte {
	switch {
	case icmpmsg.Classify(true, uint8(typ)).HasIDSeq(): // echoes
		p = be16(p, num(l, icmpID, uint64(b.id)))
		return be16(p, num(l, icmpSeq, b.n&0xffff))
	case typ == icmpmsg.TypePacketTooBig6:
		return be32(p, num(l, icmpMTU, 1280))
	case typ == icmpmsg.TypeParamProblem6:
		return be32(p, num(l, icmpPtr, 0))
	case typ == icmpmsg.TypeNeighborAdvert6:
		_, dst := b.ip6Addrs(p, k)
		sol := uint64(0)
		if !dst.IsMulticast() {
			sol = 1
		}
		flags := num(l, icmp6Router, 0)<<7 | num(l, icmp6Solicited, sol)<<6 | num(l, icmp6Override, 1)<<5
		return append(p, byte(flags), 0, 0, 0)
	}
	return append(p, byte(num(l, icmpLen, 0)), 0, 0, 0)
}

// linkAddrOption appends a neighbour discovery link-layer address option
// (source or target): the field's MAC, else the interface's when
// it is known, else nothing.
func (b *Builder) linkAddrOption(p []byte, l *Layer, fi int, typ byte) []byte {
	mac := b.env.SrcMAC
	if v := &l.vals[fi]; v.set {
		mac = v.bytes
	}
	if len(mac) != 6 {
		return p
	}
	return icmpmsg.AppendLinkAddrOption(p, typ, mac)
}

// ip6Addrs are the addresses of the IPv6 header nearest before layer k,
// as written (so given and default addresses alike).
func (b *Builder) ip6Addrs(p []byte, k int) (src, dst netip.Addr) {
	for j := k - 1; j >= 0; j-- {
		if b.spec.Layers[j].def.kind == lIP6 {
			off := b.offs[j]
			return netip.AddrFrom16([16]byte(p[off+8 : off+24])), netip.AddrFrom16([16]byte(p[off+24 : off+40]))
		}
	}
	return netip.IPv6Unspecified(), netip.IPv6Unspecified()
}

// hopLimit is the default hop limit of the IPv6 header at layer k: 255
// when it carries neighbour discovery, which receivers drop otherwise
// (RFC 4861), else 64.
func (b *Builder) hopLimit(k int) uint64 {
	for _, l := range b.spec.Layers[k+1:] {
		switch l.def.kind {
		case lHBH, lDstOpt, lRouting, lFrag6:
			continue
		case lICMP6:
			if t := num(l, icmpType, 128); t >= 133 && t <= 137 {
				return 255
			}
		}
		return 64
	}
	return 64
}

// clocked reports whether a packet's bytes depend on the time it is built
// (the default ICMP timestamps), so that it cannot be built once for all.
func (b *Builder) clocked() bool {
	for _, l := range b.spec.Layers {
		if l.def.kind == lICMP && mayBe(l, icmpType, 8, 13, 14) &&
			!(given(l, icmpOrig) && given(l, icmpRecv) && given(l, icmpXmit)) {
			return true
		}
	}
	return false
}

// mayBe reports whether number field fi of l can take one of want in some
// packet (def when the spec leaves it out).
func mayBe(l *Layer, fi int, def uint64, want ...uint64) bool {
	v := &l.vals[fi]
	if !v.set {
		return slices.Contains(want, def)
	}
	if v.rand {
		return true
	}
	for _, s := range v.nums {
		for _, w := range want {
			if w >= s.lo && w <= s.hi {
				return true
			}
		}
	}
	return false
}

// fit4 pads or cuts b to 4 bytes.
func fit4(b []byte) []byte {
	var x [4]byte
	copy(x[:], b)
	return x[:]
}

func (b *Builder) writeTCP(p []byte, l *Layer) []byte {
	start := len(p)
	p = be16(p, num(l, tcpSport, uint64(b.sport)))
	p = be16(p, num(l, tcpDport, 80))
	p = be32(p, num(l, tcpSeq, uint64(b.seq)))
	p = be32(p, num(l, tcpAck, 0))
	flags := tcpFlagBits(l)
	p = be16(p, num(l, tcpRes, 0)<<9|flags&0x1ff)
	p = be16(p, num(l, tcpWin, 65535))
	p = be16(p, num(l, tcpChksum, 0))
	p = be16(p, num(l, tcpUrp, 0))
	p = b.tcpOptions(p, l)
	off := num(l, tcpOff, uint64(len(p)-start)/4)
	p[start+12] |= byte(off << 4)
	return p
}

var tcpFlagFields = [...]struct {
	field int
	bit   uint64
}{{tcpFIN, flagFIN}, {tcpSYN, flagSYN}, {tcpRST, flagRST}, {tcpPSH, flagPSH}, {tcpACK, flagACK},
	{tcpURG, flagURG}, {tcpECE, flagECE}, {tcpCWR, flagCWR}, {tcpNS, flagNS}}

// tcpFlagBits is flags= if given, else the flags named one by one, else SYN.
func tcpFlagBits(l *Layer) uint64 {
	if given(l, tcpFlags) {
		return l.vals[tcpFlags].cur
	}
	var x uint64
	any := false
	for _, fb := range tcpFlagFields {
		if given(l, fb.field) {
			any = true
			if l.vals[fb.field].cur == 1 {
				x |= fb.bit
			}
		}
	}
	if !any {
		return flagSYN
	}
	return x
}

var tcpOptionFields = []int{tcpMSS, tcpWS, tcpSackOK, tcpSack, tcpTS, tcpNOP, tcpEOL, tcpOpts}

// tcpOptions appends the options in the order the spec gave them, padded
// with zeros (end of options) to a multiple of 4.
func (b *Builder) tcpOptions(p []byte, l *Layer) []byte {
	start := len(p)
	var order [8]int
	n := 0
	for _, fi := range tcpOptionFields {
		if given(l, fi) && (l.def.fields[fi].kind != kFlag || l.vals[fi].cur == 1) {
			order[n] = fi
			n++
		}
	}
	slices.SortFunc(order[:n], func(a, c int) int { return l.vals[a].ord - l.vals[c].ord })
	for _, fi := range order[:n] {
		v := &l.vals[fi]
		switch fi {
		case tcpMSS:
			p = be16(append(p, 2, 4), v.cur)
		case tcpWS:
			p = append(p, 3, 3, byte(v.cur))
		case tcpSackOK:
			p = append(p, 4, 2)
		case tcpSack:
			p = append(append(p, 5, byte(2+len(v.bytes))), v.bytes...)
		case tcpTS:
			p = append(append(p, 8, 10), v.bytes...)
		case tcpNOP:
			p = append(p, 1)
		case tcpEOL:
			p = append(p, 0)
		case tcpOpts:
			p = append(p, v.bytes...)
		}
	}
	for (len(p)-start)%4 != 0 {
		p = append(p, 0)
	}
	return p
}

func (b *Builder) writeRaw(p []byte, l *Layer) []byte {
	start := len(p)
	for _, fi := range []int{rawText, rawHex, rawFile} {
		if given(l, fi) {
			p = append(p, l.vals[fi].bytes...)
		}
	}
	if !given(l, rawLen) {
		return p
	}
	want := start + int(l.vals[rawLen].cur)
	if len(p) > want {
		return p[:want]
	}
	if given(l, rawRand) && l.vals[rawRand].cur == 1 {
		from := len(p)
		p = extend(p, want-from)
		b.r.fill(p[from:want])
		return p
	}
	from := len(p)
	p = extend(p, want-from)
	if fill := byte(num(l, rawFill, 0)); fill != 0 {
		for i := from; i < want; i++ {
			p[i] = fill
		}
	}
	return p
}

// finish fills in what depends on what follows a layer: lengths and
// checksums the spec left out. Layers are finished innermost first.
func (b *Builder) finish(p []byte, k int) {
	l := b.spec.Layers[k]
	off, hl := b.offs[k], b.hlens[k]
	whole := p[off:]
	switch l.def.kind {
	case lIP:
		if !given(l, ipLen) {
			binary.BigEndian.PutUint16(whole[2:], uint16(len(whole)))
		}
		if !given(l, ipChksum) {
			binary.BigEndian.PutUint16(whole[10:], inet.Checksum(whole[:hl], 0))
		}
	case lIP6:
		if !given(l, ip6Plen) {
			binary.BigEndian.PutUint16(whole[4:], uint16(len(whole)-hl))
		}
	case lICMP:
		if !given(l, icmpChksum) {
			binary.BigEndian.PutUint16(whole[2:], inet.Checksum(whole, 0))
		}
	case lICMP6:
		if !given(l, icmpChksum) {
			binary.BigEndian.PutUint16(whole[2:], inet.Checksum(whole, b.pseudo(p, k, 58, len(whole))))
		}
	case lUDP:
		if !given(l, udpLen) {
			binary.BigEndian.PutUint16(whole[4:], uint16(len(whole)))
		}
		if !given(l, udpChksum) {
			c := inet.Checksum(whole, b.pseudo(p, k, 17, len(whole)))
			if c == 0 {
				c = 0xffff
			}
			binary.BigEndian.PutUint16(whole[6:], c)
		}
	case lTCP:
		if !given(l, tcpChksum) {
			binary.BigEndian.PutUint16(whole[16:], inet.Checksum(whole, b.pseudo(p, k, 6, len(whole))))
		}
	}
}

// pseudo is the pseudo-header sum for layer k from the nearest IP layer
// before it, read from the packet as written (so given addresses count).
func (b *Builder) pseudo(p []byte, k int, proto uint8, length int) uint32 {
	for j := k - 1; j >= 0; j-- {
		off := b.offs[j]
		switch b.spec.Layers[j].def.kind {
		case lIP:
			src, _ := netip.AddrFromSlice(p[off+12 : off+16])
			dst, _ := netip.AddrFromSlice(p[off+16 : off+20])
			return inet.PseudoSum(src, dst, proto, length)
		case lIP6:
			src, _ := netip.AddrFromSlice(p[off+8 : off+24])
			dst, _ := netip.AddrFromSlice(p[off+24 : off+40])
			return inet.PseudoSum(src, dst, proto, length)
		}
	}
	return 0
}

// extend appends n zero bytes to p, growing it only when it must (the
// append(p, make(...)...) idiom allocates under the race detector).
func extend(p []byte, n int) []byte {
	p = slices.Grow(p, n)
	p = p[:len(p)+n]
	clear(p[len(p)-n:])
	return p
}
