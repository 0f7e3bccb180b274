package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReadHexPacketsTakesTcpdumpOutput(t *testing.T) {
	in := `12:00:00.000000 IP 198.18.0.1 > 198.18.5.2: ICMP echo request, id 1, seq 1, length 8
	0x0000:  4500 001c 0001 0000 4001 0000 c612 0001
	0x0010:  c612 0502 0800 f7fc 0001 0002
12:00:00.000001 IP 198.18.5.2 > 198.18.0.1: ICMP echo reply, id 1, seq 1, length 8
	0x0000:  4500 001c 0002 0000 4001 0000 c612 0502
	0x0010:  c612 0001 0000 fffc 0001 0002

de:ad:be:ef
`
	packets, err := readHexPackets(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(packets) != 3 || len(packets[0]) != 28 || len(packets[1]) != 28 || !bytes.Equal(packets[2], []byte{0xde, 0xad, 0xbe, 0xef}) {
		t.Fatalf("got %d packets: %x", len(packets), packets)
	}
	if packets[1][20] != 0 || packets[0][20] != 8 {
		t.Errorf("types %d %d, want 8 then 0", packets[0][20], packets[1][20])
	}
}

func TestDecodeCommand(t *testing.T) {
	r := rawnet(t, "decode", "45000020 00074000 0311e69e c6120001 c6120502 0fa00035 000cc13b deadbeef")
	for _, want := range []string{"Time to live: 3", "Source port: 4000", "Destination port: 53", "Checksum: 0xc13b [correct]", "Header checksum: 0xe69e [correct]"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("decode: want %q in:\n%s%s", want, r.stdout, r.stderr)
		}
	}
	// Port 53 is DNS, as tcpdump decides; 4 bytes are too few for it.
	const pkt = "0x45000020000740000311e69ec6120001c61205020fa00035000cc13bdeadbeef"
	r = rawnet(t, "decode", "--line", pkt)
	if strings.TrimSpace(r.stdout) != "IP 198.18.0.1.4000 > 198.18.5.2.53: domain [length 4 < 12] (invalid)" || r.code != 0 {
		t.Errorf("decode --line: %q %s", r.stdout, r.stderr)
	}
	r = rawnet(t, "decode", "--line", "--decode-as", "udp:53=none", pkt)
	if strings.TrimSpace(r.stdout) != "IP 198.18.0.1.4000 > 198.18.5.2.53: UDP, length 4" || r.code != 0 {
		t.Errorf("decode --line --decode-as udp:53=none: %q %s", r.stdout, r.stderr)
	}
	for _, bad := range [][]string{{"decode", "4500zz"}, {"decode", "abc"}, {"decode"}, {"decode", "--link", "ppp", "4500"},
		{"decode", "--decode-as", "udp:53", pkt}, {"decode", "--decode-as", "sctp:53=dns", pkt}, {"decode", "--decode-as", "udp:70000=dns", pkt},
		{"decode", "--decode-as", "udp:53=http", pkt}, {"decode", "--decode-as", "tcp:53=ntp", pkt}} {
		r := rawnet(t, bad...)
		if r.code != 2 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line", bad, r.code, r.stderr)
		}
	}
}

// FuzzDecodeHex: any text on standard input is read as packets that
// survive a round trip through plain hex, and each packet, decoded by the
// command in every format, gives one line with --line and one JSON object
// with --json whose length is the packet's and whose payload bytes are
// bytes of the packet.
func FuzzDecodeHex(f *testing.F) {
	f.Add("\t0x0000:  4500 001c 0001 0000 4001 0000 c612 0001\n\t0x0010:  c612 0502 0800 f7fc 0001 0002\n")
	f.Add("6000000000080000fd000000000000000000000000000001fd000000000000000000000000000002")
	f.Add("ffffffffffff020000000001080045000014")
	f.Add("45000020 00074000 0311e69e c6120001 c6120502 0fa00035 000cc13b deadbeef\n\nde:ad:be:ef\n")
	f.Fuzz(func(t *testing.T, text string) {
		packets, err := readHexPackets(strings.NewReader(text))
		if err != nil {
			return
		}
		total := 0
		var plain strings.Builder
		for _, p := range packets {
			total += len(p)
			plain.WriteString(hex.EncodeToString(p) + "\n\n")
		}
		if digits := hexDigits(text); total == 0 || 2*total > digits {
			t.Fatalf("%d bytes in %d packets from %d hex digits", total, len(packets), digits)
		}
		again, err := readHexPackets(strings.NewReader(plain.String()))
		if err != nil || len(again) != len(packets) {
			t.Fatalf("packets %x written as hex read back as %x, %v", packets, again, err)
		}
		for i := range packets {
			if !bytes.Equal(again[i], packets[i]) {
				t.Fatalf("packet %d: % x read back as % x", i, packets[i], again[i])
			}
		}
		for _, p := range packets {
			checkDecodeOutputs(t, p)
		}
	})
}

func hexDigits(s string) int {
	n := 0
	for _, c := range s {
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' {
			n++
		}
	}
	return n
}

// checkDecodeOutputs runs rawnet decode on p (in this process) with
// --line, --json and the default verbose format.
func checkDecodeOutputs(t *testing.T, p []byte) {
	t.Helper()
	arg := hex.EncodeToString(p)
	decode := func(flags ...string) string {
		var stdout, stderr bytes.Buffer
		args := append(append([]string{"rawnet", "decode"}, flags...), arg)
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 || stderr.Len() != 0 {
			t.Fatalf("%v: exit %d, stderr %q", flags, code, stderr.String())
		}
		return stdout.String()
	}
	if out := decode("--line"); strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("--line of % x: %q is not one line", p, out)
	}
	if out := decode(); out == "" || !utf8.ValidString(out) {
		t.Fatalf("verbose decode of % x: %q", p, out)
	}
	out := decode("--json")
	var obj struct {
		Type   string           `json:"type"`
		Index  int              `json:"index"`
		Length int              `json:"length"`
		Link   string           `json:"link"`
		Layers []map[string]any `json:"layers"`
	}
	if strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &obj) != nil {
		t.Fatalf("--json of % x: %q is not one JSON object", p, out)
	}
	if obj.Type != "packet" || obj.Index != 0 || obj.Length != len(p) || obj.Link != guessLink(p).String() {
		t.Fatalf("--json of % x (%d bytes, link %v): %s", p, len(p), guessLink(p), out)
	}
	for _, l := range obj.Layers {
		if name, _ := l["layer"].(string); name == "" {
			t.Fatalf("--json of % x: a layer without a name: %s", p, out)
		}
		if data, ok := l["data"].(string); ok {
			b, err := hex.DecodeString(data)
			if err != nil || !bytes.Contains(p, b) {
				t.Fatalf("--json of % x: layer %v data %q is not bytes of the packet", p, l["layer"], data)
			}
		}
	}
}
