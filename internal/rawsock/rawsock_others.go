//go:build !linux

package rawsock

import (
	"net/netip"
	"runtime"

	"github.com/rawnet/rawnet/internal/unsupported"
)

// ErrUnsupported is what every function returns on systems where rawnet
// has no socket code.
var ErrUnsupported = unsupported.New("rawsock: not implemented on " + runtime.GOOS)

// SourceFor is not implemented on this system.
func SourceFor(dst netip.Addr, iface string) (netip.Addr, error) {
	return netip.Addr{}, ErrUnsupported
}
