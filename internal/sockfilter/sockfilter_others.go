//go:build !linux

package sockfilter

import (
	"fmt"
	"runtime"

	"golang.org/x/net/bpf"
)

// Attach is not implemented on this system.
func Attach(fd int, prog []bpf.RawInstruction) error {
	return fmt.Errorf("sockfilter: not implemented on %s", runtime.GOOS)
}

// Drain does nothing on this system.
func Drain(fd int) {}
