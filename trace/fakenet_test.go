package trace

// An in-memory network for engine tests: a Conn whose Send reads the whole
// IP packet the engine built and, following a topology, queues the answer
// a real network would give, and Readers that deliver those answers the
// way Linux raw sockets do (IPv4 with its IP header, IPv6 without). It
// opens no socket and allocates nothing per packet once warm.

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/rawnet/rawnet/internal/inet"
)

// fakeHop is one TTL of a path.
type fakeHop struct {
	// addrs answer at this TTL; with several, the balancer before them
	// picks one per flow: addrs[(key+ttl) % len], key being the source
	// port (UDP, TCP) or the ICMP checksum, the fields Paris keeps
	// constant per flow.
	addrs  []netip.Addr
	silent bool // sends no ICMP errors
	// unreach: no route beyond; every probe reaching this router is
	// answered with destination unreachable, code code.
	unreach bool
	code    uint8
	info    uint32      // ... with this 32-bit field (frag needed: the MTU)
	labels  []MPLSLabel // RFC 4950 label stack in its Time Exceeded
	compat  bool        // ... in the pre-RFC 4884 layout
	// setTOS rewrites the TOS / traffic class of packets it forwards to
	// tos; clearDF clears their DF bit (IPv4).
	setTOS  bool
	tos     uint8
	clearDF bool
	// setDport rewrites the destination port of what it forwards to
	// dport (a port-redirecting middlebox); the target's answer is
	// translated back.
	setDport bool
	dport    uint16
}

// fakePath is the way to one target: routers at TTL 1..len(hops), the
// target itself at len(hops)+1.
type fakePath struct {
	hops       []fakeHop
	silentDest bool // the target does not answer
	tcpOpen    bool // TCP: SYN-ACK rather than RST
}

// linearPath is a path of n routers, one address each, from a base.
func linearPath(v6 bool, n int, base byte) *fakePath {
	p := &fakePath{}
	for i := 1; i <= n; i++ {
		p.hops = append(p.hops, fakeHop{addrs: []netip.Addr{routerAddr(v6, base, i, 0)}})
	}
	return p
}

// routerAddr is the address of router i (alternative alt) on path base.
func routerAddr(v6 bool, base byte, i, alt int) netip.Addr {
	if v6 {
		return netip.AddrFrom16([16]byte{0xfd, 0, 0, base, 0, byte(i), 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(1 + alt)})
	}
	return netip.AddrFrom4([4]byte{198, 18, 16*base + byte(i), byte(1 + alt)})
}

// targetAddr is target number n.
func targetAddr(v6 bool, n byte) netip.Addr {
	if v6 {
		return netip.AddrFrom16([16]byte{0xfd, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, n})
	}
	return netip.AddrFrom4([4]byte{198, 19, 0, n})
}

func sourceAddr(v6 bool) netip.Addr {
	if v6 {
		return netip.MustParseAddr("fd00::1")
	}
	return netip.MustParseAddr("198.18.0.1")
}

// fakeEntry is one queued answer.
type fakeEntry struct {
	at       time.Time
	from, to netip.Addr
	ttl      int
	n        int
	counted  bool // an answer to a probe (not a duplicate or noise)
	data     [1600]byte
}

// fakeNet is one address family's Conn.
type fakeNet struct {
	v6    bool
	src   netip.Addr
	paths map[netip.Addr]*fakePath
	delay time.Duration // before an answer can be read
	dup   bool          // every answer arrives twice
	noise bool          // every error comes with a foreign twin (from noiseAddr)

	mu        sync.Mutex
	icmp, tcp *fakeReader
	readers   []Reader
	sent      int
	sentTTL   map[netip.Addr][]int // probes sent per target and TTL
	outstand  int                  // probes answered whose answer is not read yet
	maxOut    int
	bad       string // the first malformed probe
	sendErr   error  // Send fails with it when set
	sentPkts  [][]byte
	keepPkts  bool
}

var noiseAddr4, noiseAddr6 = netip.MustParseAddr("198.18.250.250"), netip.MustParseAddr("fd00:250::250")

func newFakeNet(v6 bool) *fakeNet {
	f := &fakeNet{v6: v6, src: sourceAddr(v6), paths: map[netip.Addr]*fakePath{}, sentTTL: map[netip.Addr][]int{}}
	f.icmp = newFakeReader(f, inet.ProtoICMP)
	if v6 {
		f.icmp.proto = inet.ProtoICMPv6
	}
	f.tcp = newFakeReader(f, inet.ProtoTCP)
	f.readers = []Reader{f.icmp, f.tcp}
	return f
}

