//go:build !linux

package priv

import (
	"fmt"
	"runtime"
)

func unsupportedOS(what string) error {
	return fmt.Errorf("%w: %s on %s", ErrUnsupported, what, runtime.GOOS)
}

// PingGroupRange is implemented on Linux only; elsewhere it returns an error
// wrapping ErrUnsupported.
func PingGroupRange() (lo, hi uint32, err error) {
	return 0, 0, unsupportedOS("ping_group_range")
}

// PingGroupAllows is implemented on Linux only; elsewhere it is false.
func PingGroupAllows() bool { return false }

func icmpHint() string { return "" }

// Effective is implemented on Linux only; elsewhere it returns an error
// wrapping ErrUnsupported.
func Effective() (uint64, error) { return 0, unsupportedOS("reading capabilities") }

// Drop is implemented on Linux only; elsewhere it returns an error wrapping
// ErrUnsupported.
func Drop() error { return unsupportedOS("dropping capabilities") }
