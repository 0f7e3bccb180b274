package promlab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigFile: the generated prometheus.yml passes promtool check
// config (which also loads its rule files), and bad jobs are refused.
func TestConfigFile(t *testing.T) {
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Config{
		Interval:  500 * time.Millisecond,
		RuleFiles: []string{rules},
		Jobs: []Job{
			{Name: "rawnet", Targets: []string{"198.18.240.2:10731", "[fd00:0:0:240::2]:10731"}},
			{Name: "probe", Targets: []string{"127.0.0.1:10731"}, MetricsPath: "/probe", Params: map[string][]string{"module": {"icmp"}, "target": {"198.18.2.2"}}},
		},
	}.file()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := promtool(t, "check", "config", path)
	if !strings.Contains(out, "SUCCESS") || !strings.Contains(out, "10 rules found") {
		t.Errorf("promtool check config:\n%s", out)
	}
	if !strings.Contains(string(b), `"scrape_interval": "500ms"`) {
		t.Errorf("interval not written:\n%s", b)
	}
	for _, j := range []Job{{Name: "prometheus", Targets: []string{"x:1"}}, {Name: "", Targets: []string{"x:1"}}, {Name: "empty"}} {
		if _, err := (Config{Jobs: []Job{j}}).file(); err == nil {
			t.Errorf("job %+v: no error", j)
		}
	}
}
