package icmp

import (
	"encoding/binary"
	"github.com/rawnet/rawnet/internal/icmpmsg"
	"net/netip"
	"os"
	"sync"
	"time"
)

// fakeConn is an in-memory Conn. Every request written is handed to
// respond, which returns the packets the network sends back (replies,
// duplicates, errors) and after what delay.
type fakeConn struct {
	v6, dgram bool
	id        uint16
	respond   func(req []byte, dst netip.Addr) []fakeReply
	writeErr  error // every WriteTo fails with it, when set

	mu       sync.Mutex
	queue    []fakeReply
	wake     chan struct{}
	deadline time.Time
	written  int
}

type fakeReply struct {
	pkt   Packet
	after time.Duration
	at    time.Time
}

func newFake(v6 bool, id uint16, respond func([]byte, netip.Addr) []fakeReply) *fakeConn {
	return &fakeConn{v6: v6, id: id, respond: respond, wake: make(chan struct{}, 1)}
}

func (f *fakeConn) V6() bool       { return f.v6 }
func (f *fakeConn) Datagram() bool { return f.dgram }
func (f *fakeConn) ID() uint16     { return f.id }
func (f *fakeConn) Wire() Wire     { return Wire{TTL: 64, DF: !f.v6} }
func (f *fakeConn) Close() error   { return nil }

func (f *fakeConn) Source(dst netip.Addr) (netip.Addr, error) {
	if dst.Is4() {
		return netip.MustParseAddr("198.18.0.1"), nil
	}
	return netip.MustParseAddr("fd00::1"), nil
}

func (f *fakeConn) WriteTo(msg []byte, dst netip.Addr) error {
	if f.writeErr != nil {
		return f.writeErr
	}
	req := append([]byte(nil), msg...)
	if f.dgram { // the kernel owns the identifier of datagram sockets
		binary.BigEndian.PutUint16(req[4:], f.id)
	}
	var replies []fakeReply
	if f.respond != nil {
		replies = f.respond(req, dst)
	}
	f.mu.Lock()
	f.written++
	now := time.Now()
	for _, r := range replies {
		r.at = now.Add(r.after)
		f.queue = append(f.queue, r)
	}
	f.mu.Unlock()
	f.poke()
	return nil
}

// inject queues pkt to be read at once, as if the network sent it now.
func (f *fakeConn) inject(pkt Packet) {
	f.mu.Lock()
	f.queue = append(f.queue, fakeReply{pkt: pkt, at: time.Now()})
	f.mu.Unlock()
	f.poke()
}

func (f *fakeConn) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fakeConn) SetReadDeadline(t time.Time) error {
	f.mu.Lock()
	f.deadline = t
	f.mu.Unlock()
	f.poke()
	return nil
}

func (f *fakeConn) ReadPacket(buf []byte, p *Packet) error {
	for {
		f.mu.Lock()
		now := time.Now()
		next := time.Time{}
		for i, r := range f.queue {
			if !r.at.After(now) {
				f.queue = append(f.queue[:i], f.queue[i+1:]...)
				f.mu.Unlock()
				*p = r.pkt
				p.Data = buf[:copy(buf, r.pkt.Data)]
				p.Received = now
				p.KernelStamp = true
				return nil
			}
			if next.IsZero() || r.at.Before(next) {
				next = r.at
			}
		}
		dl := f.deadline
		f.mu.Unlock()
		if !dl.IsZero() && !dl.After(now) {
			return os.ErrDeadlineExceeded
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = next.Sub(now)
		}
		if !dl.IsZero() && dl.Sub(now) < wait {
			wait = dl.Sub(now)
		}
		t := time.NewTimer(wait)
		select {
		case <-f.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// echoReply turns a request into the reply a host sends back.
func echoReply(req []byte, from netip.Addr, v6 bool) Packet {
	rep := append([]byte(nil), req...)
	if v6 {
		rep[0] = icmpmsg.TypeEchoReply6
	} else {
		rep[0] = icmpmsg.TypeEchoReply4
		rep[2], rep[3] = 0, 0
		binary.BigEndian.PutUint16(rep[2:], icmpmsg.Checksum(rep, 0))
	}
	return Packet{Data: rep, From: from, TTL: 61}
}

// timeExceeded4 is the ICMPv4 error a router sends about req (sent from
// src to dst), quoting its IP header and the whole request.
func timeExceeded4(req []byte, router, src, dst netip.Addr) Packet {
	inner := wrapIPv4(make([]byte, 20+len(req)), src, dst, Wire{TTL: 1}, req)
	msg := make([]byte, 8+len(inner))
	msg[0], msg[1] = icmpmsg.TypeTimeExceeded4, 0
	copy(msg[8:], inner)
	binary.BigEndian.PutUint16(msg[2:], icmpmsg.Checksum(msg, 0))
	return Packet{Data: msg, From: router, TTL: 63}
}
