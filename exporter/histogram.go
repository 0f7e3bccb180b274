package exporter

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Histogram is rawnet's round-trip and delay histogram: a
// prometheus.Metric (and Collector) that writes, for any sequence of
// observations, the same dto.Histogram as client_golang's histogram with
// HistogramOpts (classic RTTBuckets, native buckets of factor 1.1 at most
// 100 of them, a reset at most once an hour when they overflow), which
// exporter/histogram_test.go checks against client_golang itself.
//
// It exists for its size. client_golang's histogram keeps two sets of
// counts (hot and cold, for lock-free observing) and its native buckets in
// sync.Maps at about 100 bytes a bucket: about 2 KB a target. Writing it
// allocated a dto.Bucket, a count and a bound for each of the 20 classic
// buckets: 2.9 of the 4.3 MB a scrape of 1,024 targets allocated. Here one
// mutex guards one set of counts (the engine observes, a scrape writes),
// the classic counts are inline, the native ones a dense slice indexed by
// bucket key, and Write shares what is the same for every histogram: the
// upper bounds, the leading buckets with nothing in them and the trailing
// buckets that hold every observation (fullBuckets). Observe allocates
// only when a native bucket beyond the slice's ends is first hit.
type Histogram struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair // shared, never changed
	cfg    *histogramConfig

	mu       sync.Mutex
	count    uint64
	sum      float64
	classic  [rttBucketCount]uint64 // per bucket, not cumulative; the +Inf one is count minus their sum
	zero     uint64                 // native zero bucket
	schema   int32
	pos, neg nativeBuckets
	created  time.Time // the last reset, or when the histogram was made
	resetDue bool      // a reset is due at created+cfg.minReset
}

// rttBucketCount is the number of classic buckets (RTTBuckets), +Inf apart.
const rttBucketCount = 20

// histogramConfig is what HistogramOpts sets, as Histogram uses it; now is
// the clock (tests set their own).
type histogramConfig struct {
	bounds        [rttBucketCount]float64
	schema        int32 // the initial native schema
	zeroThreshold float64
	maxBuckets    int32
	minReset      time.Duration
	now           func() time.Time
	zeroBuckets   [rttBucketCount]dto.Bucket // cumulative count 0, shared by every Write
	full          fullBuckets
}

var zeroCount uint64 // what every empty bucket's count points to

// rttHistogramConfig is the configuration of every Histogram the exporter
// makes.
var rttHistogramConfig = sync.OnceValue(func() *histogramConfig {
	return newHistogramConfig(HistogramOpts("", "", nil), time.Now)
})

// newHistogramConfig turns o into a histogramConfig. It supports what
// HistogramOpts uses and panics on anything else (a programming error).
func newHistogramConfig(o prometheus.HistogramOpts, now func() time.Time) *histogramConfig {
	if len(o.Buckets) != rttBucketCount || o.NativeHistogramMaxZeroThreshold != 0 || o.NativeHistogramMaxExemplars != 0 ||
		o.NativeHistogramZeroThreshold < 0 || o.NativeHistogramBucketFactor <= 1 {
		panic(fmt.Sprintf("exporter: Histogram does not support these options: %+v", o))
	}
	c := &histogramConfig{
		schema:        nativeSchema(o.NativeHistogramBucketFactor),
		zeroThreshold: o.NativeHistogramZeroThreshold,
		maxBuckets:    int32(o.NativeHistogramMaxBucketNumber),
		minReset:      o.NativeHistogramMinResetDuration,
		now:           now,
	}
	if c.schema > maxSchema {
		panic(fmt.Sprintf("exporter: Histogram supports native schemas up to %d, not %d", maxSchema, c.schema))
	}
	if c.zeroThreshold == 0 {
		c.zeroThreshold = prometheus.DefNativeHistogramZeroThreshold
	}
	copy(c.bounds[:], o.Buckets)
	for i := range c.bounds {
		if i > 0 && c.bounds[i] <= c.bounds[i-1] || math.IsInf(c.bounds[i], 0) {
			panic(fmt.Sprintf("exporter: Histogram bounds must increase and be finite: %v", o.Buckets))
		}
		c.zeroBuckets[i] = dto.Bucket{CumulativeCount: &zeroCount, UpperBound: &c.bounds[i]}
	}
	c.full.cfg = c
	return c
}

// nativeSchema is the native schema of bucket factor f: the largest n in
// -4..8 with 2^(2^-n) <= f, as client_golang picks it.
func nativeSchema(f float64) int32 {
	n := -math.Floor(math.Log2(math.Log2(f)))
	return int32(max(-4, min(8, n)))
}

