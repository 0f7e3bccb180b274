package capture

import (
	"testing"

	"golang.org/x/net/bpf"
)

// FuzzWalkBlock: whatever a block holds, walking it neither panics nor
// hands out data outside it, and never more packets than it claims.
func FuzzWalkBlock(f *testing.F) {
	f.Add(synthBlock(512, vlanTagLen, []synthPacket{{data: make([]byte, 40), wire: 40}}), false)
	f.Add(synthBlock(512, sll2HeaderLen+vlanTagLen, []synthPacket{
		{data: make([]byte, 20), wire: 20, status: statusVlanValid, proto: 0x0800},
		{data: make([]byte, 30), wire: 30, status: statusVlanValid | statusVlanTPIDValid},
	}), true)
	f.Fuzz(func(t *testing.T, b []byte, cooked bool) {
		fr := framing{cooked: cooked, snaplen: 100}
		var p Packet
		n, _ := fr.walkBlock(b, &p, func(p *Packet) error {
			if len(p.Data) > 100 || p.Length < 0 {
				t.Fatalf("packet of %d bytes, length %d", len(p.Data), p.Length)
			}
			return nil
		})
		if len(b) >= blockHeaderLen && n > int(hostOrder.Uint32(b[blockNumPktsOff:])) {
			t.Fatalf("%d packets handed out", n)
		}
	})
}

// FuzzUncook: any program is rewritten or refused, never a panic, and a
// rewritten one has every jump inside it.
func FuzzUncook(f *testing.F) {
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 0, 0x35, 0, 0, 1, 100, 0, 0, 0, 6, 0, 0, 0, 0, 0, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var prog []bpf.RawInstruction
		for ; len(b) >= 8; b = b[8:] {
			prog = append(prog, bpf.RawInstruction{Op: uint16(b[0]) | uint16(b[1])<<8, Jt: b[2], Jf: b[3],
				K: hostOrder.Uint32(b[4:])})
		}
		out, err := uncook(prog)
		if err != nil {
			return
		}
		for i, ins := range out {
			if ins.Op&classMask != classJmp {
				continue
			}
			far := uint64(max(ins.Jt, ins.Jf))
			if ins.Op == opJa {
				far = uint64(ins.K)
			}
			if uint64(i)+1+far >= uint64(len(out)) {
				t.Fatalf("instruction %d jumps past the end of %d", i, len(out))
			}
		}
	})
}
