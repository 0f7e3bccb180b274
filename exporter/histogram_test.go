package exporter

import (
	"bytes"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// The ground truth: client_golang's own histogram with HistogramOpts, fed
// the same observations, written at the same points of the sequence.
func newReferenceHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(HistogramOpts("h", "h", nil))
}

func newTestHistogram() *Histogram {
	return NewHistogram(prometheus.NewDesc("h", "h", nil, nil), nil)
}

func writeHistogram(t *testing.T, m prometheus.Metric) *dto.Histogram {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetHistogram()
}

// sameHistogram fails unless got and want are equal, their created
// timestamps apart: each histogram dates itself when made, both in
// [made, madeEnd].
func sameHistogram(t *testing.T, what string, got, want *dto.Histogram, made, madeEnd time.Time) {
	t.Helper()
	for _, h := range []*dto.Histogram{got, want} {
		if c := h.GetCreatedTimestamp().AsTime(); c.Before(made) || c.After(madeEnd) {
			t.Fatalf("%s: created %v, not in [%v, %v]", what, c, made, madeEnd)
		}
	}
	g, w := proto.Clone(got).(*dto.Histogram), proto.Clone(want).(*dto.Histogram)
	g.CreatedTimestamp, w.CreatedTimestamp = nil, nil
	if math.IsNaN(g.GetSampleSum()) && math.IsNaN(w.GetSampleSum()) {
		g.SampleSum, w.SampleSum = nil, nil
	}
	if !proto.Equal(g, w) {
		t.Fatalf("%s:\n got %v\nwant %v", what, g, w)
	}
}

// generators of observation sequences
var histogramSequences = map[string]func(r *rand.Rand) float64{
	// RTTs around 80µs to 3ms with a few percent of spread, as a lab's
	// and a LAN's: a few native buckets
	"narrow": func(r *rand.Rand) float64 {
		return math.Exp(math.Log(80e-6)+r.Float64()*3.6) * (1 + 0.05*r.NormFloat64())
	},
	// spread over 12 decades: more than 100 native buckets, the schema
	// goes down, more than once
	"wide": func(r *rand.Rand) float64 { return math.Pow(10, -9+12*r.Float64()) },
	// one-way delays: clock offsets of either sign, zeros, values inside
	// the zero threshold
	"signed": func(r *rand.Rand) float64 {
		switch r.IntN(10) {
		case 0:
			return 0
		case 1:
			return math.Copysign(1e-40, r.NormFloat64())
		case 2:
			return -math.Pow(10, -9+12*r.Float64())
		}
		return 0.002 * r.NormFloat64()
	},
	// exactly on classic and native bucket boundaries and an ulp either
	// side, at every schema the histogram can reach
	"boundaries": func(r *rand.Rand) float64 {
		var v float64
		if r.IntN(2) == 0 {
			v = RTTBuckets[r.IntN(len(RTTBuckets))]
		} else {
			v = math.Ldexp(schema3Bounds[r.IntN(8)], r.IntN(40)-30)
		}
		switch r.IntN(3) {
		case 0:
			v = math.Nextafter(v, 0)
		case 1:
			v = math.Nextafter(v, math.Inf(1))
		}
		if r.IntN(4) == 0 {
			v = -v
		}
		return v
	},
	// the whole range of float64, either sign: the schema goes down to its
	// floor (-4) and stays there
	"whole range": func(r *rand.Rand) float64 {
		return math.Copysign(math.Ldexp(1+r.Float64(), r.IntN(2098)-1075), r.NormFloat64())
	},
	// what no RTT is: infinities, NaN, the largest and smallest floats
	"extremes": func(r *rand.Rand) float64 {
		return [...]float64{math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64, -math.MaxFloat64,
			math.SmallestNonzeroFloat64, 1e-300, 1e300, 30, 0.0001}[r.IntN(10)]
	},
}

func TestHistogramWritesWhatClientGolangWrites(t *testing.T) {
	for name, gen := range histogramSequences {
		t.Run(name, func(t *testing.T) {
			minSchema := int32(3)
			for seed := range uint64(40) {
				r := rand.New(rand.NewPCG(seed, 12))
				made := time.Now()
				ref, h := newReferenceHistogram(), newTestHistogram()
				madeEnd := time.Now()
				n := 1 + r.IntN(5000)
				if seed < 3 {
					n = int(seed) // empty, one, two observations
				}
				for range n {
					v := gen(r)
					ref.Observe(v)
					h.Observe(v)
					if r.IntN(200) == 0 { // writes change client_golang's inner state (hot and cold counts)
						sameHistogram(t, "mid-sequence", writeHistogram(t, h), writeHistogram(t, ref), made, madeEnd)
					}
				}
				got, want := writeHistogram(t, h), writeHistogram(t, ref)
				sameHistogram(t, name, got, want, made, madeEnd)
				// and again: a write changes nothing
				sameHistogram(t, name+", written twice", writeHistogram(t, h), want, made, madeEnd)
				minSchema = min(minSchema, want.GetSchema())
			}
			// the sequences that spread widely went through resolution
			// reductions, or the comparison proves less than it claims
			if name != "narrow" && name != "extremes" && minSchema >= 3 {
				t.Errorf("%s: schema never below 3", name)
			}
			t.Logf("%s: lowest schema %d", name, minSchema)
		})
	}
}

