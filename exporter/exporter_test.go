package exporter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rawnet/rawnet/internal/lab/labtest"
	"github.com/rawnet/rawnet/internal/testenv"
)

// These tests run the exporter in the test process, probing loopback
// (127.0.0.1 and ::1) over real ICMP sockets: they need root, as the lab
// tests do.

const loConfig = `targets:
  - name: lo
    hosts: [127.0.0.1, "::1"]
    interval: 10ms
    labels: {site: here}
modules:
  icmp:
    count: 4
    interval: 10ms
`

// started is an exporter running in the test, with its web handler.
type started struct {
	e    *Exporter
	file string
	srv  *httptest.Server
	stop func()
}

func startExporter(t *testing.T, cfg string, res Resolver) *started {
	t.Helper()
	labtest.RequireRoot(t)
	file := filepath.Join(t.TempDir(), "rawnet.yml")
	writeFile(t, file, cfg)
	e := New(Options{ConfigFile: file, Resolver: res, NoProcessMetrics: true})
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	h, err := e.Handler(HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.Run(ctx)
	srv := httptest.NewServer(h)
	s := &started{e: e, file: file, srv: srv}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			srv.Close()
			cancel()
			e.Wait()
		})
	}
	t.Cleanup(s.stop)
	return s
}

func writeFile(t *testing.T, file, s string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// families parses the text exposition format.
func parseMetrics(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parsing the exposition: %v\n%s", err, text)
	}
	return mfs
}

func (s *started) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, s.srv.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d: %s", code, body)
	}
	return parseMetrics(t, body)
}

// value finds the value of the series of family name whose labels include
// want; ok is false when there is none.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// waitFor polls cond (every 20ms, 10s at most).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitUntil(t, what, time.Now().Add(10*time.Second), cond)
}

