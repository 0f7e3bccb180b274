package trace

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/icmp"
	"github.com/rawnet/rawnet/internal/cmsg"
	"github.com/rawnet/rawnet/internal/inet"
	"github.com/rawnet/rawnet/internal/priv"
	"github.com/rawnet/rawnet/internal/sockfilter"
)

// sockConn sends through a raw IPPROTO_RAW socket (the header is rawnet's:
// IP_HDRINCL, or IPV6_HDRINCL) and reads ICMP, and for TCP probes TCP, from
// raw sockets of their own. Sockets are reached only through their
// syscall.RawConn, with storage prepared once: nothing allocates per
// packet.
type sockConn struct {
	v6      bool
	send    *os.File
	src     syscall.RawConn
	route   int // UDP socket for route lookups (connect + getsockname)
	source  netip.Addr
	readers []Reader
	files   []*os.File

	writeFn func(fd uintptr) bool
	wpkt    []byte
	wsa     [unix.SizeofSockaddrInet6]byte
	wsalen  uint32
	werr    error
	zone    uint32
}

// Listen opens the sockets of a trace for one family. It needs root or
// CAP_NET_RAW.
func Listen(cfg ListenConfig) (_ Conn, err error) {
	c := &sockConn{v6: cfg.V6, route: -1, source: cfg.Source}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	family := unix.AF_INET
	if cfg.V6 {
		family = unix.AF_INET6
	}
	fd, err := rawSocket(family, unix.IPPROTO_RAW, cfg.Interface)
	if err != nil {
		return nil, priv.Hint(fmt.Errorf("trace: open raw send socket: %w", err))
	}
	if cfg.V6 {
		// IPPROTO_RAW implies it, but say so for kernels that do not.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_HDRINCL, 1)
	}
	if c.send, c.src, err = wrap(fd, "trace-send"); err != nil {
		return nil, err
	}
	c.writeFn = c.doWrite
	if c.route, err = unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
		return nil, fmt.Errorf("trace: open route lookup socket: %w", err)
	}
	if cfg.Interface != "" {
		if err = unix.BindToDevice(c.route, cfg.Interface); err != nil {
			return nil, fmt.Errorf("trace: bind to interface %q: %w", cfg.Interface, err)
		}
		if ifc, err := net.InterfaceByName(cfg.Interface); err == nil {
			c.zone = uint32(ifc.Index)
		}
	}
	if err = c.addICMPReader(family, cfg); err != nil {
		return nil, err
	}
	if cfg.Method == TCP {
		if err = c.addTCPReader(family, cfg); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func rawSocket(family, proto int, iface string) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, err
	}
	if iface != "" {
		if err := unix.BindToDevice(fd, iface); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("bind to interface %q: %w", iface, err)
		}
	}
	return fd, nil
}

func wrap(fd int, name string) (*os.File, syscall.RawConn, error) {
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("trace: %w", err)
	}
	return f, rc, nil
}

func (c *sockConn) addICMPReader(family int, cfg ListenConfig) error {
	proto := unix.IPPROTO_ICMP
	if cfg.V6 {
		proto = unix.IPPROTO_ICMPV6
	}
	fd, err := rawSocket(family, proto, cfg.Interface)
	if err != nil {
		return priv.Hint(fmt.Errorf("trace: open raw ICMP socket: %w", err))
	}
	if err := icmp.SetFilter(fd, cfg.V6); err != nil {
		unix.Close(fd)
		return err
	}
	uint8Proto := uint8(inet.ProtoICMP)
	if cfg.V6 {
		uint8Proto = inet.ProtoICMPv6
	}
	return c.addReader(fd, cfg.V6, uint8Proto, "trace-icmp")
}

