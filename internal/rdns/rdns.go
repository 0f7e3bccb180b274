// Package rdns looks up the names of addresses (reverse DNS) for output
// that shows them, as trace's text does: each address once, several at a
// time, each lookup bounded by a timeout, so that a slow or silent DNS
// server delays a line by at most that long and never holds up probing.
package rdns

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Defaults for a zero Config.
const (
	DefaultTimeout  = 2 * time.Second
	DefaultParallel = 16
)

// LookupFunc returns the names of an address, as net.Resolver.LookupAddr.
type LookupFunc func(ctx context.Context, addr string) ([]string, error)

// Config says how a Cache looks names up; the zero value is the system
// resolver, DefaultTimeout and DefaultParallel.
type Config struct {
	Timeout  time.Duration // per lookup, from its start
	Parallel int           // lookups at once; more wait for a turn
	Lookup   LookupFunc    // nil: net.DefaultResolver.LookupAddr
}

// Cache looks each address up once and remembers the name. It is safe for
// concurrent use.
type Cache struct {
	cfg   Config
	turns chan struct{} // a slot per lookup running
	mu    sync.Mutex
	m     map[netip.Addr]*entry
}

type entry struct {
	done chan struct{} // closed when name is set
	name string
}

// New returns an empty Cache.
func New(cfg Config) *Cache {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = DefaultParallel
	}
	if cfg.Lookup == nil {
		cfg.Lookup = net.DefaultResolver.LookupAddr
	}
	return &Cache{cfg: cfg, turns: make(chan struct{}, cfg.Parallel), m: map[netip.Addr]*entry{}}
}

// Prefetch starts looking a up, unless it was already, and returns at
// once.
func (c *Cache) Prefetch(a netip.Addr) { c.entry(a) }

// Name waits for a's lookup (starting it if need be) and returns the
// first name without its trailing dot, or "" when there is none, the
// lookup failed or its timeout passed.
func (c *Cache) Name(a netip.Addr) string {
	e := c.entry(a)
	<-e.done
	return e.name
}

// TryName is Name for a caller that must not wait (a live view): it
// starts a's lookup if need be and reports ok only once the lookup has
// ended.
func (c *Cache) TryName(a netip.Addr) (name string, ok bool) {
	e := c.entry(a)
	select {
	case <-e.done:
		return e.name, true
	default:
		return "", false
	}
}

func (c *Cache) entry(a netip.Addr) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[a]; ok {
		return e
	}
	e := &entry{done: make(chan struct{})}
	c.m[a] = e
	go c.lookup(a, e)
	return e
}

func (c *Cache) lookup(a netip.Addr, e *entry) {
	defer close(e.done)
	c.turns <- struct{}{}
	defer func() { <-c.turns }()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	if names, err := c.cfg.Lookup(ctx, a.String()); err == nil && len(names) > 0 {
		e.name = strings.TrimSuffix(names[0], ".")
	}
}
