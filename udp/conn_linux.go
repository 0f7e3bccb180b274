package udp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/cmsg"
)

// MaxBatch is the most messages one ReadBatch or WriteBatch call moves.
const MaxBatch = 64

const (
	sockaddrLen = unix.SizeofSockaddrInet6
	oobLen      = 128 // a timestamp and a pktinfo, with room to spare
	errOOBLen   = 256 // an extended error with its offender, and a timestamp
)

// sockConn is a Conn over a Linux UDP socket, read with recvmmsg and
// written with sendmmsg through its syscall.RawConn. The mmsghdrs, iovecs,
// addresses and control buffers are allocated once, and the read and write
// functions handed to the RawConn are method values made once, so neither
// direction allocates per datagram. (golang.org/x/net's ReadBatch
// allocates a net.UDPAddr per datagram, which is why this is done here.)
type sockConn struct {
	f         *os.File
	rc        syscall.RawConn
	v6        bool // an AF_INET6 socket (IPv4 peers are v4-mapped on it)
	connected bool
	recvErr   bool
	local     netip.AddrPort

	// A blocking socket (ListenConfig.Blocking) waits in ppoll, in slices,
	// for its deadline (unix nanoseconds, 0: none) or Close.
	blocking bool
	slice    time.Duration
	deadline atomic.Int64
	closed   atomic.Bool
	pfd      unix.PollFd
	pts      unix.Timespec
	rstop    error // os.ErrDeadlineExceeded or os.ErrClosed, returned as is

	// read side: one reader at a time
	readFn func(fd uintptr) bool
	rms    []Message
	rhdrs  [MaxBatch]unix.Mmsghdr
	riovs  [MaxBatch]unix.Iovec
	rnames [MaxBatch][sockaddrLen]byte
	roobs  [MaxBatch][oobLen]byte
	eoob   [errOOBLen]byte
	rn     int
	rerr   error
	queued bool
	meta   cmsg.Meta

	// write side: one writer at a time
	writeFn func(fd uintptr) bool
	wms     []Message
	whdrs   [MaxBatch]unix.Mmsghdr
	wiovs   [MaxBatch]unix.Iovec
	wnames  [MaxBatch][sockaddrLen]byte
	woobs   [MaxBatch][oobLen]byte
	wn      int
	werr    error
}

// Listen opens a UDP socket as cfg says: bound to cfg.Addr and, when
// cfg.Remote is valid, connected to it. Received datagrams carry kernel
// timestamps and the local address they were sent to.
func Listen(cfg ListenConfig) (Conn, error) {
	return listen(cfg, false)
}

// Dial opens a UDP socket connected to remote that also reports the ICMP
// errors its datagrams bring (IP_RECVERR) as MsgICMP messages.
func Dial(cfg ListenConfig) (Conn, error) {
	return listen(cfg, true)
}

// ListenErrors opens an unconnected UDP socket that reports the ICMP
// errors its datagrams bring as MsgICMP messages (for a port scan; no
// privileges needed).
func ListenErrors(cfg ListenConfig) (Conn, error) {
	return listen(cfg, true)
}

func listen(cfg ListenConfig, recvErr bool) (_ *sockConn, err error) {
	v6 := socketFamily6(cfg)
	family := unix.AF_INET
	if v6 {
		family = unix.AF_INET6
	}
	flags := unix.SOCK_CLOEXEC
	if !cfg.Blocking {
		flags |= unix.SOCK_NONBLOCK
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|flags, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("udp: open socket: %w", err)
	}
	c := &sockConn{v6: v6, recvErr: recvErr, blocking: cfg.Blocking, slice: cfg.BlockingSlice}
	if c.slice <= 0 {
		c.slice = defaultBlockingSlice
	}
	defer func() {
		if err != nil {
			if c.f != nil {
				c.f.Close()
			} else {
				unix.Close(fd)
			}
		}
	}()
	if err = setOptions(fd, cfg, v6, recvErr); err != nil {
		return nil, err
	}
	if err = c.bindConnect(fd, cfg); err != nil {
		return nil, err
	}
	if c.blocking {
		tv := unix.NsecToTimeval(int64(c.slice))
		if err = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return nil, fmt.Errorf("udp: set SO_RCVTIMEO: %w", err)
		}
	}
	// A blocking fd is not registered with Go's poller (see Blocking).
	c.f = os.NewFile(uintptr(fd), "udp")
	if c.rc, err = c.f.SyscallConn(); err != nil {
		return nil, fmt.Errorf("udp: %w", err)
	}
	c.readFn, c.writeFn = c.doRead, c.doWrite
	if c.blocking {
		c.readFn = c.doBlockingRead
	}
	return c, nil
}

