package icmp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/cmsg"
	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/inet"
	"github.com/rawnet/rawnet/internal/priv"
	"github.com/rawnet/rawnet/internal/rawsock"
)

// sockConn is a Conn over a Linux ICMP socket, raw or datagram: a
// rawsock.Conn, read and written through preallocated msghdr/sockaddr
// storage, so that neither direction allocates per packet.
type sockConn struct {
	c     *rawsock.Conn
	v6    bool
	dgram bool
	proto Proto
	id    uint16
	hold  int // ProtoTCP: the bound TCP socket that keeps the local port ours; -1 none
	// errq: read the error queue too (datagram sockets, raw TCP sockets)
	errq   bool
	iface  string          // -I: the interface link-local targets are on when they name none
	router *rawsock.Router // route lookups (Source, PathMTU)
	src    netip.Addr
	wire   Wire
	txErr  error // why there are no transmit stamps when none were asked for

	// hdrincl: rawnet writes the IPv4 header itself (ListenConfig.HeaderIncluded).
	hdrincl bool
	sources map[netip.Addr]netip.Addr // source per destination, from Source
	wpkt    []byte                    // header and message, for hdrincl
	// lastDst and lastSrc cache the last lookup in sources: a flood sends
	// to one address, and hashing it for the map on every probe was 0.5%
	// of a flood ping's perf samples. Source clears it.
	lastDst, lastSrc netip.Addr

	// read side: one reader at a time
	rmsg  unix.Msghdr
	emsg  unix.Msghdr // the error queue entry of a datagram socket
	riov  unix.Iovec
	rname [rawsock.SockaddrLen]byte
	roob  [512]byte
	meta  cmsg.Meta

	// write side: one writer at a time
	wmsg unix.Msghdr
	wiov unix.Iovec
	wsa  [rawsock.SockaddrLen]byte
}

