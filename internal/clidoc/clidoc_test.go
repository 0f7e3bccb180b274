package clidoc

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	text := `Intro line one
and two with ` + "`code`" + `.

EXIT STATUS

- first item
  continued
- second

hop
    body of hop
    more
summary
    body

  $ rawnet ping x
    indented more
`
	want := []Block{
		{Kind: Para, Text: "Intro line one and two with `code`."},
		{Kind: Heading, Text: "EXIT STATUS"},
		{Kind: Item, Text: "first item continued"},
		{Kind: Item, Text: "second"},
		{Kind: Tag, Term: "hop", Text: "body of hop more"},
		{Kind: Tag, Term: "summary", Text: "body"},
		{Kind: Code, Lines: []string{"$ rawnet ping x", "  indented more"}},
	}
	if got := Parse(text); !reflect.DeepEqual(got, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", got, want)
	}
}

func TestRoffEscapes(t *testing.T) {
	for in, want := range map[string]string{
		`-c N`:           `\-c N`,
		`.starts a line`: `\&.starts a line`,
		`'quote`:         `\&'quote`,
		`back\slash`:     `back\eslash`,
		"8.3 µs":         `8.3 \[u00B5]s`,
	} {
		if got := roffText(in); got != want {
			t.Errorf("roffText(%q) = %q, want %q", in, got, want)
		}
	}
	if got := roffInline("use `--json` here"); got != `use \fB\-\-json\fR here` {
		t.Errorf("roffInline: %q", got)
	}
}

func TestRoffFillsLines(t *testing.T) {
	var w roffWriter
	w.line(strings.Repeat("word ", 60) + ".dot")
	for _, l := range strings.Split(strings.TrimSpace(w.String()), "\n") {
		if len(l) > 78 {
			t.Errorf("line of %d bytes: %q", len(l), l)
		}
		if strings.HasPrefix(l, ".") {
			t.Errorf("text line starts with a dot: %q", l)
		}
	}
}

func TestMarkdownEscapes(t *testing.T) {
	if got := mdInline("a *b* `c*d` [e] f_g"); got != `a \*b\* `+"`c*d`"+` \[e\] f\_g` {
		t.Errorf("mdInline: %q", got)
	}
}

func TestPlainDropsBackQuotes(t *testing.T) {
	if got := Plain("use `--json`"); got != "use --json" {
		t.Errorf("Plain: %q", got)
	}
}

func TestCompleteUnknownShell(t *testing.T) {
	m := &App{Name: "x"}
	if err := m.Complete(&strings.Builder{}, "tcsh"); err == nil || !strings.Contains(err.Error(), "tcsh") {
		t.Errorf("Complete(tcsh) = %v", err)
	}
}
