package rawsock

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Config says how Open sets up a socket.
type Config struct {
	// Name names the socket in errors and in its *os.File.
	Name string
	// Blocking makes the socket a blocking one that Go's network poller
	// does not know: a reader waits in the kernel, which wakes its thread
	// itself when a packet arrives, instead of parking the goroutine in
	// the poller (which costs 10-25µs per wake-up on a busy machine and
	// rounds timers up to the millisecond). The reading goroutine holds
	// an OS thread while it waits. For one goroutine that reads in a
	// tight loop (flood ping, the udp server and probe, send --wait).
	Blocking bool
	// Slice bounds one wait of a Blocking socket in the kernel, so that
	// it notices Close and a read deadline moved by another goroutine in
	// time (default DefaultSlice).
	Slice time.Duration
	// SoftErrors: a read that returns an error the kernel reports for an
	// ICMP error that arrived (ECONNREFUSED, EHOSTUNREACH, ...) is not
	// an error of the read; the read goes on (and takes the error queue
	// entry, when it is given one). For UDP sockets.
	SoftErrors bool
	// TxStamps asks the kernel for a software transmit stamp of every
	// packet sent (SO_TIMESTAMPING, see TxStamp). A kernel that refuses
	// the option leaves the Conn without (TxStamps false, TxStampErr
	// says why); Open does not fail for it.
	TxStamps bool
	// TxRing is how many transmit stamps the Conn keeps for TxStamp, at
	// least the packets it has in flight at once (rounded up to a power of
	// two; 0: 4096, 64 KB). A socket that sends a packet a second needs
	// few.
	TxRing int
	// Device binds the socket to one network interface (SO_BINDTODEVICE)
	// before Setup runs: it sends and receives through that device only.
	Device string
	// Setup sets the socket's options, binds and filters it before it is
	// wrapped; an error closes the socket.
	Setup func(fd int) error
}

// DefaultSlice is Config.Slice when none is given: the longest a Close or
// a moved deadline may go unnoticed by a blocked reader. Measured with
// the flood ping and udp probe benchmarks, a slice of 20ms costs nothing
// per packet (a waiting reader is woken by the packet, not the slice).
const DefaultSlice = 20 * time.Millisecond

// Conn is one socket. One goroutine may read while another writes; two
// readers or two writers at once are not allowed.
type Conn struct {
	f          *os.File
	rc         syscall.RawConn
	name       string
	blocking   bool
	softErrors bool
	slice      time.Duration
	deadline   atomic.Int64 // unix nanoseconds of a Blocking socket's deadline; 0: none
	closed     atomic.Bool

	// read side
	readFn  func(fd uintptr) bool
	rmsg    *unix.Msghdr   // one message (recvmsg) ...
	rmsgs   []unix.Mmsghdr // ... or a batch (recvmmsg)
	errq    *unix.Msghdr   // where an error queue entry goes; nil: not read
	rn      int
	rerr    error
	rqueued bool
	pfd     unix.PollFd
	pts     unix.Timespec

	// write side
	writeFn func(fd uintptr) bool
	wmsg    *unix.Msghdr
	wmsgs   []unix.Mmsghdr
	wn      int
	werr    unix.Errno

	// transmit stamps (Config.TxStamps); nil: none
	tx        *txStamps
	txErr     error
	drainFn   func(fd uintptr) bool
	readsErrq bool // a reader has passed an errq: hold ICMP errors a drain meets
}

// Open creates a socket (always close-on-exec; non-blocking unless
// cfg.Blocking), runs cfg.Setup on it and wraps it in a Conn.
func Open(family, typ, proto int, cfg Config) (*Conn, error) {
	flags := unix.SOCK_CLOEXEC
	if !cfg.Blocking {
		flags |= unix.SOCK_NONBLOCK
	}
	fd, err := unix.Socket(family, typ|flags, proto)
	if err != nil {
		return nil, err
	}
	c, err := newConn(fd, cfg)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return c, nil
}

// OpenHeaderIncluded opens a raw IP socket (IPPROTO_RAW) that sends
// packets with the IP header the caller wrote: IP_HDRINCL, which
// IPPROTO_RAW implies on IPv4, or IPV6_HDRINCL, set explicitly for
// kernels where IPPROTO_RAW does not imply it. cfg.Setup runs after.
func OpenHeaderIncluded(v6 bool, cfg Config) (*Conn, error) {
	if !v6 {
		return Open(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW, cfg)
	}
	setup := cfg.Setup
	cfg.Setup = func(fd int) error {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_HDRINCL, 1); err != nil {
			return fmt.Errorf("set IPV6_HDRINCL: %w", err)
		}
		if setup != nil {
			return setup(fd)
		}
		return nil
	}
	return Open(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_RAW, cfg)
}

