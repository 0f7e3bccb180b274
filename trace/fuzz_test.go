package trace

import (
	"github.com/rawnet/rawnet/internal/icmpmsg"
	"net/netip"
	"testing"
)

// seedMessages are valid answers of every kind, for the fuzz corpora.
func seedMessages(v6 bool) [][]byte {
	var out [][]byte
	for _, m := range methods {
		c := newProbeCase(m, v6, 0x0102, 3)
		out = append(out,
			c.errorFrom(c.router, teType(v6), 0, nil),
			c.errorFrom(c.dst, unreachType(v6), portUnreachCode(v6), nil),
			c.errorFrom(c.router, teType(v6), 0, func(s *errSpec) { s.labels = twoLabels }),
			c.errorFrom(c.router, teType(v6), 0, func(s *errSpec) { s.labels, s.compat = twoLabels, true }),
			c.errorFrom(c.router, teType(v6), 0, func(s *errSpec) { s.quote = hdrLen(v6) + 8 }),
		)
		if m == ICMP {
			out = append(out, writeEchoReply(make([]byte, 200), v6, c.l4(), c.dst, c.src))
		}
	}
	return out
}

func FuzzParseICMP(f *testing.F) {
	for _, v6 := range []bool{false, true} {
		for _, msg := range seedMessages(v6) {
			for m := range methods {
				f.Add(msg, v6, uint8(m))
			}
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte, v6 bool, method uint8) {
		m := Method(method % 3)
		fp := testParams(m, v6, 0)
		_, _, router := testAddrs(v6)
		var r reply
		if !fp.parseICMP(msg, router, &r) {
			return
		}
		if !validID(r.id) {
			t.Fatalf("taken with id %#x", r.id)
		}
		if r.nLabels > maxLabels {
			t.Fatalf("%d labels", r.nLabels)
		}
		if r.from != router {
			t.Fatalf("from %s", r.from)
		}
		if r.kind == KindEchoReply {
			if m != ICMP || icmpmsg.Classify(v6, msg[0]) != icmpmsg.ClassEchoReply || r.quoted {
				t.Fatalf("echo reply taken by a %s run (type %d, quoted %v)", m, msg[0], r.quoted)
			}
			return
		}
		if !r.quoted || r.kind != errorKind(msg[0], v6) || r.typ != msg[0] || r.hasFlow != (m != ICMP) {
			t.Fatalf("error: %+v", r)
		}
		if r.hasFlow && r.flow != r.qSport-fp.sport {
			t.Fatalf("flow %d from source port %d", r.flow, r.qSport)
		}
	})
}

func FuzzParseTCP(f *testing.F) {
	for _, v6 := range []bool{false, true} {
		c := newProbeCase(TCP, v6, 0x0102, 3)
		for _, open := range []bool{false, true} {
			f.Add(writeTCPAnswer(make([]byte, 40), c.l4(), open, c.dst, c.src), v6)
		}
	}
	f.Fuzz(func(t *testing.T, seg []byte, v6 bool) {
		fp := testParams(TCP, v6, 0)
		_, dst, _ := testAddrs(v6)
		var r reply
		if !fp.parseTCP(seg, dst, &r) {
			return
		}
		flags := seg[13]
		want := KindSynAck
		if flags&tcpRST != 0 {
			want = KindRST
		}
		if !validID(r.id) || r.kind != want || flags&tcpACK == 0 || !r.hasFlow || r.target != dst {
			t.Fatalf("taken: %+v (flags %#x)", r, flags)
		}
		if ack := uint32(seg[8])<<24 | uint32(seg[9])<<16 | uint32(seg[10])<<8 | uint32(seg[11]); ack-1 != uint32(fp.cookie)<<16|uint32(r.id) {
			t.Fatalf("ack %#x taken as id %#x", ack, r.id)
		}
	})
}

