package inet

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// refFold is an independent reference for the one's complement sum: 16-bit
// words one at a time, folded at the end (RFC 1071, section 4.1).
func refFold(b []byte, initial uint32) uint16 {
	s := uint64(initial)
	for i := 0; i+1 < len(b); i += 2 {
		s += uint64(b[i])<<8 | uint64(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint64(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// refPseudo is the pseudo header written out byte by byte as RFC 768
// (IPv4) and RFC 8200 section 8.1 (IPv6) draw it.
func refPseudo(src, dst netip.Addr, proto uint8, length int) []byte {
	var b []byte
	b = append(b, src.AsSlice()...)
	b = append(b, dst.AsSlice()...)
	if src.Is4() {
		b = append(b, 0, proto)
		b = binary.BigEndian.AppendUint16(b, uint16(length))
	} else {
		b = binary.BigEndian.AppendUint32(b, uint32(length))
		b = append(b, 0, 0, 0, proto)
	}
	return b
}

func TestChecksumRFC1071Example(t *testing.T) {
	// RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to 2ddf0,
	// which folds to ddf2; the checksum is its complement.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := Sum(b, 0); Fold(got) != 0xddf2 {
		t.Errorf("Fold(Sum) = %#x, want 0xddf2 (Sum %#x)", Fold(got), got)
	}
	if got := Checksum(b, 0); got != 0x220d {
		t.Errorf("Checksum = %#04x, want 0x220d", got)
	}
}

func TestChecksumKnownIPv4Header(t *testing.T) {
	// A captured IPv4 header (192.168.0.1 -> 192.168.0.199, UDP) whose
	// checksum field holds 0xb861.
	hdr := []byte{
		0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61,
		0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
	}
	if got := Checksum(hdr, 0); got != 0 {
		t.Errorf("checksum over the whole header = %#04x, want 0 (it verifies)", got)
	}
	z := bytes.Clone(hdr)
	z[10], z[11] = 0, 0
	if got := Checksum(z, 0); got != 0xb861 {
		t.Errorf("checksum with the field zeroed = %#04x, want 0xb861", got)
	}
}

func TestSumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	initials := []uint32{0, 1, 0xffff, 0x1fffe, 0xfffffff0, 0xffffffff}
	for n := 0; n <= 70; n++ {
		for trial := 0; trial < 40; trial++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			if trial%5 == 0 { // all ones stresses the carries
				for i := range b {
					b[i] = 0xff
				}
			}
			init := initials[trial%len(initials)]
			if trial >= len(initials) {
				init = r.Uint32()
			}
			if got, want := Fold(Sum(b, init)), refFold(b, init); got != want && !(got == 0 && want == 0xffff || got == 0xffff && want == 0) {
				t.Fatalf("len %d initial %#x: Fold(Sum) = %#04x, reference %#04x (% x)", n, init, got, want, b)
			}
		}
	}
}

func TestFold(t *testing.T) {
	for _, c := range []struct{ in, want uint32 }{
		{0, 0}, {0xffff, 0xffff}, {0x10000, 1}, {0x1fffe, 0xffff}, {0x2ddf0, 0xddf2}, {0xffffffff, 0xffff},
	} {
		if got := Fold(c.in); uint32(got) != c.want {
			t.Errorf("Fold(%#x) = %#x, want %#x", c.in, got, c.want)
		}
	}
}

func TestWriteIPv4(t *testing.T) {
	src, dst := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.19.255.254")
	for _, df := range []bool{false, true} {
		buf := bytes.Repeat([]byte{0xee}, 64) // stale bytes must all be overwritten
		h := IPv4{TOS: 0xb8, ID: 0xbeef, DF: df, TTL: 7, Proto: ProtoUDP, Src: src, Dst: dst}
		got := WriteIPv4(buf, h, 40)
		if len(got) != IPv4HeaderLen || &got[0] != &buf[0] {
			t.Fatalf("WriteIPv4 returned %d bytes (want b[:20])", len(got))
		}
		flags := byte(0)
		if df {
			flags = 0x40
		}
		want := []byte{0x45, 0xb8, 0, 60, 0xbe, 0xef, flags, 0, 7, 17, 0, 0, 198, 18, 0, 1, 198, 19, 255, 254}
		cs := binary.BigEndian.Uint16(got[10:])
		g := bytes.Clone(got)
		g[10], g[11] = 0, 0
		if !bytes.Equal(g, want) {
			t.Errorf("DF=%v header\n got % x\nwant % x (checksum bytes zeroed)", df, g, want)
		}
		if refFold(got, 0) != 0xffff {
			t.Errorf("DF=%v: header does not verify (checksum %#04x)", df, cs)
		}
		// gopacket's view of the same header.
		pkt := append(bytes.Clone(got), make([]byte, 40)...)
		p := gopacket.NewPacket(pkt, layers.LayerTypeIPv4, gopacket.Default)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if ip == nil {
			t.Fatalf("gopacket does not decode the header: %v", p.ErrorLayer())
		}
		if ip.TOS != 0xb8 || ip.Id != 0xbeef || ip.TTL != 7 || ip.Protocol != layers.IPProtocolUDP ||
			ip.Length != 60 || ip.IHL != 5 || (ip.Flags&layers.IPv4DontFragment != 0) != df ||
			!ip.SrcIP.Equal(net.IP(src.AsSlice())) || !ip.DstIP.Equal(net.IP(dst.AsSlice())) {
			t.Errorf("gopacket decodes %+v", ip)
		}
		if err, res := ip.VerifyChecksum(); err != nil || !res.Valid {
			t.Errorf("gopacket: checksum %+v %v", res, err)
		}
	}
}

func TestWriteIPv6(t *testing.T) {
	src, dst := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00:1:2:3::ffff")
	buf := bytes.Repeat([]byte{0xee}, 80)
	got := WriteIPv6(buf, IPv6{TrafficClass: 0xb8, FlowLabel: 0xfff12345, HopLimit: 9, Next: ProtoICMPv6, Src: src, Dst: dst}, 40)
	if len(got) != IPv6HeaderLen {
		t.Fatalf("WriteIPv6 returned %d bytes", len(got))
	}
	// version 6, traffic class b8, flow label 12345 (only 20 bits kept)
	want := append([]byte{0x6b, 0x81, 0x23, 0x45, 0, 40, 58, 9}, src.AsSlice()...)
	want = append(want, dst.AsSlice()...)
	if !bytes.Equal(got, want) {
		t.Errorf("header\n got % x\nwant % x", got, want)
	}
	p := gopacket.NewPacket(append(bytes.Clone(got), make([]byte, 40)...), layers.LayerTypeIPv6, gopacket.Default)
	ip, _ := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	if ip == nil {
		t.Fatalf("gopacket does not decode the header: %v", p.ErrorLayer())
	}
	if ip.Version != 6 || ip.TrafficClass != 0xb8 || ip.FlowLabel != 0x12345 || ip.Length != 40 ||
		ip.NextHeader != layers.IPProtocolICMPv6 || ip.HopLimit != 9 ||
		!ip.SrcIP.Equal(net.IP(src.AsSlice())) || !ip.DstIP.Equal(net.IP(dst.AsSlice())) {
		t.Errorf("gopacket decodes %+v", ip)
	}
}

func randAddr(r *rand.Rand, v6 bool) netip.Addr {
	if v6 {
		var a [16]byte
		for i := range a {
			a[i] = byte(r.Uint32())
		}
		return netip.AddrFrom16(a)
	}
	var a [4]byte
	for i := range a {
		a[i] = byte(r.Uint32())
	}
	return netip.AddrFrom4(a)
}

// pseudoCases are address pairs whose sums carry: all ones, and a pair
// whose IPv6 address words add up to exactly 0xffffffff (so that adding
// the protocol and length carries out of 32 bits).
var pseudoCases = []struct{ src, dst string }{
	{"198.18.0.1", "198.19.255.254"},
	{"255.255.255.255", "255.255.255.255"},
	{"fd00::1", "fd00:1:2:3::ffff"},
	{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	{"fd00::1", "fd00:0:5ff:fffd::"},
}

func TestPseudoSumMatchesPseudoHeader(t *testing.T) {
	check := func(src, dst netip.Addr, proto uint8, length int) {
		t.Helper()
		got := Fold(PseudoSum(src, dst, proto, length))
		want := refFold(refPseudo(src, dst, proto, length), 0)
		if got != want && !(got == 0 && want == 0xffff || got == 0xffff && want == 0) {
			t.Errorf("PseudoSum(%s, %s, %d, %d) folds to %#04x, the pseudo header sums to %#04x", src, dst, proto, length, got, want)
		}
	}
	for _, c := range pseudoCases {
		for _, proto := range []uint8{ProtoUDP, ProtoTCP, ProtoICMPv6} {
			check(netip.MustParseAddr(c.src), netip.MustParseAddr(c.dst), proto, 8)
			check(netip.MustParseAddr(c.src), netip.MustParseAddr(c.dst), proto, 1480)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		v6 := i%2 == 1
		maxLen := uint32(65536) // an IPv4 length has 16 bits; IPv6's 32
		if v6 {
			maxLen = 200000
		}
		check(randAddr(r, v6), randAddr(r, v6), uint8(r.Uint32()), int(r.Uint32N(maxLen)))
	}
}

// gopacketL4 serializes an upper-layer packet with gopacket's own
// checksum and returns its bytes.
func gopacketL4(t *testing.T, src, dst netip.Addr, proto uint8, payload []byte) []byte {
	t.Helper()
	var nl gopacket.NetworkLayer
	if src.Is4() {
		nl = &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocol(proto), SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	} else {
		nl = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocol(proto), SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	}
	var l4 gopacket.SerializableLayer
	switch proto {
	case ProtoUDP:
		u := &layers.UDP{SrcPort: 40000, DstPort: 33434}
		_ = u.SetNetworkLayerForChecksum(nl)
		l4 = u
	case ProtoTCP:
		c := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 0x12345678, SYN: true, Window: 64240}
		_ = c.SetNetworkLayerForChecksum(nl)
		l4 = c
	case ProtoICMPv6:
		c := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
		_ = c.SetNetworkLayerForChecksum(nl)
		l4 = c
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, l4, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPseudoSumAgreesWithGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	type cs struct {
		proto uint8
		off   int
	}
	for _, c := range pseudoCases {
		src, dst := netip.MustParseAddr(c.src), netip.MustParseAddr(c.dst)
		for _, p := range []cs{{ProtoUDP, 6}, {ProtoTCP, 16}, {ProtoICMPv6, 2}} {
			if p.proto == ProtoICMPv6 && src.Is4() {
				continue
			}
			for _, n := range []int{0, 1, 2, 33, 100} {
				payload := make([]byte, n)
				for i := range payload {
					payload[i] = byte(r.Uint32())
				}
				seg := gopacketL4(t, src, dst, p.proto, payload)
				theirs := binary.BigEndian.Uint16(seg[p.off:])
				z := bytes.Clone(seg)
				z[p.off], z[p.off+1] = 0, 0
				ours := Checksum(z, PseudoSum(src, dst, p.proto, len(z)))
				if p.proto == ProtoUDP && ours == 0 {
					ours = 0xffff // RFC 768: a computed zero is sent as all ones
				}
				if ours != theirs {
					t.Errorf("%s -> %s proto %d payload %d: Checksum with PseudoSum = %#04x, gopacket computes %#04x", src, dst, p.proto, n, ours, theirs)
				}
			}
		}
	}
}

// TestCompensate is the property Paris probes rest on: with want in the
// checksum field and the compensating word in its place, the message
// (pseudo header included) verifies, and a receiver that computes the
// checksum with the field zeroed gets exactly want.
func TestCompensate(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const csumOff, compOff = 6, 8 // as in a UDP probe
	for i := 0; i < 50000; i++ {
		n := 10 + int(r.Uint32N(200))
		msg := make([]byte, n)
		switch i % 7 {
		case 0: // all zero
		case 1:
			for k := range msg {
				msg[k] = 0xff
			}
		default:
			for k := range msg {
				msg[k] = byte(r.Uint32())
			}
		}
		want := uint16(1 + r.Uint32N(0xfffe))
		switch i % 11 {
		case 0:
			want = 1
		case 1:
			want = 0xfffe
		}
		var pseudo uint32
		if i%3 != 0 {
			pseudo = r.Uint32()
		}
		msg[csumOff], msg[csumOff+1], msg[compOff], msg[compOff+1] = 0, 0, 0, 0
		w := Compensate(Sum(msg, pseudo), want)
		binary.BigEndian.PutUint16(msg[csumOff:], want)
		binary.BigEndian.PutUint16(msg[compOff:], w)
		if got := refFold(msg, pseudo); got != 0xffff && got != 0 {
			t.Fatalf("case %d: want %#04x, word %#04x: message does not verify (sum %#04x)", i, want, w, got)
		}
		msg[csumOff], msg[csumOff+1] = 0, 0
		if got := ^refFold(msg, pseudo); got != want {
			t.Fatalf("case %d: receiver computes checksum %#04x, want %#04x", i, got, want)
		}
	}
}

// FuzzSum checks the word-at-a-time sum against the reference for any
// bytes and initial value.
func FuzzSum(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, uint32(0))
	f.Add(bytes.Repeat([]byte{0xff}, 17), uint32(0xffffffff))
	f.Fuzz(func(t *testing.T, b []byte, initial uint32) {
		got, want := Fold(Sum(b, initial)), refFold(b, initial)
		if got != want && !(got == 0 && want == 0xffff || got == 0xffff && want == 0) {
			t.Fatalf("Fold(Sum) = %#04x, reference %#04x", got, want)
		}
	})
}

func BenchmarkChecksum(b *testing.B) {
	buf := make([]byte, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		_ = Checksum(buf, 0)
	}
}

func TestIPv4HeaderLength(t *testing.T) {
	h := make([]byte, 28)
	h[0] = 0x46 // 24-byte header
	if n, err := IPv4HeaderLength(h); n != 24 || err != nil {
		t.Errorf("IHL 6: %d, %v; want 24", n, err)
	}
	if _, err := IPv4HeaderLength(h[:19]); err != ErrShortIPv4 {
		t.Errorf("19 bytes: %v, want ErrShortIPv4", err)
	}
	for _, b0 := range []byte{0x44, 0x4f} { // below 20 bytes; beyond the packet
		h[0] = b0
		if _, err := IPv4HeaderLength(h); err != ErrIPv4HeaderLength {
			t.Errorf("first byte %#x: %v, want ErrIPv4HeaderLength", b0, err)
		}
	}
}

// TestParseIPv4 reads a header WriteIPv4 wrote, with options, as gopacket
// does, and refuses what IPv4HeaderLength refuses.
func TestParseIPv4(t *testing.T) {
	b := make([]byte, 40)
	WriteIPv4(b, IPv4{TOS: 0xb8, TTL: 7, Proto: ProtoUDP, ID: 0x1234, DF: true,
		Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("198.18.3.2")}, 20)
	b[0] = 0x46 // a 24-byte header: 4 bytes of options
	binary.BigEndian.PutUint16(b[6:], binary.BigEndian.Uint16(b[6:])|0x00b9)
	h, err := ParseIPv4(b)
	want := IPv4Header{Len: 24, TOS: 0xb8, TTL: 7, Proto: ProtoUDP, ID: 0x1234, DF: true, FragOffset: 0xb9,
		Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("198.18.3.2")}
	if err != nil || h != want {
		t.Errorf("ParseIPv4 = %+v, %v; want %+v", h, err, want)
	}
	if _, err := ParseIPv4(b[:19]); err != ErrShortIPv4 {
		t.Errorf("19 bytes: %v, want ErrShortIPv4", err)
	}
}
