package trace

import (
	"errors"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rawnet/rawnet/internal/rawsock"
)

// SharedQueue is how many received packets a Shared holds for one virtual
// Conn whose engine has not taken them yet; more are dropped.
const SharedQueue = 256

// sharedBuf is the room for one received packet: ICMP errors quote at most
// 576 (IPv4) or 1280 (IPv6) bytes, and answers to probes are no bigger.
const sharedBuf = 2048

// Shared lets several Tracers that start and stop on their own (the
// exporter's trace groups, rebuilt on every reload) trace through one
// Conn's sockets. One goroutine per socket reads it and gives every
// virtual Conn a copy of each packet: each engine keeps what matches its
// own probes (its source ports, echo identifier or sequence cookie, its
// probe identities and targets) and drops the rest, as it does with the
// other traffic a raw socket sees. Sends of all virtual Conns go through
// one mutex, which also makes each probe's send time, its kernel transmit
// stamp number and its send one step (KeyedSender): the probes of every
// Tracer are timed by the kernel's transmit stamps when the Conn has them,
// and no Tracer's wait for the socket counts in another's round trips.
type Shared struct {
	c       Conn
	st      rawsock.TxStamper // c's transmit stamps; nil without
	wmu     sync.Mutex        // Send and Source of c
	mu      sync.RWMutex
	subs    []*sharedConn
	closed  chan struct{}
	wg      sync.WaitGroup
	dropped atomic.Uint64
}

// NewShared starts reading c's sockets. Close stops that and closes c.
func NewShared(c Conn) *Shared {
	s := &Shared{c: c, closed: make(chan struct{})}
	if st, ok := c.(rawsock.TxStamper); ok {
		if _, on := st.TxKey(); on {
			s.st = st
		}
	}
	for _, r := range c.Readers() {
		s.wg.Add(1)
		go s.read(r)
	}
	return s
}

// Conn returns a new virtual Conn over the shared sockets; closing it
// stops its copies (the sockets stay open).
func (s *Shared) Conn() (Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return nil, os.ErrClosed
	default:
	}
	v := &sharedConn{s: s, ready: make(chan *sharedPacket, SharedQueue), free: make(chan *sharedPacket, SharedQueue),
		wake: make(chan struct{}, 1), closed: make(chan struct{})}
	for range SharedQueue {
		v.free <- &sharedPacket{}
	}
	v.readers = []Reader{v}
	s.subs = append(s.subs, v)
	return v, nil
}

// Subscribers is the number of virtual Conns open.
func (s *Shared) Subscribers() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.subs)
}

// Dropped is how many packet copies were dropped because a virtual Conn's
// queue was full.
func (s *Shared) Dropped() uint64 { return s.dropped.Load() }

// Close stops reading and closes the sockets.
func (s *Shared) Close() error {
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		return nil
	default:
	}
	close(s.closed)
	s.mu.Unlock()
	for _, r := range s.c.Readers() {
		_ = r.SetReadDeadline(time.Unix(1, 0))
	}
	s.wg.Wait()
	return s.c.Close()
}

func (s *Shared) read(r Reader) {
	defer s.wg.Done()
	_ = r.SetReadDeadline(time.Time{})
	buf := make([]byte, 16384)
	var p Packet
	failures := 0
	for {
		err := r.Read(buf, &p)
		select {
		case <-s.closed:
			return
		default:
		}
		if err != nil {
			// A socket that keeps failing is given up rather than spun
			// on, as the engine does.
			if failures++; failures > 100 {
				return
			}
			continue
		}
		failures = 0
		s.mu.RLock()
		for _, v := range s.subs {
			if !v.deliver(&p) {
				s.dropped.Add(1)
			}
		}
		s.mu.RUnlock()
	}
}

func (s *Shared) remove(v *sharedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.subs {
		if x == v {
			s.subs = append(s.subs[:i], s.subs[i+1:]...)
			return
		}
	}
}

// sharedPacket is one packet copied for a virtual Conn.
type sharedPacket struct {
	p       Packet
	buf     [sharedBuf]byte
	n       int
	dataOff int  // Data starts here in buf
	hasIP   bool // buf holds the whole IP packet (IPv4), else only Data
}

// sharedConn is a virtual Conn of a Shared: it sends through the shared
// socket and is its own, only, Reader.
type sharedConn struct {
	s        *Shared
	readers  []Reader
	ready    chan *sharedPacket
	free     chan *sharedPacket
	wake     chan struct{}
	deadline atomic.Int64 // unix ns; 0: none
	closed   chan struct{}
	once     sync.Once
	timer    *time.Timer
}

