package rdns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func addr(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}) }

func TestNameAndCache(t *testing.T) {
	var calls atomic.Int32
	c := New(Config{Lookup: func(_ context.Context, a string) ([]string, error) {
		calls.Add(1)
		switch a {
		case "198.18.0.1":
			return []string{"r1.lab.", "other.lab."}, nil
		case "198.18.0.2":
			return nil, errors.New("no such host")
		}
		return nil, nil
	}})
	c.Prefetch(addr(1))
	for range 3 {
		if n := c.Name(addr(1)); n != "r1.lab" {
			t.Errorf("Name = %q, want r1.lab", n)
		}
	}
	if n := c.Name(addr(2)); n != "" {
		t.Errorf("failed lookup: %q", n)
	}
	if n := c.Name(addr(3)); n != "" {
		t.Errorf("no names: %q", n)
	}
	if calls.Load() != 3 {
		t.Errorf("%d lookups for 3 addresses", calls.Load())
	}
}

// A lookup that never answers gives up at its timeout.
func TestTimeout(t *testing.T) {
	c := New(Config{Timeout: 10 * time.Millisecond, Lookup: func(ctx context.Context, _ string) ([]string, error) {
		<-ctx.Done()
		return []string{"late.lab."}, ctx.Err()
	}})
	if n := c.Name(addr(1)); n != "" {
		t.Errorf("timed out lookup gave %q", n)
	}
}

// No more than Parallel lookups run at once, and all of them finish.
func TestParallel(t *testing.T) {
	const limit, n = 3, 20
	var running, most, starts atomic.Int32
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(limit)
	c := New(Config{Parallel: limit, Lookup: func(_ context.Context, a string) ([]string, error) {
		now := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if now <= m || most.CompareAndSwap(m, now) {
				break
			}
		}
		if starts.Add(1) <= limit {
			started.Done()
		}
		<-release
		return []string{"h-" + a + "."}, nil
	}})
	for i := range n {
		c.Prefetch(addr(i))
	}
	started.Wait() // limit lookups are running; the others must wait
	// Give the others the chance to start, were they allowed to: that
	// none does is what is tested, not how fast.
	time.Sleep(50 * time.Millisecond)
	if r := running.Load(); r != limit {
		t.Errorf("%d lookups running, want %d", r, limit)
	}
	close(release)
	for i := range n {
		if got, want := c.Name(addr(i)), fmt.Sprintf("h-%s", addr(i)); got != want {
			t.Errorf("Name(%s) = %q, want %q", addr(i), got, want)
		}
	}
	if m := most.Load(); m != limit {
		t.Errorf("at most %d lookups at once, want %d", m, limit)
	}
}

// TryName never waits: not ok while the lookup runs, the name once it
// has ended.
func TestTryName(t *testing.T) {
	release := make(chan struct{})
	c := New(Config{Lookup: func(_ context.Context, _ string) ([]string, error) {
		<-release
		return []string{"r1.lab."}, nil
	}})
	if n, ok := c.TryName(addr(1)); ok || n != "" {
		t.Errorf("lookup running: TryName = %q, %v; want not ok", n, ok)
	}
	close(release)
	if n := c.Name(addr(1)); n != "r1.lab" {
		t.Fatalf("Name = %q", n)
	}
	if n, ok := c.TryName(addr(1)); !ok || n != "r1.lab" {
		t.Errorf("lookup ended: TryName = %q, %v; want r1.lab", n, ok)
	}
}
