package exporter

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// gateResolver answers a lookup only once want lookups wait at once, and
// records the most it saw at once; after 2s without that every lookup
// fails (a sequential expander's first waits that long, the rest fail at
// once).
type gateResolver struct {
	want int

	mu       sync.Mutex
	inFlight int
	most     int
	open     chan struct{}
	once     sync.Once
}

func (g *gateResolver) LookupNetIP(ctx context.Context, _, host string) ([]netip.Addr, error) {
	g.mu.Lock()
	g.inFlight++
	g.most = max(g.most, g.inFlight)
	if g.inFlight == g.want {
		g.once.Do(func() { close(g.open) })
	}
	g.mu.Unlock()
	defer func() { g.mu.Lock(); g.inFlight--; g.mu.Unlock() }()
	select {
	case <-g.open:
	case <-time.After(2 * time.Second):
		g.once.Do(func() { close(g.open) })
		return nil, fmt.Errorf("%s: %d lookups at once, want %d", host, g.most, g.want)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var n int
	fmt.Sscanf(host, "h%d.example", &n)
	return []netip.Addr{netip.AddrFrom4([4]byte{198, 18, 7, byte(n)})}, nil
}

// Every runner's hosts expand with maxLookups names looked up at once,
// and no more: 40 names resolve (in the file's order, addresses between
// them kept in place) only if maxLookups lookups wait together.
func TestExpandHostsLooksUpConcurrently(t *testing.T) {
	g := &gateResolver{want: maxLookups, open: make(chan struct{})}
	env := &Env{Resolver: g, Logger: slog.New(slog.DiscardHandler)}
	var hosts []string
	for i := range 40 {
		hosts = append(hosts, fmt.Sprintf("h%d.example", i))
		if i == 20 {
			hosts = append(hosts, "198.18.9.9")
		}
	}
	got := expandHosts(t.Context(), env, "g", hosts, netip.Addr{}, false, map[string]netip.Addr{}, func(h string, err error) {
		t.Errorf("%s: %v", h, err)
	})
	if len(got) != len(hosts) {
		t.Fatalf("%d addresses for %d hosts", len(got), len(hosts))
	}
	for i, h := range got {
		if h.host != hosts[i] {
			t.Errorf("address %d is %v, want host %s", i, h, hosts[i])
		}
	}
	if g.most != maxLookups {
		t.Errorf("at most %d lookups at once, want %d", g.most, maxLookups)
	}
	// literal: the names wait for the next round, the address is there.
	lit := expandHosts(t.Context(), env, "g", hosts, netip.Addr{}, true, map[string]netip.Addr{}, func(string, error) {})
	if len(lit) != 1 || lit[0].addr != netip.MustParseAddr("198.18.9.9") {
		t.Errorf("literal round: %v, want only 198.18.9.9", lit)
	}
}