// waitUntil is waitFor with its own deadline.
func waitUntil(t *testing.T, what string, deadline time.Time, cond func() bool) {
	t.Helper()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lo(ip string) map[string]string {
	return map[string]string{"group": "lo", "host": ip, "ip": ip, "protocol": "icmp", "site": "here"}
}

// Every loopback probe is answered: replies equal requests, the RTT
// histogram counts each reply, and the series carry the group's labels.
func TestLoopbackTargetsCountEveryReply(t *testing.T) {
	s := startExporter(t, loConfig, nil)
	for _, ip := range []string{"127.0.0.1", "::1"} {
		waitFor(t, ip+" to get 30 replies", func() bool {
			v, _ := value(s.scrape(t), "rawnet_probe_replies_total", lo(ip))
			return v >= 30
		})
	}
	s.stop() // counters are final once the runners have stopped
	mfs := parseMetrics(t, gatherText(t, s.e))
	for _, ip := range []string{"127.0.0.1", "::1"} {
		req, _ := value(mfs, "rawnet_probe_requests_total", lo(ip))
		rep, _ := value(mfs, "rawnet_probe_replies_total", lo(ip))
		rtt, _ := value(mfs, "rawnet_probe_rtt_seconds", lo(ip))
		dup, _ := value(mfs, "rawnet_probe_duplicates_total", lo(ip))
		if req < 30 || rep != req || rtt != rep || dup != 0 {
			t.Errorf("%s: requests %v replies %v rtt count %v duplicates %v; want replies = requests = rtt count, no duplicates", ip, req, rep, rtt, dup)
		}
	}
	if v, ok := value(mfs, "rawnet_exporter_config_last_reload_successful", nil); !ok || v != 1 {
		t.Errorf("reload gauge %v %v, want 1", v, ok)
	}
}

// gatherText renders the registry in the text format without HTTP.
func gatherText(t *testing.T, e *Exporter) string {
	t.Helper()
	mfs, err := e.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// A reload with a bad file keeps the old configuration probing and sets
// the reload gauge to 0; a good one swaps in the new groups, and a target
// kept through it continues its counters.
func TestReloadBadFileKeepsOldConfig(t *testing.T) {
	s := startExporter(t, loConfig, nil)
	want := lo("127.0.0.1")
	waitFor(t, "replies", func() bool { v, _ := value(s.scrape(t), "rawnet_probe_replies_total", want); return v >= 10 })

	writeFile(t, s.file, strings.Replace(loConfig, "interval: 10ms", "interval: soon", 1))
	err := s.e.Reload()
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Line != 4 || ce.Field != "targets[0].interval" {
		t.Fatalf("reload of a bad file: %v, want a ConfigError at line 4, targets[0].interval", err)
	}
	mfs := s.scrape(t)
	if v, _ := value(mfs, "rawnet_exporter_config_last_reload_successful", nil); v != 0 {
		t.Errorf("reload gauge %v after a bad file, want 0", v)
	}
	before, _ := value(mfs, "rawnet_probe_replies_total", want)
	waitFor(t, "the old config to go on probing", func() bool {
		v, _ := value(s.scrape(t), "rawnet_probe_replies_total", want)
		return v >= before+10
	})

	writeFile(t, s.file, strings.Replace(loConfig, "modules:", "  - name: two\n    hosts: [127.0.0.2]\n    interval: 10ms\nmodules:", 1))
	if err := s.e.Reload(); err != nil {
		t.Fatal(err)
	}
	mfs = s.scrape(t)
	if v, _ := value(mfs, "rawnet_exporter_config_last_reload_successful", nil); v != 1 {
		t.Errorf("reload gauge %v after a good file, want 1", v)
	}
	kept, _ := value(mfs, "rawnet_probe_replies_total", want)
	if kept < before+10 {
		t.Errorf("replies of a kept target went from %v to %v over a reload: the counter was reset", before+10, kept)
	}
	two := map[string]string{"group": "two", "ip": "127.0.0.2"}
	waitFor(t, "the new group to probe", func() bool { v, _ := value(s.scrape(t), "rawnet_probe_replies_total", two); return v >= 5 })
}

// A hundred reloads leave goroutines and open file descriptors where
// they were, and scrapes during reloads are answered.
func TestHundredReloadsLeakNothing(t *testing.T) {
	s := startExporter(t, loConfig, nil)
	other := strings.Replace(loConfig, `[127.0.0.1, "::1"]`, `[127.0.0.1, "::1", 127.0.0.3]`, 1)
	waitFor(t, "replies", func() bool { v, _ := value(s.scrape(t), "rawnet_probe_replies_total", lo("::1")); return v >= 5 })
	http.DefaultClient.CloseIdleConnections()
	time.Sleep(100 * time.Millisecond)
	g0, f0 := runtime.NumGoroutine(), openFDs(t)

	stopScrapes := make(chan struct{})
	var scrapes sync.WaitGroup
	scrapes.Add(1)
	failed := make(chan string, 1)
	go func() {
		defer scrapes.Done()
		for {
			select {
			case <-stopScrapes:
				return
			default:
			}
			resp, err := http.Get(s.srv.URL + "/metrics")
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				select {
				case failed <- "scrape during reload failed: " + errText(err, resp):
				default:
				}
				return
			}
		}
	}()
	for i := range 100 {
		cfg := loConfig
		if i%2 == 0 {
			cfg = other
		}
		writeFile(t, s.file, cfg)
		if err := s.e.Reload(); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
	}
	close(stopScrapes)
	scrapes.Wait()
	select {
	case msg := <-failed:
		t.Fatal(msg)
	default:
	}
	http.DefaultClient.CloseIdleConnections()
	var g, f int
	deadline := time.Now().Add(5 * time.Second)
	for {
		g, f = runtime.NumGoroutine(), openFDs(t)
		if g <= g0 && f <= f0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if g > g0 || f > f0 {
		t.Errorf("after 100 reloads: %d goroutines (were %d), %d open fds (were %d)", g, g0, f, f0)
	}
	if n := len(s.e.Env().Sockets.Keys()); n != 2 {
		t.Errorf("%d sockets open, want 2 (ICMP v4 and v6, shared)", n)
	}
}

func errText(err error, resp *http.Response) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// fakeResolver answers "bad.example" with an error at once and blocks on
// "slow.example" until its context ends.
type fakeResolver struct{}

func (fakeResolver) LookupNetIP(ctx context.Context, _, host string) ([]netip.Addr, error) {
	switch host {
	case "slow.example":
		<-ctx.Done()
		return nil, ctx.Err()
	case "lo.example":
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return nil, errors.New("no such host")
}

// A name that does not resolve is a series with resolve errors; one whose
// lookup hangs delays no address of its group.
func TestUnresolvableNamesDoNotStallAddresses(t *testing.T) {
	cfg := "targets:\n  - name: g\n    hosts: [slow.example, bad.example, 127.0.0.1, lo.example]\n    interval: 10ms\n"
	start := time.Now()
	s := startExporter(t, cfg, fakeResolver{})
	addr := map[string]string{"group": "g", "host": "127.0.0.1", "ip": "127.0.0.1"}
	waitFor(t, "the address to be probed", func() bool { v, _ := value(s.scrape(t), "rawnet_probe_replies_total", addr); return v >= 5 })
	if d := time.Since(start); d >= resolveTimeout {
		t.Errorf("the address was first answered after %v: a hanging lookup stalled it", d)
	}
	bad := map[string]string{"group": "g", "host": "bad.example", "ip": "", "kind": "resolve"}
	name := map[string]string{"group": "g", "host": "lo.example", "ip": "127.0.0.1"}
	// The names' targets come with the group's last lookup, the hanging
	// one's, at resolveTimeout: a wait of 10s from here ended about when
	// they came, and under load before (CI: 10.07s).
	waitUntil(t, "resolve errors and the resolved name", start.Add(resolveTimeout+10*time.Second), func() bool {
		mfs := s.scrape(t)
		e, _ := value(mfs, "rawnet_probe_errors_total", bad)
		n, _ := value(mfs, "rawnet_probe_replies_total", name)
		return e >= 1 && n >= 5
	})
}

// /probe runs count probes and returns only their metrics; bad input is
// HTTP 400 with one line.
func TestProbeEndpoint(t *testing.T) {
	s := startExporter(t, loConfig, fakeResolver{})
	code, body := get(t, s.srv.URL+"/probe?target=::1&module=icmp")
	if code != http.StatusOK {
		t.Fatalf("/probe: HTTP %d: %s", code, body)
	}
	mfs := parseMetrics(t, body)
	want := map[string]string{"host": "::1", "ip": "::1", "group": "icmp", "protocol": "icmp"}
	ok, _ := value(mfs, "probe_success", nil)
	req, _ := value(mfs, "rawnet_probe_requests_total", want)
	rep, _ := value(mfs, "rawnet_probe_replies_total", want)
	dur, _ := value(mfs, "probe_duration_seconds", nil)
	if ok != 1 || req != 4 || rep != 4 || dur <= 0 {
		t.Errorf("/probe: success %v requests %v replies %v duration %v, want 1, 4, 4, > 0", ok, req, rep, dur)
	}
	if mfs["rawnet_exporter_config_last_reload_successful"] != nil || len(mfs["rawnet_probe_requests_total"].Metric) != 1 {
		t.Errorf("/probe returned more than its own probe's metrics: %v", keys(mfs))
	}
	code, body = get(t, s.srv.URL+"/probe?target=bad.example&module=icmp")
	if mfs := parseMetrics(t, body); code != http.StatusOK || must(value(mfs, "probe_success", nil)) != 0 {
		t.Errorf("/probe of a name that does not resolve: HTTP %d %s, want 200 and probe_success 0", code, body)
	}
	for _, tc := range []struct{ query, want string }{
		{"module=icmp", "target parameter is missing"},
		{"target=127.0.0.1", "module parameter is missing"},
		{"target=127.0.0.1&module=nope", `unknown module "nope"`},
		{"target=127.0.0.0/24&module=icmp", "not a prefix"},
		{"target=no%20such&module=icmp", "not an address or host name"},
	} {
		code, body := get(t, s.srv.URL+"/probe?"+tc.query)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.want) || strings.Count(body, "\n") != 1 {
			t.Errorf("/probe?%s: HTTP %d %q, want 400 and one line with %q", tc.query, code, body, tc.want)
		}
	}
}

func must(v float64, _ bool) float64 { return v }

func keys(m map[string]*dto.MetricFamily) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// promtool, Prometheus's own linter, accepts the exposition.
func TestPromtoolChecksMetrics(t *testing.T) {
	testenv.NeedTools(t, "promtool")
	s := startExporter(t, loConfig, fakeResolver{})
	cfg := "targets:\n  - name: g\n    hosts: [127.0.0.1, bad.example]\n    interval: 10ms\n    labels: {site: x}\nmodules:\n  icmp: {count: 2}\n"
	writeFile(t, s.file, cfg)
	if err := s.e.Reload(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replies", func() bool {
		v, _ := value(s.scrape(t), "rawnet_probe_replies_total", map[string]string{"group": "g"})
		return v >= 3
	})
	_, body := get(t, s.srv.URL+"/metrics")
	for _, text := range []string{body, probeBody(t, s)} {
		cmd := exec.Command("promtool", "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}
}

func probeBody(t *testing.T, s *started) string {
	t.Helper()
	_, body := get(t, s.srv.URL+"/probe?target=127.0.0.1&module=icmp")
	return body
}

func TestHealthReadyAndReloadEndpoints(t *testing.T) {
	s := startExporter(t, loConfig, nil)
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/-/healthy", 200, "Healthy"},
		{"GET", "/-/ready", 200, "Ready"},
		{"GET", "/-/reload", 405, "reload needs POST"},
		{"POST", "/-/reload", 200, "Reloaded"},
		{"GET", "/", 200, "rawnet exporter"},
	} {
		req, _ := http.NewRequest(tc.method, s.srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s %s: HTTP %d %q, want %d with %q", tc.method, tc.path, resp.StatusCode, b, tc.code, tc.body)
		}
	}
	writeFile(t, s.file, "targets: [\n")
	resp, err := http.Post(s.srv.URL+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(b), "rawnet.yml:") {
		t.Errorf("POST /-/reload of a bad file: HTTP %d %q, want 500 naming the file and line", resp.StatusCode, b)
	}
}