func newConn(fd int, cfg Config) (*Conn, error) {
	c := &Conn{name: cfg.Name, blocking: cfg.Blocking, softErrors: cfg.SoftErrors, slice: cfg.Slice}
	if c.slice <= 0 {
		c.slice = DefaultSlice
	}
	if cfg.Device != "" {
		if err := unix.BindToDevice(fd, cfg.Device); err != nil {
			return nil, fmt.Errorf("bind to interface %q: %w", cfg.Device, err)
		}
	}
	if cfg.Setup != nil {
		if err := cfg.Setup(fd); err != nil {
			return nil, err
		}
	}
	if c.blocking {
		// Each blocking wait in the kernel ends after a slice at most.
		tv := unix.NsecToTimeval(int64(c.slice))
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return nil, fmt.Errorf("set SO_RCVTIMEO: %w", err)
		}
	}
	// A blocking fd is not registered with Go's poller: os.NewFile sees
	// that it is not in non-blocking mode.
	c.f = os.NewFile(uintptr(fd), cfg.Name)
	rc, err := c.f.SyscallConn()
	if err != nil {
		c.f.Close()
		return nil, err
	}
	c.rc = rc
	c.readFn, c.writeFn = c.doRead, c.doWrite
	if cfg.TxStamps && txStampsOff {
		c.txErr = errTxStampsOff
	} else if cfg.TxStamps {
		if opt, flags, err := enableTxStamps(fd); err != nil {
			c.txErr = err
		} else {
			c.tx, c.drainFn = newTxStamps(opt, flags, cfg.TxRing), c.drainStamps
		}
	}
	return c, nil
}

// Blocking reports whether the socket waits in the kernel (Config.Blocking).
func (c *Conn) Blocking() bool { return c.blocking }

// Control runs fn with the socket's fd, for options and lookups outside
// the packet path.
func (c *Conn) Control(fn func(fd int) error) error {
	var ferr error
	if err := c.rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// SetReadDeadline sets when a waiting read gives up with
// os.ErrDeadlineExceeded (the zero time: never). A packet already queued
// is still returned past the deadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if !c.blocking {
		return c.f.SetReadDeadline(t)
	}
	if t.IsZero() {
		c.deadline.Store(0)
	} else {
		c.deadline.Store(max(1, t.UnixNano()))
	}
	return nil
}

// Close closes the socket. A read waiting on a Blocking socket returns
// os.ErrClosed within a slice; on any other it returns at once.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.f.Close()
}

// closedErr makes the poller's "use of closed file" the os.ErrClosed a
// blocking socket returns, so that Close looks the same on both.
func (c *Conn) closedErr(err error) error {
	if c.closed.Load() {
		return os.ErrClosed
	}
	return err
}

// RecvMsg receives one packet into h (its iovec, name and control buffer
// set up by the caller) and returns its length. When errq is not nil and
// the normal queue is empty, an entry of the error queue (IP_RECVERR) is
// read into errq instead, and queued is true. The wait ends with
// os.ErrDeadlineExceeded or os.ErrClosed, returned as they are; a failed
// system call is returned as its unix.Errno.
func (c *Conn) RecvMsg(h, errq *unix.Msghdr) (n int, queued bool, err error) {
	c.rmsg, c.rmsgs, c.errq = h, nil, errq
	return c.read()
}

// RecvMsgs receives up to len(hs) packets with one recvmmsg call into
// caller-prepared headers and returns how many came (their lengths are
// in hs[i].Len). errq is as for RecvMsg: an error queue entry comes alone,
// and n is 1 with its length in hs[0].Len.
func (c *Conn) RecvMsgs(hs []unix.Mmsghdr, errq *unix.Msghdr) (n int, queued bool, err error) {
	if len(hs) == 0 {
		return 0, false, nil
	}
	c.rmsg, c.rmsgs, c.errq = nil, hs, errq
	n, queued, err = c.read()
	if queued {
		hs[0].Len = uint32(n)
		n = 1
	}
	return n, queued, err
}

func (c *Conn) read() (int, bool, error) {
	c.rerr, c.rqueued = nil, false
	if c.errq != nil {
		c.readsErrq = true
	}
	err := c.rc.Read(c.readFn)
	c.rmsg, c.rmsgs, c.errq = nil, nil, nil
	if err != nil {
		return 0, false, c.closedErr(err)
	}
	return c.rn, c.rqueued, c.rerr
}

