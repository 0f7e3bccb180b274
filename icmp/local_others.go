//go:build !linux

package icmp

import (
	"fmt"
	"net/netip"
	"runtime"
)

// IsBroadcast is not implemented on this operating system: false.
func IsBroadcast(dst netip.Addr) bool { return false }

// PathMTU is not implemented on this operating system.
func PathMTU(dst netip.Addr) (int, error) {
	return 0, fmt.Errorf("%w (%s)", ErrUnsupported, runtime.GOOS)
}
