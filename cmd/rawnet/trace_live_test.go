package main

import (
	"context"
	"net/netip"
	"testing"

	"github.com/rawnet/rawnet/trace"
	"github.com/rawnet/rawnet/trace/live"
)

// A run cut short (pause, quit) reports its waiting probes as timed out;
// those events must not reach the view, but cycles go on being numbered
// and counted.
func TestLiveSinkDropsWhatACutRunReports(t *testing.T) {
	feed := live.NewFeed(100)
	r := newLiveRunner(trace.Config{Targets: []netip.Addr{netip.MustParseAddr("198.18.1.2")}}, nil, feed)
	ctx, cancel := context.WithCancel(context.Background())
	r.cur = ctx
	r.base[0] = 7
	hop := trace.Event{Kind: trace.EventHop, Hop: &trace.Hop{TTL: 1, Probes: []trace.Probe{{Timeout: true}}}}
	done := trace.Event{Kind: trace.EventDone, Result: &trace.Result{Reached: true}}
	_ = r.sink(hop)
	_ = r.sink(done)
	items, _ := feed.Take(nil)
	if len(items) != 2 || items[0].Cycle != 7 || r.done[0] != 1 || !r.reached[0] {
		t.Fatalf("running: %d events (cycle %d), %d cycles done; want 2 events of cycle 7 and 1 done", len(items), items[0].Cycle, r.done[0])
	}
	cancel()
	_ = r.sink(hop)
	_ = r.sink(trace.Event{Kind: trace.EventDone, Result: &trace.Result{Interrupted: true}})
	if items, _ := feed.Take(items); len(items) != 0 || r.done[0] != 1 {
		t.Errorf("after the cut: %d events reached the view, %d cycles done; want none and still 1", len(items), r.done[0])
	}
}