func (c *Conn) doRead(fd uintptr) bool {
	if c.blocking {
		return c.blockingRead(fd)
	}
	return c.recv(fd, unix.MSG_DONTWAIT)
}

// blockingRead waits in the kernel: a wait longer than the slice is a
// blocking receive that returns with the first packet or after the slice
// (SO_RCVTIMEO); a shorter one, for a deadline that matters to the
// microsecond (a paced probe's next send), is a ppoll with that timeout.
// Between waits it looks at the deadline and for Close.
func (c *Conn) blockingRead(fd uintptr) bool {
	// Most often the packet is queued already (on a fast path the reply
	// arrives while the request is still being sent).
	if c.recv(fd, unix.MSG_DONTWAIT) {
		return true
	}
	for {
		if c.closed.Load() {
			c.rerr = os.ErrClosed
			return true
		}
		wait := c.slice
		if d := c.deadline.Load(); d != 0 {
			left := time.Duration(d - time.Now().UnixNano())
			if left <= 0 {
				c.rerr = os.ErrDeadlineExceeded
				return true
			}
			wait = min(wait, left)
		}
		if wait >= c.slice {
			flags := 0
			if c.rmsgs != nil {
				flags = unix.MSG_WAITFORONE
			}
			if c.recv(fd, flags) {
				return true
			}
			continue
		}
		c.poll(fd, wait)
		if c.recv(fd, unix.MSG_DONTWAIT) {
			return true
		}
	}
}

// poll blocks in ppoll until fd is readable (or has an error queued) or d
// passes. The thread's timer slack, 50µs by default, is set to the least
// the kernel allows first, for d is short and meant to the microsecond.
func (c *Conn) poll(fd uintptr, d time.Duration) {
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	c.pfd = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	c.pts = unix.NsecToTimespec(int64(d))
	// EINTR and a timeout alike send the caller back to look again.
	_, _, _ = unix.Syscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&c.pfd)), 1, uintptr(unsafe.Pointer(&c.pts)), 0, 0, 0)
}

// recv makes one receive call with flags; false when nothing came (the
// queue was empty, a wait was interrupted or timed out, or a soft error
// left nothing to report), which sends a non-blocking reader to the
// poller and a blocking one round its loop.
func (c *Conn) recv(fd uintptr, flags int) bool {
	if c.tx != nil && c.tx.held && c.errq != nil {
		c.takeHeld() // an ICMP error a transmit stamp drain met
		return true
	}
	n, e := c.recvCall(fd, flags)
	if e == 0 {
		c.rn = n
		return true
	}
	if e == unix.EAGAIN && c.tx != nil && c.tx.pending.Load() {
		// Take the stamps off the error queue: in Go's poller each one
		// would wake the reader again.
		c.drainTx(fd)
		if c.tx.held && c.errq != nil {
			c.takeHeld()
			return true
		}
	}
	soft := isSoftErrno(e) && (c.softErrors || c.errq != nil)
	if c.errq != nil && (e == unix.EAGAIN || soft) && c.recvQueued(fd) {
		return true
	}
	if e == unix.EAGAIN || e == unix.EINTR || soft {
		return false
	}
	c.rn, c.rerr = 0, e
	return true
}

func (c *Conn) recvCall(fd uintptr, flags int) (int, unix.Errno) {
	trap, arg, vlen := uintptr(unix.SYS_RECVMSG), uintptr(unsafe.Pointer(c.rmsg)), uintptr(0)
	if c.rmsgs != nil {
		trap, arg, vlen = unix.SYS_RECVMMSG, uintptr(unsafe.Pointer(&c.rmsgs[0])), uintptr(len(c.rmsgs))
	} else {
		c.rmsg.Flags = 0
	}
	var n uintptr
	var e unix.Errno
	if flags&unix.MSG_DONTWAIT != 0 {
		// Cannot block: skip the scheduler's bookkeeping for a system call.
		if trap == unix.SYS_RECVMSG {
			n, _, e = unix.RawSyscall(trap, fd, arg, uintptr(flags))
		} else {
			n, _, e = unix.RawSyscall6(trap, fd, arg, vlen, uintptr(flags), 0, 0)
		}
	} else if trap == unix.SYS_RECVMSG {
		n, _, e = unix.Syscall(trap, fd, arg, uintptr(flags))
	} else {
		n, _, e = unix.Syscall6(trap, fd, arg, vlen, uintptr(flags), 0, 0)
	}
	return int(n), e
}

