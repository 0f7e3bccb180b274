package exporter

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/rawnet/rawnet/icmp"
)

// A group's address without a socket of its family counts one send
// error, and so does every other when the engine cannot start (here: no
// socket was handed to it at all); nothing is counted twice.
func TestRunPingerCountsSendErrors(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("fd00::1")}
	series := []*ProbeSeries{
		NewProbeSeries(ProbeLabels("g", "a", addrs[0], "icmp", nil)),
		NewProbeSeries(ProbeLabels("g", "b", addrs[1], "icmp", nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the error paths wait for the group to stop
	env := &Env{Logger: slog.New(slog.DiscardHandler)}
	cfg := icmp.Config{Interval: time.Second, Cookie: newCookie()}
	runPinger(ctx, env, "g", cfg, addrs, true, false, func(i int) *ProbeSeries { return series[i] },
		func(int, icmp.Event) { t.Error("an event from an engine that did not start") })
	for i, s := range series {
		m := s.byKind["send"]
		if m == nil || m.c.Value() != 1 {
			t.Errorf("%v: send errors %v, want 1", addrs[i], m)
		}
	}
}
