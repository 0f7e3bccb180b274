package arp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	mac1 = MAC{2, 0, 0, 0, 0, 1}
	ip1  = netip.MustParseAddr("198.18.0.1")
	ip2  = netip.MustParseAddr("198.18.0.2")
)

// TestRequestBytes checks a who-has frame byte for byte against RFC 826's
// layout, written out by hand.
func TestRequestBytes(t *testing.T) {
	got := AppendFrame(nil, Broadcast, mac1, Request(mac1, ip1, ip2))
	want, _ := hex.DecodeString("ffffffffffff" + "020000000001" + "0806" +
		"0001" + "0800" + "06" + "04" + "0001" +
		"020000000001" + "c6120001" + "000000000000" + "c6120002")
	if !bytes.Equal(got, want) {
		t.Fatalf("request frame\n got %x\nwant %x", got, want)
	}
}

// TestFramesAgreeWithGopacket has gopacket decode what AppendFrame
// writes: the independent decoder must see the same fields.
func TestFramesAgreeWithGopacket(t *testing.T) {
	for name, p := range map[string]Packet{
		"request":      Request(mac1, ip1, ip2),
		"probe":        Probe(mac1, ip2),
		"announcement": Announcement(mac1, ip1),
		"reply":        {Op: OpReply, SenderMAC: MAC{2, 0, 0, 0, 0, 2}, SenderIP: ip2, TargetMAC: mac1, TargetIP: ip1},
	} {
		b := AppendFrame(nil, Broadcast, mac1, p)
		pkt := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
		a, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
		if !ok {
			t.Fatalf("%s: gopacket finds no ARP layer in %x", name, b)
		}
		if a.Operation != p.Op || !bytes.Equal(a.SourceHwAddress, p.SenderMAC[:]) || !bytes.Equal(a.DstHwAddress, p.TargetMAC[:]) ||
			!bytes.Equal(a.SourceProtAddress, p.SenderIP.AsSlice()) || !bytes.Equal(a.DstProtAddress, p.TargetIP.AsSlice()) {
			t.Errorf("%s: gopacket reads %+v, want %+v", name, a, p)
		}
		f, err := Parse(b)
		if err != nil || f.Packet != p || f.Dst != Broadcast || f.Src != mac1 {
			t.Errorf("%s: Parse = %+v, %v; want %+v", name, f, err, p)
		}
	}
}

func TestRFC5227Fields(t *testing.T) {
	if p := Probe(mac1, ip2); p.SenderIP != netip.IPv4Unspecified() || p.TargetIP != ip2 || p.Op != OpRequest {
		t.Errorf("probe %+v: want sender 0.0.0.0, target %s, a request", p, ip2)
	}
	if p := Announcement(mac1, ip1); p.SenderIP != ip1 || p.TargetIP != ip1 || p.TargetMAC != (MAC{}) {
		t.Errorf("announcement %+v: want sender = target = %s, target MAC zero", p, ip1)
	}
}

func TestParseRejects(t *testing.T) {
	good := AppendFrame(nil, Broadcast, mac1, Request(mac1, ip1, ip2))
	ipv4 := append([]byte(nil), good...)
	ipv4[12], ipv4[13] = 0x08, 0x00
	ipv6ARP := append([]byte(nil), good...)
	ipv6ARP[EthHeaderLen+5] = 16
	for name, c := range map[string]struct {
		b    []byte
		want error
	}{
		"empty":     {nil, ErrShort},
		"cut":       {good[:FrameLen-1], ErrShort},
		"ipv4":      {ipv4, ErrEtherType},
		"plen 16":   {ipv6ARP, ErrFormat},
		"too short": {good[:13], ErrShort},
	} {
		if _, err := Parse(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: Parse error %v, want %v", name, err, c.want)
		}
	}
	padded := append(append([]byte(nil), good...), make([]byte, 18)...)
	if f, err := Parse(padded); err != nil || f.TargetIP != ip2 {
		t.Errorf("padded 60-byte frame: %+v, %v", f, err)
	}
}

func TestMACText(t *testing.T) {
	if s := (MAC{0x02, 0xab, 0, 0x10, 0xff, 1}).String(); s != "02:ab:00:10:ff:01" {
		t.Errorf("MAC text %q", s)
	}
}

func TestParseAllocatesNothing(t *testing.T) {
	b := AppendFrame(nil, Broadcast, mac1, Request(mac1, ip1, ip2))
	buf := make([]byte, 0, FrameLen)
	if n := testing.AllocsPerRun(100, func() {
		_, _ = Parse(b)
		buf = AppendFrame(buf[:0], Broadcast, mac1, Request(mac1, ip1, ip2))
	}); n != 0 {
		t.Errorf("Parse and AppendFrame allocate %v times per frame, want 0", n)
	}
}

// FuzzParse: whatever Parse accepts, AppendFrame writes back byte for byte
// (the first 42 bytes).
func FuzzParse(f *testing.F) {
	f.Add(AppendFrame(nil, Broadcast, mac1, Request(mac1, ip1, ip2)))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 6})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Parse(b)
		if err != nil {
			return
		}
		if back := AppendFrame(nil, fr.Dst, fr.Src, fr.Packet); !bytes.Equal(back, b[:FrameLen]) {
			t.Fatalf("round trip\n got %x\nwant %x", back, b[:FrameLen])
		}
	})
}
