package udp

import (
	"net/netip"
	"os"
	"sync"
	"time"
)

// fakeConn is an in-memory Conn: what is pushed to it is read back, and
// what is written to it goes to onWrite (a copy, with the time it left).
type fakeConn struct {
	local   netip.AddrPort
	in      chan Message
	onWrite func(m Message)

	mu          sync.Mutex
	deadline    time.Time
	dlChanged   chan struct{}
	pushed      int           // datagrams queued by push
	taken       int           // datagrams handed to a reader
	takenAtRead int           // taken when the latest ReadBatch began
	readBegan   chan struct{} // closed (and replaced) when a ReadBatch begins
}

func newFakeConn(local string) *fakeConn {
	return &fakeConn{local: netip.MustParseAddrPort(local), in: make(chan Message, 1<<16), dlChanged: make(chan struct{}, 1), readBegan: make(chan struct{})}
}

// waitDrained returns once a reader has taken every datagram pushed so far
// and come back for more: a server reads, then handles what it read, then
// reads again, so by then it has handled them all.
func (f *fakeConn) waitDrained() {
	for {
		f.mu.Lock()
		done := f.takenAtRead == f.pushed
		began := f.readBegan
		f.mu.Unlock()
		if done {
			return
		}
		<-began
	}
}

// push queues a datagram from addr for ReadBatch, stamped now.
func (f *fakeConn) push(from netip.AddrPort, data []byte) {
	f.mu.Lock()
	f.pushed++
	f.mu.Unlock()
	f.in <- Message{Buf: append([]byte(nil), data...), N: len(data), Addr: from, Time: time.Now(), KernelStamp: true}
}

func (f *fakeConn) ReadBatch(ms []Message) (int, error) {
	f.mu.Lock()
	f.takenAtRead = f.taken
	close(f.readBegan)
	f.readBegan = make(chan struct{})
	f.mu.Unlock()
	n, err := f.readBatch(ms)
	f.mu.Lock()
	f.taken += n
	f.mu.Unlock()
	return n, err
}

func (f *fakeConn) readBatch(ms []Message) (int, error) {
	for {
		f.mu.Lock()
		dl := f.deadline
		f.mu.Unlock()
		var timeout <-chan time.Time
		var t *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				select {
				case m := <-f.in:
					return f.fill(ms, m), nil
				default:
					return 0, os.ErrDeadlineExceeded
				}
			}
			t = time.NewTimer(d)
			timeout = t.C
		}
		select {
		case m := <-f.in:
			stopTimer(t)
			return f.fill(ms, m), nil
		case <-timeout:
		case <-f.dlChanged:
			stopTimer(t)
		}
	}
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

func (f *fakeConn) fill(ms []Message, first Message) int {
	n := 0
	for m, ok := first, true; ok && n < len(ms); n++ {
		b := ms[n].Buf
		ms[n] = m
		ms[n].Buf = b
		ms[n].N = copy(b, m.Buf[:m.N])
		if n+1 == len(ms) {
			return n + 1
		}
		select {
		case m = <-f.in:
		default:
			ok = false
		}
	}
	return n
}

func (f *fakeConn) WriteBatch(ms []Message) (int, error) {
	now := time.Now()
	for _, m := range ms {
		c := m
		c.Buf = append([]byte(nil), m.Buf[:m.N]...)
		c.Time = now
		if f.onWrite != nil {
			f.onWrite(c)
		}
	}
	return len(ms), nil
}

func (f *fakeConn) SetReadDeadline(t time.Time) error {
	f.mu.Lock()
	f.deadline = t
	f.mu.Unlock()
	select {
	case f.dlChanged <- struct{}{}:
	default:
	}
	return nil
}

func (f *fakeConn) LocalAddr() netip.AddrPort { return f.local }
func (f *fakeConn) Close() error              { return nil }