func (f *fakeNet) addPath(dst netip.Addr, p *fakePath) *fakeNet {
	f.paths[dst] = p
	f.sentTTL[dst] = make([]int, 256)
	return f
}

func (f *fakeNet) V6() bool          { return f.v6 }
func (f *fakeNet) Readers() []Reader { return f.readers }
func (f *fakeNet) Close() error      { return nil }

func (f *fakeNet) Source(dst netip.Addr) (netip.Addr, error) {
	if _, ok := f.paths[dst]; !ok {
		return netip.Addr{}, fmt.Errorf("fake: no route to %s", dst)
	}
	return f.src, nil
}

func (f *fakeNet) fail(format string, a ...any) {
	if f.bad == "" {
		f.bad = fmt.Sprintf(format, a...)
	}
}

// probeInfo is what the fake reads from a probe.
type probeInfo struct {
	dst   netip.Addr
	proto uint8
	ttl   uint8
	tos   uint8
	df    bool
	l4    []byte
	key   uint32 // what a balancer hashes
}

// parse checks a probe the way a network stack would and reads it.
func (f *fakeNet) parse(pkt []byte, dst netip.Addr) (probeInfo, bool) {
	var p probeInfo
	if f.v6 {
		if len(pkt) < 40 || pkt[0]>>4 != 6 || int(binary.BigEndian.Uint16(pkt[4:])) != len(pkt)-40 {
			f.fail("bad IPv6 header % x", pkt[:min(len(pkt), 40)])
			return p, false
		}
		p.tos = uint8(binary.BigEndian.Uint32(pkt) >> 20)
		p.proto, p.ttl = pkt[6], pkt[7]
		p.dst = netip.AddrFrom16([16]byte(pkt[24:40]))
		if src := netip.AddrFrom16([16]byte(pkt[8:24])); src != f.src {
			f.fail("probe from %s, want %s", src, f.src)
		}
		p.l4 = pkt[40:]
	} else {
		if len(pkt) < 20 || pkt[0] != 0x45 || int(binary.BigEndian.Uint16(pkt[2:])) != len(pkt) || refSum(pkt[:20], 0) != 0xffff {
			f.fail("bad IPv4 header % x", pkt[:min(len(pkt), 20)])
			return p, false
		}
		p.tos, p.ttl, p.proto, p.df = pkt[1], pkt[8], pkt[9], pkt[6]&0x40 != 0
		p.dst = netip.AddrFrom4([4]byte(pkt[16:20]))
		if src := netip.AddrFrom4([4]byte(pkt[12:16])); src != f.src {
			f.fail("probe from %s, want %s", src, f.src)
		}
		p.l4 = pkt[20:]
	}
	if p.dst != dst {
		f.fail("probe to %s sent to %s", p.dst, dst)
	}
	var pseudo uint32
	switch p.proto {
	case inet.ProtoUDP, inet.ProtoTCP, inet.ProtoICMPv6:
		pseudo = refPseudo(f.src, p.dst, p.proto, len(p.l4))
	case inet.ProtoICMP:
	default:
		f.fail("probe of protocol %d", p.proto)
		return p, false
	}
	if len(p.l4) < 8 || !verifies(p.l4, pseudo) {
		f.fail("probe (proto %d, %d bytes) to %s: bad checksum", p.proto, len(p.l4), p.dst)
		return p, false
	}
	if p.proto == inet.ProtoTCP && len(p.l4) < 20 {
		f.fail("short TCP probe")
		return p, false
	}
	if p.proto == inet.ProtoUDP || p.proto == inet.ProtoTCP {
		p.key = uint32(binary.BigEndian.Uint16(p.l4))
	} else {
		p.key = uint32(binary.BigEndian.Uint16(p.l4[2:]))
	}
	return p, true
}

// addrAt is who answers at ttl for a flow with the given key.
func (h *fakeHop) addrAt(key uint32, ttl int) netip.Addr {
	return h.addrs[(key+uint32(ttl))%uint32(len(h.addrs))]
}

