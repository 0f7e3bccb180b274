package icmp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/cmsg"
	"github.com/rawnet/rawnet/internal/priv"
	"github.com/rawnet/rawnet/internal/sockfilter"
)

// sockConn is a Conn over a Linux ICMP socket, raw or datagram. The fd is
// reached only through its syscall.RawConn; reads and writes use
// preallocated msghdr/sockaddr storage and method values created once, so
// neither allocates per packet.
type sockConn struct {
	f     *os.File
	rc    syscall.RawConn
	v6    bool
	dgram bool
	id    uint16
	route int // a UDP socket used only for route lookups (connect + getsockname)
	src   netip.Addr
	wire  Wire

	// blocking sockets are read with blocking recvmsg calls in slices of
	// ListenConfig.BlockingSlice (SO_RCVTIMEO), checking deadline between
	// slices.
	blocking bool
	deadline atomic.Int64 // unix nanoseconds; 0 = none

	zones map[string]uint32 // interface index of IPv6 zones (link-local targets)

	// hdrincl: rawnet writes the IPv4 header itself (ListenConfig.HeaderIncluded).
	hdrincl bool
	sources map[netip.Addr]netip.Addr // source per destination, from Source
	wpkt    []byte                    // header and message, for hdrincl

	// read side: one reader at a time
	readFn    func(fd uintptr) bool
	rbuf      []byte
	rn, roobn int
	rerr      error
	rqueued   bool
	rmsg      unix.Msghdr
	riov      unix.Iovec
	rname     [unix.SizeofSockaddrAny]byte
	roob      [512]byte
	meta      cmsg.Meta

	// write side: one writer at a time
	writeFn func(fd uintptr) bool
	wmsg    []byte
	wsa     [unix.SizeofSockaddrInet6]byte
	wsalen  uint32
	werr    error
}

// Listen opens an ICMP socket as cfg says.
func Listen(cfg ListenConfig) (Conn, error) {
	switch cfg.Mode {
	case ModeRaw:
		c, err := listen(cfg, false)
		return c, priv.HintICMP(err)
	case ModeDatagram:
		c, err := listen(cfg, true)
		return c, datagramHint(err)
	}
	c, err := listen(cfg, false)
	if err == nil || !isPermission(err) {
		return c, priv.HintICMP(err)
	}
	c, err2 := listen(cfg, true)
	if err2 == nil {
		return c, nil
	}
	if isPermission(err2) {
		return nil, priv.HintICMP(err)
	}
	return nil, err2
}

func isPermission(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
}

func datagramHint(err error) error {
	if err != nil && isPermission(err) {
		return fmt.Errorf("%w: unprivileged ICMP sockets need your group in net.ipv4.ping_group_range (sysctl -w net.ipv4.ping_group_range=\"0 2147483647\")", err)
	}
	return err
}

func listen(cfg ListenConfig, dgram bool) (_ *sockConn, err error) {
	family, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if cfg.V6 {
		family, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	typ := unix.SOCK_RAW
	kind := "raw"
	if dgram {
		typ, kind = unix.SOCK_DGRAM, "datagram"
	}
	blocking := cfg.Blocking && !dgram
	flags := unix.SOCK_CLOEXEC
	if !blocking {
		flags |= unix.SOCK_NONBLOCK
	}
	fd, err := unix.Socket(family, typ|flags, proto)
	if err != nil {
		return nil, fmt.Errorf("icmp: open %s %s socket: %w", kind, protoName(cfg.V6), err)
	}
	c := &sockConn{v6: cfg.V6, dgram: dgram, route: -1, src: cfg.Source, blocking: blocking}
	defer func() {
		if err != nil {
			if c.f != nil {
				c.f.Close()
			} else {
				unix.Close(fd)
			}
			if c.route >= 0 {
				unix.Close(c.route)
			}
		}
	}()
	if err = c.configure(fd, cfg); err != nil {
		return nil, err
	}
	if cfg.HeaderIncluded && !cfg.V6 && !dgram {
		// The socket's TTL, TOS and DF setting were read back into c.wire
		// by configure; from now on they travel in the header rawnet writes.
		if err = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_HDRINCL, 1); err != nil {
			return nil, fmt.Errorf("icmp: set IP_HDRINCL: %w", err)
		}
		c.hdrincl = true
		c.sources = map[netip.Addr]netip.Addr{}
		c.wpkt = make([]byte, ipv4HeaderLen+maxPayload4+echoHeaderLen)
	}
	sockfilter.Drain(fd)
	if blocking {
		slice := cfg.BlockingSlice
		if slice <= 0 {
			slice = defaultBlockingSlice
		}
		tv := unix.NsecToTimeval(int64(slice))
		if err = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return nil, fmt.Errorf("icmp: set SO_RCVTIMEO: %w", err)
		}
	}
	// A blocking fd is not registered with Go's poller (see Blocking).
	c.f = os.NewFile(uintptr(fd), "icmp-"+kind)
	if c.rc, err = c.f.SyscallConn(); err != nil {
		return nil, fmt.Errorf("icmp: %w", err)
	}
	c.readFn, c.writeFn = c.doRead, c.doWrite
	c.route, err = unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("icmp: open route lookup socket: %w", err)
	}
	if cfg.Interface != "" {
		if err = unix.BindToDevice(c.route, cfg.Interface); err != nil {
			return nil, fmt.Errorf("icmp: bind route lookup socket to %s: %w", cfg.Interface, err)
		}
	}
	return c, nil
}