func (c *sockConn) addTCPReader(family int, cfg ListenConfig) error {
	fd, err := rawSocket(family, unix.IPPROTO_TCP, cfg.Interface)
	if err != nil {
		return priv.Hint(fmt.Errorf("trace: open raw TCP socket: %w", err))
	}
	if err := sockfilter.AttachInstructions(fd, tcpPortFilter(cfg.V6, cfg.Port)); err != nil {
		unix.Close(fd)
		return err
	}
	return c.addReader(fd, cfg.V6, inet.ProtoTCP, "trace-tcp")
}

func (c *sockConn) addReader(fd int, v6 bool, proto uint8, name string) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_NEW, 1); err != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			unix.Close(fd)
			return fmt.Errorf("trace: enable kernel timestamps: %w", err)
		}
	}
	if v6 {
		for _, opt := range []int{unix.IPV6_RECVPKTINFO, unix.IPV6_RECVHOPLIMIT} {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, opt, 1); err != nil {
				unix.Close(fd)
				return fmt.Errorf("trace: set IPv6 receive option %d: %w", opt, err)
			}
		}
	}
	sockfilter.Drain(fd)
	f, rc, err := wrap(fd, name)
	if err != nil {
		return err
	}
	c.files = append(c.files, f)
	r := &sockReader{f: f, rc: rc, v6: v6, proto: proto}
	r.readFn = r.doRead
	c.readers = append(c.readers, r)
	return nil
}

// tcpPortFilter passes TCP segments from the probed port only. Raw IPv4
// sockets see the IP header, raw IPv6 sockets the TCP header.
func tcpPortFilter(v6 bool, port uint16) []bpf.Instruction {
	const accept, drop = 0x40000, 0
	if v6 {
		return []bpf.Instruction{
			bpf.LoadAbsolute{Off: 0, Size: 2},
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(port), SkipTrue: 1},
			bpf.RetConstant{Val: accept},
			bpf.RetConstant{Val: drop},
		}
	}
	return []bpf.Instruction{
		bpf.LoadMemShift{Off: 0},
		bpf.LoadIndirect{Off: 0, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(port), SkipTrue: 1},
		bpf.RetConstant{Val: accept},
		bpf.RetConstant{Val: drop},
	}
}

func (c *sockConn) V6() bool          { return c.v6 }
func (c *sockConn) Readers() []Reader { return c.readers }

func (c *sockConn) Close() error {
	if c.route >= 0 {
		unix.Close(c.route)
		c.route = -1
	}
	for _, f := range c.files {
		f.Close()
	}
	c.files = nil
	if c.send != nil {
		return c.send.Close()
	}
	return nil
}

// Source asks the routing table which local address packets to dst leave
// from, by connecting a UDP socket (which sends nothing).
func (c *sockConn) Source(dst netip.Addr) (netip.Addr, error) {
	if c.source.IsValid() {
		return c.source, nil
	}
	var sa unix.Sockaddr
	if c.v6 {
		sa = &unix.SockaddrInet6{Port: 9, Addr: dst.As16(), ZoneId: c.zoneOf(dst)}
	} else {
		sa = &unix.SockaddrInet4{Port: 9, Addr: dst.As4()}
	}
	if err := unix.Connect(c.route, sa); err != nil {
		return netip.Addr{}, fmt.Errorf("trace: no route to %s: %w", dst, err)
	}
	local, err := unix.Getsockname(c.route)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("trace: getsockname: %w", err)
	}
	switch local := local.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(local.Addr), nil
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(local.Addr), nil
	}
	return netip.Addr{}, fmt.Errorf("trace: unexpected local address for %s", dst)
}

func (c *sockConn) zoneOf(dst netip.Addr) uint32 {
	if dst.Zone() == "" {
		return 0
	}
	if ifc, err := net.InterfaceByName(dst.Zone()); err == nil {
		return uint32(ifc.Index)
	}
	return c.zone
}

