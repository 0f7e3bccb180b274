package stats

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestRTTTable(t *testing.T) {
	tests := []struct {
		name                string
		in                  []time.Duration
		min, avg, max, mdev time.Duration
	}{
		{name: "empty"},
		{name: "one", in: []time.Duration{5 * ms}, min: 5 * ms, avg: 5 * ms, max: 5 * ms},
		{name: "constant", in: []time.Duration{10 * ms, 10 * ms, 10 * ms}, min: 10 * ms, avg: 10 * ms, max: 10 * ms},
		// mean 2.5, mean of squares 7.5, 7.5-6.25 = 1.25, sqrt = 1.1180339887 ms
		{name: "1..4ms", in: []time.Duration{3 * ms, 1 * ms, 4 * ms, 2 * ms},
			min: 1 * ms, avg: 2500 * time.Microsecond, max: 4 * ms, mdev: 1118034 * time.Nanosecond},
		// the textbook population standard deviation example: mean 5, sd 2
		{name: "textbook", in: []time.Duration{2 * ms, 4 * ms, 4 * ms, 4 * ms, 5 * ms, 5 * ms, 7 * ms, 9 * ms},
			min: 2 * ms, avg: 5 * ms, max: 9 * ms, mdev: 2 * ms},
		// mean 1.5ns, variance 0.25, sd 0.5ns rounds away from zero to 1ns
		{name: "nanoseconds", in: []time.Duration{1, 2}, min: 1, avg: 2, max: 2, mdev: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r RTT
			for _, d := range tt.in {
				r.Add(d)
			}
			if r.Count() != len(tt.in) {
				t.Errorf("Count = %d, want %d", r.Count(), len(tt.in))
			}
			got := [4]time.Duration{r.Min(), r.Avg(), r.Max(), r.Mdev()}
			want := [4]time.Duration{tt.min, tt.avg, tt.max, tt.mdev}
			if got != want {
				t.Errorf("min/avg/max/mdev = %v, want %v", got, want)
			}
		})
	}
}

// exactMdev computes sqrt(Σx²/n − (Σx/n)²) with integer arithmetic and a
// 200-bit square root: the definition, free of rounding.
func exactMdev(xs []time.Duration) float64 {
	n := big.NewInt(int64(len(xs)))
	sum, sumSq := new(big.Int), new(big.Int)
	for _, x := range xs {
		v := big.NewInt(int64(x))
		sum.Add(sum, v)
		sumSq.Add(sumSq, new(big.Int).Mul(v, v))
	}
	// variance = (n·Σx² − (Σx)²) / n²
	num := new(big.Int).Sub(new(big.Int).Mul(n, sumSq), new(big.Int).Mul(sum, sum))
	den := new(big.Int).Mul(n, n)
	v := new(big.Float).SetPrec(200).Quo(new(big.Float).SetPrec(200).SetInt(num), new(big.Float).SetPrec(200).SetInt(den))
	f, _ := v.Sqrt(v).Float64()
	return f
}

// twoPassMdev is the textbook two-pass computation in float64.
func twoPassMdev(xs []time.Duration) float64 {
	var mean float64
	for _, x := range xs {
		mean += float64(x)
	}
	mean /= float64(len(xs))
	var ss float64
	for _, x := range xs {
		d := float64(x) - mean
		ss += d * d
	}
	return math.Sqrt(ss / float64(len(xs)))
}

func TestRTTMdevMatchesTwoPass(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name         string
		base, spread time.Duration
	}{
		{"lan", 50 * time.Microsecond, 200 * time.Microsecond},
		{"wan", 80 * ms, 40 * ms},
		// a large common offset: naive mean(x²)−mean² in float64 loses
		// everything here, the accumulator must not.
		{"offset", 30 * time.Second, 2 * time.Microsecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for trial := 0; trial < 20; trial++ {
				xs := make([]time.Duration, 2+rng.IntN(5000))
				var r RTT
				for i := range xs {
					xs[i] = c.base + time.Duration(rng.Int64N(int64(c.spread)))
					r.Add(xs[i])
				}
				twoPass, exact := twoPassMdev(xs), exactMdev(xs)
				if math.Abs(twoPass-exact) > 1 {
					t.Fatalf("reference computations disagree: two-pass %f, exact %f", twoPass, exact)
				}
				if got := float64(r.Mdev()); math.Abs(got-exact) > 1 {
					t.Fatalf("n=%d: Mdev = %vns, two-pass %fns, exact %fns", len(xs), got, twoPass, exact)
				}
			}
		})
	}
}

func TestRTTZeroAllocs(t *testing.T) {
	var r RTT
	if n := testing.AllocsPerRun(1000, func() { r.Add(3 * ms); _ = r.Mdev() }); n != 0 {
		t.Fatalf("Add allocates %v times", n)
	}
}

