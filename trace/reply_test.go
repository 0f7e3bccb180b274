package trace

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

// probeCase is one probe for the reply tests.
type probeCase struct {
	fp       *flowParams
	src, dst netip.Addr
	router   netip.Addr
	id, flow uint16
	pkt      []byte
}

func newProbeCase(m Method, v6 bool, id, flow uint16) *probeCase {
	c := &probeCase{fp: testParams(m, v6, 0), id: id, flow: flow}
	c.src, c.dst, c.router = testAddrs(v6)
	c.pkt = c.fp.build(make([]byte, 200), c.src, c.dst, 9, id, flow)
	return c
}

func (c *probeCase) l4() []byte { return c.pkt[hdrLen(c.fp.v6):] }

// errorFrom is an ICMP error about the probe from `from`.
func (c *probeCase) errorFrom(from netip.Addr, typ, code uint8, mod func(*errSpec)) []byte {
	s := errSpec{v6: c.fp.v6, typ: typ, code: code, from: from, to: c.src, ttl: 1, tos: c.fp.tos}
	if mod != nil {
		mod(&s)
	}
	return s.write(make([]byte, 1500), c.pkt)
}

func teType(v6 bool) uint8 {
	if v6 {
		return tTimeExceeded6
	}
	return tTimeExceeded4
}

func unreachType(v6 bool) uint8 {
	if v6 {
		return tUnreach6
	}
	return tUnreach4
}

func portUnreachCode(v6 bool) uint8 {
	if v6 {
		return 4
	}
	return 3
}

func TestParseICMPErrorsQuotingAProbe(t *testing.T) {
	for _, m := range methods {
		for _, v6 := range []bool{false, true} {
			t.Run(m.String()+"/"+famName(v6), func(t *testing.T) {
				c := newProbeCase(m, v6, 0x2345, 5)
				cases := []struct {
					name      string
					typ, code uint8
					kind      Kind
					from      netip.Addr
					mod       func(*errSpec)
				}{
					{"time exceeded", teType(v6), 0, KindTimeExceeded, c.router, nil},
					{"port unreachable", unreachType(v6), portUnreachCode(v6), KindUnreachable, c.dst, func(s *errSpec) { s.ttl = 4 }},
					{"host unreachable", unreachType(v6), 3 - 2*b2i(!v6), KindUnreachable, c.router, nil},
					{"rewritten tos", teType(v6), 0, KindTimeExceeded, c.router, func(s *errSpec) { s.tos = 0xb8 }},
					{"8 bytes quoted", teType(v6), 0, KindTimeExceeded, c.router, func(s *errSpec) { s.quote = hdrLen(v6) + 8 }},
				}
				if !v6 {
					cases = append(cases, struct {
						name      string
						typ, code uint8
						kind      Kind
						from      netip.Addr
						mod       func(*errSpec)
					}{"df cleared", teType(v6), 0, KindTimeExceeded, c.router, func(s *errSpec) { s.clearDF = true }})
				}
				for _, tc := range cases {
					s := errSpec{ttl: 1, tos: c.fp.tos}
					if tc.mod != nil {
						tc.mod(&s)
					}
					msg := c.errorFrom(tc.from, tc.typ, tc.code, tc.mod)
					var r reply
					if !c.fp.parseICMP(msg, tc.from, &r) {
						t.Errorf("%s: not recognised as answering the probe", tc.name)
						continue
					}
					if r.id != c.id || r.kind != tc.kind || r.typ != tc.typ || r.code != tc.code || r.from != tc.from || r.target != c.dst {
						t.Errorf("%s: id %#x kind %v type %d/%d from %s target %s; want id %#x kind %v %d/%d from %s target %s",
							tc.name, r.id, r.kind, r.typ, r.code, r.from, r.target, c.id, tc.kind, tc.typ, tc.code, tc.from, c.dst)
					}
					if !r.quoted || r.qTTL != s.ttl || r.qTOS != s.tos || (!v6 && r.qDF != !s.clearDF) {
						t.Errorf("%s: quoted %v ttl %d tos %#x df %v; want ttl %d tos %#x df %v", tc.name, r.quoted, r.qTTL, r.qTOS, r.qDF, s.ttl, s.tos, !s.clearDF)
					}
					if m == ICMP {
						if r.hasFlow {
							t.Errorf("%s: an ICMP quote claims flow %d", tc.name, r.flow)
						}
					} else if !r.hasFlow || r.flow != c.flow || r.qSport != c.fp.sport+c.flow || r.qDport != c.fp.dport {
						t.Errorf("%s: flow %d (%v) ports %d->%d; want flow %d ports %d->%d", tc.name, r.flow, r.hasFlow, r.qSport, r.qDport, c.flow, c.fp.sport+c.flow, c.fp.dport)
					}
					if r.nLabels != 0 {
						t.Errorf("%s: %d MPLS labels in a message without extensions", tc.name, r.nLabels)
					}
				}
			})
		}
	}
}

