package icmp

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/rawsock"
)

// txFake is a fake socket that numbers its packets as the kernel does
// (OPT_ID), forgets its numbering on ResetTxKey, and whose stamps a test
// hands to the Demux's hook itself, in any order and at any time.
type txFake struct {
	*fakeConn
	next    uint32
	hook    func(key uint32, ns int64)
	failTo  netip.Addr // sends to it fail after the kernel numbered them (EPERM)
	noRoute netip.Addr // sends to it fail before (EHOSTUNREACH)
	resets  int
}

func (f *txFake) TxKey() (uint32, bool)                 { return f.next, true }
func (f *txFake) TxStamp(uint32) (int64, bool)          { return 0, false }
func (f *txFake) SetTxStampHook(fn func(uint32, int64)) { f.hook = fn }
func (f *txFake) DrainTxStamps() bool                   { return false }
func (f *txFake) ResetTxKey() error                     { f.next = 0; f.resets++; return nil }
func (f *txFake) WriteTo(msg []byte, dst netip.Addr) error {
	if dst == f.noRoute {
		return syscall.EHOSTUNREACH
	}
	f.next++
	if dst == f.failTo {
		return errors.New("operation not permitted")
	}
	return f.fakeConn.WriteTo(msg, dst)
}

// TestDemuxTxRouting: stamps reach the virtual Conn that sent the packet,
// under its own numbering, also when they come after that Conn was closed
// (a reload), after a send refused before the kernel numbered it, and
// after a failed send restarted the kernel's numbering, so
// that two packets share a kernel number: the stamp goes to the newest
// send of that number it does not precede. A second stamp of a packet, a
// stamp of a failed send and one of a number never sent reach no one.
func TestDemuxTxRouting(t *testing.T) {
	f := &txFake{fakeConn: newFake(false, 1, nil), failTo: netip.MustParseAddr("198.18.0.99"), noRoute: netip.MustParseAddr("198.18.250.1")}
	d := NewDemux(f)
	defer d.Close()
	dst := netip.MustParseAddr("198.18.0.2")
	msg := make([]byte, 64)
	old, _ := d.Conn(1)
	vc, _ := d.Conn(2)
	old.WriteTo(msg, dst) // kernel 0, old 0
	old.WriteTo(msg, dst) // kernel 1, old 1
	mid := time.Now().UnixNano()
	vc.WriteTo(msg, dst) // kernel 2, vc 0
	t0 := time.Now().UnixNano()
	old.Close()                // with two stamps in flight
	vc.WriteTo(msg, f.failTo)  // vc 1: fails, numbering restarts
	vc.WriteTo(msg, dst)       // kernel 0 again, vc 2
	vc.WriteTo(msg, dst)       // kernel 1 again, vc 3
	vc.WriteTo(msg, f.noRoute) // vc 4: refused before it was numbered
	vc.WriteTo(msg, dst)       // kernel 2, vc 5
	if f.resets != 1 {
		t.Fatalf("%d resets after a numbered and an unnumbered failed send, want 1", f.resets)
	}
	late := time.Now().UnixNano() // after every send
	f.hook(2, t0)                 // vc 0: it precedes vc 5's send, also numbered 2
	f.hook(0, mid)                // old 0: it precedes vc 2's send, also numbered 0
	f.hook(0, late+1)             // vc 2
	f.hook(1, late+2)             // vc 3
	f.hook(1, mid+1)              // old 1
	f.hook(3, late+3)             // the failed send's number in the old numbering: no one
	f.hook(7, late+4)             // never sent
	f.hook(2, late+5)             // vc 5
	f.hook(2, late+6)             // a second stamp of one packet: no one
	want := map[Conn]map[uint32]int64{vc: {0: t0, 2: late + 1, 3: late + 2, 5: late + 5}, old: {0: mid, 1: mid + 1}}
	for c, stamps := range want {
		st := c.(rawsock.TxStamper)
		for key := range uint32(7) {
			ns, ok := st.TxStamp(key)
			if w, has := stamps[key]; ok != has || ns != w {
				t.Errorf("%v key %d: stamp %d %v, want %d %v", c, key, ns, ok, w, has)
			}
		}
	}
	if h := d.Handed(); h != 6 {
		t.Errorf("%d stamps handed on, want 6", h)
	}
}
