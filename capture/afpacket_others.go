//go:build !linux

package capture

import (
	"fmt"
	"runtime"

	"golang.org/x/net/bpf"

	"github.com/rawnet/rawnet/pcap"
)

// Handle is an open live capture; on this system Open always fails.
type Handle struct{}

// Open fails: live capture needs Linux's AF_PACKET.
func Open(cfg Config) (*Handle, error) {
	return nil, fmt.Errorf("%w (not %s)", ErrNotSupported, runtime.GOOS)
}

func (h *Handle) LinkType() pcap.LinkType                         { return pcap.Ethernet }
func (h *Handle) Interface() string                               { return "" }
func (h *Handle) Snaplen() int                                    { return 0 }
func (h *Handle) SetFilter(prog []bpf.RawInstruction) error       { return ErrNotSupported }
func (h *Handle) Pending() bool                                   { return false }
func (h *Handle) ReadPackets(fn func(*Packet) error) (int, error) { return 0, ErrNotSupported }
func (h *Handle) Interrupt()                                      {}
func (h *Handle) Stats() (Stats, error)                           { return Stats{}, ErrNotSupported }
func (h *Handle) Close() error                                    { return nil }
