package stats

import (
	"testing"
	"time"
)

func BenchmarkRTTAdd(b *testing.B) {
	b.ReportAllocs()
	var r RTT
	for i := 0; b.Loop(); i++ {
		r.Add(time.Duration(i & 0xffff))
	}
}

func BenchmarkSamplesAdd(b *testing.B) {
	b.ReportAllocs()
	s := NewSamples(1000)
	for i := 0; b.Loop(); i++ {
		s.Add(time.Duration(i))
	}
}

func BenchmarkJitterAdd(b *testing.B) {
	b.ReportAllocs()
	var j Jitter
	for i := 0; b.Loop(); i++ {
		j.AddTransit(time.Duration(i & 0xff))
	}
}