// Send sends one whole IP packet.
func (c *sockConn) Send(pkt []byte, dst netip.Addr) error {
	clear(c.wsa[:])
	if c.v6 {
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&c.wsa[0]))
		sa.Family = unix.AF_INET6
		sa.Addr = dst.As16()
		if dst.Zone() != "" {
			sa.Scope_id = c.zoneOf(dst)
		}
		c.wsalen = unix.SizeofSockaddrInet6
	} else {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&c.wsa[0]))
		sa.Family = unix.AF_INET
		sa.Addr = dst.As4()
		c.wsalen = unix.SizeofSockaddrInet4
	}
	c.wpkt = pkt
	if err := c.src.Write(c.writeFn); err != nil {
		return err
	}
	if c.werr != nil {
		return fmt.Errorf("trace: send to %s: %w", dst, c.werr)
	}
	return nil
}

func (c *sockConn) doWrite(fd uintptr) bool {
	_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&c.wpkt[0])), uintptr(len(c.wpkt)),
		unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&c.wsa[0])), uintptr(c.wsalen))
	if e == unix.EAGAIN {
		return false
	}
	c.werr = nil
	if e != 0 {
		c.werr = e
	}
	return true
}

// sockReader reads one raw socket with recvmsg into prepared storage.
type sockReader struct {
	f      *os.File
	rc     syscall.RawConn
	v6     bool
	proto  uint8
	readFn func(fd uintptr) bool
	buf    []byte
	n      int
	oobn   int
	err    unix.Errno
	msg    unix.Msghdr
	iov    unix.Iovec
	name   [unix.SizeofSockaddrAny]byte
	oob    [256]byte
	meta   cmsg.Meta
}

func (r *sockReader) SetReadDeadline(t time.Time) error { return r.f.SetReadDeadline(t) }

func (r *sockReader) Read(buf []byte, p *Packet) error {
	r.buf = buf
	if err := r.rc.Read(r.readFn); err != nil {
		return err
	}
	if r.err != 0 {
		return fmt.Errorf("trace: receive: %w", r.err)
	}
	*p = Packet{Proto: r.proto}
	r.parseCmsgs(p)
	b := buf[:r.n]
	if r.v6 {
		p.Data = b
		p.From = netip.AddrFrom16([16]byte(r.name[8:24]))
		return nil
	}
	if len(b) < inet.IPv4HeaderLen {
		return fmt.Errorf("trace: short IPv4 packet (%d bytes)", len(b))
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < inet.IPv4HeaderLen || ihl > len(b) {
		return fmt.Errorf("trace: bad IPv4 header length %d", ihl)
	}
	p.IP, p.Data = b, b[ihl:]
	p.From = netip.AddrFrom4([4]byte(b[12:16]))
	p.To = netip.AddrFrom4([4]byte(b[16:20]))
	p.TTL = int(b[8])
	return nil
}

func (r *sockReader) doRead(fd uintptr) bool {
	r.iov.Base = &r.buf[0]
	r.iov.SetLen(len(r.buf))
	r.msg.Name = &r.name[0]
	r.msg.Namelen = uint32(len(r.name))
	r.msg.Iov = &r.iov
	r.msg.SetIovlen(1)
	r.msg.Control = &r.oob[0]
	r.msg.SetControllen(len(r.oob))
	r.msg.Flags = 0
	n, _, e := unix.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.msg)), unix.MSG_DONTWAIT)
	if e == unix.EAGAIN {
		return false
	}
	r.n, r.oobn, r.err = int(n), int(r.msg.Controllen), e
	return true
}

// parseCmsgs reads the receive time (SO_TIMESTAMPNS; the current time
// when there is none) and, for IPv6, the destination and hop limit from
// control messages.
func (r *sockReader) parseCmsgs(p *Packet) {
	r.meta.Reset()
	cmsg.Parse(r.oob[:r.oobn], &r.meta)
	p.Received, p.TTL, p.To = r.meta.Stamp, r.meta.TTL, r.meta.Dst
	if p.Received.IsZero() {
		p.Received = time.Now()
	}
}
