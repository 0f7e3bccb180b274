package capture

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/rawnet/rawnet/internal/unsupported"
	"github.com/rawnet/rawnet/pcap"
)

// ErrFilterNeedsCgo is returned (wrapped) by CompileFilter in a binary
// built without cgo, which cannot call libpcap's compiler.
// It matches errors.ErrUnsupported: such a binary has no code for them.
var ErrFilterNeedsCgo = unsupported.New("capture: filter expressions need a cgo build with libpcap")

// ErrNoLibpcap is returned (wrapped) by CompileFilter in a cgo build when
// libpcap's shared library cannot be loaded. rawnet opens it only when a
// filter expression is compiled, so everything else runs without it.
var ErrNoLibpcap = errors.New("capture: filter expressions need libpcap's shared library, which could not be loaded")

// ErrBadFilter is wrapped by CompileFilter's errors for an expression that
// libpcap does not accept; the message is libpcap's.
var ErrBadFilter = errors.New("capture: bad filter")

// dltFor maps a LINKTYPE_ value to the DLT_ value pcap_open_dead takes;
// they differ only for raw IP.
func dltFor(link pcap.LinkType) int {
	if link == pcap.Raw {
		return 12 // DLT_RAW on Linux
	}
	return int(link)
}

// Filter runs a compiled classic BPF program over packets in user space,
// as the kernel would, without allocating.
type Filter struct {
	prog []bpf.RawInstruction
}

// NewFilter checks prog and returns a Filter that runs it. The program
// must end every path in a return and jump only forward, as programs from
// libpcap do.
func NewFilter(prog []bpf.RawInstruction) (*Filter, error) {
	if len(prog) == 0 || len(prog) > bpfMaxInsns {
		return nil, fmt.Errorf("capture: BPF program of %d instructions", len(prog))
	}
	for i, ins := range prog {
		if err := checkInsn(ins, i, len(prog)); err != nil {
			return nil, fmt.Errorf("capture: BPF instruction %d: %w", i, err)
		}
	}
	return &Filter{prog: prog}, nil
}

// Match runs the filter over data, a packet captured from a wireLen-byte
// packet, and reports whether the filter accepts it.
func (f *Filter) Match(data []byte, wireLen int) bool {
	return runBPF(f.prog, data, uint32(wireLen)) != 0
}
