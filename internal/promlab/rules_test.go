package promlab

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rawnet/rawnet/internal/testenv"
)

// docsDir holds the Prometheus and Grafana files rawnet ships.
const docsDir = "../../docs"

var rulesFile = filepath.Join(docsDir, "prometheus", "rules.yml")

// promtool runs promtool with args and fails the test with its output
// when it fails.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	testenv.NeedTools(t, "promtool")
	out, err := exec.Command("promtool", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestRulesCheck: the rules file parses, every expression is valid PromQL
// for the Prometheus version CI installs, and rule names are well formed.
func TestRulesCheck(t *testing.T) {
	out := promtool(t, "check", "rules", rulesFile)
	if !strings.Contains(out, "SUCCESS: 10 rules found") {
		t.Errorf("promtool check rules: want 10 rules, got:\n%s", out)
	}
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	names := MetricNames(string(b))
	for _, name := range names {
		if Family(name) == "" {
			t.Errorf("%s uses %s, which rawnet exporter does not expose", rulesFile, name)
		}
	}
	if len(names) < 5 {
		t.Errorf("%s: only %v found", rulesFile, names)
	}
}

func TestMetricNames(t *testing.T) {
	got := MetricNames(`target:rawnet_probe_loss:ratio_rate5m > 0 or rate(rawnet_probe_rtt_seconds_bucket[5m]) / rawnet_probe_requests_total and rawnet_probe_requests_total`)
	want := []string{"rawnet_probe_requests_total", "rawnet_probe_rtt_seconds_bucket"}
	if !slices.Equal(got, want) {
		t.Errorf("MetricNames = %v, want %v", got, want)
	}
}

// TestRulesUnit runs the unit tests of rules_test.yml: synthetic series
// with known loss and RTT, the values the recording rules must compute
// and the alerts that must fire (and must not).
func TestRulesUnit(t *testing.T) {
	out := promtool(t, "test", "rules", filepath.Join(docsDir, "prometheus", "rules_test.yml"))
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules:\n%s", out)
	}
}