// maxSchema is the highest native schema Histogram supports: the boundaries
// below are those of schema 3, of which 2 and 1 use every second and fourth.
const maxSchema = 3

// schema3Bounds are the fractions (of a power of two) at which the native
// buckets of schema 3 end: 2^(i/8-1), i = 0..7, as the float64 values the
// Prometheus client libraries use. Three of them are an ulp off the
// correctly rounded value, and an observation that falls exactly on one
// must land in the same bucket as with client_golang (tested).
var schema3Bounds = [8]float64{
	0.5, 0.5452538663326288, 0.5946035575013605, 0.6484197773255048,
	0.7071067811865475, 0.7711054127039704, 0.8408964152537144, 0.9170040432046711,
}

// nativeKey is the native bucket of |v| (v not NaN, |v| above the zero
// threshold) at schema s: bucket k holds (2^((k-1)/2^s), 2^(k/2^s)]. ±Inf
// has the bucket after that of math.MaxFloat64.
func nativeKey(v float64, s int32) int32 {
	v = math.Abs(v)
	inf := math.IsInf(v, 1)
	if inf {
		v = math.MaxFloat64
	}
	frac, exp := math.Frexp(v) // v = frac * 2^exp, frac in [0.5, 1)
	var k int
	if s > 0 {
		n, stride := 1<<s, 1<<(maxSchema-s)
		i := 0
		for i < n && schema3Bounds[i*stride] < frac {
			i++
		}
		k = i + (exp-1)*n
	} else {
		k = exp
		if frac == 0.5 {
			k-- // a power of two ends its bucket
		}
		k = (k + 1<<-s - 1) >> -s
	}
	if inf {
		k++
	}
	return int32(k)
}

// nativeBuckets are the native buckets of one sign: counts[i] is bucket
// base+i; a count of 0 is a bucket not populated; n are populated.
type nativeBuckets struct {
	base   int32
	n      int32
	counts []uint64
}

// add adds one to bucket k. The slice grows by half again when k lies
// beyond its ends, towards k; when it is empty it moves to k instead.
func (b *nativeBuckets) add(k int32) {
	if b.n == 0 {
		b.base = k - int32(len(b.counts))/2
	}
	i := int(k - b.base)
	if i < 0 || i >= len(b.counts) {
		b.grow(k)
		i = int(k - b.base)
	}
	if b.counts[i] == 0 {
		b.n++
	}
	b.counts[i]++
}

func (b *nativeBuckets) grow(k int32) {
	lo, hi := min(k, b.base), max(k, b.base+int32(len(b.counts))-1)
	if len(b.counts) == 0 {
		lo, hi = k, k
	}
	slack := (hi-lo+1)/2 + 1
	if k < b.base {
		lo -= slack
	} else {
		hi += slack
	}
	c := make([]uint64, hi-lo+1)
	copy(c[b.base-lo:], b.counts)
	b.base, b.counts = lo, c
}

// halve merges pairs of buckets into the buckets of the schema below (key
// k goes to ceil(k/2)), in place.
func (b *nativeBuckets) halve() {
	if len(b.counts) == 0 {
		return
	}
	base := (b.base + 1) >> 1
	last := (b.base + int32(len(b.counts))) >> 1 // the new key of the last slot
	b.n = 0
	for i, n := range b.counts {
		b.counts[i] = 0
		j := (b.base+int32(i)+1)>>1 - base // <= i: nothing unread is overwritten
		if b.counts[j] == 0 && n > 0 {
			b.n++
		}
		b.counts[j] += n
	}
	b.base, b.counts = base, b.counts[:last-base+1]
}

func (b *nativeBuckets) reset() { clear(b.counts); b.n = 0 }

// NewHistogram makes a histogram of the metric that desc describes, with
// labels (prometheus.MakeLabelPairs of desc's variable labels; kept and
// shared, never changed).
func NewHistogram(desc *prometheus.Desc, labels []*dto.LabelPair) *Histogram {
	h := &Histogram{}
	h.init(desc, labels, rttHistogramConfig())
	return h
}

func (h *Histogram) init(desc *prometheus.Desc, labels []*dto.LabelPair, cfg *histogramConfig) {
	h.desc, h.labels, h.cfg = desc, labels, cfg
	h.schema = cfg.schema
	h.created = cfg.now()
}

// Observe adds v.
func (h *Histogram) Observe(v float64) {
	h.mu.Lock()
	h.resetIfDue()
	h.observe(v)
	if h.pos.n+h.neg.n > h.cfg.maxBuckets && h.cfg.maxBuckets > 0 && !math.IsNaN(v) {
		h.limit(v)
	}
	h.mu.Unlock()
}

