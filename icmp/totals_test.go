package icmp

import (
	"testing"
	"time"
)

func TestSummaryTotals(t *testing.T) {
	var s Summary
	s.Targets = make([]TargetStats, 3)
	s.Targets[0].Transmitted, s.Targets[0].Received = 4, 2
	s.Targets[0].RTT.Add(2 * time.Millisecond)
	s.Targets[0].RTT.Add(4 * time.Millisecond)
	s.Targets[1].Transmitted = 4 // silent
	s.Targets[2].Transmitted, s.Targets[2].Received = 4, 1
	s.Targets[2].RTT.Add(9 * time.Millisecond)
	got := s.Totals()
	want := Totals{Targets: 3, Alive: 2, Transmitted: 12, Received: 3,
		MinRTT: 2 * time.Millisecond, AvgRTT: 5 * time.Millisecond, MaxRTT: 9 * time.Millisecond}
	if got != want {
		t.Errorf("Totals = %+v, want %+v", got, want)
	}
	if l := got.LossPct(); l != 75 {
		t.Errorf("Loss = %v, want 75", l)
	}
	if r := s.Received(); r != 3 {
		t.Errorf("Received = %d", r)
	}
	if z := (&Summary{Targets: make([]TargetStats, 2)}).Totals(); z != (Totals{Targets: 2}) {
		t.Errorf("no probes: %+v", z)
	}
}
