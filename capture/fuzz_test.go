package capture

import (
	"golang.org/x/net/bpf"

	"encoding/json"
	"testing"

	"github.com/rawnet/rawnet/internal/testtraffic"
	"github.com/rawnet/rawnet/pcap"
)

// FuzzDecode feeds arbitrary bytes to a Decoder of every link type and
// every output format: no panics, and the JSON always parses.
func FuzzDecode(f *testing.F) {
	for _, p := range append(append(testPackets(f), testtraffic.AppFrames()...), testtraffic.TunnelFrames()...) {
		f.Add(uint8(0), p)
		f.Add(uint8(2), p[14:])
	}
	links := []pcap.LinkType{pcap.Ethernet, pcap.LinuxSLL, pcap.Raw, pcap.LinuxSLL2, pcap.Null, pcap.Loop, pcap.IPv4, pcap.IPv6}
	decoders := make([]*Decoder, len(links))
	for i, l := range links {
		decoders[i] = NewDecoder(l)
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		d := decoders[int(which)%len(decoders)]
		d.Decode(data)
		d.AppendLine(nil)
		d.AppendVerbose(nil)
		AppendHexDump(nil, d.NetworkData())
		if out := d.AppendJSON(nil); !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
	})
}

// FuzzDNSLine feeds arbitrary messages to the DNS line printer over UDP
// and TCP, DNS and mDNS, with declared lengths shorter and longer than
// the bytes: no panic, no endless loop (names with pointers must point
// backwards), and every line ends in the length or a mark.
func FuzzDNSLine(f *testing.F) {
	for _, p := range testtraffic.AppFrames() {
		if len(p) > 42 {
			f.Add(uint8(0), p[42:], int16(0))
		}
	}
	f.Fuzz(func(t *testing.T, mode uint8, msg []byte, delta int16) {
		length := max(len(msg)+int(delta), 0)
		b := appendDNS(nil, msg, length, mode&1 != 0, mode&2 != 0)
		if len(b) == 0 {
			t.Fatalf("empty line for %x", msg)
		}
		if len(b) > 128*len(msg)+256 {
			t.Fatalf("a line of %d bytes for a message of %d", len(b), len(msg))
		}
	})
}

// FuzzFilter runs compiled-looking programs of arbitrary instructions: the
// interpreter must never panic or loop forever.
func FuzzFilter(f *testing.F) {
	f.Add([]byte{0x28, 0, 0, 0, 0x0c, 0, 0, 0, 0x15, 0, 0, 1, 0x00, 0x08, 0, 0, 0x06, 0, 0, 0, 0xff, 0xff, 0, 0, 0x06, 0, 0, 0, 0, 0, 0, 0}, testPackets(f)[0])
	f.Fuzz(func(t *testing.T, code, packet []byte) {
		var prog []bpf.RawInstruction
		for len(code) >= 8 {
			prog = append(prog, bpf.RawInstruction{Op: uint16(code[0])<<8 | uint16(code[1]), Jt: code[2], Jf: code[3], K: uint32(code[4])<<24 | uint32(code[5])<<16 | uint32(code[6])<<8 | uint32(code[7])})
			code = code[8:]
		}
		if flt, err := NewFilter(prog); err == nil {
			flt.Match(packet, len(packet))
		}
	})
}
