package udp

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/cmsg"
	"github.com/rawnet/rawnet/internal/rawsock"
)

// MaxBatch is the most messages one ReadBatch or WriteBatch call moves.
const MaxBatch = 64

const (
	sockaddrLen = rawsock.SockaddrLen
	oobLen      = 128 // a timestamp and a pktinfo, with room to spare
	errOOBLen   = 256 // an extended error with its offender, and a timestamp
)

// sockConn is a Conn over a Linux UDP socket (a rawsock.Conn), read with
// recvmmsg and written with sendmmsg. The mmsghdrs, iovecs, addresses and
// control buffers are allocated once, so neither direction allocates per
// datagram. (golang.org/x/net's ReadBatch allocates a net.UDPAddr per
// datagram, which is why this is done here.)
type sockConn struct {
	c         *rawsock.Conn
	v6        bool // an AF_INET6 socket (IPv4 peers are v4-mapped on it)
	connected bool
	recvErr   bool
	local     netip.AddrPort

	// read side: one reader at a time; Batch long, as the write side
	rhdrs  []unix.Mmsghdr
	riovs  []unix.Iovec
	rnames [][sockaddrLen]byte
	roobs  [][oobLen]byte
	ehdr   unix.Msghdr // an error queue entry: the first message's buffer and name
	eoob   [errOOBLen]byte
	meta   cmsg.Meta

	// write side: one writer at a time
	whdrs  []unix.Mmsghdr
	wiovs  []unix.Iovec
	wnames [][sockaddrLen]byte
	woobs  [][oobLen]byte
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

func listen(cfg ListenConfig, recvErr bool) (*sockConn, error) {
	v6 := socketFamily6(cfg)
	family := unix.AF_INET
	if v6 {
		family = unix.AF_INET6
	}
	c := &sockConn{v6: v6, recvErr: recvErr}
	c.makeBatch(cfg.Batch)
	rc, err := rawsock.Open(family, unix.SOCK_DGRAM, unix.IPPROTO_UDP, rawsock.Config{
		Name: "udp", Blocking: cfg.Blocking, Slice: cfg.BlockingSlice, SoftErrors: true,
		TxStamps: cfg.TxStamps, TxRing: cfg.InFlight,
		Setup: func(fd int) error {
			if err := setOptions(fd, cfg, v6, recvErr); err != nil {
				return err
			}
			return c.bindConnect(fd, cfg)
		},
	})
	if errno, ok := err.(unix.Errno); ok {
		return nil, fmt.Errorf("udp: open socket: %w", errno)
	}
	if err != nil {
		return nil, err
	}
	c.c = rc
	return c, nil
}

// makeBatch allocates the message headers and buffers of n datagrams a
// call each way (ListenConfig.Batch).
func (c *sockConn) makeBatch(n int) {
	if n <= 0 || n > MaxBatch {
		n = MaxBatch
	}
	c.rhdrs, c.riovs, c.rnames, c.roobs = make([]unix.Mmsghdr, n), make([]unix.Iovec, n), make([][sockaddrLen]byte, n), make([][oobLen]byte, n)
	c.whdrs, c.wiovs, c.wnames, c.woobs = make([]unix.Mmsghdr, n), make([]unix.Iovec, n), make([][sockaddrLen]byte, n), make([][oobLen]byte, n)
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

func setOptions(fd int, cfg ListenConfig, v6, recvErr bool) error {
	opts := []rawsock.Opt{{Level: unix.SOL_SOCKET, Name: unix.SO_REUSEADDR, Value: 1, What: "SO_REUSEADDR"}}
	if v6 {
		opts = append(opts, rawsock.Opt{Level: unix.IPPROTO_IPV6, Name: unix.IPV6_V6ONLY, Value: 0, What: "IPV6_V6ONLY"})
	}
	opts = rawsock.AppendRecvOpts(opts, v6, rawsock.RecvDest)
	if recvErr {
		// A dual-stack IPv6 socket needs both for its IPv4 and IPv6 peers.
		opts = rawsock.AppendRecvOpts(opts, false, rawsock.RecvErrors)
		if v6 {
			opts = rawsock.AppendRecvOpts(opts, true, rawsock.RecvErrors)
		}
	}
	if cfg.ReusePort {
		opts = append(opts, rawsock.Opt{Level: unix.SOL_SOCKET, Name: unix.SO_REUSEPORT, Value: 1, What: "SO_REUSEPORT"})
	}
	if cfg.TTL > 0 {
		opts = append(opts, rawsock.IPOpt(v6, unix.IP_TTL, unix.IPV6_UNICAST_HOPS, cfg.TTL, "TTL"))
	}
	if cfg.TOS > 0 {
		opts = append(opts, rawsock.IPOpt(v6, unix.IP_TOS, unix.IPV6_TCLASS, cfg.TOS, "TOS"))
	}
	if err := rawsock.SetOpts(fd, opts); err != nil {
		return fmt.Errorf("udp: %w", err)
	}
	if err := rawsock.EnableTimestamps(fd); err != nil {
		return fmt.Errorf("udp: %w", err)
	}
	rawsock.SetRecvBuffer(fd, cfg.RecvBuf)
	rawsock.SetSendBuffer(fd, cfg.SendBuf)
	return nil
}

// bindConnect binds the socket and connects it when cfg says so; a
// link-local address takes its interface from its zone (rawsock's zone
// policy).
func (c *sockConn) bindConnect(fd int, cfg ListenConfig) error {
	addr := cfg.Addr
	if !addr.IsValid() {
		addr = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
		if !c.v6 {
			addr = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		}
	}
	scope, err := rawsock.ScopeID(addr.Addr(), "")
	if err != nil && addr.Addr().Zone() != "" {
		return fmt.Errorf("udp: bind %s: %w", addr, err)
	}
	if err := unix.Bind(fd, rawsock.Sockaddr(addr, scope, c.v6)); err != nil {
		return fmt.Errorf("udp: bind %s: %w", addr, err)
	}
	if cfg.Remote.IsValid() {
		scope, err := rawsock.ScopeID(cfg.Remote.Addr(), "")
		if errors.Is(err, rawsock.ErrNeedZone) {
			return fmt.Errorf("udp: connect to %s: a link-local peer needs its interface: write it as [ADDR%%IFACE]:PORT", cfg.Remote)
		}
		if err != nil {
			return fmt.Errorf("udp: connect to %s: %w", cfg.Remote, err)
		}
		if err := unix.Connect(fd, rawsock.Sockaddr(cfg.Remote, scope, c.v6)); err != nil {
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
		a := rawsock.WithScope(netip.AddrFrom16(sa.Addr).Unmap(), sa.ZoneId)
		c.local = netip.AddrPortFrom(a, uint16(sa.Port))
	}
	return nil
}

func (c *sockConn) LocalAddr() netip.AddrPort { return c.local }

func (c *sockConn) SetReadDeadline(t time.Time) error { return c.c.SetReadDeadline(t) }

func (c *sockConn) Close() error { return c.c.Close() }

// TxKey and TxStamp give the kernel's transmit stamps (rawsock.TxStamper).
func (c *sockConn) TxKey() (uint32, bool)            { return c.c.TxKey() }
func (c *sockConn) TxStamp(key uint32) (int64, bool) { return c.c.TxStamp(key) }

// TxStampAfter passes over a stamp of the same number from before the
// send (rawsock.Conn.TxStampAfter): the numbering restarts after a
// failed send.
func (c *sockConn) TxStampAfter(key uint32, after int64) (int64, bool) {
	return c.c.TxStampAfter(key, after)
}
func (c *sockConn) TxStampErr() error { return c.c.TxStampErr() }

// ReadBatch reads up to len(ms) (at most ListenConfig.Batch) messages.
func (c *sockConn) ReadBatch(ms []Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	ms = ms[:min(len(ms), len(c.rhdrs))]
	c.prepareRead(ms)
	var errq *unix.Msghdr
	if c.recvErr {
		c.ehdr = c.rhdrs[0].Hdr
		c.ehdr.Control = &c.eoob[0]
		c.ehdr.SetControllen(errOOBLen)
		errq = &c.ehdr
	}
	n, queued, err := c.c.RecvMsgs(c.rhdrs[:len(ms)], errq)
	if err != nil {
		if err == os.ErrDeadlineExceeded || err == os.ErrClosed {
			return 0, err
		}
		return 0, fmt.Errorf("udp: receive: %w", err)
	}
	if queued {
		c.fillQueued(&ms[0])
		return 1, nil
	}
	for i := 0; i < n; i++ {
		c.fillRead(i, &ms[i])
	}
	return n, nil
}

func (c *sockConn) prepareRead(ms []Message) {
	for i := range ms {
		b := ms[i].Buf
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

func (c *sockConn) fillRead(i int, m *Message) {
	h := &c.rhdrs[i]
	c.meta.Reset()
	cmsg.Parse(c.roobs[i][:h.Hdr.Controllen], &c.meta)
	m.N = int(h.Len)
	m.Addr = c.peer(c.rnames[i][:])
	m.Local = rawsock.WithScope(c.meta.Dst.Unmap(), uint32(c.meta.IfIndex))
	m.Kind = MsgData
	m.Offender = netip.Addr{}
	c.stamp(m)
}

// peer decodes a received datagram's source, a link-local one with the
// zone of the interface it came in on, so that a reply finds its way.
func (c *sockConn) peer(b []byte) netip.AddrPort {
	ap, scope := rawsock.SockaddrAddrPort(b)
	if scope == 0 {
		return ap
	}
	return netip.AddrPortFrom(rawsock.WithScope(ap.Addr(), scope), ap.Port())
}

func (c *sockConn) fillQueued(m *Message) {
	c.meta.Reset()
	cmsg.Parse(c.eoob[:c.ehdr.Controllen], &c.meta)
	m.N = int(c.rhdrs[0].Len)
	m.Addr = c.peer(c.rnames[0][:])
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

// WriteBatch sends up to len(ms) (at most MaxBatch) messages, at most
// ListenConfig.Batch a call to the kernel. A message the kernel refuses is
// skipped and its error returned once the others are sent.
func (c *sockConn) WriteBatch(ms []Message) (int, error) {
	ms = ms[:min(len(ms), MaxBatch)]
	var first, renumber error
	sent := 0
	for len(ms) > 0 {
		chunk := ms[:min(len(ms), len(c.whdrs))]
		ms = ms[len(chunk):]
		for i := range chunk {
			if err := c.prepareWrite(i, &chunk[i]); err != nil && first == nil {
				first = err
			}
		}
		for at := 0; at < len(chunk); {
			n, err := c.c.SendMsgs(c.whdrs[at:len(chunk)])
			at += n
			sent += n
			if err == nil {
				continue
			}
			if _, ok := err.(unix.Errno); !ok {
				return sent, err
			}
			if first == nil {
				first = fmt.Errorf("udp: send: %w", err)
			}
			if !rawsock.Unrouted(err) {
				renumber = err
			}
			at++ // the kernel refused this one: skip it
		}
	}
	if renumber != nil {
		// The refused datagram may have taken a transmit stamp number
		// (Probe.keyBatch forgets this batch's): restart the numbering so
		// that the batches after it are timed from the kernel's stamps.
		_ = c.c.RenumberAfter(renumber)
	}
	return sent, first
}

func (c *sockConn) prepareWrite(i int, m *Message) error {
	h := &c.whdrs[i]
	c.wiovs[i].Base = &m.Buf[0]
	c.wiovs[i].SetLen(m.N)
	h.Hdr.Iov = &c.wiovs[i]
	h.Hdr.SetIovlen(1)
	h.Hdr.Name, h.Hdr.Namelen = nil, 0
	var err error
	if !c.connected {
		var scope uint32
		scope, err = rawsock.ScopeID(m.Addr.Addr(), "")
		h.Hdr.Name = &c.wnames[i][0]
		h.Hdr.Namelen = rawsock.PutSockaddr(c.wnames[i][:], m.Addr, scope, c.v6)
		if err != nil {
			err = fmt.Errorf("udp: send to %s: %w", m.Addr, err)
		}
	}
	h.Hdr.Control = nil
	h.Hdr.SetControllen(0)
	if m.Local.IsValid() && !c.connected {
		h.Hdr.Control = &c.woobs[i][0]
		h.Hdr.SetControllen(c.putPktinfo(c.woobs[i][:], m.Local))
	}
	h.Hdr.Flags = 0
	h.Len = 0
	return err
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
		pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
		pi.Addr = local.As16()
		pi.Ifindex, _ = rawsock.ScopeID(local, "")
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
