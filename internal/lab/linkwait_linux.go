package lab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// waitLinksUp waits until every interface but loopback in the calling
// thread's namespace is operationally up, that is, until the kernel's
// linkwatch has seen its carrier and given it a qdisc: before that a veth
// silently drops what it sends. It dumps the links over rtnetlink, then
// follows link events until none is left down or the deadline passes.
func waitLinksUp(deadline time.Time) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("rtnetlink socket: %w", err)
	}
	defer unix.Close(fd)
	// Join the link group before the dump, so no change falls in between.
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		return fmt.Errorf("rtnetlink bind: %w", err)
	}
	req := linkDumpRequest()
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("rtnetlink dump: %w", err)
	}
	down := map[int32]string{}
	dumped := false
	buf := make([]byte, 1<<16)
	for !dumped || len(down) > 0 {
		n, err := recvUntil(fd, buf, deadline)
		if errors.Is(err, unix.EAGAIN) {
			names := slices.Sorted(maps.Values(down))
			return fmt.Errorf("links still down: %s", strings.Join(names, ", "))
		}
		if err != nil {
			return fmt.Errorf("rtnetlink: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("rtnetlink: %w", err)
		}
		for i := range msgs {
			switch msgs[i].Header.Type {
			case unix.NLMSG_DONE:
				dumped = true
			case unix.NLMSG_ERROR:
				return fmt.Errorf("rtnetlink: error reply to link dump")
			case unix.RTM_NEWLINK:
				index, name, up, ok := parseLink(&msgs[i])
				switch {
				case !ok:
				case up:
					delete(down, index)
				default:
					down[index] = name
				}
			}
		}
	}
	return nil
}

// linkDumpRequest is an RTM_GETLINK dump request: a netlink header and an
// rtgenmsg for all families.
func linkDumpRequest() []byte {
	b := make([]byte, unix.SizeofNlMsghdr+4)
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], unix.RTM_GETLINK)
	binary.NativeEndian.PutUint16(b[6:8], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(b[8:12], 1) // sequence number
	b[unix.SizeofNlMsghdr] = unix.AF_UNSPEC
	return b
}

// recvUntil reads one datagram from fd, waiting no later than deadline
// (EAGAIN when it passes).
func recvUntil(fd int, buf []byte, deadline time.Time) (int, error) {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return 0, unix.EAGAIN
		}
		tv := unix.NsecToTimeval(left.Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return 0, err
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return n, err
	}
}

// parseLink reads index, name and whether it is operationally up from an
// RTM_NEWLINK message; ok is false for loopback and malformed messages.
func parseLink(m *syscall.NetlinkMessage) (index int32, name string, up, ok bool) {
	if len(m.Data) < unix.SizeofIfInfomsg {
		return 0, "", false, false
	}
	index = int32(binary.NativeEndian.Uint32(m.Data[4:8]))
	flags := binary.NativeEndian.Uint32(m.Data[8:12])
	if flags&unix.IFF_LOOPBACK != 0 {
		return 0, "", false, false
	}
	attrs, err := syscall.ParseNetlinkRouteAttr(m)
	if err != nil {
		return 0, "", false, false
	}
	const ifOperUp = 6 // IF_OPER_UP, RFC 2863
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.IFLA_IFNAME:
			name = strings.TrimRight(string(a.Value), "\x00")
		case unix.IFLA_OPERSTATE:
			up = len(a.Value) > 0 && a.Value[0] == ifOperUp
		}
	}
	return index, name, up, true
}
