//go:build !linux

package icmp

import (
	"fmt"
	"runtime"
)

// Listen is not implemented on this operating system.
func Listen(cfg ListenConfig) (Conn, error) {
	return nil, fmt.Errorf("%w (%s)", ErrUnsupported, runtime.GOOS)
}
