package stats

import (
	"math"
	"time"
)

// RTT accumulates round-trip times the way iputils ping summarises them in
// its "rtt min/avg/max/mdev" line. The zero value is ready to use.
//
// For n samples x1..xn:
//
//	avg  = (1/n) Σ xi
//	mdev = sqrt( (1/n) Σ xi² − avg² )
//
// that is, mdev is the population standard deviation (divide by n, not n−1),
// despite the name not a mean deviation. Summing squares of nanosecond values
// loses precision (and the subtraction can cancel catastrophically), so RTT
// keeps a running mean and sum of squared deviations instead (Welford's
// method), which yields the same quantity without that loss. iputils works in
// whole microseconds; RTT keeps nanoseconds, so values differ from ping's
// output only by ping's rounding.
type RTT struct {
	n        int
	min, max time.Duration
	mean     float64 // running mean, nanoseconds
	m2       float64 // sum of squared deviations from the mean, ns²
}

// Add records one round-trip time.
func (r *RTT) Add(d time.Duration) {
	if r.n == 0 || d < r.min {
		r.min = d
	}
	if r.n == 0 || d > r.max {
		r.max = d
	}
	r.n++
	x := float64(d)
	delta := x - r.mean
	r.mean += delta / float64(r.n)
	r.m2 += delta * (x - r.mean)
}

// Count is the number of samples added.
func (r *RTT) Count() int { return r.n }

// Min is the smallest sample, or 0 when there is none.
func (r *RTT) Min() time.Duration { return r.min }

// Max is the largest sample, or 0 when there is none.
func (r *RTT) Max() time.Duration { return r.max }

// Avg is the arithmetic mean, rounded to the nanosecond, or 0 when there is
// no sample.
func (r *RTT) Avg() time.Duration { return time.Duration(math.Round(r.mean)) }

// Mdev is the population standard deviation described on [RTT], rounded to
// the nanosecond; 0 for fewer than two samples.
func (r *RTT) Mdev() time.Duration {
	if r.n < 2 || r.m2 <= 0 {
		return 0
	}
	return time.Duration(math.Round(math.Sqrt(r.m2 / float64(r.n))))
}