// socketFamily6 decides between an AF_INET and an AF_INET6 socket: IPv4
// when an IPv4 address is asked for, otherwise IPv6 (dual stack when
// bound to the unspecified address).
func socketFamily6(cfg ListenConfig) bool {
	a := cfg.Addr.Addr()
	if !a.IsValid() || a.IsUnspecified() && a.Is6() && !cfg.Remote.IsValid() {
		return !(cfg.Remote.IsValid() && cfg.Remote.Addr().Unmap().Is4())
	}
	if a.IsUnspecified() && cfg.Remote.IsValid() {
		return !cfg.Remote.Addr().Unmap().Is4()
	}
	return !a.Unmap().Is4()
}

type sockopt struct {
	level, name, value int
	what               string
}

func setOptions(fd int, cfg ListenConfig, v6, recvErr bool) error {
	opts := []sockopt{{unix.SOL_SOCKET, unix.SO_REUSEADDR, 1, "SO_REUSEADDR"}}
	if v6 {
		opts = append(opts,
			sockopt{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0, "IPV6_V6ONLY"},
			sockopt{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO"})
	} else {
		opts = append(opts, sockopt{unix.IPPROTO_IP, unix.IP_PKTINFO, 1, "IP_PKTINFO"})
	}
	if recvErr {
		opts = append(opts, sockopt{unix.IPPROTO_IP, unix.IP_RECVERR, 1, "IP_RECVERR"})
		if v6 {
			opts = append(opts, sockopt{unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1, "IPV6_RECVERR"})
		}
	}
	if cfg.ReusePort {
		opts = append(opts, sockopt{unix.SOL_SOCKET, unix.SO_REUSEPORT, 1, "SO_REUSEPORT"})
	}
	if cfg.TTL > 0 {
		opts = append(opts, ipOpt(v6, unix.IP_TTL, unix.IPV6_UNICAST_HOPS, cfg.TTL, "TTL"))
	}
	if cfg.TOS > 0 {
		opts = append(opts, ipOpt(v6, unix.IP_TOS, unix.IPV6_TCLASS, cfg.TOS, "TOS"))
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.name, o.value); err != nil {
			return fmt.Errorf("udp: set %s: %w", o.what, err)
		}
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_NEW, 1) != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return fmt.Errorf("udp: enable kernel timestamps (SO_TIMESTAMPNS): %w", err)
		}
	}
	setBuffer(fd, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, cfg.RecvBuf)
	setBuffer(fd, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, cfg.SendBuf)
	return nil
}

func ipOpt(v6 bool, name4, name6, value int, what string) sockopt {
	if v6 {
		return sockopt{unix.IPPROTO_IPV6, name6, value, what}
	}
	return sockopt{unix.IPPROTO_IP, name4, value, what}
}

// setBuffer sets a socket buffer size, past the system maximum when the
// process may (CAP_NET_ADMIN), else as far as the maximum allows.
func setBuffer(fd, force, plain, n int) {
	if n <= 0 {
		return
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, n) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, plain, n)
	}
}

func (c *sockConn) bindConnect(fd int, cfg ListenConfig) error {
	addr := cfg.Addr
	if !addr.IsValid() {
		addr = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
		if !c.v6 {
			addr = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		}
	}
	if err := unix.Bind(fd, c.sockaddr(addr)); err != nil {
		return fmt.Errorf("udp: bind %s: %w", addr, err)
	}
	if cfg.Remote.IsValid() {
		if err := unix.Connect(fd, c.sockaddr(cfg.Remote)); err != nil {
			return fmt.Errorf("udp: connect to %s: %w", cfg.Remote, err)
		}
		c.connected = true
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fmt.Errorf("udp: getsockname: %w", err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		c.local = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		c.local = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	}
	return nil
}

func (c *sockConn) sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if c.v6 {
		return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}
}

func (c *sockConn) LocalAddr() netip.AddrPort { return c.local }

