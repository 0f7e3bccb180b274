package live

import (
	"sync"
	"sync/atomic"

	"github.com/rawnet/rawnet/trace"
)

// Item is one engine event, copied out of the engine's storage.
type Item struct {
	Kind   trace.EventKind
	Target int
	Cycle  int
	Hop    trace.Hop // Probes' Labels point into labels
	Result trace.Result
	labels []trace.MPLSLabel
}

// set copies ev into it, reusing its slices.
func (it *Item) set(ev *trace.Event) {
	it.Kind, it.Target, it.Cycle = ev.Kind, ev.Target, ev.Cycle
	it.Hop.TTL, it.Hop.Probes, it.labels = 0, it.Hop.Probes[:0], it.labels[:0]
	it.Result = trace.Result{}
	if ev.Hop != nil {
		it.Hop.TTL = ev.Hop.TTL
		for i := range ev.Hop.Probes {
			it.labels = append(it.labels, ev.Hop.Probes[i].Labels...)
		}
		n := 0
		for i := range ev.Hop.Probes {
			p := ev.Hop.Probes[i]
			k := len(p.Labels)
			p.Labels = it.labels[n : n+k : n+k]
			n += k
			it.Hop.Probes = append(it.Hop.Probes, p)
		}
	}
	if ev.Result != nil {
		it.Result = *ev.Result
		it.Result.Links = nil // the view does not draw multipath links
	}
}

// Feed carries the engine's events to the view without ever making the
// engine wait for it: Put copies an event into a buffer under a lock that
// the view holds only to swap buffers, and wakes the view if it sleeps.
// When the view falls more than Max events behind (a stalled terminal),
// further events are dropped and counted rather than queued without end.
//
// While Discard is set (the view is paused), events are dropped and not
// counted: a paused view's statistics stay as they were.
type Feed struct {
	mu      sync.Mutex
	cur     []Item
	max     int
	dropped uint64
	discard atomic.Bool
	ready   chan struct{}
}

// NewFeed returns a feed that holds at most max events between two Takes.
func NewFeed(max int) *Feed {
	if max < 1 {
		max = 1
	}
	return &Feed{max: max, ready: make(chan struct{}, 1)}
}

// Put copies ev into the feed. It never waits for the reader; in steady
// state it allocates nothing (the buffers are reused).
func (f *Feed) Put(ev trace.Event) {
	if f.discard.Load() {
		return
	}
	f.mu.Lock()
	if len(f.cur) >= f.max {
		f.dropped++
	} else {
		if len(f.cur) < cap(f.cur) {
			f.cur = f.cur[:len(f.cur)+1]
		} else {
			f.cur = append(f.cur, Item{})
		}
		f.cur[len(f.cur)-1].set(&ev)
	}
	f.mu.Unlock()
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

// SetDiscard turns dropping every event on or off (pause).
func (f *Feed) SetDiscard(on bool) { f.discard.Store(on) }

// Ready is signalled after a Put; one signal may stand for many events.
func (f *Feed) Ready() <-chan struct{} { return f.ready }

// Take returns the events put since the last Take and the count of events
// dropped so far, and hands spare (the slice the previous Take returned)
// back to the feed for reuse.
func (f *Feed) Take(spare []Item) (items []Item, dropped uint64) {
	f.mu.Lock()
	items, f.cur = f.cur, spare[:0]
	dropped = f.dropped
	f.mu.Unlock()
	return items, dropped
}
