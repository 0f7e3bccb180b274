package icmpmsg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"

	xicmp "golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// x/net/icmp is the independent reference for the echo codec.
func TestMarshalEchoAgainstXNet(t *testing.T) {
	pr := Probe{Cookie: 0x0102030405060708, Target: 42, Seq: 70000}
	b := MarshalEcho(make([]byte, 8+56), Echo{Type: TypeEchoRequest4, ID: 0xbeef, Seq: uint16(pr.Seq)}, pr, []byte{0xab, 0xcd})
	m, err := xicmp.ParseMessage(1, b)
	if err != nil {
		t.Fatal(err)
	}
	echo, ok := m.Body.(*xicmp.Echo)
	if m.Type != ipv4.ICMPTypeEcho || !ok || echo.ID != 0xbeef || echo.Seq != int(uint16(pr.Seq)) || len(echo.Data) != 56 {
		t.Fatalf("x/net parsed %+v %+v", m, m.Body)
	}
	if Checksum(b, 0) != 0 {
		t.Errorf("checksum does not verify")
	}
	// x/net computes the same bytes for the same echo.
	want, err := (&xicmp.Message{Type: ipv4.ICMPTypeEcho, Body: &xicmp.Echo{ID: 0xbeef, Seq: int(uint16(pr.Seq)), Data: echo.Data}}).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, b) {
		t.Errorf("bytes differ from x/net:\n got %x\nwant %x", b, want)
	}
	if !bytes.Equal(echo.Data[16:20], []byte{0xab, 0xcd, 0xab, 0xcd}) {
		t.Errorf("pattern not repeated after probe fields: %x", echo.Data[16:20])
	}
	e, p2, has, err := ParseEcho(b)
	if err != nil || !has || p2 != pr || e.ID != 0xbeef {
		t.Errorf("ParseEcho = %+v %+v %v %v", e, p2, has, err)
	}
}

func TestEchoChecksum6AgainstXNet(t *testing.T) {
	src, dst := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00:0:0:3::2")
	b := MarshalEcho(make([]byte, 8+20), Echo{Type: TypeEchoRequest6, ID: 1, Seq: 2}, Probe{Cookie: 3}, nil)
	binary.BigEndian.PutUint16(b[2:], Checksum6(b, src, dst))
	want, err := (&xicmp.Message{Type: ipv6.ICMPTypeEchoRequest, Body: &xicmp.Echo{ID: 1, Seq: 2, Data: b[8:]}}).
		Marshal(xicmp.IPv6PseudoHeader(net.IP(src.AsSlice()), net.IP(dst.AsSlice())))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, b) {
		t.Errorf("ICMPv6 checksum differs from x/net:\n got %x\nwant %x", b, want)
	}
}

func TestParseError4(t *testing.T) {
	req := MarshalEcho(make([]byte, 8+56), Echo{Type: TypeEchoRequest4, ID: 5, Seq: 6}, Probe{Cookie: 9, Seq: 6}, nil)
	h := &ipv4.Header{Version: 4, Len: 20, TOS: 0x28, TotalLen: 20 + len(req), TTL: 1, Protocol: 1,
		Src: net.ParseIP("198.18.0.1"), Dst: net.ParseIP("198.18.3.2")}
	hb, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	msg, err := (&xicmp.Message{Type: ipv4.ICMPTypeTimeExceeded, Body: &xicmp.TimeExceeded{Data: append(hb, req...)}}).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseError4(msg)
	if err != nil {
		t.Fatal(err)
	}
	if q.Type != 11 || q.Dst != netip.MustParseAddr("198.18.3.2") || q.Src != netip.MustParseAddr("198.18.0.1") ||
		q.Proto != 1 || q.TOS != 0x28 || q.TTL != 1 || !bytes.Equal(q.Payload, req) {
		t.Errorf("ParseError4 = %+v", q)
	}
	if _, err := ParseError4(req); !errors.Is(err, ErrNotError) {
		t.Errorf("echo request parsed as error: %v", err)
	}
	if _, err := ParseError4(msg[:20]); !errors.Is(err, ErrShort) {
		t.Errorf("truncated error: %v", err)
	}
}