func (c *sockConn) SetReadDeadline(t time.Time) error {
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

func (c *sockConn) Close() error {
	c.closed.Store(true)
	return c.f.Close()
}

// ReadBatch reads up to len(ms) (at most MaxBatch) messages.
func (c *sockConn) ReadBatch(ms []Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	c.rms = ms[:min(len(ms), MaxBatch)]
	c.prepareRead()
	c.rstop = nil
	if err := c.rc.Read(c.readFn); err != nil {
		c.rms = nil
		return 0, err
	}
	if c.rstop != nil {
		c.rms = nil
		return 0, c.rstop
	}
	if c.rerr != nil {
		c.rms = nil
		return 0, fmt.Errorf("udp: receive: %w", c.rerr)
	}
	if c.queued {
		c.fillQueued(&ms[0])
	} else {
		for i := 0; i < c.rn; i++ {
			c.fillRead(i, &ms[i])
		}
	}
	c.rms = nil
	return c.rn, nil
}

func (c *sockConn) prepareRead() {
	for i := range c.rms {
		b := c.rms[i].Buf
		h := &c.rhdrs[i]
		c.riovs[i].Base = &b[0]
		c.riovs[i].SetLen(len(b))
		h.Hdr.Iov = &c.riovs[i]
		h.Hdr.SetIovlen(1)
		h.Hdr.Name = &c.rnames[i][0]
		h.Hdr.Namelen = sockaddrLen
		h.Hdr.Control = &c.roobs[i][0]
		h.Hdr.SetControllen(oobLen)
		h.Hdr.Flags = 0
		h.Len = 0
	}
}

func (c *sockConn) doRead(fd uintptr) bool { return c.recv(fd, unix.MSG_DONTWAIT) }

// recv makes one recvmmsg call with flags; false when nothing came (the
// queue was empty, a wait was interrupted, or an error already taken from
// the queue left nothing to report).
func (c *sockConn) recv(fd uintptr, flags int) bool {
	c.queued = false
	var n uintptr
	var e unix.Errno
	if flags&unix.MSG_DONTWAIT != 0 {
		// Cannot block: skip the scheduler's bookkeeping for a system call.
		n, _, e = unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.rhdrs[0])), uintptr(len(c.rms)), uintptr(flags), 0, 0)
	} else {
		n, _, e = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.rhdrs[0])), uintptr(len(c.rms)), uintptr(flags), 0, 0)
	}
	if e == 0 {
		c.rn, c.rerr = int(n), nil
		return true
	}
	if c.recvErr && (e == unix.EAGAIN || isICMPErrno(e)) && c.readQueued(fd) {
		return true
	}
	if e == unix.EAGAIN || e == unix.EINTR || isICMPErrno(e) {
		return false
	}
	c.rn, c.rerr = 0, e
	return true
}

// readQueued takes one entry off the socket's error queue into the first
// message.
func (c *sockConn) readQueued(fd uintptr) bool {
	h := &c.rhdrs[0].Hdr
	h.Control = &c.eoob[0]
	h.SetControllen(errOOBLen)
	n, _, e := unix.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(h)), unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
	if e != 0 {
		h.Control = &c.roobs[0][0]
		h.SetControllen(oobLen)
		return false
	}
	c.rhdrs[0].Len = uint32(n)
	c.rn, c.rerr, c.queued = 1, nil, true
	return true
}

// isICMPErrno reports the errors a socket with a pending ICMP error
// returns from a read.
func isICMPErrno(e unix.Errno) bool {
	switch e {
	case unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EPROTO, unix.EMSGSIZE, unix.EACCES, unix.EPERM:
		return true
	}
	return false
}

func (c *sockConn) fillRead(i int, m *Message) {
	h := &c.rhdrs[i]
	c.meta.Reset()
	cmsg.Parse(c.roobs[i][:h.Hdr.Controllen], &c.meta)
	m.N = int(h.Len)
	m.Addr = sockaddrAddrPort(c.rnames[i][:])
	m.Local = c.meta.Dst.Unmap()
	m.Kind = MsgData
	m.Offender = netip.Addr{}
	c.stamp(m)
}

func (c *sockConn) fillQueued(m *Message) {
	h := &c.rhdrs[0]
	c.meta.Reset()
	cmsg.Parse(c.eoob[:h.Hdr.Controllen], &c.meta)
	m.N = int(h.Len)
	m.Addr = sockaddrAddrPort(c.rnames[0][:])
	m.Local = netip.Addr{}
	m.Kind = MsgICMP
	m.ICMPType, m.ICMPCode = c.meta.ErrType, c.meta.ErrCode
	m.Offender = c.meta.Offender.Unmap()
	if c.meta.ErrOrig != soEEOriginICMP && c.meta.ErrOrig != soEEOriginICMP6 {
		m.ICMPType, m.ICMPCode = 0, 0 // a local error (e.g. EMSGSIZE): no ICMP message behind it
	}
	c.stamp(m)
}

