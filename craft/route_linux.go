package craft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/rawsock"
)

// Route is what the routing table says about a destination: the interface,
// the source address, and the next hop (the destination itself when it is
// on the link).
type Route struct {
	Iface   *net.Interface
	Src     netip.Addr
	NextHop netip.Addr
}

// LookupRoute asks the kernel which route packets to dst take, as
// `ip route get` does (RTM_GETROUTE over netlink). It sends nothing.
func LookupRoute(dst netip.Addr) (Route, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return Route{}, fmt.Errorf("craft: netlink: %w", err)
	}
	defer unix.Close(fd)
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2})
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return Route{}, fmt.Errorf("craft: netlink: %w", err)
	}
	if _, err := unix.Write(fd, routeRequest(dst)); err != nil {
		return Route{}, fmt.Errorf("craft: netlink: %w", err)
	}
	buf := make([]byte, 8192)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return Route{}, fmt.Errorf("craft: netlink: %w", err)
	}
	return parseRoute(buf[:n], dst)
}

// routeRequest is an RTM_GETROUTE request for dst; a link-local dst with
// a zone asks for the route out of that interface (RTA_OIF).
func routeRequest(dst netip.Addr) []byte {
	family, alen := byte(unix.AF_INET), 4
	if dst.Is6() {
		family, alen = unix.AF_INET6, 16
	}
	oif, _ := rawsock.ScopeID(dst, "")
	attrLen := unix.SizeofRtAttr + alen
	total := unix.SizeofNlMsghdr + unix.SizeofRtMsg + attrLen
	if oif != 0 {
		total += unix.SizeofRtAttr + 4
	}
	b := make([]byte, total)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(total))
	ne.PutUint16(b[4:], unix.RTM_GETROUTE)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(b[8:], 1)
	rt := b[unix.SizeofNlMsghdr:]
	rt[0] = family
	rt[1] = byte(alen * 8) // rtm_dst_len
	a := rt[unix.SizeofRtMsg:]
	ne.PutUint16(a[0:], uint16(attrLen))
	ne.PutUint16(a[2:], unix.RTA_DST)
	if dst.Is4() {
		x := dst.As4()
		copy(a[4:], x[:])
	} else {
		x := dst.As16()
		copy(a[4:], x[:])
	}
	if oif != 0 {
		o := a[attrLen:]
		ne.PutUint16(o[0:], unix.SizeofRtAttr+4)
		ne.PutUint16(o[2:], unix.RTA_OIF)
		ne.PutUint32(o[4:], oif)
	}
	return b
}

func parseRoute(b []byte, dst netip.Addr) (Route, error) {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return Route{}, fmt.Errorf("craft: netlink: %w", err)
	}
	for _, m := range msgs {
		switch m.Header.Type {
		case unix.NLMSG_ERROR:
			if len(m.Data) >= 4 {
				if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
					return Route{}, fmt.Errorf("craft: no route to %s: %w", dst, syscall.Errno(-e))
				}
			}
		case unix.RTM_NEWROUTE:
			return routeAttrs(&m, dst)
		}
	}
	return Route{}, fmt.Errorf("craft: no route to %s", dst)
}

func routeAttrs(m *syscall.NetlinkMessage, dst netip.Addr) (Route, error) {
	attrs, err := syscall.ParseNetlinkRouteAttr(m)
	if err != nil {
		return Route{}, fmt.Errorf("craft: netlink: %w", err)
	}
	r := Route{NextHop: dst}
	oif := 0
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.RTA_OIF:
			oif = int(binary.NativeEndian.Uint32(a.Value))
		case unix.RTA_PREFSRC:
			r.Src, _ = netip.AddrFromSlice(a.Value)
		case unix.RTA_GATEWAY:
			r.NextHop, _ = netip.AddrFromSlice(a.Value)
		}
	}
	if oif == 0 {
		return Route{}, fmt.Errorf("craft: no route to %s", dst)
	}
	ifc, err := net.InterfaceByIndex(oif)
	if err != nil {
		return Route{}, fmt.Errorf("craft: route to %s: %w", dst, err)
	}
	r.Iface = ifc
	r.Src = r.Src.Unmap()
	r.NextHop = r.NextHop.Unmap()
	return r, nil
}

