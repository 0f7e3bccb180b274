//go:build !linux

package rawsock

import (
	"runtime"

	"github.com/rawnet/rawnet/internal/unsupported"
)

// ErrUnsupported is what every function returns on systems where rawnet
// has no socket code.
var ErrUnsupported = unsupported.New("rawsock: not implemented on " + runtime.GOOS)