// Send takes one probe and queues what the network answers.
func (f *fakeNet) Send(pkt []byte, dst netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		return f.sendErr
	}
	f.sent++
	if f.keepPkts {
		f.sentPkts = append(f.sentPkts, append([]byte(nil), pkt...))
	}
	p, ok := f.parse(pkt, dst)
	if !ok {
		return nil // dropped on the wire
	}
	path := f.paths[dst]
	if path == nil {
		f.fail("probe to %s, which has no path", dst)
		return nil
	}
	f.sentTTL[dst][p.ttl]++
	tos, df := p.tos, p.df
	var dport uint16 // rewritten destination port, 0: unchanged
	ttl := int(p.ttl)
	for i := 1; ; i++ {
		if i > len(path.hops) { // the target
			if !path.silentDest {
				f.answerTarget(path, &p, pkt, uint8(ttl-i+1), tos, df, dport)
			}
			return nil
		}
		h := &path.hops[i-1]
		router := h.addrAt(p.key, i)
		if h.unreach {
			s := errSpec{v6: f.v6, typ: tUnreach4, code: h.code, info: h.info, from: router, to: f.src, ttl: uint8(ttl - i + 1), tos: tos, clearDF: !df && p.df,
				labels: h.labels, compat: h.compat, setDport: dport != 0, dport: dport}
			if f.v6 {
				s.typ = tUnreach6
			}
			f.queueError(&s, pkt)
			return nil
		}
		if ttl == i {
			if !h.silent {
				s := errSpec{v6: f.v6, typ: tTimeExceeded4, from: router, to: f.src, ttl: 1, tos: tos, clearDF: !df && p.df,
					labels: h.labels, compat: h.compat, setDport: dport != 0, dport: dport}
				if f.v6 {
					s.typ = tTimeExceeded6
				}
				f.queueError(&s, pkt)
			}
			return nil
		}
		if h.setTOS {
			tos = h.tos
		}
		if h.clearDF {
			df = false
		}
		if h.setDport {
			dport = h.dport
		}
	}
}

// answerTarget queues the target's own answer.
func (f *fakeNet) answerTarget(path *fakePath, p *probeInfo, pkt []byte, qttl, tos uint8, df bool, dport uint16) {
	switch p.proto {
	case inet.ProtoUDP:
		s := errSpec{v6: f.v6, typ: tUnreach4, code: 3, from: p.dst, to: f.src, ttl: qttl, tos: tos, clearDF: !df && p.df,
			setDport: dport != 0, dport: dport}
		if f.v6 {
			s.typ, s.code = tUnreach6, 4
		}
		f.queueError(&s, pkt)
	case inet.ProtoICMP, inet.ProtoICMPv6:
		for i := 0; i < f.copies(); i++ {
			e := f.icmp.alloc(p.dst, f.src, i == 0)
			msg := writeEchoReply(e.data[f.hl():], f.v6, p.l4, p.dst, f.src)
			f.finish(e, msg, inet.ProtoICMP)
		}
	case inet.ProtoTCP:
		for i := 0; i < f.copies(); i++ {
			e := f.tcp.alloc(p.dst, f.src, i == 0)
			seg := writeTCPAnswer(e.data[f.hl():], p.l4, path.tcpOpen, p.dst, f.src)
			f.finish(e, seg, inet.ProtoTCP)
		}
	}
}

func (f *fakeNet) copies() int {
	if f.dup {
		return 2
	}
	return 1
}

// hl is where the message starts in an entry: IPv4 entries hold the whole
// packet, as raw IPv4 sockets deliver it.
func (f *fakeNet) hl() int {
	if f.v6 {
		return 0
	}
	return inet.IPv4HeaderLen
}

// quoteCap is how much of a datagram routers quote: up to 576 bytes of
// ICMP packet for IPv4 (RFC 1812), 1280 for IPv6 (RFC 4443).
func (f *fakeNet) quoteCap() int {
	if f.v6 {
		return 1280 - 40 - 8
	}
	return 576 - 20 - 8
}

func (f *fakeNet) queueError(s *errSpec, pkt []byte) {
	s.quote = f.quoteCap()
	if f.noise { // first, so that taking it by mistake would show
		f.queueNoise(s, pkt)
	}
	for i := 0; i < f.copies(); i++ {
		e := f.icmp.alloc(s.from, f.src, i == 0)
		msg := s.write(e.data[f.hl():], pkt)
		f.finish(e, msg, inet.ProtoICMP)
	}
}

