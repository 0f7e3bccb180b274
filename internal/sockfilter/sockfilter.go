// Package sockfilter attaches classic BPF programs to sockets
// (SO_ATTACH_FILTER) and empties what a socket queued before its filter
// was in place, for every rawnet package that filters in the kernel.
package sockfilter

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// AttachInstructions assembles prog and attaches it to the socket fd.
func AttachInstructions(fd int, prog []bpf.Instruction) error {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return fmt.Errorf("sockfilter: assemble: %w", err)
	}
	return Attach(fd, raw)
}
