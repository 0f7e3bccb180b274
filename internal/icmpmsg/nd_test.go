package icmpmsg

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// gopacket encodes neighbour discovery messages independently; the
// checksum is left out of the comparison (AppendNeighbor leaves it to the
// kernel), then checked with Checksum6.
func TestNeighborAgainstGopacket(t *testing.T) {
	src, dst := netip.MustParseAddr("fe80::1"), netip.MustParseAddr("ff02::1:ff00:2")
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	target := netip.MustParseAddr("fd00::2")
	for _, tc := range []struct {
		m     Neighbor
		layer gopacket.SerializableLayer
		opt   uint8
	}{
		{Neighbor{Type: TypeNeighborSolicit6, Target: target}, &layers.ICMPv6NeighborSolicitation{TargetAddress: target.AsSlice(),
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: mac}}}, OptSourceLinkAddr},
		{Neighbor{Type: TypeNeighborAdvert6, Router: true, Override: true, Target: target}, &layers.ICMPv6NeighborAdvertisement{
			Flags: 0xa0, TargetAddress: target.AsSlice(), Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptTargetAddress, Data: mac}}}, OptTargetLinkAddr},
	} {
		ip := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolICMPv6, HopLimit: 255, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(tc.m.Type, 0)}
		if err := ic.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, ic, tc.layer); err != nil {
			t.Fatal(err)
		}
		want := buf.Bytes()
		tc.m.Options = AppendLinkAddrOption(nil, tc.opt, mac)
		got := AppendNeighbor(nil, tc.m)
		if !bytes.Equal(got[:2], want[:2]) || !bytes.Equal(got[4:], want[4:]) {
			t.Fatalf("type %d:\n got %x\nwant %x", tc.m.Type, got, want)
		}
		if sum := Checksum6(got, src, dst); sum != uint16(want[2])<<8|uint16(want[3]) {
			t.Errorf("type %d: checksum %#x, gopacket %x", tc.m.Type, sum, want[2:4])
		}
		back, err := ParseNeighbor(want)
		if err != nil || back.Type != tc.m.Type || back.Target != target || back.Router != tc.m.Router ||
			back.Solicited != tc.m.Solicited || back.Override != tc.m.Override {
			t.Errorf("ParseNeighbor = %+v, %v; want %+v", back, err, tc.m)
		}
		if a := LinkAddrOption(back.Options, tc.opt); !bytes.Equal(a, mac) {
			t.Errorf("type %d: link-layer address %x", tc.m.Type, a)
		}
	}
}

func TestNeighborMalformed(t *testing.T) {
	ns := AppendNeighbor(nil, Neighbor{Type: TypeNeighborSolicit6, Target: netip.MustParseAddr("fd00::2")})
	if _, err := ParseNeighbor(ns[:NeighborLen-1]); !errors.Is(err, ErrShort) {
		t.Errorf("short: %v", err)
	}
	ns[0] = TypeRouterSolicit6
	if _, err := ParseNeighbor(ns); !errors.Is(err, ErrType) {
		t.Errorf("router solicitation: %v", err)
	}
	for name, opts := range map[string][]byte{
		"zero length":   {1, 0, 2, 0, 0, 0, 0, 1},
		"past the end":  {1, 2, 2, 0, 0, 0, 0, 1},
		"other type":    {5, 1, 0, 0, 5, 0xdc, 0, 0},
		"cut in header": {1},
	} {
		if a := LinkAddrOption(opts, OptSourceLinkAddr); a != nil {
			t.Errorf("%s: %x", name, a)
		}
	}
}
