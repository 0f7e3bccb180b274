package trace

import (
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/cmsg"
	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/inet"
	"github.com/rawnet/rawnet/internal/priv"
	"github.com/rawnet/rawnet/internal/rawsock"
)

// sockConn sends through a raw IPPROTO_RAW socket (the header is rawnet's:
// IP_HDRINCL, or IPV6_HDRINCL) and reads ICMP, and for TCP probes TCP, from
// raw sockets of their own, all rawsock.Conns with storage prepared once:
// nothing allocates per packet.
type sockConn struct {
	v6      bool
	iface   string
	send    *rawsock.Conn
	router  *rawsock.Router
	source  netip.Addr
	readers []Reader
	conns   []*rawsock.Conn

	wmsg unix.Msghdr
	wiov unix.Iovec
	wsa  [rawsock.SockaddrLen]byte
}

// Listen opens the sockets of a trace for one family. It needs root or
// CAP_NET_RAW.
func Listen(cfg ListenConfig) (_ Conn, err error) {
	c := &sockConn{v6: cfg.V6, iface: cfg.Interface, source: cfg.Source, router: rawsock.NewRouter(cfg.Interface)}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	family := unix.AF_INET
	if cfg.V6 {
		family = unix.AF_INET6
	}
	c.send, err = rawsock.OpenHeaderIncluded(cfg.V6, rawsock.Config{Name: "trace-send", Device: cfg.Interface, TxStamps: true})
	if err != nil {
		return nil, priv.Hint(fmt.Errorf("trace: open raw send socket: %w", err))
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

// rawSocket opens a raw reading socket bound to iface ("" for any) and
// set up by setup.
func rawSocket(family, proto int, iface, name string, setup func(fd int) error) (*rawsock.Conn, error) {
	return rawsock.Open(family, unix.SOCK_RAW, proto, rawsock.Config{Name: name, Device: iface, Setup: setup})
}

func (c *sockConn) addICMPReader(family int, cfg ListenConfig) error {
	proto, wire := unix.IPPROTO_ICMP, uint8(inet.ProtoICMP)
	if cfg.V6 {
		proto, wire = unix.IPPROTO_ICMPV6, inet.ProtoICMPv6
	}
	rc, err := rawSocket(family, proto, cfg.Interface, "trace-icmp", func(fd int) error {
		if err := rawsock.SetICMPFilter(fd, cfg.V6, icmpmsg.ReplyTypes(cfg.V6)); err != nil {
			return err
		}
		return readerOptions(fd, cfg.V6)
	})
	if err != nil {
		return priv.Hint(fmt.Errorf("trace: open raw ICMP socket: %w", err))
	}
	c.addReader(rc, cfg.V6, wire)
	return nil
}

func (c *sockConn) addTCPReader(family int, cfg ListenConfig) error {
	rc, err := rawSocket(family, unix.IPPROTO_TCP, cfg.Interface, "trace-tcp", func(fd int) error {
		// TCP segments from the probed port only.
		prog := rawsock.FieldFilter{V6: cfg.V6, Off: 0, Size: 2, Val: uint32(cfg.Port)}.Program()
		if err := rawsock.AttachFilter(fd, prog); err != nil {
			return err
		}
		return readerOptions(fd, cfg.V6)
	})
	if err != nil {
		return priv.Hint(fmt.Errorf("trace: open raw TCP socket: %w", err))
	}
	c.addReader(rc, cfg.V6, inet.ProtoTCP)
	return nil
}

// readerOptions asks for kernel timestamps and, on IPv6, the destination
// and hop limit, then empties what came before the filter.
func readerOptions(fd int, v6 bool) error {
	if err := rawsock.EnableTimestamps(fd); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	if v6 {
		if err := rawsock.SetRecvInfo(fd, v6, rawsock.RecvDest|rawsock.RecvHopLimit); err != nil {
			return fmt.Errorf("trace: %w", err)
		}
	}
	rawsock.Drain(fd)
	return nil
}

func (c *sockConn) addReader(rc *rawsock.Conn, v6 bool, proto uint8) {
	c.conns = append(c.conns, rc)
	r := &sockReader{c: rc, v6: v6, proto: proto}
	r.msg.Iov = &r.iov
	r.msg.SetIovlen(1)
	c.readers = append(c.readers, r)
}

func (c *sockConn) V6() bool { return c.v6 }

// TxKey and TxStamp give the send socket's kernel transmit stamps
// (rawsock.TxStamper).
func (c *sockConn) TxKey() (uint32, bool)            { return c.send.TxKey() }
func (c *sockConn) TxStamp(key uint32) (int64, bool) { return c.send.TxStamp(key) }

// TxStampAfter passes over a stamp of the same number from before the
// send (rawsock.Conn.TxStampAfter): the numbering restarts after a
// failed send.
func (c *sockConn) TxStampAfter(key uint32, after int64) (int64, bool) {
	return c.send.TxStampAfter(key, after)
}
func (c *sockConn) Readers() []Reader { return c.readers }

func (c *sockConn) Close() error {
	c.router.Close()
	for _, rc := range c.conns {
		rc.Close()
	}
	c.conns = nil
	if c.send != nil {
		return c.send.Close()
	}
	return nil
}

// Source is the local address packets to dst leave from: cfg.Source, or
// the routing table's answer (rawsock.Router, with its zone policy).
func (c *sockConn) Source(dst netip.Addr) (netip.Addr, error) {
	if c.source.IsValid() {
		return c.source, nil
	}
	src, err := c.router.Source(dst)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("trace: %w", err)
	}
	return src, nil
}

// Send sends one whole IP packet.
func (c *sockConn) Send(pkt []byte, dst netip.Addr) error {
	scope, err := rawsock.ScopeID(dst, c.iface)
	if err != nil {
		return fmt.Errorf("trace: send to %s: %w", dst, err)
	}
	c.wiov.Base = &pkt[0]
	c.wiov.SetLen(len(pkt))
	c.wmsg = unix.Msghdr{Iov: &c.wiov, Name: &c.wsa[0]}
	c.wmsg.SetIovlen(1)
	c.wmsg.Namelen = rawsock.PutSockaddr(c.wsa[:], netip.AddrPortFrom(dst, 0), scope, c.v6)
	if _, err := c.send.SendMsg(&c.wmsg); err != nil {
		_ = c.send.RenumberAfter(err) // if it fails, later probes are timed from user space
		return fmt.Errorf("trace: send to %s: %w", dst, err)
	}
	return nil
}

// sockReader reads one raw socket with recvmsg into prepared storage.
type sockReader struct {
	c     *rawsock.Conn
	v6    bool
	proto uint8
	msg   unix.Msghdr
	iov   unix.Iovec
	name  [rawsock.SockaddrLen]byte
	oob   [256]byte
	meta  cmsg.Meta
}

func (r *sockReader) SetReadDeadline(t time.Time) error { return r.c.SetReadDeadline(t) }

func (r *sockReader) Read(buf []byte, p *Packet) error {
	r.iov.Base = &buf[0]
	r.iov.SetLen(len(buf))
	r.msg.Name, r.msg.Namelen = &r.name[0], rawsock.SockaddrLen
	r.msg.Control = &r.oob[0]
	r.msg.SetControllen(len(r.oob))
	n, _, err := r.c.RecvMsg(&r.msg, nil)
	if err != nil {
		if _, ok := err.(unix.Errno); ok {
			return fmt.Errorf("trace: receive: %w", err)
		}
		return err
	}
	*p = Packet{Proto: r.proto}
	r.parseCmsgs(p)
	b := buf[:n]
	if r.v6 {
		p.Data = b
		from, _ := rawsock.SockaddrAddrPort(r.name[:])
		p.From = from.Addr()
		return nil
	}
	h, err := inet.ParseIPv4(b)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	p.IP, p.Data = b, b[h.Len:]
	p.From, p.To, p.TTL = h.Src, h.Dst, int(h.TTL)
	return nil
}

// parseCmsgs reads the receive time (SO_TIMESTAMPNS; the current time
// when there is none) and, for IPv6, the destination and hop limit from
// control messages.
func (r *sockReader) parseCmsgs(p *Packet) {
	r.meta.Reset()
	cmsg.Parse(r.oob[:r.msg.Controllen], &r.meta)
	p.Received, p.TTL, p.To = r.meta.Stamp, r.meta.TTL, r.meta.Dst
	p.KernelStamp = !p.Received.IsZero()
	if p.Received.IsZero() {
		p.Received = time.Now()
	}
}