// recvQueued takes one entry off the error queue into c.errq; transmit
// stamps met on the way are kept for TxStamp, not returned.
func (c *Conn) recvQueued(fd uintptr) bool {
	ctl, namelen := c.errq.Controllen, c.errq.Namelen
	for {
		c.errq.Flags = 0
		c.errq.Controllen, c.errq.Namelen = ctl, namelen
		n, _, e := unix.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(c.errq)), unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		if e != 0 {
			return false
		}
		if c.tx != nil && c.errq.Control != nil && c.tx.store(unsafe.Slice(c.errq.Control, int(c.errq.Controllen))) {
			continue
		}
		c.rn, c.rqueued = int(n), true
		return true
	}
}

// isSoftErrno reports the errors a socket with a pending ICMP error
// returns from a read.
func isSoftErrno(e unix.Errno) bool {
	switch e {
	case unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EPROTO, unix.EMSGSIZE, unix.EACCES, unix.EPERM:
		return true
	}
	return false
}

// SendMsg sends one message with sendmsg and returns the bytes sent. A
// full socket buffer waits: in the poller, or in the kernel for a Blocking
// socket.
func (c *Conn) SendMsg(h *unix.Msghdr) (int, error) {
	c.wmsg, c.wmsgs = h, nil
	return c.write()
}

// SendMsgs sends hs in order with sendmmsg and returns how many left. It
// stops at the first message the kernel refuses: then n < len(hs) and err
// is that message's unix.Errno (the caller decides whether to skip it and
// go on). A full socket buffer waits as for SendMsg.
func (c *Conn) SendMsgs(hs []unix.Mmsghdr) (int, error) {
	if len(hs) == 0 {
		return 0, nil
	}
	c.wmsg, c.wmsgs = nil, hs
	return c.write()
}

func (c *Conn) write() (int, error) {
	c.wn, c.werr = 0, 0
	err := c.rc.Write(c.writeFn)
	c.wmsg, c.wmsgs = nil, nil
	if err != nil {
		return c.wn, c.closedErr(err)
	}
	if c.werr != 0 {
		return c.wn, c.werr
	}
	return c.wn, nil
}

func (c *Conn) doWrite(fd uintptr) bool {
	for {
		n, e := c.sendCall(fd, unix.MSG_DONTWAIT)
		if e == unix.EAGAIN && c.blocking {
			// Not pollable: wait in the kernel for room.
			n, e = c.sendCall(fd, 0)
		}
		switch e {
		case unix.EAGAIN:
			return false // wait until the socket is writable
		case unix.EINTR:
			continue
		case 0:
			if c.wmsgs == nil {
				c.wn = n
				c.sent(1)
				return true
			}
			c.wn += n
			c.sent(n)
			if c.wn < len(c.wmsgs) {
				continue
			}
			return true
		default:
			c.werr = e
			return true
		}
	}
}

func (c *Conn) sendCall(fd uintptr, flags int) (int, unix.Errno) {
	var n uintptr
	var e unix.Errno
	if c.wmsgs == nil {
		if h := c.wmsg; h.Controllen == 0 && h.Iovlen == 1 && h.Iov != nil {
			return c.sendTo(fd, flags)
		}
		if flags&unix.MSG_DONTWAIT != 0 {
			n, _, e = unix.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(c.wmsg)), uintptr(flags))
		} else {
			n, _, e = unix.Syscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(c.wmsg)), uintptr(flags))
		}
		return int(n), e
	}
	hs := c.wmsgs[c.wn:]
	if flags&unix.MSG_DONTWAIT != 0 {
		n, _, e = unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)), uintptr(flags), 0, 0)
	} else {
		n, _, e = unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)), uintptr(flags), 0, 0)
	}
	return int(n), e
}

// sendTo sends c.wmsg, one buffer without control messages, with sendto,
// as iputils' ping does: the kernel then copies in no msghdr and no iovec
// array. In a flood ping (one send per round trip) sendmsg's own entry
// work was 3.2% of the perf samples, sendto's is 1.2%.
func (c *Conn) sendTo(fd uintptr, flags int) (int, unix.Errno) {
	h := c.wmsg
	buf, name := uintptr(unsafe.Pointer(h.Iov.Base)), uintptr(unsafe.Pointer(h.Name))
	var n uintptr
	var e unix.Errno
	if flags&unix.MSG_DONTWAIT != 0 {
		n, _, e = unix.RawSyscall6(unix.SYS_SENDTO, fd, buf, uintptr(h.Iov.Len), uintptr(flags), name, uintptr(h.Namelen))
	} else {
		n, _, e = unix.Syscall6(unix.SYS_SENDTO, fd, buf, uintptr(h.Iov.Len), uintptr(flags), name, uintptr(h.Namelen))
	}
	return int(n), e
}
