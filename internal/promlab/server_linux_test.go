package promlab

import (
	"context"
	"math"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
	"github.com/rawnet/rawnet/internal/testenv"
)

// startServer starts a Prometheus in node for the test and stops it when
// the test ends.
func startServer(t *testing.T, node *lab.Node, cfg Config) *Server {
	t.Helper()
	testenv.NeedTools(t, "prometheus")
	ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
	defer cancel()
	s, err := Start(ctx, node, t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// TestServerScrapesItself: the harness starts a server with rawnet's
// rules loaded, it scrapes itself, and a query comes back through the
// API: the server has loaded both rule groups of rules.yml (6 recording
// rules, 4 alerts); a bad expression comes back as Prometheus's error.
func TestServerScrapesItself(t *testing.T) {
	l := labtest.Up(t, lab.Spec{})
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, l.Src, Config{RuleFiles: []string{rules}})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	got, err := s.WaitFor(ctx, `up{job="prometheus"}`, func(v []Sample) bool { return len(v) == 1 && v[0].Value == 1 })
	if err != nil {
		t.Fatal(err)
	}
	if inst := got[0].Labels["instance"]; inst != listenAddr {
		t.Errorf("up's instance = %q, want %q", inst, listenAddr)
	}
	groups, err := s.WaitFor(ctx, `prometheus_rule_group_rules`, func(v []Sample) bool { return len(v) == 2 })
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		want := map[string]float64{rules + ";rawnet.rules": 6, rules + ";rawnet.alerts": 4}[g.Labels["rule_group"]]
		if g.Value != want {
			t.Errorf("rule group %s: %v rules, want %v", g.Labels["rule_group"], g.Value, want)
		}
	}
	if _, err := s.Query(ctx, `rate(up[`); err == nil {
		t.Error("a bad expression: no error")
	}
	// The server is gone after Close, and Close is idempotent.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.Signal(0)); err == nil {
		t.Error("prometheus still runs after Close")
	}
}

// TestServerSmokepingLoss is the harness against a real ping exporter:
// prometheus-smokeping-prober in src pings dst over a link that drops 30%
// of the requests (nftables), Prometheus scrapes it every second, and the
// loss computed in PromQL from the scraped counters is within binomial
// bounds of 0.3.
func TestServerSmokepingLoss(t *testing.T) {
	testenv.NeedTools(t, "prometheus-smokeping-prober")
	const lossPercent = 30
	l := labtest.Up(t, lab.Spec{Loss: []lab.Loss{{Link: 0, Percent: lossPercent}}})
	prober := l.Src.Command(context.Background(), "prometheus-smokeping-prober",
		"--privileged", "--ping.interval=20ms", "--web.listen-address=127.0.0.1:9374",
		l.Dst.Addr4.String())
	if err := prober.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prober.Process.Kill(); prober.Wait() })
	s := startServer(t, l.Src, Config{Jobs: []Job{{Name: "smokeping", Targets: []string{"127.0.0.1:9374"}}}})

	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	// At 50 probes a second, 10 s of scrapes hold about 500 requests.
	const minRequests = 400
	reqs, err := s.WaitFor(ctx, `sum(smokeping_requests_total{job="smokeping"})`,
		func(v []Sample) bool { return len(v) == 1 && v[0].Value >= minRequests })
	if err != nil {
		t.Fatal(err)
	}
	n := reqs[0].Value
	loss, err := s.Query(ctx, `1 - sum(smokeping_response_duration_seconds_count{job="smokeping"}) / sum(smokeping_requests_total{job="smokeping"})`)
	if err != nil {
		t.Fatal(err)
	}
	if len(loss) != 1 {
		t.Fatalf("loss: want one sample, got %v", loss)
	}
	checkBinomial(t, "smokeping loss", loss[0].Value, lossPercent/100.0, n)
}

// checkBinomial fails unless got is within 5 standard deviations of p
// for n trials, plus one in-flight probe either way.
func checkBinomial(t *testing.T, what string, got, p, n float64) {
	t.Helper()
	tol := 5*math.Sqrt(p*(1-p)/n) + 1/n
	if math.Abs(got-p) > tol {
		t.Errorf("%s = %.4f over %.0f probes, want %.2f ± %.4f", what, got, n, p, tol)
	} else {
		t.Logf("%s = %.4f over %.0f probes (want %.2f ± %.4f)", what, got, n, p, tol)
	}
}