func TestPercentileNearestRank(t *testing.T) {
	s := NewSamples(16)
	for _, v := range []int{7, 3, 10, 1, 9, 2, 8, 4, 6, 5} { // 1..10 ms, shuffled
		s.Add(time.Duration(v) * ms)
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{
		{-5, 1 * ms}, {0, 1 * ms}, {10, 1 * ms}, {15, 2 * ms}, {50, 5 * ms}, {51, 6 * ms},
		{90, 9 * ms}, {99, 10 * ms}, {99.9, 10 * ms}, {100, 10 * ms}, {250, 10 * ms},
		{math.NaN(), 0},
	}
	for _, tt := range tests {
		if got := s.Percentile(tt.p); got != tt.want {
			t.Errorf("Percentile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestPercentileThousand(t *testing.T) {
	s := NewSamples(1000)
	for _, v := range rand.New(rand.NewPCG(3, 4)).Perm(1000) {
		s.Add(time.Duration(v+1) * time.Microsecond)
	}
	// ranks ceil(p/100·1000): 500, 900, 990, 999
	for p, want := range map[float64]time.Duration{50: 500, 90: 900, 99: 990, 99.9: 999} {
		if got := s.Percentile(p); got != want*time.Microsecond {
			t.Errorf("Percentile(%v) = %v, want %v", p, got, want*time.Microsecond)
		}
	}
	s.Add(0) // sorted view must be refreshed after an Add
	if got := s.Percentile(0); got != 0 {
		t.Errorf("after adding 0, minimum = %v", got)
	}
}

func TestPercentileEmptyAndDefaults(t *testing.T) {
	s := NewSamples(0)
	if s.Percentile(50) != 0 || s.Len() != 0 {
		t.Fatal("empty Samples must report 0")
	}
	for i := 0; i < DefaultSampleCapacity+10; i++ {
		s.Add(time.Duration(i))
	}
	if s.Len() != DefaultSampleCapacity || s.Seen() != DefaultSampleCapacity+10 {
		t.Fatalf("Len %d Seen %d", s.Len(), s.Seen())
	}
}

// TestReservoirUniform checks the policy when full: every sample of the
// stream is equally likely to be kept. Keeping the first or the last ones
// would fail it by a wide margin.
func TestReservoirUniform(t *testing.T) {
	const capacity, stream, trials = 10, 100, 4000
	var kept [stream]int
	s := NewSamples(capacity)
	s.rng = rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < trials; trial++ {
		s.kept, s.seen = s.kept[:0], 0
		for i := 0; i < stream; i++ {
			s.Add(time.Duration(i))
		}
		if s.Len() != capacity || s.Seen() != stream {
			t.Fatalf("Len %d Seen %d", s.Len(), s.Seen())
		}
		for _, d := range s.kept {
			kept[d]++
		}
	}
	// Each index is kept with probability 0.1: mean 400, sd ≈ 19.
	for i, k := range kept {
		if k < 300 || k > 500 {
			t.Errorf("sample %d kept %d times in %d trials, want about 400", i, k, trials)
		}
	}
}

func TestSamplesZeroAllocs(t *testing.T) {
	s := NewSamples(100)
	i := 0
	n := testing.AllocsPerRun(1000, func() {
		i++
		s.Add(time.Duration(i))
		_ = s.Percentile(99)
	})
	if n != 0 {
		t.Fatalf("Add+Percentile allocate %v times", n)
	}
}

func TestJitterHandComputed(t *testing.T) {
	// transits 10, 12, 11, 15 ms:
	// J1 = 0; J2 = 2/16 = 0.125 ms; J3 = 0.125 + (1-0.125)/16 = 0.1796875 ms;
	// J4 = 0.1796875 + (4-0.1796875)/16 = 0.41845703125 ms
	want := []time.Duration{0, 125000, 179688, 418457}
	var j Jitter
	base := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	offset := time.Hour + 17*time.Nanosecond // receiver clock is off; must cancel out
	for i, transit := range []time.Duration{10 * ms, 12 * ms, 11 * ms, 15 * ms} {
		sent := base.Add(time.Duration(i) * 20 * ms)
		j.Add(sent, sent.Add(transit+offset))
		if got := j.Value(); got != want[i] {
			t.Errorf("after packet %d: J = %v, want %v", i+1, got, want[i])
		}
	}
	if j.Count() != 4 {
		t.Errorf("Count = %d", j.Count())
	}
}

func TestJitterConverges(t *testing.T) {
	var j, steady Jitter
	for i := 0; i < 400; i++ {
		j.AddTransit(10*ms + time.Duration(i%2)*ms) // |D| = 1 ms every time
		steady.AddTransit(10 * ms)
	}
	if got := j.Value(); got < 999*time.Microsecond || got > ms {
		t.Errorf("alternating transit: J = %v, want about 1ms", got)
	}
	if got := steady.Value(); got != 0 {
		t.Errorf("constant transit: J = %v, want 0", got)
	}
}

func TestLossPct(t *testing.T) {
	for _, tc := range []struct {
		sent, received int
		want           float64
	}{
		{0, 0, 0}, {0, 3, 0}, {-1, 0, 0}, {10, 10, 0}, {10, 12, 0}, {10, 0, 100}, {3, 2, 100.0 / 3}, {4, 1, 75},
	} {
		if got := LossPct(tc.sent, tc.received); got != tc.want {
			t.Errorf("LossPct(%d, %d) = %v, want %v", tc.sent, tc.received, got, tc.want)
		}
	}
	if got := LossPct(uint64(1<<40), uint64(1<<39)); got != 50 {
		t.Errorf("uint64: %v", got)
	}
}
