package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const model = `{"name":"tool","usage":"does things","description":"Long text.\n\nEXIT STATUS\n\n0 ok.",
"commands":[{"name":"run","usage":"run it","args_usage":"FILE","description":"Runs FILE.",
"flags":[{"names":["c","count"],"placeholder":"N","usage":"stop after N"}]}]}`

func TestWriteThenCheck(t *testing.T) {
	dir := t.TempDir()
	mf := filepath.Join(dir, "model.json")
	os.WriteFile(mf, []byte(model), 0o644)
	out := filepath.Join(dir, "docs")
	var log strings.Builder
	if err := run(mf, out, false, &log); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"man/tool.1", "man/tool-run.1", "tool.md", "tool-run.md"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("not written: %v", err)
		}
	}
	page, _ := os.ReadFile(filepath.Join(out, "man", "tool-run.1"))
	if !strings.Contains(string(page), `\fB\-c\fR \fIN\fR, \fB\-\-count\fR \fIN\fR`) {
		t.Errorf("tool-run.1 lacks the flag:\n%s", page)
	}
	if err := run(mf, out, true, &log); err != nil {
		t.Errorf("check right after writing: %v", err)
	}
	// A page whose text is unchanged keeps its date.
	dated := strings.Replace(string(page), `"TOOL-RUN" 1 "`, `"TOOL-RUN" 1 "2001-02-03`, 1)
	dated = strings.Replace(dated, `2001-02-03`+thDateOf(string(page)), `2001-02-03`, 1)
	os.WriteFile(filepath.Join(out, "man", "tool-run.1"), []byte(dated), 0o644)
	if err := run(mf, out, true, &log); err != nil {
		t.Errorf("check with an older date: %v", err)
	}
	// A page that differs is stale.
	os.WriteFile(filepath.Join(out, "tool.md"), []byte("old"), 0o644)
	log.Reset()
	if err := run(mf, out, true, &log); err == nil || !strings.Contains(log.String(), "stale: "+filepath.Join(out, "tool.md")) {
		t.Errorf("check of a changed file: %v, %q", err, log.String())
	}
}

func thDateOf(page string) string {
	for _, l := range strings.Split(page, "\n") {
		if strings.HasPrefix(l, ".TH ") {
			return strings.Split(l, `"`)[3]
		}
	}
	return ""
}

func TestBadModel(t *testing.T) {
	mf := filepath.Join(t.TempDir(), "m.json")
	os.WriteFile(mf, []byte(`{"name":"x"}`), 0o644)
	if err := run(mf, t.TempDir(), false, &strings.Builder{}); err == nil {
		t.Error("a model without commands was accepted")
	}
}