// configure sets every socket option before the fd is handed to Go's poller.
func (c *sockConn) configure(fd int, cfg ListenConfig) (err error) {
	if err := setTimestamps(fd); err != nil {
		return err
	}
	if cfg.Interface != "" {
		if err := unix.BindToDevice(fd, cfg.Interface); err != nil {
			return fmt.Errorf("icmp: bind to interface %q: %w", cfg.Interface, err)
		}
	}
	if err := c.bind(fd, cfg.Source); err != nil {
		return err
	}
	if err := setIPOptions(fd, cfg, c.dgram); err != nil {
		return err
	}
	if cfg.RecvBuf > 0 {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, cfg.RecvBuf) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.RecvBuf)
		}
	}
	if c.wire, err = sendWire(fd, c.v6); err != nil {
		return err
	}
	if c.dgram {
		return c.learnID(fd)
	}
	c.id = cfg.ID
	for c.id == 0 {
		var b [2]byte
		_, _ = rand.Read(b[:])
		c.id = binary.BigEndian.Uint16(b[:])
	}
	if err := SetFilter(fd, c.v6); err != nil {
		return err
	}
	return attachIDFilter(fd, c.v6, c.id)
}

// sendWire reads back the TTL, TOS and don't-fragment setting the socket
// sends with (the kernel's defaults included).
func sendWire(fd int, v6 bool) (Wire, error) {
	level, ttl, tos, pmtu := unix.IPPROTO_IP, unix.IP_TTL, unix.IP_TOS, unix.IP_MTU_DISCOVER
	if v6 {
		level, ttl, tos, pmtu = unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, unix.IPV6_TCLASS, unix.IPV6_MTU_DISCOVER
	}
	var w Wire
	var vals [3]int
	for i, name := range []int{ttl, tos, pmtu} {
		v, err := unix.GetsockoptInt(fd, level, name)
		if err != nil {
			return w, fmt.Errorf("icmp: read socket option %d: %w", name, err)
		}
		vals[i] = v
	}
	w.TTL, w.TOS = vals[0], vals[1]&0xff
	w.DF = !v6 && vals[2] != unix.IP_PMTUDISC_DONT
	return w, nil
}

func setTimestamps(fd int) error {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_NEW, 1) == nil {
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fmt.Errorf("icmp: enable kernel timestamps (SO_TIMESTAMPNS): %w", err)
	}
	return nil
}

func (c *sockConn) bind(fd int, src netip.Addr) error {
	if !src.IsValid() && !c.dgram {
		return nil
	}
	var sa unix.Sockaddr
	if c.v6 {
		if src.IsValid() && !src.Is6() {
			return fmt.Errorf("icmp: source %s is not an IPv6 address", src)
		}
		sa6 := &unix.SockaddrInet6{}
		if src.IsValid() {
			sa6.Addr = src.As16()
		}
		sa = sa6
	} else {
		if src.IsValid() && !src.Is4() {
			return fmt.Errorf("icmp: source %s is not an IPv4 address", src)
		}
		sa4 := &unix.SockaddrInet4{}
		if src.IsValid() {
			sa4.Addr = src.As4()
		}
		sa = sa4
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("icmp: bind to source %s: %w", src, err)
	}
	return nil
}

