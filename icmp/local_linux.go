package icmp

import (
	"fmt"
	"net/netip"

	"github.com/rawnet/rawnet/internal/rawsock"
)

// IsBroadcast reports whether the kernel routes dst as a broadcast (the
// broadcast address of a local IPv4 prefix, or 255.255.255.255), asked
// as iputils ping asks (rawsock.IsBroadcast).
func IsBroadcast(dst netip.Addr) bool { return rawsock.IsBroadcast(dst) }

// PathMTU is the MTU the kernel holds for the route to dst (the link's,
// or a smaller path MTU it has learned): what a "message too long" send
// error was measured against (rawsock.PathMTU, as tracepath reads it).
func PathMTU(dst netip.Addr) (int, error) {
	mtu, err := rawsock.PathMTU(dst, "")
	if err != nil {
		return 0, fmt.Errorf("icmp: path MTU: %w", err)
	}
	return mtu, nil
}