// deliver copies p into a free buffer and queues it; false when the
// queue is full or the packet too big to copy.
func (v *sharedConn) deliver(p *Packet) bool {
	src, off := p.Data, 0
	if p.IP != nil {
		src, off = p.IP, len(p.IP)-len(p.Data)
	}
	if len(src) > sharedBuf {
		return false
	}
	var sp *sharedPacket
	select {
	case sp = <-v.free:
	default:
		return false
	}
	sp.p = *p
	sp.n = copy(sp.buf[:], src)
	sp.dataOff, sp.hasIP = off, p.IP != nil
	v.ready <- sp // cannot block: there are as many buffers as room
	return true
}

func (v *sharedConn) V6() bool { return v.s.c.V6() }

func (v *sharedConn) Source(dst netip.Addr) (netip.Addr, error) {
	v.s.wmu.Lock()
	defer v.s.wmu.Unlock()
	return v.s.c.Source(dst)
}

func (v *sharedConn) Send(pkt []byte, dst netip.Addr) error {
	select {
	case <-v.closed:
		return os.ErrClosed
	default:
	}
	v.s.wmu.Lock()
	defer v.s.wmu.Unlock()
	return v.s.c.Send(pkt, dst)
}

// SendKeyed sends pkt with its send time and transmit stamp number taken
// under the shared lock (KeyedSender).
func (v *sharedConn) SendKeyed(pkt []byte, dst netip.Addr) (time.Time, uint32, bool, error) {
	select {
	case <-v.closed:
		return time.Now(), 0, false, os.ErrClosed
	default:
	}
	v.s.wmu.Lock()
	defer v.s.wmu.Unlock()
	var key uint32
	var keyed bool
	if v.s.st != nil {
		key, keyed = v.s.st.TxKey()
	}
	sent := time.Now()
	return sent, key, keyed, v.s.c.Send(pkt, dst)
}

// TxKey and TxStamp give the shared socket's transmit stamps
// (rawsock.TxStamper); the engine takes keys through SendKeyed.
func (v *sharedConn) TxKey() (uint32, bool) {
	if v.s.st == nil {
		return 0, false
	}
	v.s.wmu.Lock()
	defer v.s.wmu.Unlock()
	return v.s.st.TxKey()
}

func (v *sharedConn) TxStamp(key uint32) (int64, bool) {
	if v.s.st == nil {
		return 0, false
	}
	v.s.wmu.Lock()
	defer v.s.wmu.Unlock()
	return v.s.st.TxStamp(key)
}

// TxStampAfter passes over a stamp of the same number from before the
// send (rawsock.Conn.TxStampAfter): the numbering restarts after a
// failed send.
func (v *sharedConn) TxStampAfter(key uint32, after int64) (int64, bool) {
	a, ok := v.s.st.(interface {
		TxStampAfter(key uint32, after int64) (int64, bool)
	})
	if !ok {
		if ns, ok := v.TxStamp(key); ok && ns >= after {
			return ns, true
		}
		return 0, false
	}
	v.s.wmu.Lock()
	defer v.s.wmu.Unlock()
	return a.TxStampAfter(key, after)
}

func (v *sharedConn) Readers() []Reader { return v.readers }

// Close unregisters the virtual Conn; the shared sockets stay open.
func (v *sharedConn) Close() error {
	v.once.Do(func() {
		v.s.remove(v)
		close(v.closed)
	})
	return nil
}

func (v *sharedConn) SetReadDeadline(t time.Time) error {
	ns := int64(0)
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	v.deadline.Store(ns)
	select {
	case v.wake <- struct{}{}:
	default:
	}
	return nil
}

var errSharedClosed = errors.New("trace: shared conn closed")

// Read takes the next copied packet, as a socket Reader gives it.
func (v *sharedConn) Read(buf []byte, p *Packet) error {
	for {
		var expire <-chan time.Time
		if d := v.deadline.Load(); d != 0 {
			wait := time.Until(time.Unix(0, d))
			if wait <= 0 {
				return os.ErrDeadlineExceeded
			}
			if v.timer == nil {
				v.timer = time.NewTimer(wait)
			} else {
				v.timer.Reset(wait)
			}
			expire = v.timer.C
		}
		select {
		case sp := <-v.ready:
			v.stopTimer(expire)
			v.copyOut(sp, buf, p)
			v.free <- sp
			return nil
		case <-v.wake:
			v.stopTimer(expire)
		case <-expire:
		case <-v.closed:
			v.stopTimer(expire)
			return errSharedClosed
		}
	}
}

func (v *sharedConn) stopTimer(expire <-chan time.Time) {
	if expire != nil {
		v.timer.Stop()
	}
}

func (v *sharedConn) copyOut(sp *sharedPacket, buf []byte, p *Packet) {
	n := copy(buf, sp.buf[:sp.n])
	*p = sp.p
	if sp.hasIP {
		p.IP = buf[:n]
		p.Data = buf[min(sp.dataOff, n):n]
	} else {
		p.IP, p.Data = nil, buf[:n]
	}
}
