package exporter

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// RTTBuckets are the classic buckets of every round-trip and delay
// histogram: 50µs doubling to about 26.2s (0.00005*2^k, k=0..19), as
// smokeping_prober's, so that dashboards built for it read rawnet's.
var RTTBuckets = prometheus.ExponentialBuckets(0.00005, 2, rttBucketCount)

// HistogramOpts are the options of a round-trip or delay histogram: the
// classic buckets above and native buckets (factor 1.1). Histogram
// implements them (probe round trips, one-way delays); the trace hops'
// histograms are client_golang's with them.
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
//
// The counters are plain atomic integers turned into metrics at scrape
// time over descriptors shared by every target with the same label names,
// not a prometheus.Counter each: a client_golang counter carries its own
// descriptor, about 760 bytes, so four of them and the errors vector were
// 4.3 of the 7.2 KB a target cost, 72 MB at 10,000 targets
// (scripts/bench-exporter.sh peaked at 212 MB there, over the 200 MB goal).
// The RTT histogram is rawnet's Histogram for the same reason.
type ProbeSeries struct {
	Requests   Counter
	Replies    Counter
	Duplicates Counter
	Late       Counter
	RTT        Histogram // its labels are the counters'

	names  []string // label names, sorted; their values in values
	values []string
	// counters are Requests..Late as metrics, made once: a scrape sends
	// them as they are and allocates only their values (see counterMetric).
	counters [len(probeCounters)]counterMetric

	mu     sync.Mutex
	byKind map[string]*counterMetric
	kinds  []string // byKind's keys in the order they came
}

// Counter is a count that only goes up, safe for concurrent use.
type Counter struct{ n atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.n.Add(1) }

// Value is the count.
func (c *Counter) Value() uint64 { return c.n.Load() }

// probeCounters are the counters of ProbeSeries with their names and help.
var probeCounters = [...]struct{ name, help string }{
	{"rawnet_probe_requests_total", "Probes sent whose fate is known (answered, failed or timed out)."},
	{"rawnet_probe_replies_total", "Probes answered in time (duplicates not counted)."},
	{"rawnet_probe_duplicates_total", "Replies to probes already answered."},
	{"rawnet_probe_late_replies_total", "Replies that came after their probe had timed out."},
}

const probeRTTName, probeRTTHelp = "rawnet_probe_rtt_seconds", "Round-trip time of answered probes."

const probeErrorsName, probeErrorsHelp = "rawnet_probe_errors_total",
	"Probes answered by an ICMP error (kind: its type in snake_case), that could not be sent (send) or whose host did not resolve (resolve)."

// counterMetric is one counter of a target as a prometheus.Metric, made
// when the target's series are and sent as it is at every scrape: its
// descriptor is shared by all targets and its label pairs by the target's
// counters, and Write reads the count. prometheus.MustNewConstMetric at
// scrape time made the label pairs and a descriptor key afresh for every
// counter of every target: 2.9 of the 8.3 MB a scrape of 1,024 targets
// allocated (heap profile, scripts/bench-exporter.sh's lab).
type counterMetric struct {
	desc   *prometheus.Desc
	c      *Counter
	labels []*dto.LabelPair // sorted by name; shared, never changed
}

func (m *counterMetric) Desc() *prometheus.Desc { return m.desc }

func (m *counterMetric) Write(out *dto.Metric) error {
	v := float64(m.c.Value())
	out.Label = m.labels
	out.Counter = &dto.Counter{Value: &v}
	return nil
}

// descs holds one descriptor per metric name and label names, shared by
// every target's series.
var descs sync.Map // string -> *prometheus.Desc

func sharedDesc(name, help string, labels []string) *prometheus.Desc {
	key := name + "\xff" + strings.Join(labels, "\xff")
	if d, ok := descs.Load(key); ok {
		return d.(*prometheus.Desc)
	}
	d, _ := descs.LoadOrStore(key, prometheus.NewDesc(name, help, labels, nil))
	return d.(*prometheus.Desc)
}

// NewProbeSeries makes the series of one target with labels l
// (ProbeLabels).
func NewProbeSeries(l prometheus.Labels) *ProbeSeries {
	s := &ProbeSeries{byKind: map[string]*counterMetric{}}
	for name := range l {
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
	for _, name := range s.names {
		s.values = append(s.values, l[name])
	}
	var labels []*dto.LabelPair
	for i, c := range [...]*Counter{&s.Requests, &s.Replies, &s.Duplicates, &s.Late} {
		d := sharedDesc(probeCounters[i].name, probeCounters[i].help, s.names)
		if labels == nil {
			labels = prometheus.MakeLabelPairs(d, s.values)
		}
		s.counters[i] = counterMetric{desc: d, c: c, labels: labels}
	}
	s.RTT.init(sharedDesc(probeRTTName, probeRTTHelp, s.names), labels, rttHistogramConfig())
	return s
}

// Error counts one error of kind.
func (s *ProbeSeries) Error(kind string) {
	s.mu.Lock()
	m := s.byKind[kind]
	if m == nil {
		names := append(append(make([]string, 0, len(s.names)+1), s.names...), "kind")
		values := append(append(make([]string, 0, len(s.values)+1), s.values...), kind)
		d := sharedDesc(probeErrorsName, probeErrorsHelp, names)
		m = &counterMetric{desc: d, c: new(Counter), labels: prometheus.MakeLabelPairs(d, values)}
		s.byKind[kind] = m
		s.kinds = append(s.kinds, kind)
	}
	s.mu.Unlock()
	m.c.Inc()
}

// Describe sends nothing: ProbeSeries is an unchecked collector, as the
// Store that holds it (groups add label names of their own).
func (s *ProbeSeries) Describe(chan<- *prometheus.Desc) {}

// Collect sends the series.
func (s *ProbeSeries) Collect(ch chan<- prometheus.Metric) {
	s.collectCounters(ch)
	s.RTT.Collect(ch)
}

// collectCounters sends the counters as they are: nothing is allocated.
func (s *ProbeSeries) collectCounters(ch chan<- prometheus.Metric) {
	for i := range s.counters {
		ch <- &s.counters[i]
	}
	s.mu.Lock()
	for _, kind := range s.kinds {
		ch <- s.byKind[kind]
	}
	s.mu.Unlock()
}

// AcquireProbeSeries returns the series of the target with labels l from
// the store, with the function that releases them.
func AcquireProbeSeries(st *Store, l prometheus.Labels) (*ProbeSeries, func()) {
	key := SeriesKey("probe", l)
	s := st.Acquire(key, func() prometheus.Collector { return NewProbeSeries(l) }).(*ProbeSeries)
	return s, func() { st.Release(key) }
}