// The resolution goes down when a wide spread exceeds 100 buckets, and
// comes back only with a reset: here it must have gone down, or the
// equality above proves less than it claims.
func TestHistogramReducesResolution(t *testing.T) {
	h := newTestHistogram()
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		h.Observe(histogramSequences["wide"](r))
	}
	w := writeHistogram(t, h)
	if w.GetSchema() >= 3 || h.pos.n > 100 {
		t.Errorf("schema %d with %d buckets after a wide spread; want below 3, at most 100", w.GetSchema(), h.pos.n)
	}
}

// fakeClock is the injectable clock of the reset tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func newClockedHistogram(c *fakeClock) *Histogram {
	h := &Histogram{}
	h.init(prometheus.NewDesc("h", "h", nil, nil), nil, newHistogramConfig(HistogramOpts("h", "h", nil), c.Now))
	return h
}

// overflow observes values in 101 distinct native buckets of schema 3
// (1.0 * 2^(k/8)), one more than the limit allows.
func overflow(h *Histogram) {
	for k := range 101 {
		h.Observe(math.Exp2(float64(k)/8) * 1.01)
	}
}

// The reset after NativeHistogramMinResetDuration, as client_golang
// documents it (HistogramOpts): once the bucket limit is exceeded, the
// whole histogram is reset if its last reset (or creation) is at least an
// hour ago; otherwise the resolution goes down, and the histogram is reset
// to its initial state once an hour has passed since its last reset.
func TestHistogramResets(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	t.Run("scheduled", func(t *testing.T) {
		c := &fakeClock{t0}
		h := newClockedHistogram(c)
		c.t = t0.Add(10 * time.Minute)
		overflow(h)
		w := writeHistogram(t, h)
		if w.GetSchema() != 2 || w.GetSampleCount() != 101 || !w.GetCreatedTimestamp().AsTime().Equal(t0) {
			t.Fatalf("after the overflow: schema %d count %d created %v; want 2, 101, %v", w.GetSchema(), w.GetSampleCount(), w.GetCreatedTimestamp().AsTime(), t0)
		}
		c.t = t0.Add(time.Hour - time.Nanosecond)
		h.Observe(0.001)
		if w := writeHistogram(t, h); w.GetSampleCount() != 102 || w.GetSchema() != 2 {
			t.Fatalf("an instant before the hour: count %d schema %d; want 102, 2 (no reset yet)", w.GetSampleCount(), w.GetSchema())
		}
		c.t = t0.Add(time.Hour + time.Minute)
		w = writeHistogram(t, h) // the reset is due: a scrape sees it without an observation
		if w.GetSchema() != 3 || w.GetSampleCount() != 0 || w.GetSampleSum() != 0 || w.GetZeroCount() != 0 ||
			len(w.PositiveSpan) != 0 || w.Bucket[len(w.Bucket)-1].GetCumulativeCount() != 0 ||
			!w.GetCreatedTimestamp().AsTime().Equal(t0.Add(time.Hour)) {
			t.Fatalf("an hour after creation: %v; want it reset, created %v", w, t0.Add(time.Hour))
		}
		h.Observe(0.002)
		if w := writeHistogram(t, h); w.GetSampleCount() != 1 || w.GetSampleSum() != 0.002 {
			t.Fatalf("after the reset: count %d sum %v; want 1, 0.002", w.GetSampleCount(), w.GetSampleSum())
		}
		// overflowing again within the hour makes the next reset due an
		// hour after the last one
		c.t = t0.Add(90 * time.Minute)
		overflow(h)
		c.t = t0.Add(2*time.Hour - time.Second)
		if w := writeHistogram(t, h); w.GetSampleCount() != 102 || w.GetSchema() != 2 {
			t.Fatalf("second overflow: count %d schema %d; want 102, 2", w.GetSampleCount(), w.GetSchema())
		}
		c.t = t0.Add(2 * time.Hour)
		h.Observe(0.003) // an observation at the due time comes after the reset
		if w := writeHistogram(t, h); w.GetSampleCount() != 1 || w.GetSampleSum() != 0.003 || !w.GetCreatedTimestamp().AsTime().Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("second reset: count %d sum %v created %v", w.GetSampleCount(), w.GetSampleSum(), w.GetCreatedTimestamp().AsTime())
		}
	})
	t.Run("immediate", func(t *testing.T) {
		// a histogram that overflows for the first time more than an hour
		// after its creation is reset at once, keeping the observation
		// that overflowed it
		c := &fakeClock{t0}
		h := newClockedHistogram(c)
		c.t = t0.Add(3 * time.Hour)
		overflow(h)
		last := math.Exp2(100.0/8) * 1.01
		w := writeHistogram(t, h)
		if w.GetSchema() != 3 || w.GetSampleCount() != 1 || w.GetSampleSum() != last || !w.GetCreatedTimestamp().AsTime().Equal(c.t) ||
			len(w.PositiveDelta) != 1 || w.PositiveDelta[0] != 1 || h.resetDue {
			t.Fatalf("overflow 3h after creation: %v (reset due %v); want only the last observation %v, created %v, no reset due", w, h.resetDue, last, c.t)
		}
	})
}

