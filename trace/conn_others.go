//go:build !linux

package trace

import (
	"fmt"
	"runtime"
)

// Listen is not implemented off Linux.
func Listen(ListenConfig) (Conn, error) {
	return nil, fmt.Errorf("%w (%s)", ErrUnsupported, runtime.GOOS)
}
