package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// DefaultSampleCapacity is the capacity NewSamples uses when given 0 or less.
const DefaultSampleCapacity = 100_000

// Samples keeps up to a fixed number of durations and answers percentiles
// over them.
//
// Policy when full: until capacity samples have been added, Samples keeps
// every one. After that it keeps a uniform random subset of everything added
// (reservoir sampling, Vitter's Algorithm R): the k-th sample replaces a
// randomly chosen kept one with probability capacity/k. Every sample seen is
// then equally likely to be kept, so percentiles estimate those of the whole
// stream, in bounded memory; they are exact while Seen() <= Len().
type Samples struct {
	kept   []time.Duration
	sorted []time.Duration // scratch copy of kept, sorted on demand
	dirty  bool            // sorted is stale
	seen   int
	rng    *rand.Rand
}

// NewSamples returns an empty Samples that keeps at most capacity samples
// (DefaultSampleCapacity when capacity <= 0). Memory for them is allocated
// here, so Add and Percentile never allocate.
func NewSamples(capacity int) *Samples {
	if capacity <= 0 {
		capacity = DefaultSampleCapacity
	}
	return &Samples{
		kept:   make([]time.Duration, 0, capacity),
		sorted: make([]time.Duration, 0, capacity),
		rng:    rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
}

// Add records one sample, following the policy described on [Samples].
func (s *Samples) Add(d time.Duration) {
	s.seen++
	if len(s.kept) < cap(s.kept) {
		s.kept = append(s.kept, d)
		s.dirty = true
		return
	}
	if i := s.rng.Uint64N(uint64(s.seen)); i < uint64(len(s.kept)) {
		s.kept[i] = d
		s.dirty = true
	}
}

// Len is the number of samples kept.
func (s *Samples) Len() int { return len(s.kept) }

// Seen is the number of samples added, kept or not.
func (s *Samples) Seen() int { return s.seen }

// Percentile returns the p-th percentile (p in percent, e.g. 50, 90, 99,
// 99.9) of the kept samples by the nearest-rank method, with no
// interpolation: with the n kept samples sorted ascending as x1..xn, it is
// x_r for r = ceil(p/100 · n), clamped to 1..n. The result is therefore
// always one of the samples. p <= 0 gives the minimum, p >= 100 the maximum.
// With no samples, or p NaN, it returns 0.
func (s *Samples) Percentile(p float64) time.Duration {
	n := len(s.kept)
	if n == 0 || math.IsNaN(p) {
		return 0
	}
	s.sort()
	return s.sorted[nearestRank(p, n)-1]
}

// nearestRank is ceil(p/100·n) clamped to [1, n]. The small epsilon keeps
// decimal percentiles such as 99.9 from rounding up one rank when p·n/100
// is a whole number that float64 cannot hit exactly.
func nearestRank(p float64, n int) int {
	r := math.Ceil(p*float64(n)/100 - 1e-9)
	if r < 1 {
		return 1
	}
	if r > float64(n) {
		return n
	}
	return int(r)
}

func (s *Samples) sort() {
	if !s.dirty {
		return
	}
	s.sorted = append(s.sorted[:0], s.kept...)
	slices.Sort(s.sorted)
	s.dirty = false
}
