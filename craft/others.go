//go:build !linux

package craft

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
)

var errOS = fmt.Errorf("%w (%s)", ErrUnsupported, runtime.GOOS)

// MaxBatch is how many packets one send call carries at most.
const MaxBatch = 64

// Route is what the routing table says about a destination.
type Route struct {
	Iface   *net.Interface
	Src     netip.Addr
	NextHop netip.Addr
}

// LookupRoute is not implemented on this system.
func LookupRoute(dst netip.Addr) (Route, error) { return Route{}, errOS }

// SourceFor is not implemented on this system.
func SourceFor(dst netip.Addr, iface string) (netip.Addr, error) { return netip.Addr{}, errOS }

// Neighbour is not implemented on this system.
func Neighbour(ifc *net.Interface, addr netip.Addr, resolve bool) (net.HardwareAddr, error) {
	return nil, errOS
}

func openL3(v6 bool, iface, link string, _ bool) (sender, error) { return nil, errOS }
func openL2(ifc *net.Interface, _ bool) (sender, error)          { return nil, errOS }
func openReplies(ifc *net.Interface, l2 bool) (receiver, error)  { return nil, errOS }