// learnID reads the port the kernel bound a datagram socket to: it is the
// echo identifier of every request the socket sends.
func (c *sockConn) learnID(fd int) error {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fmt.Errorf("icmp: getsockname: %w", err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		c.id = uint16(sa.Port)
	case *unix.SockaddrInet6:
		c.id = uint16(sa.Port)
	}
	return nil
}

func protoName(v6 bool) string {
	if v6 {
		return "ICMPv6"
	}
	return "ICMP"
}

// setIPOptions sets TTL, TOS, path MTU discovery and the ancillary data a
// socket reports. Extended errors (IP_RECVERR) are asked for on datagram
// sockets only: a raw socket receives ICMP errors as packets already, and
// would see each twice.
func setIPOptions(fd int, cfg ListenConfig, dgram bool) error {
	type opt struct {
		level, name, value int
		what               string
	}
	var opts []opt
	if cfg.V6 {
		opts = append(opts,
			opt{unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT"},
			opt{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO"},
			opt{unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, 1, "IPV6_RECVTCLASS"})
		if dgram {
			opts = append(opts, opt{unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1, "IPV6_RECVERR"})
		}
		if cfg.TTL > 0 {
			opts = append(opts, opt{unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, cfg.TTL, "hop limit"})
		}
		if cfg.TOS > 0 {
			opts = append(opts, opt{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, cfg.TOS, "traffic class"})
		}
	} else {
		if dgram { // raw IPv4 sockets get TTL and destination in the IP header
			opts = append(opts,
				opt{unix.IPPROTO_IP, unix.IP_RECVTTL, 1, "IP_RECVTTL"},
				opt{unix.IPPROTO_IP, unix.IP_PKTINFO, 1, "IP_PKTINFO"},
				opt{unix.IPPROTO_IP, unix.IP_RECVTOS, 1, "IP_RECVTOS"},
				opt{unix.IPPROTO_IP, unix.IP_RECVERR, 1, "IP_RECVERR"})
		}
		if cfg.TTL > 0 {
			opts = append(opts, opt{unix.IPPROTO_IP, unix.IP_TTL, cfg.TTL, "TTL"})
		}
		if cfg.TOS > 0 {
			opts = append(opts, opt{unix.IPPROTO_IP, unix.IP_TOS, cfg.TOS, "TOS"})
		}
		if cfg.Broadcast {
			opts = append(opts, opt{unix.SOL_SOCKET, unix.SO_BROADCAST, 1, "SO_BROADCAST"})
		}
	}
	if cfg.PMTU != "" {
		v, err := pmtuValue(cfg.PMTU)
		if err != nil {
			return err
		}
		if cfg.V6 {
			opts = append(opts, opt{unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, v, "IPV6_MTU_DISCOVER"})
		} else {
			opts = append(opts, opt{unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, v, "IP_MTU_DISCOVER"})
		}
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.name, o.value); err != nil {
			return fmt.Errorf("icmp: set %s to %d: %w", o.what, o.value, err)
		}
	}
	return nil
}

// pmtuValue maps ping's -M argument to IP_MTU_DISCOVER (the IPv6 values
// are the same numbers).
func pmtuValue(s string) (int, error) {
	switch s {
	case "do":
		return unix.IP_PMTUDISC_DO, nil
	case "dont":
		return unix.IP_PMTUDISC_DONT, nil
	case "want":
		return unix.IP_PMTUDISC_WANT, nil
	case "probe":
		return unix.IP_PMTUDISC_PROBE, nil
	}
	return 0, fmt.Errorf("icmp: path MTU discovery mode %q is not one of do, dont, want, probe", s)
}

// SetFilter sets the kernel's ICMP filter on a raw socket so that only
// echo replies and error messages reach it (ICMP_FILTER / ICMP6_FILTER: a
// set bit blocks that type). The trace engine's sockets use it too.
func SetFilter(fd int, v6 bool) error {
	if v6 {
		var f unix.ICMPv6Filter
		for i := range f.Data {
			f.Data[i] = ^uint32(0)
		}
		for _, t := range []uint8{TypeEchoReply6, TypeDestUnreachable6, TypePacketTooBig6, TypeTimeExceeded6, TypeParamProblem6} {
			f.Data[t>>5] &^= 1 << (t & 31)
		}
		if err := unix.SetsockoptICMPv6Filter(fd, unix.SOL_ICMPV6, unix.ICMPV6_FILTER, &f); err != nil {
			return fmt.Errorf("icmp: set ICMP6_FILTER: %w", err)
		}
		return nil
	}
	pass := uint32(1<<TypeEchoReply4 | 1<<TypeDestUnreachable4 | 1<<TypeSourceQuench4 | 1<<TypeRedirect4 | 1<<TypeTimeExceeded4 | 1<<TypeParamProblem4)
	if err := unix.SetsockoptInt(fd, unix.SOL_RAW, unix.ICMP_FILTER, int(int32(^pass))); err != nil {
		return fmt.Errorf("icmp: set ICMP_FILTER: %w", err)
	}
	return nil
}

// idFilter is a classic BPF program that passes echo replies only when they
// carry our identifier, and every other message (the ICMP filter has
// already reduced those to error messages, which the engine matches on the
// datagram they quote). On raw IPv4 sockets the filter sees the IP header;
// on raw IPv6 sockets it sees the ICMPv6 header.
func idFilter(v6 bool, id uint16) []bpf.Instruction {
	const accept, drop = 0x40000, 0
	if v6 {
		return []bpf.Instruction{
			bpf.LoadAbsolute{Off: 0, Size: 1},
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: TypeEchoReply6, SkipTrue: 2},
			bpf.LoadAbsolute{Off: 4, Size: 2},
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(id), SkipTrue: 1},
			bpf.RetConstant{Val: accept},
			bpf.RetConstant{Val: drop},
		}
	}
	return []bpf.Instruction{
		bpf.LoadMemShift{Off: 0},
		bpf.LoadIndirect{Off: 0, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: TypeEchoReply4, SkipTrue: 2},
		bpf.LoadIndirect{Off: 4, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(id), SkipTrue: 1},
		bpf.RetConstant{Val: accept},
		bpf.RetConstant{Val: drop},
	}
}