// Listen opens an ICMP socket as cfg says.
func Listen(cfg ListenConfig) (Conn, error) {
	switch cfg.Proto {
	case ProtoICMP:
	case ProtoTCP:
		c, err := listen(cfg, false)
		return c, priv.Hint(err)
	case ProtoUDP:
		return listen(cfg, true)
	default:
		return nil, fmt.Errorf("icmp: socket protocol %d: %w", cfg.Proto, ErrUnsupported)
	}
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

func listen(cfg ListenConfig, dgram bool) (*sockConn, error) {
	family, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if cfg.V6 {
		family, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	switch cfg.Proto {
	case ProtoTCP:
		proto = unix.IPPROTO_TCP
	case ProtoUDP:
		proto = unix.IPPROTO_UDP
	}
	typ := unix.SOCK_RAW
	kind := "raw"
	if dgram {
		typ, kind = unix.SOCK_DGRAM, "datagram"
	}
	c := &sockConn{v6: cfg.V6, dgram: dgram, proto: cfg.Proto, src: cfg.Source, iface: cfg.Interface, hold: -1,
		errq: dgram || cfg.Proto == ProtoTCP}
	noTx := cfg.NoTxStamps && !rawsock.TxStampsForced()
	if noTx {
		c.txErr = ErrTxStampsNotAsked
	}
	if cfg.Proto == ProtoTCP {
		if err := c.reservePort(cfg); err != nil {
			return nil, err
		}
	}
	var setupErr error
	rc, err := rawsock.Open(family, typ, proto, rawsock.Config{
		Name: "icmp-" + kind, Blocking: cfg.Blocking && !dgram, Slice: cfg.BlockingSlice,
		TxStamps: !noTx, Device: cfg.Interface, SoftErrors: cfg.Proto == ProtoUDP,
		Setup: func(fd int) error { setupErr = c.setup(fd, cfg); return setupErr },
	})
	if err != nil {
		c.closeHold()
	}
	if err != nil && err != setupErr { // setup's errors say what failed already
		return nil, fmt.Errorf("icmp: open %s %s socket: %w", kind, c.protoName(), err)
	}
	if err != nil {
		return nil, err
	}
	c.c = rc
	c.router = rawsock.NewRouter(cfg.Interface)
	c.rmsg.Iov = &c.riov
	c.rmsg.SetIovlen(1)
	c.wmsg.Iov = &c.wiov
	c.wmsg.SetIovlen(1)
	c.wmsg.Name = &c.wsa[0]
	return c, nil
}

// setup configures the socket before Go's poller sees it.
func (c *sockConn) setup(fd int, cfg ListenConfig) error {
	if err := c.configure(fd, cfg); err != nil {
		return err
	}
	if cfg.HeaderIncluded && !cfg.V6 && !c.dgram && c.proto == ProtoICMP {
		// The socket's TTL, TOS and DF setting were read back into c.wire
		// by configure; from now on they travel in the header rawnet writes.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_HDRINCL, 1); err != nil {
			return fmt.Errorf("icmp: set IP_HDRINCL: %w", err)
		}
		c.hdrincl = true
		c.sources = map[netip.Addr]netip.Addr{}
		c.wpkt = make([]byte, ipv4HeaderLen+maxPayload4+echoHeaderLen)
	}
	rawsock.Drain(fd)
	return nil
}

// configure sets every socket option before the fd is handed to Go's poller.
func (c *sockConn) configure(fd int, cfg ListenConfig) (err error) {
	if err := rawsock.EnableTimestamps(fd); err != nil {
		return fmt.Errorf("icmp: %w", err)
	}
	if err := c.bind(fd, cfg.Source); err != nil {
		return err
	}
	if err := setIPOptions(fd, cfg, c.recvInfo()); err != nil {
		return err
	}
	rawsock.SetRecvBuffer(fd, cfg.RecvBuf)
	if c.wire, err = sendWire(fd, c.v6); err != nil {
		return err
	}
	if c.dgram {
		return c.learnID(fd)
	}
	if c.proto == ProtoTCP {
		// Segments to our port only: the answers to our SYNs, and
		// (from the error queue) ICMP errors about them.
		prog := rawsock.FieldFilter{V6: c.v6, Off: 2, Size: 2, Val: uint32(c.id)}.Program()
		if err := rawsock.AttachFilter(fd, prog); err != nil {
			return fmt.Errorf("icmp: %w", err)
		}
		return nil
	}
	c.id = cfg.ID
	for c.id == 0 {
		// randomness: the identifiers and cookies that keep two runs
		// apart come from math/rand/v2's generator, which the runtime
		// seeds from the kernel's random bytes in every process, not
		// from crypto/rand, whose first use (its DRBG and the vDSO
		// getrandom state) took 60 us of a start (issue 15).
		c.id = uint16(rand.Uint32())
	}
	if err := rawsock.SetICMPFilter(fd, c.v6, icmpmsg.ReplyTypes(c.v6)); err != nil {
		return fmt.Errorf("icmp: %w", err)
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
			sa6.ZoneId, _ = rawsock.ScopeID(src, c.iface)
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

func (c *sockConn) protoName() string {
	switch {
	case c.proto == ProtoTCP:
		return pick(c.v6, "TCP", "TCPv6")
	case c.proto == ProtoUDP:
		return pick(c.v6, "UDP", "UDPv6")
	}
	return pick(c.v6, "ICMP", "ICMPv6")
}

// recvInfo is the ancillary data the socket asks for. Extended errors
// (IP_RECVERR) are asked for on datagram and raw TCP sockets: a raw ICMP
// socket receives ICMP errors as packets already, and would see each
// twice; raw IPv4 sockets get TTL and destination in the IP header.
func (c *sockConn) recvInfo() rawsock.RecvInfo {
	recv := rawsock.RecvHopLimit | rawsock.RecvDest | rawsock.RecvTOS
	if !c.dgram && !c.v6 {
		recv = 0
	}
	if c.errq {
		recv |= rawsock.RecvErrors
	}
	return recv
}

// setIPOptions sets TTL, TOS, path MTU discovery and the ancillary data
// recv a socket reports.
func setIPOptions(fd int, cfg ListenConfig, recv rawsock.RecvInfo) error {
	v6 := cfg.V6
	opts := rawsock.AppendRecvOpts(nil, v6, recv)
	if cfg.TTL > 0 {
		opts = append(opts, rawsock.IPOpt(v6, unix.IP_TTL, unix.IPV6_UNICAST_HOPS, cfg.TTL, pick(v6, "TTL", "hop limit")))
	}
	if cfg.TOS > 0 {
		opts = append(opts, rawsock.IPOpt(v6, unix.IP_TOS, unix.IPV6_TCLASS, cfg.TOS, pick(v6, "TOS", "traffic class")))
	}
	if cfg.Broadcast && !v6 {
		opts = append(opts, rawsock.Opt{Level: unix.SOL_SOCKET, Name: unix.SO_BROADCAST, Value: 1, What: "SO_BROADCAST"})
	}
	if cfg.PMTU != "" {
		v, err := pmtuValue(cfg.PMTU)
		if err != nil {
			return err
		}
		opts = append(opts, rawsock.IPOpt(v6, unix.IP_MTU_DISCOVER, unix.IPV6_MTU_DISCOVER, v, pick(v6, "IP_MTU_DISCOVER", "IPV6_MTU_DISCOVER")))
	}
	if err := rawsock.SetOpts(fd, opts); err != nil {
		return fmt.Errorf("icmp: %w", err)
	}
	return nil
}

// pick is the IPv4 or the IPv6 name of an option.
func pick(v6 bool, name4, name6 string) string {
	if v6 {
		return name6
	}
	return name4
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

// idFilter passes echo replies only when they carry our identifier, and
// every other message (the ICMP filter has already reduced those to error
// messages, which the engine matches on the datagram they quote).
func idFilter(v6 bool, id uint16) []bpf.Instruction {
	reply := uint8(icmpmsg.TypeEchoReply4)
	if v6 {
		reply = icmpmsg.TypeEchoReply6
	}
	return rawsock.FieldFilter{V6: v6, Off: 4, Size: 2, Val: uint32(id), ForType: true, Type: reply}.Program()
}

func attachIDFilter(fd int, v6 bool, id uint16) error {
	if err := rawsock.AttachFilter(fd, idFilter(v6, id)); err != nil {
		return fmt.Errorf("icmp: %w", err)
	}
	return nil
}

func (c *sockConn) V6() bool       { return c.v6 }
func (c *sockConn) Datagram() bool { return c.dgram }
func (c *sockConn) ID() uint16     { return c.id }
func (c *sockConn) Wire() Wire     { return c.wire }

func (c *sockConn) SetReadDeadline(t time.Time) error { return c.c.SetReadDeadline(t) }

// TxKey and TxStamp give the kernel's transmit stamps (rawsock.TxStamper).
func (c *sockConn) TxKey() (uint32, bool)            { return c.c.TxKey() }
func (c *sockConn) TxStamp(key uint32) (int64, bool) { return c.c.TxStamp(key) }
func (c *sockConn) TxStampAfter(key uint32, after int64) (int64, bool) {
	return c.c.TxStampAfter(key, after)
}

// SetTxStampHook, DrainTxStamps and ResetTxKey let a Demux hand the
// stamps of a shared socket to the virtual Conns whose sends they are
// (see rawsock.Conn).
func (c *sockConn) SetTxStampHook(fn func(key uint32, ns int64)) { c.c.SetTxStampHook(fn) }
func (c *sockConn) DrainTxStamps() bool                          { return c.c.DrainTxStamps() }
func (c *sockConn) ResetTxKey() error                            { return c.c.ResetTxKey() }

func (c *sockConn) TxStampErr() error {
	if c.txErr != nil {
		return c.txErr
	}
	return c.c.TxStampErr()
}

func (c *sockConn) Close() error {
	c.router.Close()
	c.closeHold()
	return c.c.Close()
}

// Source asks the kernel's routing table which local address packets to
// dst leave from (rawsock.Router, with its zone policy).
func (c *sockConn) Source(dst netip.Addr) (netip.Addr, error) {
	if c.src.IsValid() {
		return c.src, nil
	}
	src, err := c.router.Source(dst)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("icmp: %w", err)
	}
	if c.hdrincl && src.Is4() {
		c.sources[dst] = src
		c.lastDst = netip.Addr{}
	}
	return src, nil
}

// PathMTU is the MTU the kernel holds for the route to dst, read through
// the conn's Router (its socket is reused; -I applies, as to Source).
func (c *sockConn) PathMTU(dst netip.Addr) (int, error) {
	mtu, err := c.router.PathMTU(dst)
	if err != nil {
		return 0, fmt.Errorf("icmp: path MTU: %w", err)
	}
	return mtu, nil
}

// WriteTo sends msg to dst.
func (c *sockConn) WriteTo(msg []byte, dst netip.Addr) error {
	if len(msg) == 0 {
		return nil
	}
	scope, err := rawsock.ScopeID(dst, c.iface)
	if err != nil {
		return fmt.Errorf("icmp: send to %s: %w", dst, err)
	}
	port := uint16(0)
	if c.proto == ProtoUDP {
		// msg is the whole datagram, as the kind builds it for the tap;
		// the socket writes the header.
		port, msg = binary.BigEndian.Uint16(msg[2:]), msg[udpHeaderLen:len(msg):len(msg)]
	}
	c.wmsg.Namelen = rawsock.PutSockaddr(c.wsa[:], netip.AddrPortFrom(dst, port), scope, c.v6)
	if c.hdrincl {
		// The kernel fills in the total length, checksum and (left 0) the
		// identification, and the source if it is 0.0.0.0.
		msg = wrapIPv4(c.wpkt, c.sourceFor(dst), dst, c.wire, msg)
	}
	c.wiov.Base = nil
	if len(msg) > 0 {
		c.wiov.Base = &msg[0]
	}
	c.wiov.SetLen(len(msg))
	_, err = c.c.SendMsg(&c.wmsg)
	if err != nil && c.proto == ProtoUDP && staleError(err) {
		// A UDP socket with IP_RECVERR keeps the last ICMP error about an
		// earlier datagram (a port unreachable) pending, and the next send
		// returns it (sock_error in the allocation of the datagram) instead
		// of sending: the error is the earlier probe's, which the error
		// queue reports; send this one again.
		_, err = c.c.SendMsg(&c.wmsg)
	}
	if err != nil {
		if _, ok := err.(unix.Errno); ok {
			return fmt.Errorf("icmp: send to %s: %w", dst, err)
		}
		return err
	}
	return nil
}

// sourceFor is the source a header-included probe to dst carries: the
// one Source found, else 0.0.0.0, which the kernel fills in.
func (c *sockConn) sourceFor(dst netip.Addr) netip.Addr {
	if dst.IsValid() && dst == c.lastDst {
		return c.lastSrc
	}
	src, ok := c.sources[dst]
	if !ok {
		src = netip.IPv4Unspecified()
	}
	c.lastDst, c.lastSrc = dst, src
	return src
}

// ReadPacket reads one packet into buf and fills p.
func (c *sockConn) ReadPacket(buf []byte, p *Packet) error {
	data := buf
	if c.proto == ProtoUDP {
		data = buf[udpHeaderLen:] // room for the header fill writes
	}
	c.riov.Base = &data[0]
	c.riov.SetLen(len(data))
	c.rmsg.Name, c.rmsg.Namelen = nil, 0
	if c.v6 || c.dgram { // raw IPv4: the source is in the IP header
		c.rmsg.Name, c.rmsg.Namelen = &c.rname[0], rawsock.SockaddrLen
	}
	c.rmsg.Control = &c.roob[0]
	c.rmsg.SetControllen(len(c.roob))
	var errq *unix.Msghdr
	if c.errq {
		// ICMP errors for datagram sockets wait on the error queue.
		c.emsg = c.rmsg
		c.emsg.Name, c.emsg.Namelen = &c.rname[0], rawsock.SockaddrLen
		errq = &c.emsg
	}
	n, queued, err := c.c.RecvMsg(&c.rmsg, errq)
	if err != nil {
		if _, ok := err.(unix.Errno); ok {
			return fmt.Errorf("icmp: receive: %w", err)
		}
		return err
	}
	oob := c.roob[:c.rmsg.Controllen]
	if queued {
		oob = c.roob[:c.emsg.Controllen]
	}
	c.meta.Reset()
	cmsg.Parse(oob, &c.meta)
	if c.proto == ProtoUDP {
		return c.fillUDP(buf[:udpHeaderLen+n], queued, p)
	}
	return c.fill(buf[:n], queued, p)
}

// fill turns the bytes and control messages of one read into a Packet.
func (c *sockConn) fill(b []byte, queued bool, p *Packet) error {
	m := &c.meta
	*p = Packet{TTL: m.TTL, TOS: m.TOS, To: m.Dst, Received: m.Stamp, KernelStamp: !m.Stamp.IsZero()}
	if !p.KernelStamp {
		p.Received = time.Now()
	}
	if queued {
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
	h, err := inet.ParseIPv4(b)
	if err != nil {
		return fmt.Errorf("icmp: %w", err)
	}
	p.IP, p.Data = b, b[h.Len:]
	p.TTL, p.TOS = int(h.TTL), int(h.TOS)
	p.From, p.To = h.Src, h.Dst
	return nil
}

// staleError reports the errors a socket's pending ICMP error makes a send
// return.
func staleError(err error) bool {
	for _, e := range []unix.Errno{unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EHOSTDOWN, unix.EPROTO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func sockaddrAddr(b []byte) netip.Addr {
	ap, _ := rawsock.SockaddrAddrPort(b)
	return ap.Addr()
}
