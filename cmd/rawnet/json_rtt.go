package main

import (
	"time"

	"github.com/rawnet/rawnet/internal/jsonl"
	"github.com/rawnet/rawnet/stats"
)

// jsonRTTRange is the rtt_min_ms, rtt_avg_ms and rtt_max_ms block of the
// ping, udp probe and interval JSON objects, null without a round trip.
// Embedded, its keys stay at the place of the embedding field.
type jsonRTTRange struct {
	RTTMinMs *float64 `json:"rtt_min_ms"`
	RTTAvgMs *float64 `json:"rtt_avg_ms"`
	RTTMaxMs *float64 `json:"rtt_max_ms"`
}

// jsonRTT is jsonRTTRange and rtt_mdev_ms.
type jsonRTT struct {
	jsonRTTRange
	RTTMdevMs *float64 `json:"rtt_mdev_ms"`
}

func newJSONRTTRange(r *stats.RTT) jsonRTTRange {
	if r.Count() == 0 {
		return jsonRTTRange{}
	}
	return jsonRTTRange{msp(r.Min()), msp(r.Avg()), msp(r.Max())}
}

func newJSONRTT(r *stats.RTT) jsonRTT {
	if r.Count() == 0 {
		return jsonRTT{}
	}
	return jsonRTT{newJSONRTTRange(r), msp(r.Mdev())}
}

// msp is jsonl.Ms for an optional field.
func msp(d time.Duration) *float64 { v := jsonl.Ms(d); return &v }
