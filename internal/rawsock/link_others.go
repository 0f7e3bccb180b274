//go:build !linux

package rawsock

import (
	"errors"
	"net"
	"time"
)

// Link needs Linux's AF_PACKET; OpenLink fails elsewhere.
type Link struct{}

// ErrNoInterface: see the Linux version.
var ErrNoInterface = errors.New("a link-layer socket needs an Ethernet interface")

// OpenLink returns ErrUnsupported.
func OpenLink(LinkConfig) (*Link, error) { return nil, ErrUnsupported }

func (*Link) Interface() *net.Interface          { return nil }
func (*Link) HardwareAddr() [6]byte              { return [6]byte{} }
func (*Link) WriteFrame([]byte) error            { return ErrUnsupported }
func (*Link) ReadFrame([]byte, *LinkFrame) error { return ErrUnsupported }
func (*Link) SetReadDeadline(time.Time) error    { return ErrUnsupported }
func (*Link) TxKey() (uint32, bool)              { return 0, false }
func (*Link) TxStamp(uint32) (int64, bool)       { return 0, false }
func (*Link) TxStampErr() error                  { return ErrUnsupported }
func (*Link) Close() error                       { return nil }
