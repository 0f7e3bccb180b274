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
	return nil, unsupportedOS()
}

func unsupportedOS() error { return fmt.Errorf("%w (this is %s)", ErrUnsupported, runtime.GOOS) }

// LinkType is what each packet starts with.
func (h *Handle) LinkType() pcap.LinkType { return pcap.Ethernet }

// Interface is the name of the interface captured on.
func (h *Handle) Interface() string { return "" }

// Snaplen is the most bytes of a packet kept.
func (h *Handle) Snaplen() int { return 0 }

// SetFilter is not implemented on this system.
func (h *Handle) SetFilter(prog []bpf.RawInstruction) error { return unsupportedOS() }

// Pending tells whether packets wait to be read.
func (h *Handle) Pending() bool { return false }

// ReadPackets is not implemented on this system.
func (h *Handle) ReadPackets(fn func(*Packet) error) (int, error) { return 0, unsupportedOS() }

// Interrupt does nothing on this system.
func (h *Handle) Interrupt() {}

func (h *Handle) clearInterrupt() {}

// Stats is not implemented on this system.
func (h *Handle) Stats() (Stats, error) { return Stats{}, unsupportedOS() }

// Close does nothing on this system.
func (h *Handle) Close() error { return nil }