func attachIDFilter(fd int, v6 bool, id uint16) error {
	return AttachBPF(fd, idFilter(v6, id))
}

// AttachBPF assembles a classic BPF program and attaches it to a socket.
func AttachBPF(fd int, prog []bpf.Instruction) error {
	if err := sockfilter.AttachInstructions(fd, prog); err != nil {
		return fmt.Errorf("icmp: %w", err)
	}
	return nil
}

func (c *sockConn) V6() bool       { return c.v6 }
func (c *sockConn) Datagram() bool { return c.dgram }
func (c *sockConn) ID() uint16     { return c.id }
func (c *sockConn) Wire() Wire     { return c.wire }

func (c *sockConn) SetReadDeadline(t time.Time) error {
	if c.blocking {
		c.deadline.Store(t.UnixNano())
		if t.IsZero() {
			c.deadline.Store(0)
		}
		return nil
	}
	return c.f.SetReadDeadline(t)
}

func (c *sockConn) Close() error {
	if c.route >= 0 {
		unix.Close(c.route)
		c.route = -1
	}
	return c.f.Close()
}

// Source asks the kernel's routing table which local address packets to
// dst leave from, by connecting a UDP socket (which sends nothing).
func (c *sockConn) Source(dst netip.Addr) (netip.Addr, error) {
	if c.src.IsValid() {
		return c.src, nil
	}
	var sa unix.Sockaddr
	if c.v6 {
		sa = &unix.SockaddrInet6{Port: 9, Addr: dst.As16(), ZoneId: c.zoneIndex(dst.Zone())}
	} else {
		sa = &unix.SockaddrInet4{Port: 9, Addr: dst.As4()}
	}
	if err := unix.Connect(c.route, sa); err != nil {
		return netip.Addr{}, fmt.Errorf("icmp: route to %s: %w", dst, err)
	}
	local, err := unix.Getsockname(c.route)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("icmp: getsockname: %w", err)
	}
	switch local := local.(type) {
	case *unix.SockaddrInet4:
		if c.hdrincl {
			c.sources[dst] = netip.AddrFrom4(local.Addr)
		}
		return netip.AddrFrom4(local.Addr), nil
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(local.Addr), nil
	}
	return netip.Addr{}, fmt.Errorf("icmp: unexpected local address for %s", dst)
}