// parseTimeExceeded6 parses an ICMPv6 time exceeded message (x/net/icmp
// writes it) that quotes ip.
func parseTimeExceeded6(t *testing.T, ip []byte) Quote {
	t.Helper()
	msg, err := (&xicmp.Message{Type: ipv6.ICMPTypeTimeExceeded, Body: &xicmp.TimeExceeded{Data: ip}}).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseError6(msg)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestParseError6WithExtensionHeader(t *testing.T) {
	req := MarshalEcho(make([]byte, 8+16), Echo{Type: TypeEchoRequest6, ID: 5, Seq: 6}, Probe{Cookie: 9, Seq: 6}, nil)
	ip := make([]byte, 40+8+len(req))
	ip[0] = 0x60 | 0x0b>>4
	ip[1] = 0x0b << 4 // traffic class 0xbb? keep simple: 0x0b in high nibble
	binary.BigEndian.PutUint16(ip[4:], uint16(8+len(req)))
	ip[6], ip[7] = 60, 1 // destination options, then ICMPv6
	src, dst := netip.MustParseAddr("fd00::1").As16(), netip.MustParseAddr("fd00:0:0:3::2").As16()
	copy(ip[8:], src[:])
	copy(ip[24:], dst[:])
	ip[40], ip[41] = 58, 0 // next header ICMPv6, 8 bytes long
	copy(ip[48:], req)
	q := parseTimeExceeded6(t, ip)
	if q.Type != 3 || q.Proto != 58 || q.TTL != 1 || q.Dst != netip.AddrFrom16(dst) || !bytes.Equal(q.Payload, req) {
		t.Errorf("ParseError6 = %+v", q)
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		v6        bool
		typ, code uint8
		info      uint32
		want      string
	}{
		{false, 11, 0, 0, "Time to live exceeded"},
		{false, 3, 1, 0, "Destination Host Unreachable"},
		{false, 3, 0, 0, "Destination Net Unreachable"},
		{false, 3, 4, 1400, "Frag needed and DF set (mtu = 1400)"},
		{true, 3, 0, 0, "Time to live exceeded"},
		{true, 1, 0, 0, "Destination unreachable: No route"},
		{true, 2, 0, 1280, "Packet too big: mtu=1280"},
	} {
		if got := Describe(tc.v6, tc.typ, tc.code, tc.info); got != tc.want {
			t.Errorf("Describe(%v,%d,%d) = %q, want %q", tc.v6, tc.typ, tc.code, got, tc.want)
		}
	}
}

// The template's incremental checksum gives exactly MarshalEcho's bytes.
func TestEchoTemplateMatchesMarshalEcho(t *testing.T) {
	for _, size := range []int{0, 7, 15, 16, 17, 56, 1471} {
		for _, pattern := range [][]byte{nil, {0xab}, {1, 2, 3}} {
			tmpl := NewEchoTemplate(size, pattern)
			for i, e := range []Echo{{Type: 8, ID: 1, Seq: 2}, {Type: 8, ID: 0xffff, Seq: 0xfffe}, {Type: 128, ID: 7, Seq: 9}} {
				p := Probe{Cookie: 0xfedcba9876543210 + uint64(i), Target: uint32(i * 1000), Seq: uint32(e.Seq) + 1<<20}
				want := MarshalEcho(make([]byte, 8+size), e, p, pattern)
				if got := tmpl.Marshal(e, p); !bytes.Equal(got, want) {
					t.Fatalf("size %d pattern %x echo %+v:\n got %x\nwant %x", size, pattern, e, got, want)
				}
			}
		}
	}
}

// TestParseError6WithAuthHeader: the quoted datagram carries an IPsec
// authentication header (RFC 4302), whose length counts 4-byte units
// plus 2; the transport header after it is found.
func TestParseError6WithAuthHeader(t *testing.T) {
	udp := []byte{0x82, 0x9a, 0x82, 0x9b, 0, 12, 0, 0, 'p', 'r', 'o', 'b'}
	ah := make([]byte, 24) // 12 fixed bytes and a 12-byte ICV
	ah[0], ah[1] = 17, 24/4-2
	ip := make([]byte, 40, 40+len(ah)+len(udp))
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(len(ah)+len(udp)))
	ip[6], ip[7] = 51, 2
	copy(ip[8:], netip.MustParseAddr("fd00::1").AsSlice())
	copy(ip[24:], netip.MustParseAddr("fd00:0:0:3::2").AsSlice())
	ip = append(append(ip, ah...), udp...)
	q := parseTimeExceeded6(t, ip)
	if q.Proto != 17 || !bytes.Equal(q.Payload, udp) {
		t.Errorf("ParseError6 = proto %d payload % x; want 17, % x", q.Proto, q.Payload, udp)
	}
}
