package exporter

import (
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A target's counters read their values at every scrape, with its labels
// and the error kinds in the order they came, as const metrics did.
func TestProbeSeriesCounters(t *testing.T) {
	s := NewProbeSeries(ProbeLabels("g", "h", netip.MustParseAddr("198.18.0.1"), "icmp", Labels{{Name: "site", Value: "x"}}))
	reg := prometheus.NewRegistry()
	reg.MustRegister(s)
	for range 3 {
		s.Requests.Inc()
	}
	s.Replies.Inc()
	s.Late.Inc()
	s.Error("send")
	s.Error("host_unreachable")
	s.Error("send")
	const labels = `group="g",host="h",ip="198.18.0.1",protocol="icmp",site="x"`
	want := `
# HELP rawnet_probe_duplicates_total Replies to probes already answered.
# TYPE rawnet_probe_duplicates_total counter
rawnet_probe_duplicates_total{` + labels + `} 0
# HELP rawnet_probe_errors_total ` + probeErrorsHelp + `
# TYPE rawnet_probe_errors_total counter
rawnet_probe_errors_total{group="g",host="h",ip="198.18.0.1",kind="host_unreachable",protocol="icmp",site="x"} 1
rawnet_probe_errors_total{group="g",host="h",ip="198.18.0.1",kind="send",protocol="icmp",site="x"} 2
# HELP rawnet_probe_late_replies_total Replies that came after their probe had timed out.
# TYPE rawnet_probe_late_replies_total counter
rawnet_probe_late_replies_total{` + labels + `} 1
# HELP rawnet_probe_replies_total Probes answered in time (duplicates not counted).
# TYPE rawnet_probe_replies_total counter
rawnet_probe_replies_total{` + labels + `} 1
# HELP rawnet_probe_requests_total Probes sent whose fate is known (answered, failed or timed out).
# TYPE rawnet_probe_requests_total counter
rawnet_probe_requests_total{` + labels + `} 3
`
	names := []string{"rawnet_probe_requests_total", "rawnet_probe_replies_total", "rawnet_probe_duplicates_total",
		"rawnet_probe_late_replies_total", "rawnet_probe_errors_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	// a second scrape sees later counts (the metrics are not snapshots)
	s.Requests.Inc()
	want = `
# HELP rawnet_probe_requests_total Probes sent whose fate is known (answered, failed or timed out).
# TYPE rawnet_probe_requests_total counter
rawnet_probe_requests_total{` + labels + `} 4
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "rawnet_probe_requests_total"); err != nil {
		t.Fatal(err)
	}
}

// Collecting a target's counters allocates nothing: a scrape of 10,000
// targets used to make every counter's label pairs afresh.
func TestProbeSeriesCollectAllocatesNothing(t *testing.T) {
	s := NewProbeSeries(ProbeLabels("g", "h", netip.MustParseAddr("198.18.0.1"), "icmp", nil))
	s.Error("send")
	ch := make(chan prometheus.Metric, 16)
	if n := testing.AllocsPerRun(100, func() { s.collectCounters(ch); drain(ch) }); n != 0 {
		t.Errorf("collecting a target's counters: %v allocations, want 0", n)
	}
}

func drain(ch chan prometheus.Metric) {
	for len(ch) > 0 {
		<-ch
	}
}

// A scrape is followed by a garbage collection (collectAfter): with the
// pacer switched off, only that one can run.
func TestScrapeIsFollowedByACollection(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	e := New(Options{ConfigFile: "unused.yml", NoProcessMetrics: true})
	h, err := e.Handler(HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before := numGC()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	for deadline := time.Now().Add(5 * time.Second); numGC() == before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no garbage collection within 5s of a scrape")
		}
	}
}

func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

// Two targets' RTT histograms share a descriptor, not counts: series made
// twice for the same labels (a /probe request while the target is probed
// continuously) count apart, and each carries the target's labels.
func TestProbeSeriesHistogramsCountApart(t *testing.T) {
	l := ProbeLabels("g", "h", netip.MustParseAddr("fd00::1"), "icmp", Labels{{Name: "site", Value: "x"}})
	a, b := NewProbeSeries(l), NewProbeSeries(l)
	a.RTT.Observe(0.001)
	a.RTT.Observe(0.002)
	b.RTT.Observe(0.004)
	for _, c := range []struct {
		s           *ProbeSeries
		count       uint64
		sum, bucket float64 // bucket: the cumulative count at le=0.0016
	}{{a, 2, 0.003, 1}, {b, 1, 0.004, 0}} {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(prometheus.CollectorFunc(c.s.RTT.Collect))
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		if len(mfs) != 1 || len(mfs[0].Metric) != 1 {
			t.Fatalf("gathered %v", mfs)
		}
		m := mfs[0].Metric[0]
		h := m.GetHistogram()
		if h.GetSampleCount() != c.count || math.Abs(h.GetSampleSum()-c.sum) > 1e-12 {
			t.Errorf("count %d sum %v, want %d %v", h.GetSampleCount(), h.GetSampleSum(), c.count, c.sum)
		}
		if got := h.GetBucket()[5]; got.GetUpperBound() != 0.0016 || float64(got.GetCumulativeCount()) != c.bucket {
			t.Errorf("bucket le=%v: %d, want le=0.0016: %v", got.GetUpperBound(), got.GetCumulativeCount(), c.bucket)
		}
		if h.GetSchema() != 3 || len(h.GetPositiveSpan()) == 0 {
			t.Errorf("native buckets: schema %d, spans %v", h.GetSchema(), h.GetPositiveSpan())
		}
		var labels []string
		for _, p := range m.GetLabel() {
			labels = append(labels, p.GetName()+"="+p.GetValue())
		}
		if got, want := strings.Join(labels, ","), "group=g,host=h,ip=fd00::1,protocol=icmp,site=x"; got != want {
			t.Errorf("labels %s, want %s", got, want)
		}
	}
}
