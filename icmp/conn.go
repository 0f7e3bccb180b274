package icmp

import (
	"net/netip"
	"time"

	"github.com/rawnet/rawnet/internal/rawsock"
	"github.com/rawnet/rawnet/internal/unsupported"
)

// Packet is one ICMP message received by a Conn, with what the kernel said
// about it.
type Packet struct {
	// Data is the ICMP message from its type byte on. For an error taken
	// from a datagram socket's error queue (QueuedError) it is the echo
	// request as it was sent. It aliases the caller's read buffer.
	Data []byte
	// IP is the whole IP packet when the socket delivered the IP header
	// (raw IPv4 sockets); nil otherwise.
	IP []byte
	// From is the packet's source; for a queued error, the router or host
	// that reported it.
	From netip.Addr
	// To is the local address the packet was sent to, when known.
	To netip.Addr
	// TTL is the IP TTL or IPv6 hop limit of the packet, -1 if unknown.
	TTL int
	// TOS is its TOS or traffic class, -1 if unknown.
	TOS int
	// Received is the kernel's receive timestamp when KernelStamp is true,
	// otherwise the time user space read the packet.
	Received    time.Time
	KernelStamp bool
	// QueuedError is set for ICMP errors that a datagram socket reports
	// through its error queue (IP_RECVERR); ErrType, ErrCode and ErrInfo
	// are the ICMP error's fields.
	QueuedError bool
	OrigDst     netip.Addr // the destination of the request a queued error reports on
	ErrType     uint8
	ErrCode     uint8
	ErrInfo     uint32
}

// Conn is the engine's view of one ICMP socket (one address family). Its
// methods may be called from two goroutines at once, one reading and one
// writing, but not from two readers or two writers.
type Conn interface {
	// V6 reports whether the socket speaks ICMPv6.
	V6() bool
	// Datagram reports whether this is an unprivileged datagram socket, on
	// which the kernel owns the echo identifier (it is ID()).
	Datagram() bool
	// ID is the echo identifier replies carry.
	ID() uint16
	// WriteTo sends one ICMP message (header and body) to dst.
	WriteTo(msg []byte, dst netip.Addr) error
	// ReadPacket blocks until a packet arrives or the read deadline passes
	// (os.ErrDeadlineExceeded), and fills p; p.Data aliases buf.
	ReadPacket(buf []byte, p *Packet) error
	// SetReadDeadline sets when a blocked ReadPacket gives up.
	SetReadDeadline(t time.Time) error
	// Wire says what the IP header of the packets the socket sends carries.
	Wire() Wire
	// Source is the local address packets to dst leave from.
	Source(dst netip.Addr) (netip.Addr, error)
	Close() error
}

// TxStamps reports whether c's packets get kernel transmit stamps, and
// if not, why (nil: c cannot have them).
func TxStamps(c Conn) (bool, error) { return rawsock.TxStampState(c) }

// Wire is what the IP header of a packet carries beyond its addresses, as
// far as socket options decide it: rawnet writes it into the headers it
// rebuilds for pcap files.
type Wire struct {
	TTL int  // TTL or hop limit
	TOS int  // TOS or traffic class
	DF  bool // IPv4 don't-fragment bit
}

// Mode chooses the kind of ICMP socket.
type Mode int

const (
	// ModeAuto opens a raw socket and falls back to a datagram socket when
	// raw sockets are not permitted.
	ModeAuto Mode = iota
	// ModeRaw needs root or CAP_NET_RAW.
	ModeRaw
	// ModeDatagram needs net.ipv4.ping_group_range to include the group.
	ModeDatagram
)

// Proto chooses the socket Listen opens: the one a probe Kind sends and
// receives on.
type Proto uint8

const (
	// ProtoICMP: an ICMP socket (raw or datagram, Mode) for Echo.
	ProtoICMP Proto = iota
	// ProtoTCP: a raw TCP socket for TCPProbe (root or CAP_NET_RAW). Its ID
	// is the local port the SYNs leave from, which the conn keeps bound
	// (not listening) so that no local connection takes it and the kernel
	// resets every half-open connection the probes open.
	ProtoTCP
	// ProtoUDP: a UDP socket for UDPProbe (no privilege needed); its ID
	// is its local port, ICMP errors come from its error queue.
	ProtoUDP
)

// TCP flags as Event.Flags and Match.Flags carry them.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
	TCPUrg = 0x20
	TCPSA  = TCPSyn | TCPAck // SYN-ACK: the port is open
	TCPRA  = TCPRst | TCPAck // RST-ACK: the port is closed
)

// ListenConfig says how to open an ICMP socket. The zero value opens an
// IPv4 socket with kernel defaults.
type ListenConfig struct {
	V6 bool
	// Proto is the kind of socket (default ICMP); Mode applies to ICMP.
	Proto     Proto
	Mode      Mode
	ID        uint16     // echo identifier for raw sockets; 0 picks a random one
	TTL       int        // unicast TTL / hop limit; 0 keeps the kernel default
	TOS       int        // TOS / traffic class; -1 or 0 keeps the default
	PMTU      string     // "", "do", "dont", "want" or "probe" (IP_MTU_DISCOVER)
	Source    netip.Addr // bind to this local address
	Interface string     // bind to this device (SO_BINDTODEVICE)
	RecvBuf   int        // SO_RCVBUF in bytes; 0 keeps the default
	Broadcast bool       // IPv4: allow broadcast destinations (SO_BROADCAST), ping -b
	// Blocking reads a raw socket in the kernel instead of through Go's
	// network poller (rawsock's one blocking mode): the kernel wakes the
	// reading thread directly, which is what a flood ping's
	// one-probe-at-a-time loop wants, and a read deadline holds to the
	// microsecond. The socket then holds an OS thread while it waits.
	// Datagram sockets ignore it.
	Blocking bool
	// BlockingSlice bounds one wait of a Blocking socket, so that it
	// notices Close and a deadline moved by another goroutine in time
	// (default rawsock.DefaultSlice, 20ms).
	BlockingSlice time.Duration
	// HeaderIncluded (raw IPv4 sockets) makes rawnet write the IP header
	// (IP_HDRINCL) with the TTL, TOS and DF the socket would have used:
	// the kernel's path for such packets is shorter, which a flood feels.
	// Packets must fit the path MTU, for the kernel will not fragment them:
	// use it for small probes only. ICMP sockets only.
	HeaderIncluded bool
}

// ErrUnsupported is returned on systems where rawnet has no socket code.
var ErrUnsupported = unsupported.New("icmp: not implemented on this operating system")