// zoneIndex is the interface index of an IPv6 zone ("eth0" or "2"), 0 for
// none. Lookups are cached: the send path allocates nothing.
func (c *sockConn) zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if i, ok := c.zones[zone]; ok {
		return i
	}
	var idx uint32
	if ifc, err := net.InterfaceByName(zone); err == nil {
		idx = uint32(ifc.Index)
	} else if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		idx = uint32(n)
	}
	if c.zones == nil {
		c.zones = map[string]uint32{}
	}
	c.zones[zone] = idx
	return idx
}

// WriteTo sends msg to dst.
func (c *sockConn) WriteTo(msg []byte, dst netip.Addr) error {
	if len(msg) == 0 {
		return nil
	}
	c.putSockaddr(dst)
	c.wmsg = msg
	if c.hdrincl {
		// The kernel fills in the total length, checksum and (left 0) the
		// identification, and the source if it is 0.0.0.0.
		src, ok := c.sources[dst]
		if !ok {
			src = netip.IPv4Unspecified()
		}
		c.wmsg = wrapIPv4(c.wpkt, src, dst, c.wire, msg)
	}
	if err := c.rc.Write(c.writeFn); err != nil {
		return err
	}
	if c.werr != nil {
		return fmt.Errorf("icmp: send to %s: %w", dst, c.werr)
	}
	return nil
}

func (c *sockConn) putSockaddr(dst netip.Addr) {
	clear(c.wsa[:])
	if c.v6 {
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&c.wsa[0]))
		sa.Family = unix.AF_INET6
		sa.Addr = dst.As16()
		sa.Scope_id = c.zoneIndex(dst.Zone())
		c.wsalen = unix.SizeofSockaddrInet6
		return
	}
	sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&c.wsa[0]))
	sa.Family = unix.AF_INET
	sa.Addr = dst.As4()
	c.wsalen = unix.SizeofSockaddrInet4
}

func (c *sockConn) doWrite(fd uintptr) bool {
	_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&c.wmsg[0])), uintptr(len(c.wmsg)),
		unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&c.wsa[0])), uintptr(c.wsalen))
	switch e {
	case unix.EAGAIN:
		if c.blocking { // not pollable: report it like a full queue
			c.werr = unix.ENOBUFS
			return true
		}
		return false
	case 0:
		c.werr = nil
	default:
		c.werr = e
	}
	return true
}

// ReadPacket reads one packet into buf and fills p.
func (c *sockConn) ReadPacket(buf []byte, p *Packet) error {
	c.rbuf = buf
	if err := c.rc.Read(c.readFn); err != nil {
		return err
	}
	if c.rerr != nil {
		return fmt.Errorf("icmp: receive: %w", c.rerr)
	}
	c.meta.Reset()
	cmsg.Parse(c.roob[:c.roobn], &c.meta)
	return c.fill(buf[:c.rn], p)
}