func b2i(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func TestParseICMPMTU(t *testing.T) {
	// IPv4 fragmentation needed carries the MTU in the low 16 bits;
	// IPv6 packet too big in all 32.
	c := newProbeCase(UDP, false, 9, 0)
	msg := c.errorFrom(c.router, tUnreach4, 4, func(s *errSpec) { s.info = 1400 })
	var r reply
	if !c.fp.parseICMP(msg, c.router, &r) || r.info != 1400 || r.kind != KindUnreachable {
		t.Errorf("frag needed: %+v", r)
	}
	c6 := newProbeCase(UDP, true, 9, 0)
	msg = c6.errorFrom(c6.router, tTooBig6, 0, func(s *errSpec) { s.info = 1280 })
	if !c6.fp.parseICMP(msg, c6.router, &r) || r.info != 1280 || r.kind != KindOther {
		t.Errorf("packet too big: %+v", r)
	}
}

func TestParseEchoReply(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		c := newProbeCase(ICMP, v6, 0x4321, 2)
		msg := writeEchoReply(make([]byte, 200), v6, c.l4(), c.dst, c.src)
		var r reply
		if !c.fp.parseICMP(msg, c.dst, &r) {
			t.Fatalf("%s: echo reply not recognised", famName(v6))
		}
		if r.id != c.id || r.kind != KindEchoReply || r.from != c.dst || r.target != c.dst || r.quoted {
			t.Errorf("%s: %+v", famName(v6), r)
		}
		// The same reply is no answer to a UDP or TCP run.
		for _, m := range []Method{UDP, TCP} {
			if testParams(m, v6, 0).parseICMP(msg, c.dst, &r) {
				t.Errorf("%s: a %s run takes an echo reply", famName(v6), m)
			}
		}
	}
}

func TestParseTCPAnswers(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, open := range []bool{true, false} {
			c := newProbeCase(TCP, v6, 0x0777, 9)
			seg := writeTCPAnswer(make([]byte, 40), c.l4(), open, c.dst, c.src)
			var r reply
			if !c.fp.parseTCP(seg, c.dst, &r) {
				t.Fatalf("%s open=%v: answer not recognised", famName(v6), open)
			}
			want := KindSynAck
			if !open {
				want = KindRST
			}
			if r.id != c.id || r.kind != want || !r.hasFlow || r.flow != c.flow || r.from != c.dst || r.target != c.dst {
				t.Errorf("%s open=%v: %+v, want id %#x kind %v flow %d", famName(v6), open, r, c.id, want, c.flow)
			}
		}
	}
}

