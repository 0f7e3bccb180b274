package icmp

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// IsBroadcast reports whether the kernel routes dst as a broadcast (the
// broadcast address of a local IPv4 prefix, or 255.255.255.255). It asks
// as iputils ping does: connecting a UDP socket (which sends nothing)
// fails with EACCES for a broadcast route when SO_BROADCAST is not set.
func IsBroadcast(dst netip.Addr) bool {
	if !dst.Is4() {
		return false
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, &unix.SockaddrInet4{Port: 1025, Addr: dst.As4()})
	return errors.Is(err, unix.EACCES)
}

// PathMTU is the MTU the kernel holds for the route to dst (the link's,
// or a smaller path MTU it has learned): what a "message too long" send
// error was measured against. It connects a UDP socket, which sends
// nothing, and reads IP_MTU / IPV6_MTU, as tracepath does.
func PathMTU(dst netip.Addr) (int, error) {
	family, level, opt := unix.AF_INET, unix.IPPROTO_IP, unix.IP_MTU
	var sa unix.Sockaddr = &unix.SockaddrInet4{Port: 1025, Addr: dst.As4()}
	if !dst.Is4() {
		family, level, opt = unix.AF_INET6, unix.IPPROTO_IPV6, unix.IPV6_MTU
		sa = &unix.SockaddrInet6{Port: 1025, Addr: dst.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("icmp: path MTU to %s: %w", dst, err)
	}
	defer unix.Close(fd)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1) // a broadcast route has an MTU too
	if err := unix.Connect(fd, sa); err != nil {
		return 0, fmt.Errorf("icmp: path MTU to %s: %w", dst, err)
	}
	mtu, err := unix.GetsockoptInt(fd, level, opt)
	if err != nil {
		return 0, fmt.Errorf("icmp: path MTU to %s: %w", dst, err)
	}
	return mtu, nil
}
