package capture

import (
	"encoding/binary"
	"errors"

	"golang.org/x/net/bpf"
)

// A small classic BPF interpreter: the semantics of the kernel's and
// libpcap's bpf_filter (out-of-range loads and division by zero reject the
// packet; "len" is the length on the wire), without allocations.

const (
	bpfMaxInsns = 4096
	bpfMemWords = 16
	bpfMaxSteps = 1 << 16 // a backward jump could loop forever
)

// Classic BPF opcode fields.
const (
	clsLD, clsLDX, clsST, clsSTX, clsALU, clsJMP, clsRET, clsMISC = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07

	szW, szH, szB = 0x00, 0x08, 0x10

	mdIMM, mdABS, mdIND, mdMEM, mdLEN, mdMSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xa0

	aluADD, aluSUB, aluMUL, aluDIV, aluOR, aluAND, aluLSH, aluRSH, aluNEG, aluMOD, aluXOR = 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0

	jmpJA, jmpJEQ, jmpJGT, jmpJGE, jmpJSET = 0x00, 0x10, 0x20, 0x30, 0x40

	srcK, srcX = 0x00, 0x08

	retK, retX, retA = 0x00, 0x08, 0x10

	miscTAX, miscTXA = 0x00, 0x80
)

var errBadInsn = errors.New("unsupported or invalid instruction")

// checkInsn validates instruction i of an n-instruction program.
func checkInsn(in bpf.RawInstruction, i, n int) error {
	op := in.Op
	switch op & 0x07 {
	case clsLD, clsLDX:
		mode := op & 0xe0
		switch mode {
		case mdIMM, mdABS, mdIND, mdLEN:
		case mdMEM:
			if in.K >= bpfMemWords {
				return errBadInsn
			}
		case mdMSH:
			if op&0x07 != clsLDX {
				return errBadInsn
			}
		default:
			return errBadInsn
		}
		if sz := op & 0x18; sz == 0x18 {
			return errBadInsn
		}
	case clsST, clsSTX:
		if in.K >= bpfMemWords {
			return errBadInsn
		}
	case clsALU:
		if alu := op & 0xf0; alu > aluXOR {
			return errBadInsn
		} else if (alu == aluDIV || alu == aluMOD) && op&srcX == 0 && in.K == 0 {
			return errors.New("division by zero")
		}
	case clsJMP:
		if op&0xf0 == jmpJA {
			// libpcap's protochain loops with a backward jump (a negative
			// K); runBPF bounds the steps.
			if t := i + 1 + int(int32(in.K)); t < 0 || t >= n {
				return errors.New("jump out of range")
			}
		} else if op&0xf0 > jmpJSET || i+1+int(in.Jt) >= n || i+1+int(in.Jf) >= n {
			return errors.New("jump out of range")
		}
	case clsRET:
	case clsMISC:
		if m := op & 0xf8; m != miscTAX && m != miscTXA {
			return errBadInsn
		}
	}
	if i == n-1 && op&0x07 != clsRET && !(op&0x07 == clsJMP) {
		return errors.New("program does not end in a return")
	}
	return nil
}

// load reads size bytes at off, or reports that the packet is too short.
func load(p []byte, off uint32, size uint16) (uint32, bool) {
	switch size {
	case szW:
		if uint64(off)+4 > uint64(len(p)) {
			return 0, false
		}
		return binary.BigEndian.Uint32(p[off:]), true
	case szH:
		if uint64(off)+2 > uint64(len(p)) {
			return 0, false
		}
		return uint32(binary.BigEndian.Uint16(p[off:])), true
	default:
		if uint64(off) >= uint64(len(p)) {
			return 0, false
		}
		return uint32(p[off]), true
	}
}

// runBPF runs a checked program and returns its result: the number of
// bytes to keep, 0 to reject.
func runBPF(prog []bpf.RawInstruction, p []byte, wireLen uint32) uint32 {
	var a, x uint32
	var mem [bpfMemWords]uint32
	steps := 0
	for pc := 0; pc < len(prog); pc++ {
		if steps++; steps > bpfMaxSteps {
			return 0
		}
		in := &prog[pc]
		op := in.Op
		switch op & 0x07 {
		case clsLD:
			var ok bool
			switch op & 0xe0 {
			case mdIMM:
				a = in.K
			case mdABS:
				if a, ok = load(p, in.K, op&0x18); !ok {
					return 0
				}
			case mdIND:
				if a, ok = load(p, x+in.K, op&0x18); !ok {
					return 0
				}
			case mdMEM:
				a = mem[in.K]
			case mdLEN:
				a = wireLen
			}
		case clsLDX:
			switch op & 0xe0 {
			case mdIMM:
				x = in.K
			case mdMEM:
				x = mem[in.K]
			case mdLEN:
				x = wireLen
			case mdMSH:
				if uint64(in.K) >= uint64(len(p)) {
					return 0
				}
				x = uint32(p[in.K]&0x0f) * 4
			}
		case clsST:
			mem[in.K] = a
		case clsSTX:
			mem[in.K] = x
		case clsALU:
			v := in.K
			if op&srcX != 0 {
				v = x
			}
			switch op & 0xf0 {
			case aluADD:
				a += v
			case aluSUB:
				a -= v
			case aluMUL:
				a *= v
			case aluDIV:
				if v == 0 {
					return 0
				}
				a /= v
			case aluMOD:
				if v == 0 {
					return 0
				}
				a %= v
			case aluOR:
				a |= v
			case aluAND:
				a &= v
			case aluXOR:
				a ^= v
			case aluLSH:
				if v >= 32 {
					a = 0
				} else {
					a <<= v
				}
			case aluRSH:
				if v >= 32 {
					a = 0
				} else {
					a >>= v
				}
			case aluNEG:
				a = -a
			}
		case clsJMP:
			v := in.K
			if op&srcX != 0 {
				v = x
			}
			var cond bool
			switch op & 0xf0 {
			case jmpJA:
				pc += int(int32(in.K))
				continue
			case jmpJEQ:
				cond = a == v
			case jmpJGT:
				cond = a > v
			case jmpJGE:
				cond = a >= v
			case jmpJSET:
				cond = a&v != 0
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case clsRET:
			switch op & 0x18 {
			case retX:
				return x
			case retA:
				return a
			}
			return in.K
		case clsMISC:
			if op&0xf8 == miscTXA {
				a = x
			} else {
				x = a
			}
		}
	}
	return 0
}
