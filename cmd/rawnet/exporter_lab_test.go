package main

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
	"github.com/rawnet/rawnet/internal/testenv"
)

// scrapeIn fetches url with curl inside node n's namespace (the exporter
// listens on that namespace's loopback).
func scrapeIn(t *testing.T, n *lab.Node, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := n.Command(ctx, "curl", "-sf", url).Output()
	if err != nil {
		t.Fatalf("curl %s: %v", url, err)
	}
	return string(out)
}

// oneSeries is the one series of metric name in the exposition text whose
// labels include want; the test fails when there is not exactly one.
func oneSeries(t *testing.T, text, name string, want map[string]string) *dto.Metric {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parsing the exposition: %v", err)
	}
	var found []*dto.Metric
next:
	for _, m := range mfs[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		found = append(found, m)
	}
	if len(found) != 1 {
		t.Fatalf("%d series of %s with %v, want 1", len(found), name, want)
	}
	return found[0]
}

// metricValue is the value of the one counter or gauge series of name
// with the labels want.
func metricValue(t *testing.T, text, name string, want map[string]string) float64 {
	t.Helper()
	m := oneSeries(t, text, name, want)
	if c := m.Counter; c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

// Two exporters and a ping in one namespace probe a lab: a router that
// answers every probe and a host behind a link that drops 30% toward it.
// Requests grow as the interval says, replies equal requests at the router
// and fall short by the injected loss (binomial bounds) at the host, the
// series carry their labels, neither exporter nor the ping counts the
// others' replies, promtool accepts the output, and SIGTERM stops cleanly.
func TestExporterLabLossLabelsAndNeighbours(t *testing.T) {
	t.Parallel()
	testenv.NeedTools(t, "curl", "promtool")
	const pct = 30
	const interval = 5 * time.Millisecond
	unreach := netip.MustParsePrefix("198.18.200.0/24")
	l := labtest.Up(t, lab.Spec{Routers: 1, Loss: []lab.Loss{{Link: 1, Percent: pct}}, Unreachable4: []netip.Prefix{unreach}})
	near, far, dead := l.Routers[0].Addr4.String(), l.Dst.Addr4.String(), "198.18.200.1"
	body := fmt.Sprintf("targets:\n  - name: near\n    hosts: [%s]\n    interval: %s\n    labels: {site: lab}\n  - name: far\n    hosts: [%s]\n    interval: %s\n    labels: {site: lab}\n  - name: dead\n    hosts: [%s]\n    interval: 50ms\n", near, interval, far, interval, dead)
	a := startExporter(t, l.Src, "127.0.0.1:10731", body)
	b := startExporter(t, l.Src, "127.0.0.1:10732", body)
	ping := startRawnet(t, l.Src.Command(context.Background(), rawnetBin, "ping", "-q", "-c", "200", "-i", "0.01", near))

	time.Sleep(3 * time.Second) // past the first timeouts (2s): requests count at a probe's fate
	labels := func(group, ip string) map[string]string {
		return map[string]string{"group": group, "host": ip, "ip": ip, "protocol": "icmp", "site": "lab"}
	}
	type sample struct{ a, b string }
	scrape := func() (sample, time.Time) {
		return sample{scrapeIn(t, l.Src, "http://127.0.0.1:10731/metrics"), scrapeIn(t, l.Src, "http://127.0.0.1:10732/metrics")}, time.Now()
	}
	s1, t1 := scrape()
	time.Sleep(4 * time.Second)
	s2, t2 := scrape()
	want := t2.Sub(t1).Seconds() / interval.Seconds()
	for i, pair := range [][2]string{{s1.a, s2.a}, {s1.b, s2.b}} {
		d := func(name, group, ip string) float64 {
			return metricValue(t, pair[1], name, labels(group, ip)) - metricValue(t, pair[0], name, labels(group, ip))
		}
		for _, g := range []struct{ group, ip string }{{"near", near}, {"far", far}} {
			req := d("rawnet_probe_requests_total", g.group, g.ip)
			if math.Abs(req-want) > 0.1*want+5 {
				t.Errorf("exporter %d, %s: requests grew by %v in %v, want %.0f ± 10%%", i, g.group, req, t2.Sub(t1), want)
			}
			rep := d("rawnet_probe_replies_total", g.group, g.ip)
			dup := metricValue(t, pair[1], "rawnet_probe_duplicates_total", labels(g.group, g.ip))
			if dup != 0 || rep > req {
				t.Errorf("exporter %d, %s: %v duplicates, %v replies to %v requests: it counted replies that were not its own", i, g.group, dup, rep, req)
			}
			if g.group == "near" && rep != req {
				t.Errorf("exporter %d, near: %v replies to %v requests on a lossless path", i, rep, req)
			}
			if g.group == "far" {
				loss := 100 * (req - rep) / req
				sd := 100 * math.Sqrt(pct/100.0*(1-pct/100.0)/req)
				if math.Abs(loss-pct) > 6*sd {
					t.Errorf("exporter %d, far: loss %.1f%%, want %d%% ± %.1f", i, loss, pct, 6*sd)
				}
			}
		}
	}
	// A host the last router rejects: a series of host_unreachable errors
	// and no replies. Not one error per request: the kernel limits the
	// errors of an unreachable route per peer (net.ipv4.route.error_cost
	// and error_burst, apart from icmp_ratelimit); rawnet ping beside it
	// gets 2 errors for 40 probes. Every request must be settled, though:
	// errors or timeouts, never replies or other kinds.
	deadL := map[string]string{"group": "dead", "host": dead, "ip": dead}
	req := metricValue(t, s2.a, "rawnet_probe_requests_total", deadL)
	rep := metricValue(t, s2.a, "rawnet_probe_replies_total", deadL)
	deadL["kind"] = "host_unreachable"
	errs := metricValue(t, s2.a, "rawnet_probe_errors_total", deadL)
	if req < 20 || rep != 0 || errs < 1 || errs > req || strings.Count(grepLines(s2.a, `group="dead"`), "rawnet_probe_errors_total") != 1 {
		t.Errorf("unreachable host: %v requests, %v replies, %v host_unreachable errors; want errors (of that kind only), no replies:\n%s", req, rep, errs, grepLines(s2.a, `group="dead"`))
	}
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(s2.a)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if r := ping(); r.code != 0 || !strings.Contains(r.stdout, "200 packets transmitted, 200 received, 0% packet loss") || strings.Contains(r.stdout, "duplicates") {
		t.Errorf("ping beside the exporters: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for i, e := range []*exporterRun{a, b} {
		if code, stderr := e.stop(); code != 0 || !strings.Contains(stderr, "msg=stopped") {
			t.Errorf("exporter %d after SIGTERM: exit %d\n%s", i, code, stderr)
		}
	}
}

// --config.check exits 0 on a good file and 2 on a bad one, and a bad
// file at start is exit 2: one line naming the file, line and field.
func TestExporterConfigCheckAndBadStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yml"), filepath.Join(dir, "bad.yml")
	os.WriteFile(good, []byte("targets:\n  - name: a\n    hosts: [198.18.0.1]\n"), 0o644)
	os.WriteFile(bad, []byte("targets:\n  - name: a\n    hosts: [198.18.0.1]\n    interval: fast\n"), 0o644)
	if r := rawnet(t, "exporter", "--config", good, "--config.check"); r.code != 0 || !strings.Contains(r.stdout, "OK") {
		t.Errorf("--config.check of a good file: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	want := "rawnet: exporter: " + bad + `:4: targets[0].interval: "fast" is not a duration`
	for _, args := range [][]string{
		{"exporter", "--config", bad, "--config.check"},
		{"exporter", "--config.file", bad, "--web.listen-address", "127.0.0.1:0"},
	} {
		r := rawnet(t, args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line starting %q", args, r.code, r.stderr, want)
		}
	}
	for _, tc := range []struct{ args []string }{
		{[]string{"exporter"}},
		{[]string{"exporter", "--config", good, "--log.level", "loud"}},
		{[]string{"exporter", "--config", good, "--web.telemetry-path", "metrics"}},
		{[]string{"exporter", "--config", filepath.Join(dir, "missing.yml"), "--config.check"}},
	} {
		if r := rawnet(t, tc.args...); r.code != 2 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", tc.args, r.code, r.stderr)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.Contains(l, "_bucket") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
