package wirertt

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestPairFirstProbeFirstAnswer(t *testing.T) {
	rows := []Row{
		{NS: 100, Req: true, Seq: 1, TTL: 1},
		{NS: 150, Req: true, Seq: 2, TTL: 2},
		{NS: 160, Req: true, Seq: 1, TTL: 9}, // a repeated probe: the first counts
		{NS: 400, Seq: 2},
		{NS: 500, Seq: 1},
		{NS: 900, Seq: 1}, // a duplicate answer
		{NS: 950, Seq: 7}, // an answer to no probe
		{NS: 990, Req: true, Seq: 3, TTL: 2},
	}
	rtt, ttl := Pair(rows)
	if want := map[int]time.Duration{1: 400, 2: 250}; !reflect.DeepEqual(rtt, want) {
		t.Errorf("rtt %v, want %v", rtt, want)
	}
	if want := map[int]int{1: 1, 2: 2, 3: 2}; !reflect.DeepEqual(ttl, want) {
		t.Errorf("ttl %v, want %v", ttl, want)
	}
	by := ByTTL(map[int]time.Duration{1: 30, 2: 10, 3: 20, 4: 5}, map[int]int{1: 2, 2: 2, 3: 2, 4: 1})
	if want := map[int][]time.Duration{1: {5}, 2: {10, 20, 30}}; !reflect.DeepEqual(by, want) {
		t.Errorf("ByTTL %v, want %v", by, want)
	}
}

func TestEpochNanos(t *testing.T) {
	for s, want := range map[string]int64{
		"1700000000.123456789": 1700000000123456789,
		"1700000000.5":         1700000000500000000,
		"1700000000":           1700000000000000000,
		"0.000000001":          1,
	} {
		if got, err := EpochNanos(s); err != nil || got != want {
			t.Errorf("EpochNanos(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", ".5", "x.1", "1.x", "1.-5", "-1.5", "+1"} {
		if got, err := EpochNanos(s); err == nil {
			t.Errorf("EpochNanos(%q) = %d, want an error", s, got)
		}
	}
}

// FuzzEpochNanos: any text is a stamp or an error, and a stamp printed
// with nine decimals reads back as itself.
func FuzzEpochNanos(f *testing.F) {
	f.Add("1700000000.123456789")
	f.Add("1.")
	f.Fuzz(func(t *testing.T, s string) {
		ns, err := EpochNanos(s)
		if err != nil || ns < 0 {
			return
		}
		again := fmt.Sprintf("%d.%09d", ns/1e9, ns%1e9)
		if back, err := EpochNanos(again); err != nil || back != ns {
			t.Errorf("EpochNanos(%q) = %d, but %q reads as %d, %v", s, ns, again, back, err)
		}
	})
}
