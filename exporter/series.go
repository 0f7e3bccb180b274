package exporter

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RTTBuckets are the classic buckets of every round-trip and delay
// histogram: 50µs doubling to about 26.2s (0.00005*2^k, k=0..19), as
// smokeping_prober's, so that dashboards built for it read rawnet's.
var RTTBuckets = prometheus.ExponentialBuckets(0.00005, 2, 20)

// HistogramOpts are the options of a round-trip or delay histogram: the
// classic buckets above and native buckets (factor 1.1).
func HistogramOpts(name, help string, labels prometheus.Labels) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{
		Name: name, Help: help, ConstLabels: labels,
		Buckets:                         RTTBuckets,
		NativeHistogramBucketFactor:     1.1,
		NativeHistogramMaxBucketNumber:  100,
		NativeHistogramMinResetDuration: time.Hour,
	}
}

// ProbeSeries are the series of one probed target (rawnet_probe_*). The
// udp and tcp protocols count into them too, adding their own beside.
type ProbeSeries struct {
	Requests   prometheus.Counter
	Replies    prometheus.Counter
	Duplicates prometheus.Counter
	Late       prometheus.Counter
	RTT        prometheus.Histogram
	errors     *prometheus.CounterVec

	mu     sync.Mutex
	byKind map[string]prometheus.Counter
}

// NewProbeSeries makes the series of one target with labels l
// (ProbeLabels).
func NewProbeSeries(l prometheus.Labels) *ProbeSeries {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: l})
	}
	return &ProbeSeries{
		Requests:   c("rawnet_probe_requests_total", "Probes sent whose fate is known (answered, failed or timed out)."),
		Replies:    c("rawnet_probe_replies_total", "Probes answered in time (duplicates not counted)."),
		Duplicates: c("rawnet_probe_duplicates_total", "Replies to probes already answered."),
		Late:       c("rawnet_probe_late_replies_total", "Replies that came after their probe had timed out."),
		RTT:        prometheus.NewHistogram(HistogramOpts("rawnet_probe_rtt_seconds", "Round-trip time of answered probes.", l)),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rawnet_probe_errors_total",
			Help: "Probes answered by an ICMP error (kind: its type in snake_case), that could not be sent (send) or whose host did not resolve (resolve).", ConstLabels: l}, []string{"kind"}),
		byKind: map[string]prometheus.Counter{},
	}
}

// Error counts one error of kind.
func (s *ProbeSeries) Error(kind string) {
	s.mu.Lock()
	c := s.byKind[kind]
	if c == nil {
		c = s.errors.WithLabelValues(kind)
		s.byKind[kind] = c
	}
	s.mu.Unlock()
	c.Inc()
}

// Describe sends the descriptors of the series.
func (s *ProbeSeries) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range s.collectors() {
		c.Describe(ch)
	}
}

// Collect sends the series.
func (s *ProbeSeries) Collect(ch chan<- prometheus.Metric) {
	for _, c := range s.collectors() {
		c.Collect(ch)
	}
}

func (s *ProbeSeries) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.Requests, s.Replies, s.Duplicates, s.Late, s.errors, s.RTT}
}

// AcquireProbeSeries returns the series of the target with labels l from
// the store, with the function that releases them.
func AcquireProbeSeries(st *Store, l prometheus.Labels) (*ProbeSeries, func()) {
	key := SeriesKey("probe", l)
	s := st.Acquire(key, func() prometheus.Collector { return NewProbeSeries(l) }).(*ProbeSeries)
	return s, func() { st.Release(key) }
}
