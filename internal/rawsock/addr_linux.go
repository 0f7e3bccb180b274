package rawsock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SockaddrLen is room for any sockaddr rawnet encodes (sockaddr_in6).
const SockaddrLen = unix.SizeofSockaddrInet6

// PutSockaddr encodes ap into b (at least SockaddrLen bytes) as a
// sockaddr_in6 when v6 (an IPv4 address becomes v4-mapped) or a
// sockaddr_in, with scope as the IPv6 scope id, and returns its length.
func PutSockaddr(b []byte, ap netip.AddrPort, scope uint32, v6 bool) uint32 {
	clear(b[:SockaddrLen])
	if v6 {
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&b[0]))
		sa.Family = unix.AF_INET6
		sa.Addr = ap.Addr().As16()
		sa.Scope_id = scope
		binary.BigEndian.PutUint16(b[2:], ap.Port())
		return unix.SizeofSockaddrInet6
	}
	sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&b[0]))
	sa.Family = unix.AF_INET
	sa.Addr = ap.Addr().Unmap().As4()
	binary.BigEndian.PutUint16(b[2:], ap.Port())
	return unix.SizeofSockaddrInet4
}

// SockaddrAddrPort decodes a sockaddr_in or sockaddr_in6 (IPv4-mapped
// addresses unmapped) and, for IPv6, its scope id.
func SockaddrAddrPort(b []byte) (ap netip.AddrPort, scope uint32) {
	if len(b) < 2 {
		return netip.AddrPort{}, 0
	}
	switch binary.NativeEndian.Uint16(b) {
	case unix.AF_INET:
		if len(b) >= unix.SizeofSockaddrInet4 {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:])), 0
		}
	case unix.AF_INET6:
		if len(b) >= unix.SizeofSockaddrInet6 {
			a := netip.AddrFrom16([16]byte(b[8:24])).Unmap()
			return netip.AddrPortFrom(a, binary.BigEndian.Uint16(b[2:])), binary.NativeEndian.Uint32(b[24:])
		}
	}
	return netip.AddrPort{}, 0
}

// Sockaddr is ap as a unix.Sockaddr for setup calls (bind, connect); it
// allocates, so it stays off the packet path.
func Sockaddr(ap netip.AddrPort, scope uint32, v6 bool) unix.Sockaddr {
	if v6 {
		return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16(), ZoneId: scope}
	}
	return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}
}

// The zone policy, the same in every command: an IPv6 link-local
// destination (fe80::/10, or a link-local multicast group) goes out of
// the interface its zone names (fe80::1%eth0, or %2 by index); without a
// zone, out of the interface the command is bound to (-I); with neither,
// it is an error (ErrNeedZone), as the kernel cannot choose a link. Any
// other destination needs no zone, and one it carries is ignored, as the
// kernel ignores the scope id of a global address.

// needsZone reports whether dst is only meaningful on one link.
func needsZone(dst netip.Addr) bool {
	return dst.Is6() && !dst.Is4In6() && (dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() || dst.IsInterfaceLocalMulticast())
}

// zones caches interface indexes by name and names by index: the packet
// path asks for them per packet and must not allocate.
var zones struct {
	sync.RWMutex
	byName  map[string]uint32
	byIndex map[uint32]string
}

// ZoneIndex is the interface index a zone names (an interface name, or a
// decimal index), 0 for no zone. Lookups are cached.
func ZoneIndex(zone string) (uint32, error) {
	if zone == "" {
		return 0, nil
	}
	zones.RLock()
	i, ok := zones.byName[zone]
	zones.RUnlock()
	if ok {
		return i, nil
	}
	if ifc, err := net.InterfaceByName(zone); err == nil {
		i = uint32(ifc.Index)
	} else if n, err := strconv.ParseUint(zone, 10, 32); err == nil && n > 0 {
		i = uint32(n)
	} else {
		return 0, fmt.Errorf("zone %q: %w", zone, ErrUnknownZone)
	}
	zones.Lock()
	if zones.byName == nil {
		zones.byName = map[string]uint32{}
	}
	zones.byName[zone] = i
	zones.Unlock()
	return i, nil
}

// ZoneName is the name of interface index i, for the zone of a
// link-local address received on it ("" for 0). Lookups are cached.
func ZoneName(i uint32) string {
	if i == 0 {
		return ""
	}
	zones.RLock()
	name, ok := zones.byIndex[i]
	zones.RUnlock()
	if ok {
		return name
	}
	name = strconv.FormatUint(uint64(i), 10)
	if ifc, err := net.InterfaceByIndex(int(i)); err == nil {
		name = ifc.Name
	}
	zones.Lock()
	if zones.byIndex == nil {
		zones.byIndex = map[uint32]string{}
	}
	zones.byIndex[i] = name
	zones.Unlock()
	return name
}

// ScopeID is the scope id a packet to dst is sent with, by the zone
// policy above; iface is the interface the command is bound to ("" for
// none).
func ScopeID(dst netip.Addr, iface string) (uint32, error) {
	if !needsZone(dst) {
		return 0, nil
	}
	if z := dst.Zone(); z != "" {
		return ZoneIndex(z)
	}
	if iface != "" {
		return ZoneIndex(iface)
	}
	return 0, ErrNeedZone
}