// The reference itself reduces the same way under an overflow of 101
// buckets: the fixture above is what client_golang calls too many.
func TestHistogramOverflowMatchesReference(t *testing.T) {
	made := time.Now()
	ref, h := newReferenceHistogram(), newTestHistogram()
	madeEnd := time.Now()
	for k := range 101 {
		v := math.Exp2(float64(k)/8) * 1.01
		ref.Observe(v)
		h.Observe(v)
	}
	want := writeHistogram(t, ref)
	if want.GetSchema() != 2 {
		t.Fatalf("client_golang's schema after 101 buckets: %d, want 2", want.GetSchema())
	}
	sameHistogram(t, "101 buckets", writeHistogram(t, h), want, made, madeEnd)
}

// Observing is safe while scrapes write: every observation is counted
// once, in the classic and the native buckets (run with -race).
func TestHistogramObserveWhileWriting(t *testing.T) {
	h := newTestHistogram()
	const goroutines, each = 4, 5000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				writeHistogram(t, h)
			}
		}
	}()
	var obs sync.WaitGroup
	for g := range goroutines {
		obs.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 3))
			for range each {
				h.Observe(histogramSequences["wide"](r))
			}
		})
	}
	obs.Wait()
	close(stop)
	wg.Wait()
	w := writeHistogram(t, h)
	var native int64
	for _, d := range [][]int64{w.PositiveDelta, w.NegativeDelta} {
		var c int64
		for _, x := range d {
			c += x
			native += c
		}
	}
	if w.GetSampleCount() != goroutines*each || uint64(native)+w.GetZeroCount() != goroutines*each {
		t.Errorf("count %d, native buckets and zero bucket %d+%d; want %d", w.GetSampleCount(), native, w.GetZeroCount(), goroutines*each)
	}
}

// Observing allocates nothing once the native buckets it hits exist.
func TestHistogramObserveAllocatesNothing(t *testing.T) {
	h := newTestHistogram()
	r := rand.New(rand.NewPCG(4, 5))
	vs := make([]float64, 1000)
	for i := range vs {
		vs[i] = histogramSequences["narrow"](r)
		h.Observe(vs[i])
		h.Observe(-vs[i])
	}
	i := 0
	if n := testing.AllocsPerRun(1000, func() { h.Observe(vs[i%len(vs)]); h.Observe(-vs[i%len(vs)]); i++ }); n != 0 {
		t.Errorf("Observe: %v allocations, want 0", n)
	}
}

// The boundaries of schema 3 are 2^(i/8-1) to within an ulp (the exact
// values are client_golang's, which the sequences on boundaries check).
func TestSchema3Bounds(t *testing.T) {
	for i, b := range schema3Bounds {
		if want := math.Exp2(float64(i)/8 - 1); math.Abs(b-want) > 4e-16 {
			t.Errorf("bound %d: %v, want about %v", i, b, want)
		}
	}
}

// Histograms share buckets between writes (the empty ones, the full ones
// of a count): scrapes that encode them at the same time, as protobuf
// (whose encoder caches sizes in the messages) and text, race on nothing
// (run with -race) and read the same bytes.
func TestHistogramSharedBucketsConcurrentScrapes(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(benchStore(256, 10))
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	var wg sync.WaitGroup
	bodies := make([][]byte, 16)
	for i := range bodies {
		wg.Go(func() {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if i%2 == 0 {
				req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			bodies[i] = rec.Body.Bytes()
		})
	}
	wg.Wait()
	for i := 2; i < len(bodies); i++ {
		if !bytes.Equal(bodies[i], bodies[i%2]) {
			t.Errorf("scrape %d differs from scrape %d of the same format", i, i%2)
		}
	}
}