// TestRejectForeignPackets: what belongs to another run, another program
// or nobody is not taken.
func TestRejectForeignPackets(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		hl := hdrLen(v6)
		t.Run(famName(v6), func(t *testing.T) {
			reject := func(name string, fp *flowParams, msg []byte, from netip.Addr) {
				t.Helper()
				var r reply
				if fp.parseICMP(msg, from, &r) {
					t.Errorf("%s: taken as id %#x kind %v", name, r.id, r.kind)
				}
			}
			// ICMP: another echo identifier, in a reply and in a quote.
			c := newProbeCase(ICMP, v6, 77, 0)
			other := *c.fp
			other.icmpID++
			reject("echo reply, other identifier", &other, writeEchoReply(make([]byte, 200), v6, c.l4(), c.dst, c.src), c.dst)
			reject("quoted echo, other identifier", &other, c.errorFrom(c.router, teType(v6), 0, nil), c.router)
			// An echo request (someone pinging us) is not an answer.
			req := writeEchoReply(make([]byte, 200), v6, c.l4(), c.dst, c.src)
			req[0] = tEcho4
			if v6 {
				req[0] = tEcho6
			}
			reject("echo request", c.fp, req, c.dst)
			// UDP: another destination port.
			u := newProbeCase(UDP, v6, 77, 0)
			other = *u.fp
			other.dport++
			reject("quoted UDP, other port", &other, u.errorFrom(u.router, teType(v6), 0, nil), u.router)
			// TCP: another cookie.
			tc := newProbeCase(TCP, v6, 77, 0)
			other = *tc.fp
			other.cookie++
			reject("quoted SYN, other cookie", &other, tc.errorFrom(tc.router, teType(v6), 0, nil), tc.router)
			// Wrong protocol: a quote of a UDP probe is no answer to ICMP or TCP runs.
			msg := u.errorFrom(u.router, teType(v6), 0, nil)
			reject("UDP quote to an ICMP run", testParams(ICMP, v6, 0), msg, u.router)
			reject("UDP quote to a TCP run", testParams(TCP, v6, 0), msg, u.router)
			// The other family's message.
			reject("other family", testParams(UDP, !v6, 0), msg, u.router)
			// Short: under 8 bytes, a bare header, a quote without 8 transport bytes.
			reject("7 bytes", u.fp, msg[:7], u.router)
			reject("header only", u.fp, msg[:8], u.router)
			reject("IP header only", u.fp, msg[:8+hl], u.router)
			reject("7 transport bytes", u.fp, msg[:8+hl+7], u.router)
			// Identities outside 1..0xfffe.
			for _, id := range []uint16{0, 0xffff} {
				bad := u.errorFrom(u.router, teType(v6), 0, nil)
				binary.BigEndian.PutUint16(bad[8+hl+6:], id)
				reject(fmt.Sprintf("UDP id %#x", id), u.fp, bad, u.router)
				e := writeEchoReply(make([]byte, 200), v6, c.l4(), c.dst, c.src)
				binary.BigEndian.PutUint16(e[6:], id)
				reject(fmt.Sprintf("echo id %#x", id), c.fp, e, c.dst)
			}
			// TCP segments: other cookie, not from the probed port, no ACK,
			// neither SYN nor RST, short.
			seg := writeTCPAnswer(make([]byte, 40), tc.l4(), true, tc.dst, tc.src)
			var r reply
			if !tc.fp.parseTCP(seg, tc.dst, &r) {
				t.Fatal("the genuine SYN-ACK is not taken")
			}
			rejectTCP := func(name string, fp *flowParams, seg []byte) {
				t.Helper()
				if fp.parseTCP(seg, tc.dst, &r) {
					t.Errorf("TCP %s: taken as id %#x", name, r.id)
				}
			}
			rejectTCP("other cookie", &other, seg)
			rejectTCP("to a UDP run", testParams(UDP, v6, 0), seg)
			s2 := slices.Clone(seg)
			binary.BigEndian.PutUint16(s2, 443)
			rejectTCP("other port", tc.fp, s2)
			s3 := slices.Clone(seg)
			s3[13] = tcpSYN
			rejectTCP("SYN without ACK", tc.fp, s3)
			s4 := slices.Clone(seg)
			s4[13] = tcpACK
			rejectTCP("bare ACK", tc.fp, s4)
			rejectTCP("19 bytes", tc.fp, seg[:19])
		})
	}
}

var twoLabels = []MPLSLabel{{Label: 16001, TC: 0, S: false, TTL: 1}, {Label: 0xfffff, TC: 5, S: true, TTL: 255}}

func TestParseMPLS(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		c := newProbeCase(UDP, v6, 0x99, 0)
		te := teType(v6)
		cases := []struct {
			name string
			mod  func(*errSpec)
			want []MPLSLabel
		}{
			{"RFC 4884 length field", func(s *errSpec) { s.labels = twoLabels }, twoLabels},
			{"compat layout at 128", func(s *errSpec) { s.labels, s.compat = twoLabels, true }, twoLabels},
			{"bad checksum", func(s *errSpec) { s.labels, s.badSum = twoLabels, true }, nil},
			{"compat with bad checksum", func(s *errSpec) { s.labels, s.badSum, s.compat = twoLabels, true, true }, nil},
			{"one label", func(s *errSpec) { s.labels = twoLabels[1:] }, twoLabels[1:]},
			{"no extension", nil, nil},
		}
		for _, tc := range cases {
			msg := c.errorFrom(c.router, te, 0, tc.mod)
			got := make([]MPLSLabel, maxLabels)
			n := parseMPLS(msg, v6, got)
			if !slices.Equal(got[:n], tc.want) {
				t.Errorf("%s/%s: labels %+v, want %+v", famName(v6), tc.name, got[:n], tc.want)
			}
			var r reply
			if !c.fp.parseICMP(msg, c.router, &r) {
				t.Errorf("%s/%s: message not taken", famName(v6), tc.name)
				continue
			}
			if !slices.Equal(r.labels[:r.nLabels], tc.want) {
				t.Errorf("%s/%s: parseICMP labels %+v, want %+v", famName(v6), tc.name, r.labels[:r.nLabels], tc.want)
			}
			if r.id != c.id {
				t.Errorf("%s/%s: id %#x, want %#x", famName(v6), tc.name, r.id, c.id)
			}
		}
		// Destination unreachable carries extensions too.
		msg := c.errorFrom(c.router, unreachType(v6), 0, func(s *errSpec) { s.labels = twoLabels })
		got := make([]MPLSLabel, maxLabels)
		if n := parseMPLS(msg, v6, got); !slices.Equal(got[:n], twoLabels) {
			t.Errorf("%s unreachable: labels %+v", famName(v6), got[:n])
		}
	}
}