// observe adds v to the counts; NaN has no native bucket.
func (h *Histogram) observe(v float64) {
	h.count++
	h.sum += v
	if i := h.classicBucket(v); i < rttBucketCount {
		h.classic[i]++
	}
	switch {
	case math.IsNaN(v):
	case v > h.cfg.zeroThreshold:
		h.pos.add(nativeKey(v, h.schema))
	case v < -h.cfg.zeroThreshold:
		h.neg.add(nativeKey(v, h.schema))
	default:
		h.zero++
	}
}

// classicBucket is the first bucket whose bound is at least v, or
// rttBucketCount (+Inf, NaN).
func (h *Histogram) classicBucket(v float64) int {
	lo, hi := 0, rttBucketCount
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if h.cfg.bounds[m] < v || math.IsNaN(v) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// limit brings the native buckets back under cfg.maxBuckets after v made
// them too many, as client_golang does: a reset (keeping v) if the last one
// is at least cfg.minReset ago and none is due, otherwise a reset is made
// due cfg.minReset after the last one and the resolution is halved (once
// per observation; the schema stops at -4). The zero bucket is never
// widened: HistogramOpts sets no maximum zero threshold.
func (h *Histogram) limit(v float64) {
	if h.cfg.minReset > 0 && !h.resetDue {
		if now := h.cfg.now(); now.Sub(h.created) >= h.cfg.minReset {
			h.reset(now)
			h.observe(v)
			return
		}
		h.resetDue = true
	}
	if h.schema > -4 {
		h.schema--
		h.pos.halve()
		h.neg.halve()
	}
}

// resetIfDue makes the reset that limit made due, once its time has come:
// client_golang runs it from a timer, here the next Observe or Write does,
// dated when it was due.
func (h *Histogram) resetIfDue() {
	if !h.resetDue {
		return
	}
	if at := h.created.Add(h.cfg.minReset); !h.cfg.now().Before(at) {
		h.reset(at)
	}
}

func (h *Histogram) reset(at time.Time) {
	h.count, h.sum, h.zero = 0, 0, 0
	h.classic = [rttBucketCount]uint64{}
	h.schema = h.cfg.schema
	h.pos.reset()
	h.neg.reset()
	h.created, h.resetDue = at, false
}

// Desc is the histogram's descriptor.
func (h *Histogram) Desc() *prometheus.Desc { return h.desc }

// Describe sends the descriptor.
func (h *Histogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect sends the histogram itself.
func (h *Histogram) Collect(ch chan<- prometheus.Metric) { ch <- h }

// histogramOut is what Write allocates in one piece: the dto.Histogram with
// what its pointers point to, room for two native spans and the classic
// bucket pointers. Only the classic buckets that are neither empty nor full,
// more than two spans and the native deltas need allocations of their own.
type histogramOut struct {
	h                  dto.Histogram
	created            timestamppb.Timestamp
	count, zero        uint64
	sum, zeroThreshold float64
	schema             int32
	buckets            [rttBucketCount]*dto.Bucket
	spanPtrs           [2]*dto.BucketSpan
	spans              [2]spanOut
}

type spanOut struct {
	s      dto.BucketSpan
	offset int32
	length uint32
}

type bucketOut struct {
	b dto.Bucket
	n uint64
}

// Write writes the histogram into out.
func (h *Histogram) Write(out *dto.Metric) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resetIfDue()
	o := &histogramOut{count: h.count, sum: h.sum, zero: h.zero, zeroThreshold: h.cfg.zeroThreshold, schema: h.schema}
	o.created.Seconds, o.created.Nanos = h.created.Unix(), int32(h.created.Nanosecond())
	o.h = dto.Histogram{SampleCount: &o.count, SampleSum: &o.sum, CreatedTimestamp: &o.created,
		Schema: &o.schema, ZeroThreshold: &o.zeroThreshold, ZeroCount: &o.zero}
	h.writeClassic(o)
	h.writeNative(o)
	out.Label = h.labels
	out.Histogram = &o.h
	return nil
}

// writeClassic fills o's cumulative buckets: empty ones are the config's,
// full ones (every observation below the bound) shared by every histogram
// of the same count, the rest allocated together.
func (h *Histogram) writeClassic(o *histogramOut) {
	var cum uint64
	mid := 0
	for _, n := range h.classic {
		cum += n
		if cum != 0 && cum != h.count {
			mid++
		}
	}
	var mids []bucketOut
	if mid > 0 {
		mids = make([]bucketOut, mid)
	}
	var full *[rttBucketCount]dto.Bucket
	if cum == h.count && h.count > 0 {
		full = h.cfg.full.get(h.count)
	}
	cum, mid = 0, 0
	for i, n := range h.classic {
		cum += n
		switch {
		case cum == 0:
			o.buckets[i] = &h.cfg.zeroBuckets[i]
		case cum == h.count:
			o.buckets[i] = &full[i]
		default:
			m := &mids[mid]
			mid++
			m.n = cum
			m.b = dto.Bucket{CumulativeCount: &m.n, UpperBound: &h.cfg.bounds[i]}
			o.buckets[i] = &m.b
		}
	}
	o.h.Bucket = o.buckets[:]
}

// writeNative fills o's native spans and deltas as client_golang encodes
// them: a span starts at the first populated bucket and after every gap of
// more than two empty buckets; smaller gaps are written as empty buckets.
func (h *Histogram) writeNative(o *histogramOut) {
	np, lp := h.pos.spans()
	nn, ln := h.neg.spans()
	if np+nn == 0 {
		if h.cfg.zeroThreshold == 0 && h.zero == 0 {
			o.h.PositiveSpan = noopSpan // or scrapers take it for a classic histogram
		}
		return
	}
	spans := o.spans[:]
	if np+nn > len(spans) {
		spans = make([]spanOut, np+nn)
	}
	ptrs := o.spanPtrs[:]
	if np+nn > len(ptrs) {
		ptrs = make([]*dto.BucketSpan, np+nn)
	}
	deltas := make([]int64, lp+ln)
	if np > 0 {
		o.h.PositiveSpan, o.h.PositiveDelta = h.pos.encode(spans[:np], ptrs[:np:np], deltas[:lp:lp])
	}
	if nn > 0 {
		o.h.NegativeSpan, o.h.NegativeDelta = h.neg.encode(spans[np:np+nn], ptrs[np:np+nn:np+nn], deltas[lp:])
	}
}

var noopSpan = []*dto.BucketSpan{{Offset: new(int32), Length: new(uint32)}}

// maxSpanGap is the longest run of empty buckets written inside a span.
const maxSpanGap = 2

// spans counts the spans and the buckets they cover (deltas).
func (b *nativeBuckets) spans() (spans, length int) {
	last := 0 // index after the last populated bucket
	for i, n := range b.counts {
		if n == 0 {
			continue
		}
		if spans == 0 || i-last > maxSpanGap {
			spans++
			length++
		} else {
			length += i - last + 1
		}
		last = i + 1
	}
	return spans, length
}

// encode writes the spans and deltas into the room given, which spans sized.
func (b *nativeBuckets) encode(room []spanOut, ptrs []*dto.BucketSpan, deltas []int64) ([]*dto.BucketSpan, []int64) {
	s, d := -1, 0
	var prev uint64
	next := int(-b.base) // the key after the last populated bucket, relative to base; the first span's offset is from key 0
	for i, n := range b.counts {
		if n == 0 {
			continue
		}
		if gap := i - next; s < 0 || gap > maxSpanGap {
			s++
			room[s].offset = int32(gap)
			room[s].s = dto.BucketSpan{Offset: &room[s].offset, Length: &room[s].length}
			ptrs[s] = &room[s].s
		} else {
			for range gap {
				deltas[d] = -int64(prev)
				prev = 0
				d++
				room[s].length++
			}
		}
		deltas[d] = int64(n) - int64(prev)
		prev = n
		d++
		room[s].length++
		next = i + 1
	}
	return ptrs, deltas
}

// fullBuckets keeps the classic buckets of the last few counts that
// scrapes wrote, each bucket holding every observation: histograms of the
// same count share them (targets probed at the same interval mostly have
// the same count). Never changed once made, so that any number of scrapes
// may read them.
type fullBuckets struct {
	cfg  *histogramConfig
	mu   sync.Mutex
	sets [4]*fullSet
	next int
}

type fullSet struct {
	n uint64
	b [rttBucketCount]dto.Bucket
}

func (f *fullBuckets) get(n uint64) *[rttBucketCount]dto.Bucket {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sets {
		if s != nil && s.n == n {
			return &s.b
		}
	}
	s := &fullSet{n: n}
	for i := range s.b {
		s.b[i] = dto.Bucket{CumulativeCount: &s.n, UpperBound: &f.cfg.bounds[i]}
	}
	f.sets[f.next] = s
	f.next = (f.next + 1) % len(f.sets)
	return &s.b
}
