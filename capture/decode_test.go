package capture

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rawnet/rawnet/internal/testtraffic"
	"github.com/rawnet/rawnet/pcap"
)

// TestJSONValid checks that every test packet, and every truncation of it,
// gives one valid JSON array whose objects all name their layer.
func TestJSONValid(t *testing.T) {
	d := NewDecoder(pcap.Ethernet)
	all := append(append(testPackets(t), testtraffic.AppFrames()...), testtraffic.TunnelFrames()...)
	for i, f := range all {
		for _, n := range []int{len(f), len(f) - 1, len(f) - 9, 60, 50, 40, 20, 10} {
			if n < 0 || n > len(f) {
				continue
			}
			d.Decode(f[:n])
			out := d.AppendJSON(nil)
			var layers []map[string]any
			if err := json.Unmarshal(out, &layers); err != nil {
				t.Fatalf("packet %d cut to %d: %v\n%s", i+1, n, err, out)
			}
			for _, l := range layers {
				if l["layer"] == nil {
					t.Fatalf("packet %d: object without a layer: %s", i+1, out)
				}
			}
		}
	}
}

func TestJSONLayers(t *testing.T) {
	d := NewDecoder(pcap.Ethernet)
	pk := testPackets(t)
	d.Decode(pk[23]) // port unreachable quoting a UDP probe
	var got []struct {
		Layer  string `json:"layer"`
		Type   int    `json:"type"`
		Quoted []struct {
			Layer   string `json:"layer"`
			DstPort int    `json:"dst_port"`
		} `json:"quoted"`
	}
	if err := json.Unmarshal(d.AppendJSON(nil), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2].Layer != "icmpv4" || got[2].Type != 3 {
		t.Fatalf("layers = %+v", got)
	}
	q := got[2].Quoted
	if len(q) < 2 || q[0].Layer != "ipv4" || q[1].Layer != "udp" || q[1].DstPort != 33434 {
		t.Fatalf("quoted = %+v", q)
	}
}

// TestVerboseChecksums checks the checksum notes against packets whose
// checksums gopacket computed, and after damaging each checksum.
func TestVerboseChecksums(t *testing.T) {
	d := NewDecoder(pcap.Ethernet)
	pk := testPackets(t)
	cases := []struct {
		frame  []byte
		field  string // the verbose label of the checksum
		offset int    // where its first byte is in the frame
	}{
		{pk[0], "Header checksum", 14 + 10},
		{pk[0], "    Checksum", 14 + 20 + 2},   // ICMPv4
		{pk[2], "    Checksum", 14 + 40 + 2},   // ICMPv6
		{pk[12], "    Checksum", 14 + 20 + 6},  // UDP
		{pk[15], "    Checksum", 14 + 20 + 16}, // TCP
	}
	for i, c := range cases {
		d.Decode(c.frame)
		v := string(d.AppendVerbose(nil))
		if !strings.Contains(v, c.field+": 0x") || strings.Contains(v, "incorrect") {
			t.Errorf("case %d: want a correct %s:\n%s", i, c.field, v)
		}
		bad := append([]byte(nil), c.frame...)
		orig := be.Uint16(bad[c.offset:])
		bad[c.offset] ^= 0x5a
		d.Decode(bad)
		v = string(d.AppendVerbose(nil))
		want := "[incorrect, should be 0x" + string(appendHex16(nil, orig)) + "]"
		if !strings.Contains(v, want) {
			t.Errorf("case %d: damaged checksum: want %q in\n%s", i, want, v)
		}
	}
}

// TestTruncatedShown checks that truncated packets are decoded as far as
// they go and say so.
func TestTruncatedShown(t *testing.T) {
	d := NewDecoder(pcap.Ethernet)
	f := testPackets(t)[15] // TCP SYN
	if err := d.Decode(f[:14+20+10]); err == nil {
		t.Fatal("no error for a cut TCP header")
	}
	if got, want := string(d.AppendLine(nil)), "IP 198.18.0.1.33434 > 198.18.5.2.34567:  [|tcp]"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
	if v := string(d.AppendVerbose(nil)); !strings.Contains(v, "[Malformed or truncated packet]") || !strings.Contains(v, "Layer: tcp") {
		t.Errorf("verbose does not show the truncation:\n%s", v)
	}
}

func TestOtherLinkTypes(t *testing.T) {
	ipPacket := testPackets(t)[12][14:] // IPv4 UDP without Ethernet
	want := "IP 198.18.0.1.4000 > 198.18.5.2.5001: UDP, length 4"
	sll := append([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0x0a, 0, 0, 0x08, 0x00}, ipPacket...)
	null := append([]byte{2, 0, 0, 0}, ipPacket...)
	loop := append([]byte{0, 0, 0, 2}, ipPacket...)
	for _, c := range []struct {
		link pcap.LinkType
		data []byte
	}{
		{pcap.Raw, ipPacket}, {pcap.IPv4, ipPacket}, {pcap.LinuxSLL, sll},
		{pcap.Null, null}, {pcap.Loop, loop},
	} {
		d := NewDecoder(c.link)
		if err := d.Decode(c.data); err != nil {
			t.Errorf("%v: %v", c.link, err)
		}
		if got := string(d.AppendLine(nil)); got != want {
			t.Errorf("%v: %q, want %q", c.link, got, want)
		}
		if got := len(d.NetworkData()); got != len(ipPacket) {
			t.Errorf("%v: network data of %d bytes, want %d", c.link, got, len(ipPacket))
		}
	}
}

// TestSLL2Lines compares Linux cooked v2 lines (interface and direction
// first) with tcpdump's.
func TestSLL2Lines(t *testing.T) {
	var frames [][]byte
	for i, f := range testPackets(t) {
		// Interface 1 (lo here, as tcpdump resolves it) and every direction.
		h := []byte{f[12], f[13], 0, 0, 0, 0, 0, 1, 0, 1, byte(i % 5), 6, 2, 0, 0, 0, 0, 0x0a, 0, 0}
		if f[12] == 0x81 { // VLAN tags are not in cooked captures
			continue
		}
		frames = append(frames, append(h, f[14:]...))
	}
	path := filepath.Join(t.TempDir(), "sll2.pcap")
	writeTestPcap(t, path, pcap.LinuxSLL2, frames)
	want := tcpdumpLines(t, path)
	d := NewDecoderConfig(pcap.LinuxSLL2, DecoderConfig{AbsoluteSeq: true})
	for i, f := range frames {
		d.Decode(f)
		if got := stripQuote(string(d.AppendLine(nil))); got != want[i] {
			t.Errorf("packet %d:\n got  %s\n want %s", i+1, got, want[i])
		}
	}
}

func TestUnsupportedLink(t *testing.T) {
	d := NewDecoder(pcap.LinkType(147))
	if err := d.Decode([]byte{1, 2, 3}); !errors.Is(err, ErrUnsupportedLink) {
		t.Errorf("err = %v", err)
	}
	if got, want := string(d.AppendLine(nil)), "unsupported link type 147, length 3"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	if got := string(d.AppendJSON(nil)); got != `[{"layer":"payload","data":"010203"}]` {
		t.Errorf("json %s", got)
	}
}

func TestHexDump(t *testing.T) {
	got := string(AppendHexDump(nil, []byte{0x45, 0, 0, 0x54, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}))
	want := "\t0x0000:  4500 0054 0102 0304 0506 0708 090a 0b0c\n\t0x0010:  0d0e 0f\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
