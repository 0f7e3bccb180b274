package main

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/rawnet/rawnet/internal/testenv"
	"github.com/rawnet/rawnet/pcap"
)

// badChecksumFilter matches a packet with any wrong checksum tshark can
// verify. tshark checks the IPv4 header, UDP and TCP checksums only when
// told to (the -o options of tsharkBadChecksums); without them these
// fields are never "Bad" and a filter on them can never match.
const badChecksumFilter = `ip.checksum.status == "Bad" || udp.checksum.status == "Bad" || tcp.checksum.status == "Bad" || icmp.checksum.status == "Bad" || icmpv6.checksum.status == "Bad"`

// tsharkBadChecksums returns the frame numbers of the packets in file
// that carry a wrong checksum, as tshark sees them with every checksum
// check on.
func tsharkBadChecksums(t *testing.T, file string) []string {
	t.Helper()
	testenv.NeedTools(t, "tshark")
	out, err := exec.Command("tshark", "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
		"-r", file, "-Y", badChecksumFilter, "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatalf("tshark -r %s -Y %q: %v", file, badChecksumFilter, err)
	}
	return strings.Fields(string(out))
}

// TestTsharkBadChecksumsSeesEveryKind: the check the lab tests rely on
// finds a wrong IPv4 header, UDP (both families), TCP, ICMP and ICMPv6
// checksum, and passes the same packets with their checksums right.
func TestTsharkBadChecksumsSeesEveryKind(t *testing.T) {
	src4, dst4 := net.IP{198, 18, 0, 1}, net.IP{198, 18, 1, 2}
	src6, dst6 := net.ParseIP("fd00::1"), net.ParseIP("fd00:0:0:1::2")
	ip4 := func(p layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: p, SrcIP: src4, DstIP: dst4}
	}
	ip6 := func(p layers.IPProtocol) *layers.IPv6 {
		return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: p, SrcIP: src6, DstIP: dst6}
	}
	data := gopacket.Payload("rawnet checksum test")
	ser := func(net gopacket.NetworkLayer, l4 gopacket.SerializableLayer, rest ...gopacket.SerializableLayer) []byte {
		if c, ok := l4.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok {
			c.SetNetworkLayerForChecksum(net)
		}
		buf := gopacket.NewSerializeBuffer()
		ls := append([]gopacket.SerializableLayer{net.(gopacket.SerializableLayer), l4}, rest...)
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatal(err)
		}
		return append([]byte(nil), buf.Bytes()...)
	}
	// Each packet with the offset of the checksum to break.
	pkts := []struct {
		name string
		b    []byte
		sum  int
	}{
		{"ipv4 header", ser(ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2}, data), 10},
		{"udp/ipv4", ser(ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2}, data), 20 + 6},
		{"udp/ipv6", ser(ip6(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2}, data), 40 + 6},
		{"tcp/ipv4", ser(ip4(layers.IPProtocolTCP), &layers.TCP{SrcPort: 1, DstPort: 2, SYN: true, Window: 1024}), 20 + 16},
		{"icmp", ser(ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}, data), 20 + 2},
		{"icmpv6", ser(ip6(layers.IPProtocolICMPv6), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, &layers.ICMPv6Echo{Identifier: 1, SeqNumber: 1}, data), 40 + 2},
	}
	write := func(name string, corrupt bool) string {
		path := filepath.Join(t.TempDir(), name)
		f, err := pcap.Create(path, pcap.Raw)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range pkts {
			b := append([]byte(nil), p.b...)
			if corrupt {
				b[p.sum] ^= 0x5a
			}
			if err := f.WritePacket(time.Unix(1700000000, 0).Add(time.Duration(i)*time.Millisecond), b); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	names := func() []string {
		var n []string
		for _, p := range pkts {
			n = append(n, p.name)
		}
		return n
	}
	if bad := tsharkBadChecksums(t, write("good.pcap", false)); len(bad) != 0 {
		t.Errorf("right checksums: frames %v reported bad", bad)
	}
	bad := tsharkBadChecksums(t, write("bad.pcap", true))
	if len(bad) != len(pkts) {
		t.Errorf("wrong checksums: frames %v reported bad, want all %d (%v)", bad, len(pkts), names())
	}
}
