package exporter

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// benchTargets is the number of targets of the memory benchmarks: those of
// scripts/bench-exporter.sh's comparison with smokeping_prober.
const benchTargets = 1024

// benchStore holds n targets' series as the exporter does (a Store, the
// labels of scripts/bench-exporter.sh's group), each with rtts round trips
// observed, spread as a lab's: about 100µs, ±30% (about 8 native buckets).
func benchStore(n, rtts int) *Store {
	st := NewStore()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		a := netip.AddrFrom4([4]byte{198, 19, byte(i / 256), byte(i % 256)}).String()
		s, _ := AcquireProbeSeries(st, ProbeLabels("bench", a, netip.MustParseAddr(a), "icmp", nil))
		for range rtts {
			s.Requests.Inc()
			s.Replies.Inc()
			s.RTT.Observe(100e-6 * math.Exp(0.3*r.NormFloat64()))
		}
	}
	return st
}

// BenchmarkProbeSeriesLiveBytes measures what a target's series hold
// after a collection: B/target, without and with round trips observed.
//
//	go test -run '^$' -bench ProbeSeriesLiveBytes -benchtime 3x ./exporter
func BenchmarkProbeSeriesLiveBytes(b *testing.B) {
	for _, rtts := range []int{0, 100} {
		b.Run(fmt.Sprintf("rtts=%d", rtts), func(b *testing.B) {
			var total float64
			for b.Loop() {
				before := liveHeap()
				st := benchStore(benchTargets, rtts)
				total += float64(liveHeap() - before)
				runtime.KeepAlive(st)
			}
			b.ReportMetric(total/float64(b.N)/benchTargets, "B/target")
		})
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkScrape1024 is one scrape of 1,024 targets through promhttp as
// the exporter serves it (registry Gather, then the encoding Prometheus
// asked for: text, as curl, or protobuf, as a Prometheus that takes native
// histograms), into a writer that keeps nothing: B/op is what a scrape
// allocates, all of it live until the families are encoded.
//
//	go test -run '^$' -bench Scrape1024 -benchmem ./exporter
func BenchmarkScrape1024(b *testing.B) {
	st := benchStore(benchTargets, 100)
	reg := prometheus.NewRegistry()
	reg.MustRegister(st)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true, Registry: reg})
	for _, f := range []struct{ name, accept string }{
		{"text", ""},
		{"protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"},
	} {
		b.Run(f.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if f.accept != "" {
				req.Header.Set("Accept", f.accept)
			}
			w := &discardResponse{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.header)
				h.ServeHTTP(w, req)
			}
			if w.code != 0 && w.code != http.StatusOK {
				b.Fatalf("scrape: status %d", w.code)
			}
			b.ReportMetric(float64(w.n)/float64(b.N), "body-B/op")
		})
	}
}

// discardResponse is an http.ResponseWriter that counts what is written.
type discardResponse struct {
	header http.Header
	code   int
	n      int
}

func (w *discardResponse) Header() http.Header         { return w.header }
func (w *discardResponse) WriteHeader(code int)        { w.code = code }
func (w *discardResponse) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
