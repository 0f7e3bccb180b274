package icmp

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rawnet/rawnet/internal/icmpmsg"
)

// DemuxQueue is how many received packets a Demux holds for one virtual
// Conn whose reader has not taken them yet, unless ConnQueue says
// otherwise; more are dropped (Dropped).
const DemuxQueue = 1024

// MaxDemuxQueue bounds ConnQueue's queue: 32 s of replies at 2,048
// probes a second, a few MB of packets at most (allocated as they come).
const MaxDemuxQueue = 1 << 16

// Demux shares one ICMP socket among several Pingers that run at the same
// time and start and stop independently (the exporter's probe groups, one
// Pinger each, replaced on every reload). A Conn has one reader, so one
// goroutine reads the socket and hands each packet to the virtual Conn
// whose cookie its echo payload carries (a reply's own payload, or the
// echo request an ICMP error quotes); packets with no registered cookie
// are dropped. Each Pinger must run with its virtual Conn's cookie
// (Config.Cookie) and payloads of at least 16 bytes, which carry it.
//
// Writes of all virtual Conns go through one mutex, since a Conn allows
// one writer at a time. Through it the Demux learns whose each packet is,
// and hands the socket's kernel transmit stamps to the virtual Conns that
// sent them (demux_tx.go): they are rawsock.TxStampers as the socket is.
type Demux struct {
	c       Conn
	tx      *demuxTx   // transmit stamp routing; nil: none
	wmu     sync.Mutex // writes, Source and PathMTU of c
	mu      sync.RWMutex
	subs    map[uint64]*subConn
	closed  chan struct{}
	done    chan struct{}
	dropped atomic.Uint64

	// reader side: an ICMP error a transmit stamp drain met
	errBuf []byte
	errPkt Packet
}

// NewDemux starts reading c. Close stops it and closes c.
func NewDemux(c Conn) *Demux {
	d := &Demux{c: c, subs: map[uint64]*subConn{}, closed: make(chan struct{}), done: make(chan struct{})}
	d.tx = newDemuxTx(c)
	go d.read()
	return d
}

// ErrCookieInUse is returned by Demux.Conn for a cookie that is taken.
var ErrCookieInUse = errors.New("icmp: demux: cookie already in use")

// Conn returns a virtual Conn that receives the packets about probes with
// cookie; closing it unregisters the cookie (the socket stays open). Its
// queue holds DemuxQueue packets.
func (d *Demux) Conn(cookie uint64) (Conn, error) { return d.ConnQueue(cookie, DemuxQueue) }

// ConnQueue is Conn with a queue of queue packets (at least DemuxQueue, at
// most MaxDemuxQueue): size it for the replies that arrive while the
// Conn's reader may be kept off the CPU. Packets are allocated as the
// queue first fills, so an unused queue costs only its channels (16 bytes
// a packet).
func (d *Demux) ConnQueue(cookie uint64, queue int) (Conn, error) {
	queue = min(max(queue, DemuxQueue), MaxDemuxQueue)
	if cookie == 0 {
		return nil, errors.New("icmp: demux: cookie 0")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.closed:
		return nil, os.ErrClosed
	default:
	}
	if d.subs[cookie] != nil {
		return nil, ErrCookieInUse
	}
	s := &subConn{d: d, cookie: cookie, queue: int32(queue), ready: make(chan *demuxPacket, queue),
		free: make(chan *demuxPacket, queue), wake: make(chan struct{}, 1), closed: make(chan struct{})}
	d.subs[cookie] = s
	return s, nil
}

// Subscribers is the number of virtual Conns open.
func (d *Demux) Subscribers() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.subs)
}

// Dropped counts packets for a virtual Conn whose queue was full.
func (d *Demux) Dropped() uint64 { return d.dropped.Load() }

// SocketDrops is the kernel's count of packets it dropped at the shared
// socket before the Demux could read them (its receive buffer was full);
// ok is false when the socket cannot say (not one of Listen's sockets).
// sk_drops is a 32-bit counter: it wraps after 4 billion drops.
func (d *Demux) SocketDrops() (n uint64, ok bool) { return socketDrops(d.c) }

// V6 reports whether the shared socket speaks ICMPv6.
func (d *Demux) V6() bool { return d.c.V6() }

