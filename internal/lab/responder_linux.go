package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// A Responder answers ICMP and ICMPv6 echo requests after a fixed delay,
// standing in for netem: each reply is scheduled for its request's arrival
// time plus the delay, so requests in flight overlap. Replies keep the
// request's identifier, sequence number and payload, and come from the
// address the request was sent to. The kernel's own echo replies must be
// off where it runs (net.ipv4.icmp_echo_ignore_all, net.ipv6.icmp.echo_ignore_all).
//
// It is test infrastructure, not an engine: it allocates a little per
// packet (in golang.org/x/net's control messages).
type Responder struct {
	delay time.Duration
	conns []echoConn
	once  sync.Once
}

// queueLen bounds the replies waiting for their time; beyond it requests
// are dropped, as a full router queue would.
const queueLen = 4096

// ServeDelayed answers echo requests after delay until ctx ends, with raw
// sockets opened in the calling goroutine's current network namespace
// (inside Node.Do to serve in a lab node). It returns nil when ctx ends.
func ServeDelayed(ctx context.Context, delay time.Duration) error {
	r, err := ListenResponder(delay)
	if err != nil {
		return err
	}
	defer r.Close()
	return r.Serve(ctx)
}

// ListenResponder opens the raw ICMP and ICMPv6 sockets of a responder in
// the calling thread's network namespace. It needs CAP_NET_RAW.
func ListenResponder(delay time.Duration) (*Responder, error) {
	if delay < 0 {
		return nil, specErrorf("responder delay must not be negative, got %s", delay)
	}
	c4, err := listenEcho4()
	if err != nil {
		return nil, err
	}
	c6, err := listenEcho6()
	if err != nil {
		c4.Close()
		return nil, err
	}
	return &Responder{delay: delay, conns: []echoConn{c4, c6}}, nil
}

// Close closes the responder's sockets, which ends Serve.
func (r *Responder) Close() error {
	var errs []error
	r.once.Do(func() {
		for _, c := range r.conns {
			errs = append(errs, c.Close())
		}
	})
	return errors.Join(errs...)
}

// Serve answers until ctx ends (then it closes the responder) or Close is
// called, and then returns nil; or until a socket fails.
func (r *Responder) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { r.Close() })
	defer stop()
	errc := make(chan error, len(r.conns))
	for _, c := range r.conns {
		go func() { errc <- serveEcho(ctx, c, r.delay) }()
	}
	var errs []error
	for range r.conns {
		if err := <-errc; err != nil && ctx.Err() == nil {
			errs = append(errs, err)
			r.Close() // one family failed: stop the other too
		}
	}
	return errors.Join(errs...)
}

// echoJob is one reply waiting for its time.
type echoJob struct {
	due         time.Time
	msg         *[]byte
	peer, local netip.Addr
}

var echoBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// serveEcho reads requests on c and hands the replies to a sender that
// writes each one when it is due.
func serveEcho(ctx context.Context, c echoConn, delay time.Duration) error {
	queue := make(chan echoJob, queueLen)
	sent := make(chan struct{})
	go func() {
		sendEchoes(ctx, c, queue)
		close(sent)
	}()
	defer func() {
		close(queue)
		<-sent
	}()
	buf := make([]byte, 1<<16)
	for {
		n, peer, local, err := c.readEcho(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil // ended by ctx or Close
			}
			return fmt.Errorf("lab: responder: %w", err)
		}
		due := time.Now().Add(delay)
		if !echoReply(buf[:n], c.isV6()) {
			continue
		}
		msg := echoBufs.Get().(*[]byte)
		*msg = append((*msg)[:0], buf[:n]...)
		select {
		case queue <- echoJob{due: due, msg: msg, peer: peer, local: local}:
		default:
			echoBufs.Put(msg)
		}
	}
}

