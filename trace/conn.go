package trace

import (
	"net/netip"
	"time"

	"github.com/rawnet/rawnet/internal/unsupported"
)

// Conn is what the engine needs from the network for one address family:
// a way to send whole IP packets and readers for what may answer them.
// Send is called from one goroutine; each Reader from one goroutine of
// its own.
type Conn interface {
	V6() bool
	// Source is the local address packets to dst leave from.
	Source(dst netip.Addr) (netip.Addr, error)
	// Send sends pkt, a whole IP packet that the caller built, to dst.
	Send(pkt []byte, dst netip.Addr) error
	// Readers are the sockets that answers arrive on.
	Readers() []Reader
	Close() error
}

// KeyedSender is a Conn whose sends others share (Shared): SendKeyed
// reads the send time and takes the kernel's transmit stamp number of
// the packet (rawsock.TxStamper) and sends it, all at once, so that
// neither a wait for the socket nor another sender's packet comes between
// them. keyed is false without transmit stamps.
type KeyedSender interface {
	SendKeyed(pkt []byte, dst netip.Addr) (sent time.Time, key uint32, keyed bool, err error)
}

// Reader reads packets that may answer probes.
type Reader interface {
	// Read blocks until a packet arrives or the read deadline passes
	// (os.ErrDeadlineExceeded) and fills p; p's slices alias buf.
	Read(buf []byte, p *Packet) error
	SetReadDeadline(t time.Time) error
}

// Packet is one packet a Reader received.
type Packet struct {
	Proto    uint8  // inet.ProtoICMP, ProtoICMPv6 or ProtoTCP: what Data holds
	Data     []byte // the ICMP message or TCP segment
	IP       []byte // the whole IP packet, when the socket delivered its header
	From, To netip.Addr
	TTL      int       // the packet's TTL or hop limit, -1 if unknown
	Received time.Time // the kernel's receive time when it gave one
	// KernelStamp: Received is the kernel's (SO_TIMESTAMPNS).
	KernelStamp bool
}

// ListenConfig says how to open a Conn.
type ListenConfig struct {
	V6        bool
	Method    Method     // TCP adds a reader for TCP segments
	Port      uint16     // TCP: the probed port, which answers come from
	Interface string     // send and receive through this device only
	Source    netip.Addr // send from this address
}

// ErrUnsupported is returned on systems where rawnet has no socket code.
var ErrUnsupported = unsupported.New("trace: not implemented on this operating system")
