package ipwrap

import (
	"github.com/rawnet/rawnet/internal/inet"

	"bytes"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func TestUDPDecodesWithValidChecksums(t *testing.T) {
	payload := []byte("rawnet udp payload, odd length!")
	for _, tc := range []struct{ src, dst string }{
		{"198.18.0.1:4000", "198.18.1.2:7"},
		{"[::ffff:198.18.0.1]:4000", "[::ffff:198.18.1.2]:7"}, // mapped: an IPv4 packet
		{"[fd00:0:0:1::1]:4000", "[fd00:0:0:1::2]:7"},
	} {
		src, dst := netip.MustParseAddrPort(tc.src), netip.MustParseAddrPort(tc.dst)
		b := make([]byte, 100)
		pkt := UDP(b, src, dst, Header{TTL: 61, TOS: 0x28}, payload)
		first := layers.LayerTypeIPv4
		if !dst.Addr().Unmap().Is4() {
			first = layers.LayerTypeIPv6
		}
		p := gopacket.NewPacket(pkt, first, gopacket.Default)
		u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok || p.ErrorLayer() != nil {
			t.Fatalf("%s: not a UDP packet: %v", tc.dst, p)
		}
		if u.SrcPort != 4000 || u.DstPort != 7 || !bytes.Equal(u.Payload, payload) {
			t.Errorf("%s: ports %d>%d payload %q", tc.dst, u.SrcPort, u.DstPort, u.Payload)
		}
		// The one's complement sum over pseudo header and datagram,
		// checksum included, is all ones: Fold gives 0.
		hl := HeaderLen(dst.Addr().Unmap())
		if got := inet.Checksum(pkt[hl:], inet.PseudoSum(src.Addr().Unmap(), dst.Addr().Unmap(), ProtoUDP, len(pkt)-hl)); got != 0 {
			t.Errorf("%s: UDP checksum does not verify (%#x)", tc.dst, got)
		}
		if hl == IPv4HeaderLen && inet.Checksum(pkt[:hl], 0) != 0 {
			t.Errorf("%s: IPv4 header checksum does not verify", tc.dst)
		}
	}
}

func TestICMPErrorQuotesThePacket(t *testing.T) {
	inner := UDP(make([]byte, 64), netip.MustParseAddrPort("[fd00::1]:5"), netip.MustParseAddrPort("[fd00::2]:53"), Header{TTL: 64}, []byte{1, 2, 3})
	b := make([]byte, 200)
	pkt := ICMPError(b, netip.MustParseAddr("fd00::2"), netip.MustParseAddr("fd00::1"), 1, 4, inner)
	p := gopacket.NewPacket(pkt, layers.LayerTypeIPv6, gopacket.Default)
	icmp, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	if !ok || icmp.TypeCode.Type() != 1 || icmp.TypeCode.Code() != 4 {
		t.Fatalf("not an ICMPv6 port unreachable: %v", p)
	}
	if inet.Checksum(pkt[IPv6HeaderLen:], inet.PseudoSum(netip.MustParseAddr("fd00::2"), netip.MustParseAddr("fd00::1"), ProtoICMP6, len(pkt)-IPv6HeaderLen)) != 0 {
		t.Error("ICMPv6 checksum does not verify")
	}
	if !bytes.Equal(pkt[IPv6HeaderLen+8:], inner) {
		t.Error("quoted packet differs")
	}
}
