package exporter

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultGrace is how long the Store keeps series nobody holds: long enough
// for a reload's new runner (which acquires a target's series only once its
// name resolves) to take over the old runner's counters without a reset.
const DefaultGrace = time.Minute

// Store keeps the exporter's metric series across reloads. A runner
// acquires a target's series by key when it starts probing it and releases
// them when it stops; series nobody has held for Grace are dropped (at the
// next scrape), so a target removed from the file disappears, and one kept
// through a reload continues its counters.
//
// Store is an unchecked prometheus.Collector (its Describe sends nothing):
// groups add their own labels, so one metric name has different label
// names in different groups, which the exposition format allows.
type Store struct {
	Grace time.Duration
	mu    sync.Mutex
	m     map[string]*storeEntry
	now   func() time.Time
}

type storeEntry struct {
	c        prometheus.Collector
	refs     int
	released time.Time
}

// NewStore returns an empty store with DefaultGrace.
func NewStore() *Store {
	return &Store{Grace: DefaultGrace, m: map[string]*storeEntry{}, now: time.Now}
}

// Acquire returns the series stored under key, made with mk if there are
// none, and holds them until Release.
func (s *Store) Acquire(key string, mk func() prometheus.Collector) prometheus.Collector {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[key]
	if e == nil {
		e = &storeEntry{c: mk()}
		s.m[key] = e
	}
	e.refs++
	return e.c
}

// Release gives up one hold on key's series.
func (s *Store) Release(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[key]; e != nil && e.refs > 0 {
		e.refs--
		if e.refs == 0 {
			e.released = s.now()
		}
	}
}

// Len is the number of stored series sets.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Describe sends nothing: the Store is an unchecked collector.
func (s *Store) Describe(chan<- *prometheus.Desc) {}

// Collect drops series released more than Grace ago and collects the rest.
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	now := s.now()
	cs := make([]prometheus.Collector, 0, len(s.m))
	for k, e := range s.m {
		if e.refs == 0 && now.Sub(e.released) > s.Grace {
			delete(s.m, k)
			continue
		}
		cs = append(cs, e.c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.Collect(ch)
	}
}
