package capture

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// Classic BPF as the Linux socket filter runs it, for the programs a
// Handle attaches: opcodes of linux/filter.h and the ancillary loads
// (SKF_AD_*) that read socket-buffer fields instead of packet bytes.
const (
	opLdAbsW  = 0x20 // ld [k] (32 bits)
	opRetK    = 0x06
	opJeqK    = 0x15
	opJa      = 0x05 // jmp +k
	opLdLen   = 0x80 // ld #pktlen
	opLdxLen  = 0x81
	opAddK    = 0x04 // add #k
	classMask = 0x07
	modeMask  = 0xe0
	classLd   = 0x00
	classLdx  = 0x01
	classJmp  = 0x05
	classRet  = 0x06
	modeAbs   = 0x20
	modeInd   = 0x40
	modeMsh   = 0xa0
	sizeMask  = 0x18
	sizeW     = 0x00
	sizeH     = 0x08
	sizeB     = 0x10

	skfAdOff      = 0xfffff000 // SKF_AD_OFF (-4096)
	skfAdProtocol = skfAdOff + 0
	skfAdPkttype  = skfAdOff + 4
	skfAdIfindex  = skfAdOff + 8
	skfAdHatype   = skfAdOff + 28

	maxProgramLen = 4096 // BPF_MAXINSNS
)

// rejectAll drops every packet: attached while the real filter is being
// put in place.
var rejectAll = []bpf.RawInstruction{{Op: opRetK, K: 0}}

// kernelProgram is the program attached for a user filter prog (nil for
// none): a direction test in front, offsets into the cooked header turned
// into ancillary loads (the kernel runs a SOCK_DGRAM socket's filter on
// the packet without it), and the snapshot length in the kernel's terms.
func kernelProgram(prog []bpf.RawInstruction, dir Direction, loIndex int, f *framing) ([]bpf.RawInstruction, error) {
	snap := uint32(f.snaplen)
	if f.cooked {
		snap -= min(snap-1, sll2HeaderLen) // at least 1: 0 would drop
	}
	if prog == nil {
		prog = []bpf.RawInstruction{{Op: opRetK, K: snap}}
	} else if f.cooked {
		var err error
		if prog, err = uncook(prog); err != nil {
			return nil, err
		}
	}
	out := directionTest(dir, loIndex)
	out = append(out, prog...)
	if len(out) > maxProgramLen {
		return nil, fmt.Errorf("capture: filter of %d instructions is longer than the kernel's %d", len(out), maxProgramLen)
	}
	return out, nil
}

// directionTest returns the instructions, in front of the rest of the
// program, that drop the packets of the other direction and, as libpcap
// does, the outgoing copy of a packet on the loopback interface (loIndex,
// 0 for none), which is seen again coming in.
func directionTest(dir Direction, loIndex int) []bpf.RawInstruction {
	ldPkttype := bpf.RawInstruction{Op: opLdAbsW, K: skfAdPkttype}
	ret0 := bpf.RawInstruction{Op: opRetK, K: 0}
	isOut := func(jt, jf uint8) bpf.RawInstruction {
		return bpf.RawInstruction{Op: opJeqK, Jt: jt, Jf: jf, K: pktOutgoing}
	}
	if dir == DirIn {
		return []bpf.RawInstruction{ldPkttype, isOut(0, 1), ret0}
	}
	if loIndex <= 0 {
		if dir == DirOut {
			return []bpf.RawInstruction{ldPkttype, isOut(1, 0), ret0}
		}
		return nil
	}
	// Outgoing: drop it on lo. Incoming: drop it with DirOut.
	inJump := uint8(3) // past ret #0
	if dir == DirOut {
		inJump = 2 // to ret #0
	}
	return []bpf.RawInstruction{
		ldPkttype,
		isOut(0, inJump),
		{Op: opLdAbsW, K: skfAdIfindex},
		{Op: opJeqK, Jt: 0, Jf: 1, K: uint32(loIndex)},
		ret0,
	}
}

