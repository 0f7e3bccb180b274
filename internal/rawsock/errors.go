package rawsock

import (
	"errors"
	"syscall"
)

// Errors of the zone policy (see ScopeID), on every system, so that
// engines can tell a destination given without its interface from one
// the network does not reach.
var (
	// ErrNeedZone: an IPv6 link-local destination names no interface
	// and the command is bound to none.
	ErrNeedZone = errors.New("a link-local destination needs its interface: write it as ADDR%IFACE or give -I IFACE")
	// ErrUnknownZone: the zone names no interface of this host.
	ErrUnknownZone = errors.New("no such interface")
)

// IsZoneError reports whether err comes from the zone policy: a mistake
// in the destination as given, not a failure of the network.
func IsZoneError(err error) bool {
	return errors.Is(err, ErrNeedZone) || errors.Is(err, ErrUnknownZone)
}

// Unrouted reports a send refused by the route lookup (EHOSTUNREACH,
// ENETUNREACH). The lookup comes before the kernel numbers the packet for
// its transmit stamp (SOF_TIMESTAMPING_OPT_ID), on every kernel, so such a
// failure leaves the numbering as it was; any other may not (see
// Conn.RenumberAfter).
func Unrouted(err error) bool {
	return errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}
