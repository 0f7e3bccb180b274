package udp

import (
	"errors"
	"net/netip"
	"time"

	"github.com/rawnet/rawnet/internal/rawsock"
	"github.com/rawnet/rawnet/internal/unsupported"
)

// MsgKind says what a received Message is.
type MsgKind uint8

const (
	// MsgData is a datagram.
	MsgData MsgKind = iota
	// MsgICMP is an ICMP error about a datagram this socket sent, from
	// the socket's error queue (IP_RECVERR): Buf holds the payload of the
	// datagram it reports on, Addr that datagram's destination.
	MsgICMP
)

// Message is one datagram to send or one received, with its metadata. The
// engines own the buffers and reuse them, and a Conn fills Messages in
// place, so that nothing is allocated per datagram.
type Message struct {
	// Buf is the datagram. For a read, its length is the room there is;
	// the Conn sets N to the bytes received. For a write, N bytes of Buf
	// are sent.
	Buf []byte
	N   int
	// Addr is the peer: the source of a received datagram, the
	// destination of one to send (ignored by a connected Conn).
	Addr netip.AddrPort
	// Local is the local address a datagram was sent to (for a reply to
	// leave from the same address); zero when unknown or not wanted.
	Local netip.Addr
	// Time is the kernel's receive timestamp, or when user space read the
	// datagram when KernelStamp is false.
	Time        time.Time
	KernelStamp bool
	Kind        MsgKind
	// For MsgICMP: the ICMP type and code, and who sent the error.
	ICMPType, ICMPCode uint8
	Offender           netip.Addr
}

// Data returns the N bytes of m's datagram.
func (m *Message) Data() []byte { return m.Buf[:m.N] }

// Conn is the engines' view of one UDP socket. ReadBatch and WriteBatch
// may be called from two goroutines at once, but not two of either.
type Conn interface {
	// ReadBatch waits for at least one message (or the read deadline,
	// os.ErrDeadlineExceeded) and fills up to len(ms) of them (at most the
	// socket's ListenConfig.Batch); it returns how many.
	ReadBatch(ms []Message) (int, error)
	// WriteBatch sends the messages in order (at most MaxBatch, in calls
	// of the socket's ListenConfig.Batch) and returns how many left; fewer
	// than len(ms) comes with an error.
	WriteBatch(ms []Message) (int, error)
	// SetReadDeadline sets when a blocked ReadBatch gives up.
	SetReadDeadline(t time.Time) error
	// LocalAddr is the address and port the socket is bound to.
	LocalAddr() netip.AddrPort
	Close() error
}

// TxStamps reports whether c's datagrams get kernel transmit stamps, and
// if not, why (nil: c cannot have them).
func TxStamps(c Conn) (bool, error) { return rawsock.TxStampState(c) }

// ListenConfig says how to open a UDP socket.
type ListenConfig struct {
	// Addr is the local address and port to bind (port 0: any). An
	// unspecified IPv6 address ([::]) takes IPv4 as well (dual stack).
	Addr netip.AddrPort
	// Remote, when valid, connects the socket: only datagrams from it are
	// received, and writes need no address.
	Remote netip.AddrPort
	// RecvBuf and SendBuf set SO_RCVBUF / SO_SNDBUF in bytes (0: default).
	RecvBuf, SendBuf int
	// ReusePort sets SO_REUSEPORT.
	ReusePort bool
	// TTL and TOS of sent datagrams (0: kernel default).
	TTL, TOS int
	// Blocking waits for datagrams in the kernel (ppoll on a socket that
	// Go's network poller does not know) instead of parking the goroutine
	// in the poller: the kernel wakes the reading thread itself, and a
	// read deadline is kept to the microsecond, where the poller costs
	// 10-25µs per wake-up on a busy machine and rounds timers up to the
	// millisecond. The reading goroutine then holds an OS thread while it
	// waits. For one goroutine that reads in a tight loop (the server, the
	// probe).
	Blocking bool
	// TxStamps asks the kernel for a software transmit stamp of every
	// datagram sent (SO_TIMESTAMPING), so that the probe's RTTs run from
	// the kernel's send time to its receive time. Without (or when the
	// kernel refuses it) they start at the time read before sending.
	TxStamps bool
	// Batch is the most datagrams one ReadBatch or WriteBatch moves (0 or
	// above MaxBatch: MaxBatch). Each costs the socket about 1 KB of
	// message headers and control buffers, allocated when it opens.
	Batch int
	// InFlight is about the most datagrams in flight at once, for which
	// the kernel's transmit stamps are kept (0: 4096, 64 KB).
	InFlight int
	// BlockingSlice bounds one wait of a Blocking socket, so that it
	// notices Close and a deadline moved by another goroutine (a
	// cancelled run) in time (default rawsock.DefaultSlice, 20ms).
	BlockingSlice time.Duration
}

// ErrUnsupported is returned on systems where rawnet has no UDP socket
// code.
var ErrUnsupported = unsupported.New("udp: not implemented on this operating system")

// errNoConn is returned by NewProbe, NewScanner and NewServer for a config
// without a Conn.
var errNoConn = errors.New("udp: no socket: the config's Conn is nil")
