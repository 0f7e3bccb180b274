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
// interpreter must never panic or loop forever, and wherever
// golang.org/x/net/bpf's VM can run the same program (forward jumps only,
// no extension but len) the two agree on whether the packet is kept.
func FuzzFilter(f *testing.F) {
	f.Add([]byte{0x28, 0, 0, 0, 0x0c, 0, 0, 0, 0x15, 0, 0, 1, 0x00, 0x08, 0, 0, 0x06, 0, 0, 0, 0xff, 0xff, 0, 0, 0x06, 0, 0, 0, 0, 0, 0, 0}, testPackets(f)[0])
	// ldb [0]; a conditional jump against 0x45 (each kind); ret #1; ret
	// #0, on packets whose first byte lies below, at and above 0x45.
	for _, jmp := range []byte{0x15, 0x25, 0x35, 0x45} {
		prog := []byte{0x00, 0x30, 0, 0, 0, 0, 0, 0, 0x00, jmp, 0, 1, 0, 0, 0, 0x45, 0x00, 0x06, 0, 0, 0, 0, 0, 1, 0x00, 0x06, 0, 0, 0, 0, 0, 0}
		for _, b := range []byte{0x44, 0x45, 0x46} {
			f.Add(prog, []byte{b, 0, 0, 0})
		}
	}
	f.Fuzz(func(t *testing.T, code, packet []byte) {
		var prog []bpf.RawInstruction
		for len(code) >= 8 {
			prog = append(prog, bpf.RawInstruction{Op: uint16(code[0])<<8 | uint16(code[1]), Jt: code[2], Jf: code[3], K: uint32(code[4])<<24 | uint32(code[5])<<16 | uint32(code[6])<<8 | uint32(code[7])})
			code = code[8:]
		}
		flt, err := NewFilter(prog)
		if err != nil {
			return
		}
		got := flt.Match(packet, len(packet))
		if again := flt.Match(packet, len(packet)); again != got {
			t.Fatalf("the same packet matched %v, then %v", got, again)
		}
		ref, ok := referenceVM(prog)
		if !ok {
			return
		}
		n, err := ref.Run(packet)
		if want := err == nil && n != 0; got != want {
			t.Fatalf("program %v on % x: Match %v, x/net/bpf keeps %d bytes (%v)", prog, packet, got, n, err)
		}
	})
}

// referenceVM returns x/net/bpf's VM for prog when it can run it as the
// kernel would: every instruction known to it, jumps forward only (its
// Jump cannot go back), extensions limited to len.
func referenceVM(prog []bpf.RawInstruction) (*bpf.VM, bool) {
	ins, allKnown := bpf.Disassemble(prog)
	if !allKnown {
		return nil, false
	}
	for i, in := range ins {
		switch in := in.(type) {
		case bpf.Jump:
			if int32(in.Skip) < 0 || i+1+int(in.Skip) >= len(ins) {
				return nil, false
			}
		case bpf.LoadExtension:
			if in.Num != bpf.ExtLen {
				return nil, false
			}
		case bpf.LoadAbsolute, bpf.LoadIndirect:
			// Loads from the ancillary area (SKF_AD_OFF and above) are
			// extensions to the kernel, plain out-of-range loads to the VM.
			var off uint32
			if la, ok := in.(bpf.LoadAbsolute); ok {
				off = la.Off
			} else {
				off = in.(bpf.LoadIndirect).Off
			}
			if off >= 0xfffff000 {
				return nil, false
			}
		}
	}
	vm, err := bpf.NewVM(ins)
	return vm, err == nil
}
