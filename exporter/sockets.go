package exporter

import (
	"errors"
	"io"
	"net/netip"
	"sort"
	"sync"
)

// ErrSocketNotOpen is returned (wrapped) when a reload needs a socket the
// exporter did not open at start: it has dropped the privileges to open
// one, so the file can only use such a socket after a restart.
var ErrSocketNotOpen = errors.New("needs a socket the exporter did not open at start (capabilities are dropped after start): restart the exporter for it")

// SocketKey says which socket a runner needs: the exporter opens one per
// distinct key and shares it among every runner with that key.
type SocketKey struct {
	Kind      string // "icmp", "tcp", "udp", or a trace method; the builder's choice
	V6        bool
	TOS       int
	Source    netip.Addr
	Interface string
}

// Sockets is the exporter's socket pool. While the first configuration is
// built, Get opens what is missing; after Seal it only hands out what is
// open.
type Sockets struct {
	mu     sync.Mutex
	open   map[SocketKey]io.Closer
	sealed bool
}

// NewSockets returns an empty, unsealed pool.
func NewSockets() *Sockets { return &Sockets{open: map[SocketKey]io.Closer{}} }

// Get returns the socket for key, opening it with open if the pool is not
// sealed yet. open's result is kept until Close.
func (s *Sockets) Get(key SocketKey, open func() (io.Closer, error)) (io.Closer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.open[key]; ok {
		return c, nil
	}
	if s.sealed {
		return nil, ErrSocketNotOpen
	}
	c, err := open()
	if err != nil {
		return nil, err
	}
	s.open[key] = c
	return c, nil
}

// Seal stops the pool from opening sockets (call it before dropping
// capabilities, or instead of it when there are none to drop).
func (s *Sockets) Seal() {
	s.mu.Lock()
	s.sealed = true
	s.mu.Unlock()
}

// each calls fn for every open socket, under the pool's lock.
func (s *Sockets) each(fn func(SocketKey, any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, c := range s.open {
		fn(k, c)
	}
}

// Keys lists the open sockets' keys, for logs and tests.
func (s *Sockets) Keys() []SocketKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]SocketKey, 0, len(s.open))
	for k := range s.open {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	return keys
}

func keyLess(a, b SocketKey) bool {
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	if a.V6 != b.V6 {
		return !a.V6
	}
	if a.TOS != b.TOS {
		return a.TOS < b.TOS
	}
	if a.Source != b.Source {
		return a.Source.Less(b.Source)
	}
	return a.Interface < b.Interface
}

// Close closes every socket; the pool is empty and sealed afterwards.
func (s *Sockets) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for k, c := range s.open {
		errs = append(errs, c.Close())
		delete(s.open, k)
	}
	s.sealed = true
	return errors.Join(errs...)
}