// uncook rewrites a program compiled for LINKTYPE_LINUX_SLL2 to run on
// packets without the SLL2 header, as the kernel sees them on a
// SOCK_DGRAM socket: packet offsets move down by the header's length,
// loads of header fields become ancillary loads, a load of the packet
// length gets the header's length added (an instruction more, jumps
// adjusted), and the lengths the program returns shrink by it.
func uncook(prog []bpf.RawInstruction) ([]bpf.RawInstruction, error) {
	// at[i] is where instruction i lands; a length load takes two.
	at := make([]int, len(prog)+1)
	for i, ins := range prog {
		at[i+1] = at[i] + 1
		if ins.Op == opLdLen {
			at[i+1]++
		}
	}
	out := make([]bpf.RawInstruction, 0, at[len(prog)])
	for i, ins := range prog {
		switch ins.Op & classMask {
		case classLd, classLdx:
			if ins.Op == opLdxLen {
				return nil, fmt.Errorf("capture: filter instruction %d: ldx len has no equivalent on -i any", i)
			}
			var err error
			if ins, err = uncookLoad(ins); err != nil {
				return nil, fmt.Errorf("capture: filter instruction %d: %w", i, err)
			}
		case classRet:
			if ins.Op&0x18 == 0 && ins.K != 0 { // ret #k
				ins.K -= min(ins.K-1, sll2HeaderLen)
			}
		case classJmp:
			var err error
			if ins, err = moveJump(ins, i, at); err != nil {
				return nil, err
			}
		}
		out = append(out, ins)
		if ins.Op == opLdLen {
			out = append(out, bpf.RawInstruction{Op: opAddK, K: sll2HeaderLen})
		}
	}
	return out, nil
}

// moveJump retargets jump i of a program whose instructions moved to at.
func moveJump(ins bpf.RawInstruction, i int, at []int) (bpf.RawInstruction, error) {
	from, last := at[i]+1, len(at)-2
	if ins.Op == opJa {
		if uint64(i)+1+uint64(ins.K) > uint64(last) {
			return ins, fmt.Errorf("capture: filter jump %d goes past the end", i)
		}
		ins.K = uint32(at[i+1+int(ins.K)] - from)
		return ins, nil
	}
	if i+1+int(max(ins.Jt, ins.Jf)) > last {
		return ins, fmt.Errorf("capture: filter jump %d goes past the end", i)
	}
	jt, jf := at[i+1+int(ins.Jt)]-from, at[i+1+int(ins.Jf)]-from
	if jt > 255 || jf > 255 {
		return ins, fmt.Errorf("capture: filter jump %d too long once adjusted for -i any", i)
	}
	ins.Jt, ins.Jf = uint8(jt), uint8(jf)
	return ins, nil
}

func uncookLoad(ins bpf.RawInstruction) (bpf.RawInstruction, error) {
	mode := ins.Op & modeMask
	isLd := ins.Op&classMask == classLd
	packetLoad := (isLd && (mode == modeAbs || mode == modeInd)) || (!isLd && mode == modeMsh)
	if !packetLoad || ins.K >= skfAdOff {
		return ins, nil // not a packet offset, or already ancillary
	}
	if ins.K >= sll2HeaderLen {
		ins.K -= sll2HeaderLen
		return ins, nil
	}
	if isLd && mode == modeAbs {
		size := ins.Op & sizeMask
		switch {
		case ins.K == 0 && size == sizeH:
			return bpf.RawInstruction{Op: opLdAbsW, K: skfAdProtocol}, nil
		case ins.K == 4 && size == sizeW:
			return bpf.RawInstruction{Op: opLdAbsW, K: skfAdIfindex}, nil
		case ins.K == 8 && size == sizeH:
			return bpf.RawInstruction{Op: opLdAbsW, K: skfAdHatype}, nil
		case ins.K == 10 && size == sizeB:
			return bpf.RawInstruction{Op: opLdAbsW, K: skfAdPkttype}, nil
		}
	}
	return ins, fmt.Errorf("load of byte %d of the cooked header has no kernel equivalent on -i any", ins.K)
}