// WithScope gives a received link-local address the zone of the
// interface it came in on (the scope id of its sockaddr, or the
// interface index of its pktinfo), so that an answer to it goes back
// out of that interface; other addresses are returned as they are.
func WithScope(a netip.Addr, scope uint32) netip.Addr {
	if scope == 0 || !needsZone(a) {
		return a
	}
	return a.WithZone(ZoneName(scope))
}

// Router asks the kernel about the route to a destination by connecting
// a UDP socket of the destination's family (which sends nothing) and
// reading what the connection got: the local address (Source), the path
// MTU, whether the route is a broadcast one. It applies -I (the
// interface the router is bound to) and the zone policy. It is for setup
// and for errors, not the packet path.
type Router struct {
	iface string
	fd    [2]int // AF_INET, AF_INET6; -1 until needed
}

// NewRouter returns a Router for a command bound to iface ("" for none).
func NewRouter(iface string) *Router {
	return &Router{iface: iface, fd: [2]int{-1, -1}}
}

// connect connects the router's socket of dst's family to dst, with
// SO_BROADCAST as broadcast says (without it, a broadcast route is
// refused with EACCES), and returns the socket.
func (r *Router) connect(dst netip.Addr, broadcast bool) (int, error) {
	dst = dst.Unmap().WithZone(dst.Zone())
	scope, err := ScopeID(dst, r.iface)
	if err != nil {
		return -1, fmt.Errorf("%s: %w", dst, err)
	}
	fam, v6 := 0, dst.Is6()
	if v6 {
		fam = 1
	}
	if r.fd[fam] < 0 {
		family := unix.AF_INET
		if v6 {
			family = unix.AF_INET6
		}
		fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("route lookup socket: %w", err)
		}
		if r.iface != "" {
			if err := unix.BindToDevice(fd, r.iface); err != nil {
				unix.Close(fd)
				return -1, fmt.Errorf("bind route lookup socket to %s: %w", r.iface, err)
			}
		}
		r.fd[fam] = fd
	}
	fd := r.fd[fam]
	b := 0
	if broadcast {
		b = 1
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, b); err != nil {
		return -1, fmt.Errorf("route lookup socket: SO_BROADCAST: %w", err)
	}
	if err := unix.Connect(fd, Sockaddr(netip.AddrPortFrom(dst, 9), scope, v6)); err != nil {
		return -1, fmt.Errorf("no route to %s: %w", dst, err)
	}
	return fd, nil
}

// Source is the local address packets to dst leave from.
func (r *Router) Source(dst netip.Addr) (netip.Addr, error) {
	fd, err := r.connect(dst, false)
	if err != nil {
		return netip.Addr{}, err
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("getsockname: %w", err)
	}
	switch local := local.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(local.Addr), nil
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(local.Addr), nil
	}
	return netip.Addr{}, fmt.Errorf("no local address for %s", dst)
}

// PathMTU is the MTU the kernel holds for the route to dst (the link's,
// or a smaller path MTU it has learned), as tracepath reads it
// (IP_MTU / IPV6_MTU); a broadcast route has one too.
func (r *Router) PathMTU(dst netip.Addr) (int, error) {
	fd, err := r.connect(dst, true)
	if err != nil {
		return 0, err
	}
	level, opt := unix.IPPROTO_IP, unix.IP_MTU
	if dst.Unmap().Is6() {
		level, opt = unix.IPPROTO_IPV6, unix.IPV6_MTU
	}
	mtu, err := unix.GetsockoptInt(fd, level, opt)
	if err != nil {
		return 0, fmt.Errorf("path MTU to %s: %w", dst, err)
	}
	return mtu, nil
}

// IsBroadcast reports whether the kernel routes dst as a broadcast (the
// broadcast address of a local IPv4 prefix, or 255.255.255.255): the
// connection is refused with EACCES without SO_BROADCAST, as iputils
// ping finds out.
func (r *Router) IsBroadcast(dst netip.Addr) bool {
	if !dst.Unmap().Is4() {
		return false
	}
	_, err := r.connect(dst, false)
	return errors.Is(err, unix.EACCES)
}

// Close closes the router's sockets.
func (r *Router) Close() {
	for i, fd := range r.fd {
		if fd >= 0 {
			unix.Close(fd)
			r.fd[i] = -1
		}
	}
}

// SourceFor is Router.Source for one lookup.
func SourceFor(dst netip.Addr, iface string) (netip.Addr, error) {
	r := NewRouter(iface)
	defer r.Close()
	return r.Source(dst)
}

// PathMTU is Router.PathMTU for one lookup.
func PathMTU(dst netip.Addr, iface string) (int, error) {
	r := NewRouter(iface)
	defer r.Close()
	return r.PathMTU(dst)
}

// IsBroadcast is Router.IsBroadcast for one lookup.
func IsBroadcast(dst netip.Addr) bool {
	r := NewRouter("")
	defer r.Close()
	return r.IsBroadcast(dst)
}
