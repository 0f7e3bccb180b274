//go:build !linux

package udp

import (
	"fmt"
	"runtime"
)

// MaxBatch is the most messages one ReadBatch or WriteBatch call moves.
const MaxBatch = 64

func unsupportedOS() error { return fmt.Errorf("%w (%s)", ErrUnsupported, runtime.GOOS) }

// Listen is not implemented on this operating system.
func Listen(cfg ListenConfig) (Conn, error) { return nil, unsupportedOS() }

// Dial is not implemented on this operating system.
func Dial(cfg ListenConfig) (Conn, error) { return nil, unsupportedOS() }

// ListenErrors is not implemented on this operating system.
func ListenErrors(cfg ListenConfig) (Conn, error) { return nil, unsupportedOS() }
