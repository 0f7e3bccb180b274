// Package priv deals with the privileges raw sockets need: it turns a bare
// "operation not permitted" into an error that says how to fix it, checks
// whether unprivileged ICMP datagram sockets are allowed, and drops every
// capability once the sockets that needed them are open.
package priv

import (
	"errors"
	"os"
	"syscall"

	"github.com/rawnet/rawnet/internal/unsupported"
)

var (
	// ErrPermission marks an error that Hint or HintICMP explained: the
	// operation needed privileges the process does not have.
	ErrPermission = errors.New("priv: permission denied")
	// ErrDropUnsupported is returned (wrapped) by Drop when capabilities
	// cannot be dropped on every thread. It matches errors.ErrUnsupported.
	ErrDropUnsupported = unsupported.New("priv: cannot drop capabilities on every thread")
	// ErrUnsupported is returned (wrapped) on systems where an operation of
	// this package is not implemented.
	ErrUnsupported = unsupported.New("priv: not implemented")
)

// Hint explains a permission error from opening or configuring a raw
// socket. When err is EPERM or EACCES (by errors.Is) it returns an error
// that wraps both ErrPermission and err and reads
//
//	<err>: raw sockets need root or CAP_NET_RAW: run as root or 'sudo setcap cap_net_raw,cap_net_admin+ep <this executable>'
//
// Any other error, and nil, is returned unchanged, as is an error that has
// already been explained.
func Hint(err error) error {
	return hint(err, false)
}

// HintICMP is Hint for ICMP sockets: the message also says that unprivileged
// ICMP datagram sockets work without any of that where the system allows them
// (on Linux, when net.ipv4.ping_group_range includes the process's group).
func HintICMP(err error) error {
	return hint(err, true)
}

func hint(err error, icmp bool) error {
	if !isPermission(err) || errors.Is(err, ErrPermission) {
		return err
	}
	msg := "raw sockets need root or CAP_NET_RAW: run as root or 'sudo setcap cap_net_raw,cap_net_admin+ep " + executable() + "'"
	if icmp {
		msg += icmpHint()
	}
	return &permissionError{err: err, hint: msg}
}

func isPermission(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES)
}

func executable() string {
	path, err := os.Executable()
	if err != nil {
		return "/path/to/rawnet"
	}
	return path
}

// permissionError is an error explained by Hint.
type permissionError struct {
	err  error
	hint string
}

func (e *permissionError) Error() string { return e.err.Error() + ": " + e.hint }

func (e *permissionError) Unwrap() []error { return []error{ErrPermission, e.err} }