// Origins of an extended error (linux/errqueue.h).
const (
	soEEOriginICMP  = 2
	soEEOriginICMP6 = 3
)

func (c *sockConn) stamp(m *Message) {
	m.KernelStamp = !c.meta.Stamp.IsZero()
	m.Time = c.meta.Stamp
	if !m.KernelStamp {
		m.Time = time.Now()
	}
}

// sockaddrAddrPort decodes a sockaddr_in or sockaddr_in6 (IPv4-mapped
// addresses unmapped).
func sockaddrAddrPort(b []byte) netip.AddrPort {
	port := binary.BigEndian.Uint16(b[2:])
	switch binary.NativeEndian.Uint16(b) {
	case unix.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])).Unmap(), port)
	}
	return netip.AddrPort{}
}

// WriteBatch sends up to len(ms) (at most MaxBatch) messages. A message
// the kernel refuses is skipped and its error returned once the others
// are sent.
func (c *sockConn) WriteBatch(ms []Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	c.wms = ms[:min(len(ms), MaxBatch)]
	for i := range c.wms {
		c.prepareWrite(i, &c.wms[i])
	}
	c.wn, c.werr = 0, nil
	err := c.rc.Write(c.writeFn)
	c.wms = nil
	if err != nil {
		return c.wn, err
	}
	if c.werr != nil {
		return c.wn, fmt.Errorf("udp: send: %w", c.werr)
	}
	return c.wn, nil
}

func (c *sockConn) prepareWrite(i int, m *Message) {
	h := &c.whdrs[i]
	c.wiovs[i].Base = &m.Buf[0]
	c.wiovs[i].SetLen(m.N)
	h.Hdr.Iov = &c.wiovs[i]
	h.Hdr.SetIovlen(1)
	h.Hdr.Name, h.Hdr.Namelen = nil, 0
	if !c.connected {
		h.Hdr.Name = &c.wnames[i][0]
		h.Hdr.Namelen = c.putSockaddr(c.wnames[i][:], m.Addr)
	}
	h.Hdr.Control = nil
	h.Hdr.SetControllen(0)
	if m.Local.IsValid() && !c.connected {
		h.Hdr.Control = &c.woobs[i][0]
		h.Hdr.SetControllen(c.putPktinfo(c.woobs[i][:], m.Local))
	}
	h.Hdr.Flags = 0
	h.Len = 0
}

func (c *sockConn) putSockaddr(b []byte, ap netip.AddrPort) uint32 {
	clear(b)
	if c.v6 {
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&b[0]))
		sa.Family = unix.AF_INET6
		sa.Addr = ap.Addr().As16() // an IPv4 address becomes v4-mapped
		binary.BigEndian.PutUint16(b[2:], ap.Port())
		return unix.SizeofSockaddrInet6
	}
	sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&b[0]))
	sa.Family = unix.AF_INET
	sa.Addr = ap.Addr().Unmap().As4()
	binary.BigEndian.PutUint16(b[2:], ap.Port())
	return unix.SizeofSockaddrInet4
}

// putPktinfo writes a control message that makes a datagram leave from
// local (IPV6_PKTINFO, which Linux also takes with a v4-mapped address
// for IPv4 on a dual-stack socket; IP_PKTINFO on an IPv4 socket).
func (c *sockConn) putPktinfo(b []byte, local netip.Addr) int {
	clear(b)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	data := b[unix.CmsgLen(0):]
	if c.v6 {
		h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
		a := local.As16()
		copy(data, a[:])
		// The length without the trailing padding (36 bytes, not 40):
		// Linux copies a control buffer of up to 36 bytes onto the stack
		// and allocates one for anything longer, per datagram.
		return unix.CmsgLen(unix.SizeofInet6Pktinfo)
	}
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
	a := local.Unmap().As4()
	copy(data[4:8], a[:]) // ipi_spec_dst
	return unix.CmsgSpace(unix.SizeofInet4Pktinfo)
}

func (c *sockConn) doWrite(fd uintptr) bool {
	for c.wn < len(c.wms) {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&c.whdrs[c.wn])), uintptr(len(c.wms)-c.wn),
			unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN && c.blocking {
			// Not pollable: wait for room in the kernel.
			n, _, e = unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&c.whdrs[c.wn])), uintptr(len(c.wms)-c.wn), 0, 0, 0)
		}
		switch {
		case e == unix.EAGAIN:
			return false // wait until the socket is writable
		case e == unix.EINTR:
		case e != 0:
			c.werr = e
			c.wn++ // the first message failed: skip it
		default:
			c.wn += int(n)
		}
	}
	return true
}
