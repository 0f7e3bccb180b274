package promlab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var dashboardFile = filepath.Join(docsDir, "grafana", "rawnet.json")

// The parts of a dashboard that Grafana's import reads and this test
// checks.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Time struct{ From, To string } `json:"time"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasource              `json:"datasource"`
	GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	Targets    []struct {
		Expr       string      `json:"expr"`
		RefID      string      `json:"refId"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Query      any    `json:"query"`
	Definition string `json:"definition"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// TestDashboardImportable checks what Grafana's import needs: a uid, a
// title, a schema version, panels with unique ids inside the 24-column
// grid, every query on the ${datasource} variable, and the variables
// group, instance and host drawn from label_values.
func TestDashboardImportable(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 30 || d.Time.From == "" {
		t.Errorf("uid %q, title %q, schemaVersion %d, time.from %q: want all set (schemaVersion >= 30)",
			d.UID, d.Title, d.SchemaVersion, d.Time.From)
	}
	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v, ok := vars["datasource"]; !ok || v.Type != "datasource" || v.Query != "prometheus" {
		t.Errorf("want a datasource variable of type prometheus, got %+v", v)
	}
	for _, name := range []string{"group", "instance", "host"} {
		v, ok := vars[name]
		if !ok || v.Type != "query" || !strings.HasPrefix(v.Definition, "label_values(") {
			t.Errorf("variable %s: want a label_values query variable, got %+v", name, v)
		}
	}
	ids := map[int]bool{}
	kinds := map[string]bool{}
	for _, p := range d.Panels {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.ID <= 0 || ids[p.ID] {
			t.Errorf("%s: id missing or used twice", where)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v outside the 24-column grid", where, g)
		}
		kinds[p.Type] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("%s: want datasource ${datasource} and at least one target", where)
		}
		for _, tg := range p.Targets {
			if tg.Expr == "" || tg.RefID == "" || tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
				t.Errorf("%s: target %+v: want expr, refId and datasource ${datasource}", where, tg)
			}
		}
	}
	for _, k := range []string{"timeseries", "heatmap"} {
		if !kinds[k] {
			t.Errorf("no %s panel", k)
		}
	}
}

// dashboardExprs returns every PromQL expression of the dashboard, the
// panels' and the variables' (the selector inside label_values), named
// after where they come from.
func dashboardExprs(t *testing.T, d dashboard) map[string]string {
	t.Helper()
	exprs := map[string]string{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs[fmt.Sprintf("panel %d %q %s", p.ID, p.Title, tg.RefID)] = tg.Expr
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((.+), *[a-zA-Z_][a-zA-Z0-9_]*\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(SELECTOR, LABEL)", v.Name, v.Definition)
			continue
		}
		exprs["variable "+v.Name] = m[1]
	}
	return exprs
}

// grafanaVars are Grafana's own variables and a value that makes PromQL
// of them.
var grafanaVars = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "1m",
	"__range":         "1h",
}

// expand replaces Grafana variables: the built-in ones by durations, the
// dashboard's ($group, ${host}) by the regular expression of "All".
func expand(expr string, dashVars map[string]bool) (string, error) {
	var bad []string
	re := regexp.MustCompile(`\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?`)
	out := re.ReplaceAllStringFunc(expr, func(m string) string {
		name := re.FindStringSubmatch(m)[1]
		if v, ok := grafanaVars[name]; ok {
			return v
		}
		if dashVars[name] {
			return ".*"
		}
		bad = append(bad, m)
		return m
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("unknown variables %v", bad)
	}
	return out, nil
}

// TestDashboardQueriesParse puts every expression of the dashboard, with
// its variables expanded, into a generated recording-rules file and runs
// promtool check rules on it: each one parses as PromQL of the Prometheus
// that CI installs. It also checks that every rawnet_ metric named is one
// that rawnet exporter exposes.
func TestDashboardQueriesParse(t *testing.T) {
	d := loadDashboard(t)
	dashVars := map[string]bool{}
	for _, v := range d.Templating.List {
		dashVars[v.Name] = true
	}
	exprs := dashboardExprs(t, d)
	keys := make([]string, 0, len(exprs))
	for k := range exprs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, k := range keys {
		e, err := expand(exprs[k], dashVars)
		if err != nil {
			t.Errorf("%s: %v", k, err)
			continue
		}
		js, _ := json.Marshal(e) // a JSON string is a YAML string
		// The comment says where a rule that promtool rejects comes from.
		fmt.Fprintf(&rules, "      # %s\n      - record: dashboard:expr%d\n        expr: %s\n", k, i, js)
		for _, name := range MetricNames(e) {
			if Family(name) == "" {
				t.Errorf("%s: metric %s is not one rawnet exporter exposes", k, name)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "dashboard_rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := promtool(t, "check", "rules", path)
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(keys)); !strings.Contains(out, want) {
		t.Errorf("promtool check rules: want %q, got:\n%s", want, out)
	}
	if len(keys) < 15 {
		t.Errorf("only %d expressions found in the dashboard", len(keys))
	}
}
