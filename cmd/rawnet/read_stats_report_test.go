package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rawnet/rawnet/stats"
)

// read --stats writes its *_ms fields as every other command does
// (jsonl.Ms): to the nanosecond, not cut to microseconds.
func TestStatsRTTInMsToTheNanosecond(t *testing.T) {
	var r stats.RTT
	r.Add(1234567 * time.Nanosecond)
	b, err := json.Marshal(newRTTReport(&r))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"rtt_min_ms":1.234567,`) {
		t.Errorf("got %s, want rtt_min_ms 1.234567", b)
	}
}