func (c *sockConn) doRead(fd uintptr) bool {
	if c.blocking {
		return c.doBlockingRead(fd)
	}
	c.rqueued = false
	n, oobn, e := c.recvmsg(fd, unix.MSG_DONTWAIT)
	if e == unix.EAGAIN {
		if !c.dgram {
			return false
		}
		// ICMP errors for datagram sockets wait on the error queue;
		// EPOLLERR wakes the reader for them.
		n, oobn, e = c.recvmsg(fd, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		c.rqueued = e == 0
	}
	if e == unix.EAGAIN {
		return false
	}
	c.rn, c.roobn, c.rerr = n, oobn, nil
	if e != 0 {
		c.rerr = e
	}
	return true
}

// doBlockingRead waits in recvmsg itself: the kernel wakes this thread
// when a packet arrives, with no poller in between.
func (c *sockConn) doBlockingRead(fd uintptr) bool {
	c.rqueued = false
	// Most often the packet is already queued (on a fast path the reply
	// arrives while the request is still being sent): try without the
	// scheduler's bookkeeping for a blocking call first.
	if n, oobn, e := c.recvmsg(fd, unix.MSG_DONTWAIT); e != unix.EAGAIN {
		c.rn, c.roobn, c.rerr = n, oobn, nil
		if e != 0 {
			c.rerr = e
		}
		return true
	}
	for {
		// A packet already queued is returned even past the deadline;
		// the caller sees the deadline on its next read of an empty queue.
		if c.pastDeadline() {
			c.rerr = os.ErrDeadlineExceeded
			return true
		}
		n, oobn, e := c.recvmsg(fd, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			if c.pastDeadline() {
				c.rerr = os.ErrDeadlineExceeded
				return true
			}
			continue
		}
		c.rn, c.roobn, c.rerr = n, oobn, nil
		if e != 0 {
			c.rerr = e
		}
		return true
	}
}

func (c *sockConn) pastDeadline() bool {
	d := c.deadline.Load()
	return d != 0 && time.Now().UnixNano() >= d
}

func (c *sockConn) recvmsg(fd uintptr, flags int) (int, int, unix.Errno) {
	c.riov.Base = &c.rbuf[0]
	c.riov.SetLen(len(c.rbuf))
	if c.v6 || c.dgram || flags&unix.MSG_ERRQUEUE != 0 {
		c.rmsg.Name = &c.rname[0]
		c.rmsg.Namelen = uint32(len(c.rname))
	} else { // raw IPv4: the source is in the IP header
		c.rmsg.Name, c.rmsg.Namelen = nil, 0
	}
	c.rmsg.Iov = &c.riov
	c.rmsg.SetIovlen(1)
	c.rmsg.Control = &c.roob[0]
	c.rmsg.SetControllen(len(c.roob))
	c.rmsg.Flags = 0
	trap := uintptr(unix.SYS_RECVMSG)
	if flags&unix.MSG_DONTWAIT != 0 {
		// Cannot block: skip the scheduler's syscall bookkeeping.
		n, _, e := unix.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&c.rmsg)), uintptr(flags))
		return int(n), int(c.rmsg.Controllen), e
	}
	n, _, e := unix.Syscall(trap, fd, uintptr(unsafe.Pointer(&c.rmsg)), uintptr(flags))
	return int(n), int(c.rmsg.Controllen), e
}

// fill turns the bytes and control messages of one read into a Packet.
func (c *sockConn) fill(b []byte, p *Packet) error {
	m := &c.meta
	*p = Packet{TTL: m.TTL, TOS: m.TOS, To: m.Dst, Received: m.Stamp, KernelStamp: !m.Stamp.IsZero()}
	if !p.KernelStamp {
		p.Received = time.Now()
	}
	if c.rqueued {
		if !m.HasErr {
			return fmt.Errorf("icmp: error queue entry without extended error")
		}
		p.QueuedError = true
		p.ErrType, p.ErrCode, p.ErrInfo = m.ErrType, m.ErrCode, m.ErrInfo
		p.From = m.Offender
		p.OrigDst = sockaddrAddr(c.rname[:])
		p.Data = b
		return nil
	}
	if c.v6 || c.dgram {
		p.From = sockaddrAddr(c.rname[:])
		p.Data = b
		return nil
	}
	// Raw IPv4 sockets deliver the IP header.
	if len(b) < ipv4HeaderLen {
		return fmt.Errorf("icmp: short IPv4 packet (%d bytes)", len(b))
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < ipv4HeaderLen || ihl > len(b) {
		return fmt.Errorf("icmp: bad IPv4 header length %d", ihl)
	}
	p.IP, p.Data = b, b[ihl:]
	p.TTL, p.TOS = int(b[8]), int(b[1])
	p.From = netip.AddrFrom4([4]byte(b[12:16]))
	p.To = netip.AddrFrom4([4]byte(b[16:20]))
	return nil
}

func sockaddrAddr(b []byte) netip.Addr {
	switch binary.NativeEndian.Uint16(b) {
	case unix.AF_INET:
		return netip.AddrFrom4([4]byte(b[4:8]))
	case unix.AF_INET6:
		return netip.AddrFrom16([16]byte(b[8:24]))
	}
	return netip.Addr{}
}