// sendEchoes writes each queued reply at its due time. The delay is the
// same for all, so the queue is in due order.
func sendEchoes(ctx context.Context, c echoConn, queue <-chan echoJob) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for j := range queue {
		if d := time.Until(j.due); d > 0 && ctx.Err() == nil {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() == nil {
			// A failed write (a firewall, no route) loses this reply only.
			c.writeEcho(*j.msg, j.peer, j.local)
		}
		echoBufs.Put(j.msg)
	}
}

// echoConn is a raw socket of one family that receives echo requests only.
type echoConn interface {
	readEcho(b []byte) (n int, peer, local netip.Addr, err error)
	writeEcho(b []byte, peer, local netip.Addr) error
	isV6() bool
	Close() error
}

type echo4 struct{ *ipv4.PacketConn }

func listenEcho4() (*echo4, error) {
	pc, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("lab: responder: raw ICMP socket (needs CAP_NET_RAW): %w", err)
	}
	c := ipv4.NewPacketConn(pc)
	var f ipv4.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv4.ICMPTypeEcho)
	if err := errors.Join(c.SetICMPFilter(&f), c.SetControlMessage(ipv4.FlagDst, true)); err != nil {
		c.Close()
		return nil, fmt.Errorf("lab: responder: %w", err)
	}
	return &echo4{c}, nil
}

func (c *echo4) isV6() bool { return false }

func (c *echo4) readEcho(b []byte) (int, netip.Addr, netip.Addr, error) {
	n, cm, src, err := c.ReadFrom(b)
	if err != nil {
		return 0, netip.Addr{}, netip.Addr{}, err
	}
	var local netip.Addr
	if cm != nil {
		local, _ = netip.AddrFromSlice(cm.Dst)
	}
	return n, ipAddr(src), local.Unmap(), nil
}

func (c *echo4) writeEcho(b []byte, peer, local netip.Addr) error {
	var cm *ipv4.ControlMessage
	if local.IsValid() && !local.IsMulticast() && local != netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		cm = &ipv4.ControlMessage{Src: local.AsSlice()}
	}
	_, err := c.WriteTo(b, cm, &net.IPAddr{IP: peer.AsSlice()})
	return err
}

type echo6 struct{ *ipv6.PacketConn }

func listenEcho6() (*echo6, error) {
	pc, err := net.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, fmt.Errorf("lab: responder: raw ICMPv6 socket (needs CAP_NET_RAW): %w", err)
	}
	c := ipv6.NewPacketConn(pc)
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeEchoRequest)
	// Linux always computes the checksum of raw ICMPv6 sockets (offset 2),
	// pseudo header included.
	if err := errors.Join(c.SetICMPFilter(&f), c.SetControlMessage(ipv6.FlagDst, true)); err != nil {
		c.Close()
		return nil, fmt.Errorf("lab: responder: %w", err)
	}
	return &echo6{c}, nil
}

func (c *echo6) isV6() bool { return true }

func (c *echo6) readEcho(b []byte) (int, netip.Addr, netip.Addr, error) {
	n, cm, src, err := c.ReadFrom(b)
	if err != nil {
		return 0, netip.Addr{}, netip.Addr{}, err
	}
	var local netip.Addr
	if cm != nil {
		local, _ = netip.AddrFromSlice(cm.Dst)
	}
	return n, ipAddr(src), local, nil
}

func (c *echo6) writeEcho(b []byte, peer, local netip.Addr) error {
	var cm *ipv6.ControlMessage
	if local.IsValid() && !local.IsMulticast() {
		cm = &ipv6.ControlMessage{Src: local.AsSlice()}
	}
	_, err := c.WriteTo(b, cm, &net.IPAddr{IP: peer.AsSlice(), Zone: peer.Zone()})
	return err
}

// ipAddr converts a *net.IPAddr to a netip.Addr, zone kept.
func ipAddr(a net.Addr) netip.Addr {
	ia, ok := a.(*net.IPAddr)
	if !ok {
		return netip.Addr{}
	}
	ip, _ := netip.AddrFromSlice(ia.IP)
	return ip.Unmap().WithZone(ia.Zone)
}