func FuzzParseMPLS(f *testing.F) {
	for _, v6 := range []bool{false, true} {
		for _, msg := range seedMessages(v6) {
			f.Add(msg, v6)
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte, v6 bool) {
		var labels [3]MPLSLabel
		n := parseMPLS(msg, v6, labels[:])
		if n < 0 || n > len(labels) {
			t.Fatalf("%d labels into room for %d", n, len(labels))
		}
		if n == 0 {
			return
		}
		ext := icmpmsg.Extensions(msg, v6)
		if ext == nil || ext[0]>>4 != 2 {
			t.Fatalf("labels without an extension structure")
		}
		for _, l := range labels[:n] {
			if l.Label >= 1<<20 || l.TC >= 8 {
				t.Fatalf("label %+v out of range", l)
			}
		}
	})
}

// FuzzProbeRoundTrip: any probe a run may build verifies, and the answers
// the network gives to it (a Time Exceeded quoting all of it or 8 bytes,
// the target's answer) lead back to its identity and flow.
func FuzzProbeRoundTrip(f *testing.F) {
	f.Add(uint8(0), false, 60, uint8(1), uint16(1), uint8(0), uint8(0), []byte{198, 18, 0, 1}, []byte{198, 19, 0, 9})
	f.Add(uint8(1), true, 81, uint8(64), uint16(maxID), uint8(7), uint8(0xb8), []byte{0xfd, 0, 0, 1}, []byte{0xfd, 0, 0, 2})
	f.Add(uint8(2), false, 61, uint8(255), uint16(0x1234), uint8(255), uint8(3), []byte{1}, []byte{2})
	f.Fuzz(func(t *testing.T, method uint8, v6 bool, size int, ttl uint8, id uint16, flow, tos uint8, srcB, dstB []byte) {
		m := Method(method % 3)
		size = MinSize(m, v6) + int(uint(size)%1500)
		id = 1 + id%maxID
		fp := testParams(m, v6, size)
		fp.tos = tos
		src, dst := addrFrom(srcB, v6), addrFrom(dstB, v6)
		_, _, router := testAddrs(v6)
		pkt := fp.build(make([]byte, size), src, dst, ttl, id, uint16(flow))
		hl := hdrLen(v6)
		var pseudo uint32
		if v6 || m != ICMP {
			pseudo = refPseudo(src, dst, m.proto(v6), size-hl)
		}
		if !verifies(pkt[hl:], pseudo) {
			t.Fatalf("%s probe %s -> %s (%d bytes) does not verify", m, src, dst, size)
		}
		for _, quote := range []int{0, hl + 8} {
			s := errSpec{v6: v6, typ: teType(v6), from: router, to: src, ttl: 1, tos: tos, quote: quote}
			msg := s.write(make([]byte, 1600), pkt)
			var r reply
			if !fp.parseICMP(msg, router, &r) || r.id != id || r.target != dst || r.qTOS != tos {
				t.Fatalf("time exceeded (quote %d) read as %+v, want id %#x", quote, r, id)
			}
			if m != ICMP && r.flow != uint16(flow) {
				t.Fatalf("flow %d, want %d", r.flow, flow)
			}
		}
		var r reply
		switch m {
		case ICMP:
			if !fp.parseICMP(writeEchoReply(make([]byte, 1600), v6, pkt[hl:], dst, src), dst, &r) || r.id != id {
				t.Fatalf("echo reply read as %+v, want id %#x", r, id)
			}
		case TCP:
			if !fp.parseTCP(writeTCPAnswer(make([]byte, 40), pkt[hl:], true, dst, src), dst, &r) || r.id != id || r.flow != uint16(flow) {
				t.Fatalf("SYN-ACK read as %+v, want id %#x flow %d", r, id, flow)
			}
		}
	})
}

func addrFrom(b []byte, v6 bool) netip.Addr {
	if v6 {
		var a [16]byte
		copy(a[:], b)
		return netip.AddrFrom16(a)
	}
	var a [4]byte
	copy(a[:], b)
	return netip.AddrFrom4(a)
}