func TestParseMPLSMalformed(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		c := newProbeCase(UDP, v6, 0x99, 0)
		good := c.errorFrom(c.router, teType(v6), 0, func(s *errSpec) { s.labels = twoLabels })
		lenByte := 5
		if v6 {
			lenByte = 4
		}
		extOff := 8 + 128
		refix := func(b []byte) []byte { // recompute the extension checksum
			b[extOff+2], b[extOff+3] = 0, 0
			binary.BigEndian.PutUint16(b[extOff+2:], refChecksum(b[extOff:], 0))
			return b
		}
		cases := map[string][]byte{}
		// Truncated inside the label stack: object length runs past the end.
		cases["truncated object"] = refix(slices.Clone(good[:len(good)-4]))
		cases["truncated header"] = slices.Clone(good[:extOff+3])
		short := slices.Clone(good)
		short[lenByte] = 10 // a quoted datagram under 128 bytes: no extension
		cases["length under 128"] = short
		v1 := slices.Clone(good)
		v1[extOff] = 1 << 4
		cases["version 1"] = refix(v1)
		zeroLen := slices.Clone(good)
		binary.BigEndian.PutUint16(zeroLen[extOff+4:], 0)
		cases["object length 0"] = refix(zeroLen)
		for name, msg := range cases {
			got := make([]MPLSLabel, maxLabels)
			if n := parseMPLS(msg, v6, got); n != 0 {
				t.Errorf("%s/%s: %d labels %+v, want none", famName(v6), name, n, got[:n])
			}
		}
		// A zero checksum means none was computed (RFC 4884 section 7).
		zero := slices.Clone(good)
		zero[extOff+2], zero[extOff+3] = 0, 0
		got := make([]MPLSLabel, maxLabels)
		if n := parseMPLS(zero, v6, got); !slices.Equal(got[:n], twoLabels) {
			t.Errorf("%s/zero checksum: labels %+v, want %+v", famName(v6), got[:n], twoLabels)
		}
	}
}

func TestParseMPLSObjects(t *testing.T) {
	// An interface information object (class 2) before the label stack,
	// and more labels than a reply keeps.
	c := newProbeCase(UDP, false, 0x99, 0)
	many := make([]MPLSLabel, maxLabels+3)
	for i := range many {
		many[i] = MPLSLabel{Label: uint32(100 + i), TC: uint8(i % 8), TTL: uint8(i)}
	}
	many[len(many)-1].S = true
	msg := c.errorFrom(c.router, tTimeExceeded4, 0, func(s *errSpec) { s.labels = many })
	ext := msg[8+128:]
	obj := ext[4:]
	iio := []byte{0, 8, 2, 0x0c, 0, 0, 0, 7}
	b := slices.Concat(msg[:8+128+4], iio, obj)
	b[8+128+2], b[8+128+3] = 0, 0
	binary.BigEndian.PutUint16(b[8+128+2:], refChecksum(b[8+128:], 0))
	got := make([]MPLSLabel, maxLabels)
	n := parseMPLS(b, false, got)
	if !slices.Equal(got[:n], many[:maxLabels]) {
		t.Errorf("labels %+v, want the first %d of %+v", got[:n], maxLabels, many)
	}
}

func TestKindAndAnnotation(t *testing.T) {
	for k, s := range map[Kind]string{KindNone: "timeout", KindTimeExceeded: "time-exceeded", KindUnreachable: "unreachable",
		KindEchoReply: "echo-reply", KindSynAck: "syn-ack", KindRST: "rst", KindOther: "icmp-error"} {
		if k.String() != s {
			t.Errorf("Kind %d = %q, want %q", k, k.String(), s)
		}
	}
	cases := []struct {
		v6      bool
		code    uint8
		reached bool
		mtu     uint32
		want    string
	}{
		{false, 3, true, 0, ""}, {false, 3, false, 0, "!P"}, {false, 0, false, 0, "!N"}, {false, 1, false, 0, "!H"},
		{false, 13, false, 0, "!X"}, {false, 4, false, 1400, "!F-1400"}, {false, 99, false, 0, "!<99>"},
		{true, 4, true, 0, ""}, {true, 0, false, 0, "!N"}, {true, 3, false, 0, "!H"}, {true, 1, false, 0, "!X"},
	}
	for _, c := range cases {
		p := Probe{Kind: KindUnreachable, Code: c.code, Reached: c.reached, MTU: c.mtu}
		if got := p.Annotation(c.v6); got != c.want {
			t.Errorf("v6=%v code %d reached=%v: %q, want %q", c.v6, c.code, c.reached, got, c.want)
		}
	}
	if got := (&Probe{Kind: KindTimeExceeded}).Annotation(false); got != "" {
		t.Errorf("time exceeded annotated %q", got)
	}
}
