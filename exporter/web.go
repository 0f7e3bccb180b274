package exporter

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
)

// DefaultListenAddress is where `rawnet exporter` listens by default.
// Prometheus's default port allocations
// (github.com/prometheus/prometheus/wiki/Default-port-allocations) have
// used up 9100-9999 and now hand out 10000 upward in order (exporters in
// public code use up to 10054 as of 2026); 10731 is well above that, and
// clear of the other services in that range: webmin 10000, Zabbix
// 10050-10051, Amanda 10080-10083, Kubernetes 10250-10259, NBD 10809.
const DefaultListenAddress = ":10731"

// HandlerOptions configure Handler.
type HandlerOptions struct {
	TelemetryPath string // default /metrics
	Version       string // for the landing page
}

// Handler serves the exporter's HTTP endpoints: the telemetry path,
// /probe, /-/healthy, /-/ready, POST /-/reload and a landing page at /.
func (e *Exporter) Handler(o HandlerOptions) (http.Handler, error) {
	if o.TelemetryPath == "" {
		o.TelemetryPath = "/metrics"
	}
	if !strings.HasPrefix(o.TelemetryPath, "/") {
		return nil, fmt.Errorf("exporter: telemetry path %q must start with /", o.TelemetryPath)
	}
	mux := http.NewServeMux()
	mux.Handle(o.TelemetryPath, e.collectAfter(promhttp.HandlerFor(e.registry, promhttp.HandlerOpts{
		ErrorLog: slogPrinter{e}, EnableOpenMetrics: true, Registry: e.registry,
	})))
	mux.Handle("/probe", e.ProbeHandler())
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !e.Ready() {
			http.Error(w, "Not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "reload needs POST", http.StatusMethodNotAllowed)
			return
		}
		if err := e.Reload(); err != nil {
			http.Error(w, "reload failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Reloaded")
	})
	if o.TelemetryPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "rawnet exporter",
			Description: "Continuous ICMP, TCP and UDP probing and traces by rawnet, for Prometheus",
			Version:     o.Version,
			Links: []web.LandingLinks{
				{Address: o.TelemetryPath, Text: "Metrics"},
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/-/ready", Text: "Readiness"},
			},
		})
		if err != nil {
			return nil, fmt.Errorf("exporter: landing page: %w", err)
		}
		mux.Handle("/", landing)
	}
	return mux, nil
}

// slogPrinter passes promhttp's errors to the exporter's logger.
type slogPrinter struct{ e *Exporter }

func (p slogPrinter) Println(v ...any) { p.e.opts.Logger.Error(fmt.Sprint(v...)) }

// collectAfter runs a garbage collection after each scrape h serves, in
// the background (one at a time; the response is not delayed).
//
// Probing allocates nothing per probe, so nearly all the exporter's
// garbage is what a scrape made: the metric families of every target
// (about 3.4 KB a target, BenchmarkScrape1024). Left to the pacer, that
// garbage stays until the next scrape pushes the heap to the goal set
// during this one, when half the scrape's families were still live: the
// heap then peaks at about twice the live heap plus a scrape. Collected
// at once, the next scrape starts from the live heap and its goal. This
// is one collection per scrape, which the next scrape would have caused
// anyway (scripts/bench-exporter.sh measures what it saves and costs).
func (e *Exporter) collectAfter(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if e.collecting.CompareAndSwap(false, true) {
			go func() {
				defer e.collecting.Store(false)
				runtime.GC()
			}()
		}
	})
}
