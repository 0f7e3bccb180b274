package trace

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"
)

// Two Tracers that share one Conn's sockets, tracing the same target and
// another one at once, each see their own whole paths: every answer
// reaches the engine whose probe it answers, and none is counted twice.
// (With the same IDBlock the UDP traces fail: the port unreachable one
// Tracer's probe draws matches the other's probe with that IP ID, the
// fallback for probes whose source port a NAT rewrote.)
func TestSharedTwoTracers(t *testing.T) {
	for _, m := range methods {
		t.Run(m.String(), func(t *testing.T) {
			d1, d2 := targetAddr(false, 1), targetAddr(false, 2)
			p1, p2 := linearPath(false, 4, 1), linearPath(false, 6, 2)
			f := newFakeNet(false).addPath(d1, p1).addPath(d2, p2)
			s := NewShared(f)
			defer s.Close()
			var wg sync.WaitGroup
			outs := make([]runOut, 2)
			for i, targets := range [][]int{{1}, {1, 2}} {
				c, err := s.Conn()
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				cfg := testConfig(m)
				for _, n := range targets {
					cfg.Targets = append(cfg.Targets, targetAddr(false, byte(n)))
				}
				cfg.SrcPort = 40000 + 100*i // distinct flows, as random ones would be
				cfg.IDBlock = 1 + i         // without: a UDP answer a NAT might have rewritten matches both
				cfg.Cycles, cfg.Interval = 3, 10*time.Millisecond
				wg.Add(1)
				go func() {
					defer wg.Done()
					outs[i] = runTrace(t, context.Background(), cfg, nil, c)
				}()
			}
			wg.Wait()
			if s.Subscribers() != 2 {
				t.Errorf("%d subscribers, want 2", s.Subscribers())
			}
			for i, out := range outs {
				if out.err != nil {
					t.Fatal(out.err)
				}
				cfg := testConfig(m, d1, d2)
				for c := range 3 {
					checkPath(t, out, 0, c, cfg, path(p1), d1, false)
					if i == 1 {
						checkPath(t, out, 1, c, cfg, path(p2), d2, false)
					}
				}
			}
		})
	}
}

// A virtual Conn's reader stops at its deadline and after Close; closing
// it unregisters it, and a closed Shared gives no more.
func TestSharedClose(t *testing.T) {
	f := newFakeNet(false)
	s := NewShared(f)
	c, err := s.Conn()
	if err != nil {
		t.Fatal(err)
	}
	r := c.Readers()[0]
	var p Packet
	buf := make([]byte, 2048)
	_ = r.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if err := r.Read(buf, &p); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the deadline: %v", err)
	}
	done := make(chan error, 1)
	_ = r.SetReadDeadline(time.Time{})
	go func() { done <- r.Read(buf, &p) }()
	time.Sleep(10 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("read on a closed virtual conn succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a blocked read")
	}
	if s.Subscribers() != 0 {
		t.Errorf("%d subscribers after Close", s.Subscribers())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Conn(); err == nil {
		t.Error("a closed Shared gave a Conn")
	}
}

func TestIDBlockRange(t *testing.T) {
	for _, b := range []int{-1, IDBlocks + 1} {
		cfg := testConfig(UDP, targetAddr(false, 1))
		cfg.IDBlock, cfg.Conns = b, []Conn{newFakeNet(false)}
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("IDBlock %d: %v, want ErrConfig", b, err)
		}
	}
	for _, c := range []struct{ block, lo, hi int }{{1, 1, 4095}, {2, 4096, 8191}, {IDBlocks, (IDBlocks - 1) * 4096, IDBlocks*4096 - 1}} {
		cfg := testConfig(UDP, targetAddr(false, 1))
		cfg.IDBlock = c.block
		e, err := newEngine(cfg, []Conn{newFakeNet(false).addPath(cfg.Targets[0], linearPath(false, 1, 1))})
		if err != nil {
			t.Fatal(err)
		}
		if int(e.idLo) != c.lo || int(e.idHi) != c.hi || e.inFlightCap() > c.hi-c.lo+1 {
			t.Errorf("block %d: ids %d..%d, in flight %d; want %d..%d", c.block, e.idLo, e.idHi, e.inFlightCap(), c.lo, c.hi)
		}
		for range 3 * slotCount {
			if id := e.takeID(); int(id) < c.lo || int(id) > c.hi {
				t.Fatalf("block %d: took id %d", c.block, id)
			}
		}
	}
}

// A packet copied to a virtual Conn and read from it allocates nothing.
func BenchmarkSharedDeliverRead(b *testing.B) {
	s := &Shared{c: newFakeNet(false), closed: make(chan struct{})}
	c, err := s.Conn()
	if err != nil {
		b.Fatal(err)
	}
	v := c.(*sharedConn)
	ip := make([]byte, 96)
	in := Packet{Proto: 1, IP: ip, Data: ip[20:], From: sourceAddr(false), TTL: 64}
	buf := make([]byte, 2048)
	var out Packet
	_ = v.SetReadDeadline(time.Now().Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if !v.deliver(&in) {
			b.Fatal("dropped")
		}
		if err := v.Read(buf, &out); err != nil {
			b.Fatal(err)
		}
	}
	if len(out.Data) != 76 || len(out.IP) != 96 {
		b.Fatalf("read back %d/%d bytes", len(out.Data), len(out.IP))
	}
}

func TestSharedDeliverReadAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count")
	}
	r := testing.Benchmark(BenchmarkSharedDeliverRead)
	if a := r.AllocsPerOp(); a != 0 {
		t.Errorf("%d allocations per packet, want 0", a)
	}
}
