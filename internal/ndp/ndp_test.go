package ndp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	mac    = [6]byte{2, 0, 0, 0, 0, 1}
	src    = netip.MustParseAddr("fe80::1")
	target = netip.MustParseAddr("fd00::1:2:3")
)

func TestMulticastAddresses(t *testing.T) {
	if got := SolicitedNode(target); got != netip.MustParseAddr("ff02::1:ff02:3") {
		t.Errorf("solicited-node of %s = %s", target, got)
	}
	if got := MulticastMAC(SolicitedNode(target)); got != [6]byte{0x33, 0x33, 0xff, 0x02, 0, 3} {
		t.Errorf("multicast MAC %x", got)
	}
}

// TestSolicitAgreesWithGopacket has gopacket decode a solicitation and a
// DAD probe: addresses, hop limit 255, checksum, and the option only
// when the source is specified.
func TestSolicitAgreesWithGopacket(t *testing.T) {
	for _, s := range []netip.Addr{src, netip.IPv6Unspecified()} {
		f := AppendSolicit(nil, mac, s, target)
		p := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
		eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		ip, _ := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		icmp, _ := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		ns, _ := p.Layer(layers.LayerTypeICMPv6NeighborSolicitation).(*layers.ICMPv6NeighborSolicitation)
		if eth == nil || ip == nil || icmp == nil || ns == nil {
			t.Fatalf("src %s: gopacket decodes %v", s, p)
		}
		if !bytes.Equal(eth.DstMAC, []byte{0x33, 0x33, 0xff, 0x02, 0, 3}) || !bytes.Equal(eth.SrcMAC, mac[:]) {
			t.Errorf("src %s: Ethernet %s > %s", s, eth.SrcMAC, eth.DstMAC)
		}
		if ip.HopLimit != 255 || ip.DstIP.String() != "ff02::1:ff02:3" || ip.SrcIP.String() != s.String() {
			t.Errorf("src %s: IPv6 %s > %s hlim %d", s, ip.SrcIP, ip.DstIP, ip.HopLimit)
		}
		if ns.TargetAddress.String() != target.String() {
			t.Errorf("src %s: target %s", s, ns.TargetAddress)
		}
		if want := !s.IsUnspecified(); (len(ns.Options) == 1) != want ||
			want && (ns.Options[0].Type != layers.ICMPv6OptSourceAddress || !bytes.Equal(ns.Options[0].Data, mac[:])) {
			t.Errorf("src %s: options %v", s, ns.Options)
		}
		if err := icmp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		cs := icmp.Checksum
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, icmp, gopacket.Payload(icmp.Payload)); err != nil {
			t.Fatal(err)
		}
		if cs != icmp.Checksum {
			t.Errorf("src %s: checksum %#x, gopacket computes %#x", s, cs, icmp.Checksum)
		}
	}
}

// TestAdvertRoundTrip parses an unsolicited advertisement back, and
// refuses it once its hop limit or checksum is broken.
func TestAdvertRoundTrip(t *testing.T) {
	f := AppendAdvert(nil, mac, src, target)
	a, err := ParseAdvert(f)
	if err != nil || a.Target != target || a.MAC != mac || !a.Override || a.Solicited || a.Dst != AllNodes || a.Src != src {
		t.Fatalf("ParseAdvert = %+v, %v", a, err)
	}
	bad := append([]byte(nil), f...)
	bad[EthHeaderLen+7] = 64
	if _, err := ParseAdvert(bad); !errors.Is(err, ErrHopLimit) {
		t.Errorf("hop limit 64: %v, want ErrHopLimit", err)
	}
	bad = append([]byte(nil), f...)
	bad[len(bad)-1] ^= 1
	if _, err := ParseAdvert(bad); !errors.Is(err, ErrChecksum) {
		t.Errorf("flipped bit: %v, want ErrChecksum", err)
	}
	if _, err := ParseAdvert(AppendSolicit(nil, mac, src, target)); !errors.Is(err, ErrNotND) {
		t.Errorf("a solicitation: %v, want ErrNotND", err)
	}
}

func TestBuildAndParseAllocateNothing(t *testing.T) {
	buf := make([]byte, 0, MaxFrameLen)
	adv := AppendAdvert(nil, mac, src, target)
	if n := testing.AllocsPerRun(100, func() {
		buf = AppendSolicit(buf[:0], mac, src, target)
		_, _ = ParseAdvert(adv)
	}); n != 0 {
		t.Errorf("%v allocations per solicitation and parse, want 0", n)
	}
}

// FuzzParseAdvert: what ParseAdvert accepts has hop limit 255, a valid
// checksum, and a target the frame holds at its RFC offset.
func FuzzParseAdvert(f *testing.F) {
	f.Add(AppendAdvert(nil, mac, src, target))
	f.Add(AppendSolicit(nil, mac, src, target))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAdvert(b)
		if err != nil {
			return
		}
		if b[EthHeaderLen+7] != 255 || a.Target != netip.AddrFrom16([16]byte(b[EthHeaderLen+48:EthHeaderLen+64])) {
			t.Fatalf("accepted %x as %+v", b, a)
		}
	})
}
