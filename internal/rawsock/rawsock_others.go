//go:build !linux

package rawsock

import (
	"errors"
	"fmt"
	"runtime"
)

// ErrUnsupported is what every function returns on systems where rawnet
// has no socket code.
var ErrUnsupported = fmt.Errorf("rawsock: not implemented on %s: %w", runtime.GOOS, errors.ErrUnsupported)
