package exporter

import (
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
