package priv

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"
)

const pingGroupRangePath = "/proc/sys/net/ipv4/ping_group_range"

// PingGroupRange returns the range of group ids allowed to open unprivileged
// ICMP datagram sockets (net.ipv4.ping_group_range). The kernel default,
// 1 0, is empty: lo > hi.
func PingGroupRange() (lo, hi uint32, err error) {
	b, err := os.ReadFile(pingGroupRangePath)
	if err != nil {
		return 0, 0, fmt.Errorf("priv: %w", err)
	}
	return parsePingGroupRange(string(b))
}

// PingGroupAllows reports whether this process may open unprivileged ICMP
// datagram sockets (socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)): whether its
// effective group id or one of its supplementary groups lies in
// net.ipv4.ping_group_range. Those are the ids the kernel checks; the real
// group id does not count. It is false when the range cannot be read.
func PingGroupAllows() bool {
	lo, hi, err := PingGroupRange()
	if err != nil {
		return false
	}
	groups, err := os.Getgroups()
	if err != nil {
		groups = nil
	}
	return anyInRange(lo, hi, append(groups, os.Getegid()))
}

func icmpHint() string {
	now := ""
	if lo, hi, err := PingGroupRange(); err == nil {
		now = fmt.Sprintf(" (it is now \"%d %d\")", lo, hi)
	}
	return "; for ICMP, unprivileged ICMP datagram sockets also work when net.ipv4.ping_group_range includes your group" +
		now + ", e.g. 'sudo sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"'"
}

// Effective returns the effective capability set of the calling thread
// (capget(2); the CapEff line of /proc/self/status says the same) as a bit
// mask: bit n is capability n, e.g. 1<<13 for CAP_NET_RAW. All of a
// process's threads hold the same sets: Drop changes them on every thread.
// One system call: reading /proc/self/status instead cost about 0.1 ms of
// every command that drops privileges (issue 15).
func Effective() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // v3: two 32-bit halves
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("priv: capget: %w", err)
	}
	return uint64(data[1].Effective)<<32 | uint64(data[0].Effective), nil
}

// Drop clears the effective, permitted and inheritable capability sets of
// every thread of the process, for good: call it once the raw sockets are
// open, so that a bug later on runs without privileges. (The ambient set
// empties with them; the bounding set is left alone.) Capabilities belong
// to threads, so Drop runs capset(2) on all of the Go runtime's threads at
// once; threads created later inherit the
// empty sets. It does so through psx.Syscall3 (libcap's psx package): in a
// pure-Go binary that is syscall.AllThreadsSyscall, and in a binary that
// links cgo (needed for libpcap's filter compiler) libpsx runs the call on
// every thread, including those the Go runtime does not know about.
//
// Drop does not change user ids: a root process keeps uid 0 (and so the
// file access that goes with owning files), though not the overrides such
// as CAP_DAC_OVERRIDE, and regains every capability if it execs a program.
//
// Should the system refuse to run a call on every thread (ENOTSUP), Drop
// returns an error wrapping ErrDropUnsupported and nothing is dropped.
func Drop() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // v3: two 32-bit halves, all zero
	_, _, errno := psx.Syscall3(unix.SYS_CAPSET,
		uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	return dropError(errno)
}

func dropError(errno syscall.Errno) error {
	switch {
	case errno == 0:
		return nil
	case errors.Is(errno, syscall.ENOTSUP):
		return fmt.Errorf("%w: %w", ErrDropUnsupported, errno)
	default:
		return fmt.Errorf("priv: capset: %w", errno)
	}
}