// queueNoise queues an error from noiseAddr about a probe of another run:
// the same probe with the field that identifies the run changed.
func (f *fakeNet) queueNoise(s *errSpec, pkt []byte) {
	n := *s
	n.from = noiseAddr4
	if f.v6 {
		n.from = noiseAddr6
	}
	e := f.icmp.alloc(n.from, f.src, false)
	msg := n.write(e.data[f.hl():], pkt)
	q := msg[8+hdrLen(f.v6):]
	proto := pkt[9]
	if f.v6 {
		proto = pkt[6]
	}
	switch proto {
	case inet.ProtoUDP:
		binary.BigEndian.PutUint16(q[2:], binary.BigEndian.Uint16(q[2:])+1) // another port
	case inet.ProtoTCP:
		q[4]++ // another cookie
	default:
		q[5]++ // another echo identifier
	}
	msg[2], msg[3] = 0, 0
	var pseudo uint32
	if f.v6 {
		pseudo = refPseudo(n.from, f.src, inet.ProtoICMPv6, len(msg))
	}
	binary.BigEndian.PutUint16(msg[2:], refChecksum(msg, pseudo))
	f.finish(e, msg, inet.ProtoICMP)
}

// finish completes an entry whose message is in place.
func (f *fakeNet) finish(e *fakeEntry, msg []byte, proto uint8) {
	e.n = f.hl() + len(msg)
	if !f.v6 {
		wrapIPv4(e.data[:], e.from, e.to, proto, len(msg))
	}
	if e.counted {
		f.outstand++
		f.maxOut = max(f.maxOut, f.outstand)
	}
	f.icmp.poke()
	f.tcp.poke()
}

// fakeReader delivers queued answers of one protocol.
type fakeReader struct {
	net      *fakeNet
	proto    uint8
	q        []fakeEntry // q[head:] are waiting, in order of their time
	head     int
	deadline time.Time
	wake     chan struct{}
	timer    *time.Timer
}

func newFakeReader(f *fakeNet, proto uint8) *fakeReader {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &fakeReader{net: f, proto: proto, wake: make(chan struct{}, 1), timer: t}
}

// alloc queues a new entry (f.mu held).
func (r *fakeReader) alloc(from, to netip.Addr, counted bool) *fakeEntry {
	if r.head > 0 && r.head == len(r.q) {
		r.q, r.head = r.q[:0], 0
	}
	if len(r.q) < cap(r.q) {
		r.q = r.q[:len(r.q)+1]
	} else {
		r.q = append(r.q, fakeEntry{})
	}
	e := &r.q[len(r.q)-1]
	e.at = time.Now().Add(r.net.delay)
	e.from, e.to, e.counted = from, to, counted
	e.ttl = 60
	return e
}

func (r *fakeReader) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *fakeReader) SetReadDeadline(t time.Time) error {
	r.net.mu.Lock()
	r.deadline = t
	r.net.mu.Unlock()
	r.poke()
	return nil
}

func (r *fakeReader) Read(buf []byte, p *Packet) error {
	f := r.net
	for {
		f.mu.Lock()
		now := time.Now()
		if !r.deadline.IsZero() && !now.Before(r.deadline) {
			f.mu.Unlock()
			return os.ErrDeadlineExceeded
		}
		var due time.Time
		if r.head < len(r.q) {
			e := &r.q[r.head]
			if !e.at.After(now) {
				r.head++
				n := copy(buf, e.data[:e.n])
				*p = Packet{Proto: r.proto, From: e.from, To: e.to, TTL: e.ttl, Received: now}
				if f.v6 {
					p.Data = buf[:n]
				} else {
					p.IP, p.Data = buf[:n], buf[inet.IPv4HeaderLen:n]
				}
				if e.counted {
					f.outstand--
				}
				f.mu.Unlock()
				return nil
			}
			due = e.at
		}
		wait := time.Duration(-1)
		if !due.IsZero() {
			wait = due.Sub(now)
		}
		if !r.deadline.IsZero() && (wait < 0 || r.deadline.Sub(now) < wait) {
			wait = r.deadline.Sub(now)
		}
		f.mu.Unlock()
		if wait < 0 {
			<-r.wake
			continue
		}
		r.timer.Reset(wait)
		select {
		case <-r.wake:
		case <-r.timer.C:
		}
		r.timer.Stop()
	}
}

// stats returns what the fake counted.
func (f *fakeNet) stats() (sent, maxOut int, bad string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent, f.maxOut, f.bad
}
