package icmp

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
)

// Three Pingers share one socket through a Demux: each counts its own
// replies and errors, never another's, and a packet with a foreign cookie
// reaches none of them.
func TestDemuxSharesOneSocket(t *testing.T) {
	router := netip.MustParseAddr("198.18.9.1")
	unreach := netip.MustParseAddr("198.18.0.99")
	f := newFake(false, 4242, func(req []byte, dst netip.Addr) []fakeReply {
		if dst == unreach {
			return []fakeReply{{pkt: timeExceeded4(req, router, netip.MustParseAddr("198.18.0.1"), dst), after: time.Millisecond}}
		}
		return []fakeReply{{pkt: echoReply(req, dst, false), after: time.Millisecond}}
	})
	d := NewDemux(f)
	defer d.Close()
	cookies := []uint64{0x1111, 0x2222, 0x3333}
	targets := [][]netip.Addr{addrs("198.18.0.2", "198.18.0.3"), addrs("198.18.0.2"), addrs("198.18.0.99")}
	const count = 20
	var wg sync.WaitGroup
	sums := make([]Summary, len(cookies))
	for i, ck := range cookies {
		c, err := d.Conn(ck)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		p, err := New(Config{Targets: targets[i], Conns: []Conn{c}, Count: count, Interval: 2 * time.Millisecond, Cookie: ck, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], err = p.Run(context.Background(), func(Event) error { return nil })
			if err != nil {
				t.Error(err)
			}
		}()
	}
	// A reply to someone else's probe (another exporter, a ping) on the
	// same socket with our echo ID: nobody may count it.
	foreign := echoReply(echoRequestFor(t, 4242, 0x9999), netip.MustParseAddr("198.18.0.2"), false)
	for range 5 {
		f.inject(foreign)
	}
	wg.Wait()
	for i, s := range sums {
		tot := s.Totals()
		errs, dups := 0, 0
		for _, ts := range s.Targets {
			errs += ts.Errors
			dups += ts.Duplicates
		}
		switch i {
		case 2:
			if tot.Transmitted != count || tot.Received != 0 || errs != count {
				t.Errorf("pinger %d: %+v, want %d errors and no replies", i, tot, count)
			}
		default:
			if want := count * len(targets[i]); tot.Transmitted != want || tot.Received != want || dups != 0 {
				t.Errorf("pinger %d: %+v, want %d replies, no duplicates", i, tot, want)
			}
		}
	}
	if d.Dropped() != 0 {
		t.Errorf("dropped %d", d.Dropped())
	}
}

// echoRequestFor builds an echo request with the given ID and cookie.
func echoRequestFor(t *testing.T, id uint16, cookie uint64) []byte {
	t.Helper()
	var got []byte
	f := newFake(false, id, func(req []byte, _ netip.Addr) []fakeReply { got = req; return nil })
	p, err := New(Config{Targets: addrs("198.18.0.2"), Conns: []Conn{f}, Count: 1, Cookie: cookie, Timeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), func(Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

// A virtual Conn's reader sees its deadline and Close; a closed cookie can
// be registered again; the Demux's Close ends every reader.
func TestDemuxDeadlineAndClose(t *testing.T) {
	d := NewDemux(newFake(false, 1, nil))
	c, err := d.Conn(7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Conn(7); !errors.Is(err, ErrCookieInUse) {
		t.Fatalf("second Conn(7): %v", err)
	}
	buf := make([]byte, 1500)
	var p Packet
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if err := c.ReadPacket(buf, &p); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past deadline: %v", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { done <- c.ReadPacket(buf, &p) }()
	time.Sleep(10 * time.Millisecond)
	_ = c.SetReadDeadline(time.Unix(1, 0)) // how Pinger.Run stops its readers
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after deadline moved: %v", err)
	}
	c.Close()
	if d.Subscribers() != 0 {
		t.Fatalf("%d subscribers after Close", d.Subscribers())
	}
	c2, err := d.Conn(7)
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- c2.ReadPacket(buf, &p) }()
	d.Close()
	if err := <-done; !errors.Is(err, os.ErrClosed) {
		t.Fatalf("read after Demux.Close: %v", err)
	}
}