// SourceFor is the local address packets to dst leave from (through
// iface when one is given): the kernel's choice, by rawsock's one lookup
// and zone policy.
func SourceFor(dst netip.Addr, iface string) (netip.Addr, error) {
	src, err := rawsock.SourceFor(dst, iface)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("craft: %w", err)
	}
	return src, nil
}

// ErrNoNeighbour is returned when the next hop's MAC address is unknown and
// could not be resolved.
var ErrNoNeighbour = errors.New("craft: next hop MAC unknown")

// Neighbour returns the MAC address of addr on ifc from the kernel's
// neighbour table. When there is no usable entry and resolve is true, it
// makes the kernel resolve one by sending an empty UDP datagram to addr's
// discard port (9) and waits up to a second for the entry.
func Neighbour(ifc *net.Interface, addr netip.Addr, resolve bool) (net.HardwareAddr, error) {
	if ifc.Flags&net.FlagLoopback != 0 || len(ifc.HardwareAddr) == 0 {
		return make(net.HardwareAddr, 6), nil
	}
	if hw, ok := lookupNeighbour(ifc.Index, addr); ok {
		return hw, nil
	}
	if !resolve {
		return nil, fmt.Errorf("%w: no neighbour entry for %s on %s", ErrNoNeighbour, addr, ifc.Name)
	}
	poke(addr, ifc)
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		if hw, ok := lookupNeighbour(ifc.Index, addr); ok {
			return hw, nil
		}
	}
	return nil, fmt.Errorf("%w: %s on %s did not answer ARP/neighbour solicitation; give eth(dst=MAC)", ErrNoNeighbour, addr, ifc.Name)
}

func poke(addr netip.Addr, ifc *net.Interface) {
	network := "udp4"
	if addr.Is6() {
		network = "udp6"
	}
	ua := &net.UDPAddr{IP: addr.AsSlice(), Port: 9}
	if addr.Is6() && addr.IsLinkLocalUnicast() {
		ua.Zone = ifc.Name
	}
	c, err := net.DialUDP(network, nil, ua)
	if err != nil {
		return
	}
	_, _ = c.Write(nil)
	_ = c.Close()
}

func lookupNeighbour(index int, addr netip.Addr) (net.HardwareAddr, bool) {
	family := unix.AF_INET
	if addr.Is6() {
		family = unix.AF_INET6
	}
	b, err := syscall.NetlinkRIB(unix.RTM_GETNEIGH, family)
	if err != nil {
		return nil, false
	}
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return nil, false
	}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWNEIGH || len(m.Data) < unix.SizeofNdMsg {
			continue
		}
		nd := (*unix.NdMsg)(unsafe.Pointer(&m.Data[0]))
		usable := nd.State&(unix.NUD_REACHABLE|unix.NUD_STALE|unix.NUD_DELAY|unix.NUD_PROBE|unix.NUD_PERMANENT|unix.NUD_NOARP) != 0
		if int(nd.Ifindex) != index || !usable {
			continue
		}
		if hw, ok := neighbourMAC(m.Data[unix.SizeofNdMsg:], addr); ok {
			return hw, true
		}
	}
	return nil, false
}

func neighbourMAC(b []byte, addr netip.Addr) (net.HardwareAddr, bool) {
	var dst netip.Addr
	var hw net.HardwareAddr
	for len(b) >= unix.SizeofRtAttr {
		l := int(binary.NativeEndian.Uint16(b))
		t := binary.NativeEndian.Uint16(b[2:])
		if l < unix.SizeofRtAttr || l > len(b) {
			break
		}
		v := b[unix.SizeofRtAttr:l]
		switch t {
		case unix.NDA_DST:
			dst, _ = netip.AddrFromSlice(v)
		case unix.NDA_LLADDR:
			hw = append(net.HardwareAddr(nil), v...)
		}
		b = b[min(len(b), (l+3)&^3):]
	}
	return hw, dst.Unmap() == addr.Unmap() && len(hw) == 6
}
