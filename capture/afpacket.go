package capture

import (
	"context"
	"errors"
	"time"

	"golang.org/x/net/bpf"

	"github.com/rawnet/rawnet/pcap"

	"github.com/rawnet/rawnet/internal/unsupported"
)

// Live capture: a pure-Go AF_PACKET socket with a memory-mapped TPACKET_V3
// receive ring (Linux only). The kernel fills blocks of packets, each with
// a nanosecond timestamp, and hands whole blocks to user space; a Handle
// gives out the packets as slices into the mapped memory, so reading
// allocates nothing per packet.

// Direction selects packets by the way they cross the interface (tcpdump's
// -Q).
type Direction uint8

const (
	// DirInOut captures packets in both directions (the default).
	DirInOut Direction = iota
	// DirIn captures packets the host receives.
	DirIn
	// DirOut captures packets the host sends.
	DirOut
)

func (d Direction) String() string {
	switch d {
	case DirIn:
		return "in"
	case DirOut:
		return "out"
	}
	return "inout"
}

// Defaults of a Config's zero fields.
const (
	// DefaultBufferSize is the ring size: at 300,000 small packets a
	// second it holds about a tenth of a second of traffic, enough to
	// ride out a busy disk or a scheduler hiccup without drops.
	DefaultBufferSize = 16 << 20
	// DefaultBlockTimeout is how long the kernel keeps a partly filled
	// block before handing it over, so that a quiet link still delivers.
	DefaultBlockTimeout = 100 * time.Millisecond
	// MaxSnaplen is the largest snapshot length Open takes (tcpdump's).
	MaxSnaplen = pcap.DefaultSnaplen
)

// Config says what to capture. The zero value captures whole packets in
// both directions on all interfaces, in promiscuous mode.
type Config struct {
	// Interface is the interface name; "" or "any" captures on all
	// interfaces with Linux cooked (SLL2) headers.
	Interface string
	// Snaplen is the most bytes of each packet kept (MaxSnaplen when 0).
	Snaplen int
	// NoPromisc leaves the interface out of promiscuous mode.
	NoPromisc bool
	// BufferSize is the ring size in bytes (DefaultBufferSize when 0).
	BufferSize int
	// Direction selects packets by direction; filtered in the kernel.
	Direction Direction
	// BlockTimeout bounds how long a packet waits in a partly filled
	// block (DefaultBlockTimeout when 0).
	BlockTimeout time.Duration
	// Expr is a tcpdump filter expression, compiled with CompileFilter
	// for the interface's link type once it is known; "" for none.
	Expr string
	// Filter is a classic BPF program (from CompileFilter for LinkType)
	// run in the kernel instead of Expr; nil captures everything.
	Filter []bpf.RawInstruction
}

// Packet is one captured packet. Data points into the ring and is valid
// only until the callback it was given to returns.
type Packet struct {
	// Data is the packet from its link-layer header on, at most snaplen
	// bytes.
	Data []byte
	// Length is the packet's length on the wire (with the cooked header
	// in LinuxSLL2 captures); more than len(Data) when it was cut short.
	Length int
	// Timestamp is the kernel's receive (or send) time.
	Timestamp time.Time
	// IfIndex is the index of the interface the packet crossed.
	IfIndex int
	// Outgoing is true for packets the host sent.
	Outgoing bool
}

// Direction is the packet's direction as pcapng records it.
func (p *Packet) Direction() pcap.Direction {
	if p.Outgoing {
		return pcap.DirOutbound
	}
	return pcap.DirInbound
}

// Stats are the kernel's counts since the Handle was opened (tcpdump's
// "received by filter" and "dropped by kernel").
type Stats struct {
	// Packets is every packet that passed the filter, delivered or
	// dropped.
	Packets uint64
	// Drops is the packets the kernel dropped because the ring was full.
	Drops uint64
	// FreezeQueue counts the times the ring was full (the kernel froze
	// its queue).
	FreezeQueue uint64
}

var (
	// ErrUnsupported is returned (wrapped) by Open on systems without
	// AF_PACKET.
	ErrUnsupported = unsupported.New("capture: live capture is implemented for Linux only")
	// ErrInterrupted is returned by ReadPackets and Run's waits after
	// Interrupt.
	ErrInterrupted = errors.New("capture: interrupted")
)

// ErrStop, returned by Run's callback, ends the run without an error (as
// after -c packets).
var ErrStop = errors.New("capture: stop")

// Run reads packets into fn until ctx is done or fn returns an error.
// Before each wait for the kernel it calls idle, if not nil: the moment
// to flush buffered output. It returns nil when ctx ended the run or fn
// returned ErrStop, and otherwise the error that ended it.
func (h *Handle) Run(ctx context.Context, fn func(*Packet) error, idle func() error) error {
	h.clearInterrupt()
	stop := context.AfterFunc(ctx, h.Interrupt)
	defer stop()
	for ctx.Err() == nil {
		if idle != nil && !h.Pending() {
			if err := idle(); err != nil {
				return err
			}
		}
		_, err := h.ReadPackets(fn)
		switch {
		case errors.Is(err, ErrStop):
			return nil
		case errors.Is(err, ErrInterrupted) && ctx.Err() != nil:
			return nil
		case err != nil:
			return err
		}
	}
	return nil
}
