package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rawnet/rawnet/capture"
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

// FuzzDecodeHex: any text on standard input decodes, in every format,
// without panicking.
func FuzzDecodeHex(f *testing.F) {
	f.Add("\t0x0000:  4500 001c 0001 0000 4001 0000 c612 0001\n\t0x0010:  c612 0502 0800 f7fc 0001 0002\n")
	f.Add("6000000000080000fd000000000000000000000000000001fd000000000000000000000000000002")
	f.Add("ffffffffffff020000000001080045000014")
	f.Fuzz(func(t *testing.T, text string) {
		packets, err := readHexPackets(strings.NewReader(text))
		if err != nil {
			return
		}
		for _, p := range packets {
			d := capture.NewDecoder(guessLink(p))
			_ = d.Decode(p)
			d.AppendLine(nil)
			d.AppendVerbose(nil)
			d.AppendJSON(nil)
		}
	})
}