// Close stops the reader and closes the socket; virtual Conns still open
// read os.ErrClosed.
func (d *Demux) Close() error {
	d.mu.Lock()
	select {
	case <-d.closed:
		d.mu.Unlock()
		return nil
	default:
	}
	close(d.closed)
	d.mu.Unlock()
	_ = d.c.SetReadDeadline(time.Unix(1, 0))
	<-d.done
	return d.c.Close()
}

func (d *Demux) read() {
	defer close(d.done)
	buf := make([]byte, 1<<16+ipv6HeaderLen)
	var pkt Packet
	for {
		err := d.c.ReadPacket(buf, &pkt)
		select {
		case <-d.closed:
			return
		default:
		}
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			continue // a deadline or a transient error (ENOBUFS)
		}
		s := d.owner(&pkt)
		if s != nil && d.tx != nil && d.tx.owes(pkt.Received.UnixNano()) {
			// The stamp of the probe this answers is queued by now, but
			// maybe not read: its send may not have returned yet.
			d.drainTx()
		}
		if s != nil && !s.deliver(&pkt) {
			d.dropped.Add(1)
		}
	}
}

// owner is the virtual Conn a packet is for; nil: none.
func (d *Demux) owner(p *Packet) *subConn {
	cookie, ok := packetCookie(d.c.V6(), p)
	if !ok {
		return nil
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.subs[cookie]
}

// drainTx takes the transmit stamps off the error queue. An ICMP error
// queued among them (a datagram socket's) stops the drain until it is
// read: it is read and handed on, and the drain goes on. Reader side.
func (d *Demux) drainTx() {
	for i := 0; i < DemuxQueue && d.tx.c.DrainTxStamps(); i++ {
		if d.errBuf == nil {
			d.errBuf = make([]byte, 1<<16+ipv6HeaderLen)
		}
		if d.c.ReadPacket(d.errBuf, &d.errPkt) != nil {
			return
		}
		if s := d.owner(&d.errPkt); s != nil && !s.deliver(&d.errPkt) {
			d.dropped.Add(1)
		}
	}
}

// packetCookie finds the cookie in the echo a packet answers or quotes.
func packetCookie(v6 bool, p *Packet) (uint64, bool) {
	b := p.Data
	if p.QueuedError {
		_, pr, ok, err := icmpmsg.ParseEcho(b)
		return pr.Cookie, ok && err == nil
	}
	if len(b) < echoHeaderLen {
		return 0, false
	}
	switch icmpmsg.Classify(v6, b[0]) {
	case icmpmsg.ClassEchoReply:
		_, pr, ok, err := icmpmsg.ParseEcho(b)
		return pr.Cookie, ok && err == nil
	case icmpmsg.ClassError, icmpmsg.ClassUnassignedError:
		q, err := icmpmsg.ParseError(v6, b)
		if err != nil {
			return 0, false
		}
		_, pr, ok, err := icmpmsg.ParseEcho(q.Payload)
		return pr.Cookie, ok && err == nil
	}
	return 0, false
}

// demuxPacket is one packet waiting for a virtual Conn's reader: a copy of
// the bytes (the shared reader's buffer is reused at once).
type demuxPacket struct {
	buf []byte
	pkt Packet
}

// subConn is one virtual Conn of a Demux.
type subConn struct {
	d      *Demux
	cookie uint64
	ready  chan *demuxPacket // received, in order
	free   chan *demuxPacket // taken and given back by the reader
	queue  int32             // packets the queue holds
	made   atomic.Int32      // packets allocated, at most queue

	mu       sync.Mutex
	deadline time.Time
	wake     chan struct{} // the deadline moved
	timer    *time.Timer
	closed   chan struct{}
	once     sync.Once

	txNext uint32 // TxKey of the next send; writer side

	tmu    sync.Mutex     // stamps
	stamps []txStampEntry // by TxKey, subTxRing(queue) of them; nil until the first
}

// deliver copies p into a free packet and queues it; false when the queue
// is full. Called by the Demux reader only.
func (s *subConn) deliver(p *Packet) bool {
	var dp *demuxPacket
	select {
	case dp = <-s.free:
	default:
		if s.made.Load() >= s.queue {
			return false
		}
		s.made.Add(1)
		dp = &demuxPacket{}
	}
	// Data and IP alias one buffer: copy the larger and re-slice.
	src := p.Data
	if p.IP != nil {
		src = p.IP
	}
	dp.buf = append(dp.buf[:0], src...)
	dp.pkt = *p
	if p.IP != nil {
		dp.pkt.IP = dp.buf
		dp.pkt.Data = dp.buf[len(p.IP)-len(p.Data):]
	} else {
		dp.pkt.Data = dp.buf
	}
	select {
	case s.ready <- dp:
		return true
	default:
		s.free <- dp
		return false
	}
}

func (s *subConn) V6() bool       { return s.d.c.V6() }
func (s *subConn) Datagram() bool { return s.d.c.Datagram() }
func (s *subConn) ID() uint16     { return s.d.c.ID() }
func (s *subConn) Wire() Wire     { return s.d.c.Wire() }
func (s *subConn) String() string { return fmt.Sprintf("demux cookie %#x", s.cookie) }
func (s *subConn) Source(dst netip.Addr) (netip.Addr, error) {
	s.d.wmu.Lock()
	defer s.d.wmu.Unlock()
	return s.d.c.Source(dst)
}

// PathMTU asks the shared socket's route lookup, when it has one.
func (s *subConn) PathMTU(dst netip.Addr) (int, error) {
	s.d.wmu.Lock()
	defer s.d.wmu.Unlock()
	if r, ok := s.d.c.(interface{ PathMTU(netip.Addr) (int, error) }); ok {
		return r.PathMTU(dst)
	}
	return PathMTU(dst)
}

func (s *subConn) WriteTo(msg []byte, dst netip.Addr) error {
	select {
	case <-s.closed:
		return os.ErrClosed
	default:
	}
	key := s.txNext
	s.txNext++
	s.d.wmu.Lock()
	defer s.d.wmu.Unlock()
	tx := s.d.tx
	if tx == nil || len(msg) == 0 { // an empty message is not sent
		return s.d.c.WriteTo(msg, dst)
	}
	seq := tx.begin(s, key)
	err := s.d.c.WriteTo(msg, dst)
	tx.end(seq, err)
	return err
}

func (s *subConn) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.deadline = t
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// ReadPacket waits for the next packet of this Conn's cookie, the read
// deadline or Close.
func (s *subConn) ReadPacket(buf []byte, p *Packet) error {
	for {
		s.mu.Lock()
		dl := s.deadline
		s.mu.Unlock()
		var timeout <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return os.ErrDeadlineExceeded
			}
			if s.timer == nil {
				s.timer = time.NewTimer(d)
			} else {
				s.timer.Reset(d)
			}
			timeout = s.timer.C
		}
		select {
		case dp := <-s.ready:
			s.stopTimer()
			return s.take(dp, buf, p)
		case <-s.wake:
			s.stopTimer()
		case <-timeout:
		case <-s.closed:
			s.stopTimer()
			return os.ErrClosed
		case <-s.d.closed:
			s.stopTimer()
			return os.ErrClosed
		}
	}
}

func (s *subConn) stopTimer() {
	if s.timer != nil {
		s.timer.Stop()
	}
}

// take copies a queued packet into the reader's buffer.
func (s *subConn) take(dp *demuxPacket, buf []byte, p *Packet) error {
	n := copy(buf, dp.buf)
	*p = dp.pkt
	if n < len(dp.buf) {
		s.free <- dp
		return fmt.Errorf("icmp: demux: %d-byte packet does not fit a %d-byte buffer", len(dp.buf), len(buf))
	}
	if dp.pkt.IP != nil {
		p.IP = buf[:n]
		p.Data = buf[n-len(dp.pkt.Data) : n]
	} else {
		p.Data = buf[:n]
	}
	s.free <- dp
	return nil
}

// Close unregisters the cookie; the shared socket stays open.
func (s *subConn) Close() error {
	s.once.Do(func() {
		s.d.mu.Lock()
		if s.d.subs[s.cookie] == s {
			delete(s.d.subs, s.cookie)
		}
		s.d.mu.Unlock()
		close(s.closed)
	})
	return nil
}
