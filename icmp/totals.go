package icmp

import (
	"time"

	"github.com/rawnet/rawnet/stats"
)

// Totals are a run's figures over all its targets, as fping prints them
// after the per-target lines.
type Totals struct {
	Targets     int
	Alive       int // targets that replied at least once
	Transmitted int
	Received    int
	// Round-trip times over every reply of every target; zero without
	// replies.
	MinRTT, AvgRTT, MaxRTT time.Duration
}

// Totals adds up the targets' figures.
func (s *Summary) Totals() Totals {
	t := Totals{Targets: len(s.Targets)}
	var sum time.Duration
	for i := range s.Targets {
		ts := &s.Targets[i]
		t.Transmitted += ts.Transmitted
		t.Received += ts.Received
		if ts.Received == 0 {
			continue
		}
		t.Alive++
		if t.MinRTT == 0 || ts.RTT.Min() < t.MinRTT {
			t.MinRTT = ts.RTT.Min()
		}
		t.MaxRTT = max(t.MaxRTT, ts.RTT.Max())
		sum += ts.RTT.Avg() * time.Duration(ts.RTT.Count())
	}
	if t.Received > 0 {
		t.AvgRTT = sum / time.Duration(t.Received)
	}
	return t
}

// LossPct is the share of all probes, in percent, that got no reply.
func (t *Totals) LossPct() float64 { return stats.LossPct(t.Transmitted, t.Received) }
