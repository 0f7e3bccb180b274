package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/clidoc"
	"github.com/rawnet/rawnet/internal/testenv"
)

// docsDir is the repository's docs/ directory.
const docsDir = "../../docs"

func testModel() *clidoc.App { return docModel(newApp(io.Discard, io.Discard)) }

// needTool skips (fails under CI) when a program is missing.
func needTool(t *testing.T, name string) {
	t.Helper()
	testenv.NeedTools(t, name)
}

// TestDocsCurrent regenerates the man pages and their Markdown copies from
// the command definitions and compares them with the checked-in ones.
func TestDocsCurrent(t *testing.T) {
	files := clidoc.Files(testModel(), docsDir, time.Now().UTC().Format(time.DateOnly))
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(docsDir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("docs/%s is stale or missing: run make docs", name)
		}
	}
	// No page of a command that is gone.
	pages, _ := filepath.Glob(filepath.Join(docsDir, "man", "*.1"))
	for _, p := range pages {
		if _, ok := files[filepath.Join("man", filepath.Base(p))]; !ok {
			t.Errorf("docs/man/%s belongs to no command: remove it", filepath.Base(p))
		}
	}
	if len(files) < 20 {
		t.Errorf("%d generated files, want a man page and a Markdown copy for rawnet and each of its 9 commands", len(files))
	}
}

// TestDocLinks: every relative link in the README, CONTRIBUTING.md and
// docs/*.md leads to a file of the repository, and none leaves it.
func TestDocLinks(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, filepath.Join(root, "README.md"), filepath.Join(root, "CONTRIBUTING.md"))
	link := regexp.MustCompile(`\]\(([^)#\s]+)`)
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") {
				continue
			}
			path := filepath.Join(filepath.Dir(f), target)
			rel, _ := filepath.Rel(root, path)
			if strings.HasPrefix(rel, "..") {
				t.Errorf("%s links outside the repository: %s", f, target)
			} else if _, err := os.Stat(path); err != nil {
				t.Errorf("%s: broken link %s", f, target)
			}
		}
	}
}

// TestManPagesLint runs the checked-in man pages through mandoc's and
// groff's linters and renders them with man.
func TestManPagesLint(t *testing.T) {
	needTool(t, "mandoc")
	needTool(t, "groff")
	needTool(t, "man")
	pages, _ := filepath.Glob(filepath.Join(docsDir, "man", "*.1"))
	if len(pages) == 0 {
		t.Fatal("no man pages under docs/man")
	}
	for _, p := range pages {
		if out, err := exec.Command("mandoc", "-T", "lint", "-W", "all", p).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("mandoc -T lint -W all %s: %v\n%s", p, err, out)
		}
		if out, err := exec.Command("groff", "-man", "-ww", "-z", p).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff -man -ww -z %s: %v\n%s", p, err, out)
		}
		cmd := exec.Command("man", "-l", p)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=0", "MANPAGER=cat", "PAGER=cat")
		out, err := cmd.Output()
		out = overstrike.ReplaceAll(out, nil) // bold and underline as grotty writes them
		name := strings.ToUpper(strings.TrimSuffix(filepath.Base(p), ".1"))
		if err != nil || !bytes.HasPrefix(out, []byte(name+"(1)")) || !bytes.Contains(out, []byte("SYNOPSIS")) {
			t.Errorf("man -l %s: %v\n%.300s", p, err, out)
		}
	}
}

var overstrike = regexp.MustCompile(".\x08")

// TestManPageCarriesHelp checks that a page holds what --help says: every
// flag and the long description.
func TestManPageCarriesHelp(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(docsDir, "rawnet-trace.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"`--multipath`", "`-W MAX[,HERE,NEAR]`", "## PARIS", "`rate_limited`", "## EXIT STATUS", "udp, icmp or tcp"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("docs/rawnet-trace.md lacks %q", want)
		}
	}
	r := rawnet(t, "trace", "--help")
	for _, want := range []string{"--multipath", "PARIS", "rate_limited", "EXIT STATUS"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("rawnet trace --help lacks %q", want)
		}
	}
	if strings.Contains(r.stdout, "`") {
		t.Errorf("rawnet trace --help shows markup back quotes")
	}
	for args, want := range map[string]string{"--help": "PRIVILEGES", "udp serve --help": "STAMP", "udp --help": "THE PROBE DATAGRAM", "lab": "198.18.0.0/15"} {
		if r := rawnet(t, strings.Fields(args)...); !strings.Contains(r.stdout, want) {
			t.Errorf("rawnet %s does not show %q from its doc text:\n%s", args, want, r.stdout)
		}
	}
}

// TestDocFilesMatchCommands: each doc/*.txt belongs to a command, and each
// visible top-level command has one.
func TestDocFilesMatchCommands(t *testing.T) {
	paths := map[string]bool{"rawnet": true}
	m := testModel()
	m.Walk(func(path string, c *clidoc.Command) { paths[strings.ReplaceAll(path, " ", "-")] = true })
	err := fs.WalkDir(docFiles, "doc", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if name := strings.TrimSuffix(filepath.Base(p), ".txt"); !paths[name] {
			t.Errorf("cmd/rawnet/%s belongs to no command", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Commands {
		if docText(c.Name) == "" {
			t.Errorf("command %s has no cmd/rawnet/doc/%s.txt", c.Name, c.Name)
		}
	}
}

// TestFlagChoices: each value set names a flag that exists, and the flag's
// usage text (what --help shows) names every value.
func TestFlagChoices(t *testing.T) {
	m := testModel()
	found := map[string]bool{}
	m.Walk(func(path string, c *clidoc.Command) {
		for _, f := range c.Flags {
			key := path + " " + f.Names[0]
			if want, ok := flagChoices[key]; ok {
				found[key] = true
				for _, v := range want {
					if !strings.Contains(f.Usage, v) {
						t.Errorf("%s -%s: usage %q does not name the value %q", path, f.Names[0], f.Usage, v)
					}
				}
				if len(f.Choices) != len(want) {
					t.Errorf("%s: model has choices %v", key, f.Choices)
				}
			}
		}
	})
	for key := range flagChoices {
		if !found[key] {
			t.Errorf("flagChoices[%q]: no such command and flag", key)
		}
	}
}

func TestCompletionBadShell(t *testing.T) {
	for _, args := range [][]string{{"completion", "tcsh"}, {"completion"}} {
		r := rawnet(t, args...)
		if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "SHELL") {
			t.Errorf("rawnet %v: exit %d, stderr %q; want 2 and one line naming SHELL", args, r.code, r.stderr)
		}
	}
}

// completionScript writes rawnet's script for shell into a temporary file.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	r := rawnet(t, "completion", shell)
	if r.code != 0 || r.stdout == "" {
		t.Fatalf("rawnet completion %s: exit %d: %s", shell, r.code, r.stderr)
	}
	name := map[string]string{"bash": "rawnet", "zsh": "_rawnet", "fish": "rawnet.fish"}[shell]
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fixtureDir holds files for file-name completion: trace.pcap, tx.pcapng.
func fixtureDir(t *testing.T) string {
	dir := t.TempDir()
	for _, f := range []string{"trace.pcap", "tx.pcapng"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	return dir
}

// bashComplete drives the bash completion function as bash does on Tab,
// with COMP_WORDS and COMP_CWORD, and returns the candidates sorted.
func bashComplete(t *testing.T, script, dir, line string) []string {
	t.Helper()
	prog := `source "$1"; read -ra COMP_WORDS <<< "$2"; [[ $2 == *" " ]] && COMP_WORDS+=("");
COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE=$2; COMP_POINT=${#2}
$(complete -p rawnet | sed -E 's/.*-F ([^ ]+) .*/\1/') rawnet; printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", prog, "bash", script, line)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash completing %q: %v\n%s", line, err, out)
	}
	return sortedLines(string(out))
}

func sortedLines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// completionCases are what Tab must offer after each line, in every shell.
var completionCases = []struct {
	line string
	want []string
}{
	{"rawnet pi", []string{"ping"}},
	{"rawnet tr", []string{"trace", "traceroute"}},
	{"rawnet trace -P ", []string{"icmp", "tcp", "udp"}},
	{"rawnet traceroute --protocol ", []string{"icmp", "tcp", "udp"}},
	{"rawnet ping --socket ", []string{"auto", "datagram", "raw"}},
	{"rawnet ping -M ", []string{"do", "dont", "probe", "want"}},
	{"rawnet ping -c 3 --so", []string{"--socket"}},
	{"rawnet udp s", []string{"scan", "serve"}},
	{"rawnet udp serve --mode ", []string{"echo", "reflect", "sink"}},
	{"rawnet udp probe --max-rtt-p", []string{"--max-rtt-p50", "--max-rtt-p90", "--max-rtt-p99"}},
	{"rawnet capture -Q ", []string{"in", "inout", "out"}},
	{"rawnet read ", []string{"trace.pcap", "tx.pcapng"}},
	{"rawnet read -w t", []string{"trace.pcap", "tx.pcapng"}},
	{"rawnet ping --write tx", []string{"tx.pcapng"}},
	{"rawnet completion ", []string{"bash", "fish", "zsh"}},
	{"rawnet lab ", []string{"down", "list", "up"}},
}

func TestCompletionBash(t *testing.T) {
	needTool(t, "bash")
	script, dir := completionScript(t, "bash"), fixtureDir(t)
	for _, tc := range completionCases {
		if got := bashComplete(t, script, dir, tc.line); !equal(got, tc.want) {
			t.Errorf("bash: %q completes to %q, want %q", tc.line, got, tc.want)
		}
	}
	// An interface name for -I.
	if got := bashComplete(t, script, dir, "rawnet ping -I l"); !contains(got, "lo") {
		t.Errorf("bash: rawnet ping -I l completes to %q, want lo among them", got)
	}
}

func TestCompletionFish(t *testing.T) {
	needTool(t, "fish")
	script, dir := completionScript(t, "fish"), fixtureDir(t)
	for _, tc := range completionCases {
		cmd := exec.Command("fish", "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, script, tc.line)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("fish completing %q: %v\n%s", tc.line, err, out)
		}
		var got []string
		for _, l := range sortedLines(string(out)) {
			got = append(got, strings.SplitN(l, "\t", 2)[0]) // candidate, then its description
		}
		sort.Strings(got)
		if !equal(got, tc.want) {
			t.Errorf("fish: %q completes to %q, want %q", tc.line, got, tc.want)
		}
	}
}

// TestCompletionZsh loads the script the way zsh does (autoloaded from
// $fpath by compinit) and completes through a pseudo-terminal (zpty).
func TestCompletionZsh(t *testing.T) {
	needTool(t, "zsh")
	script, dir := completionScript(t, "zsh"), fixtureDir(t)
	home := t.TempDir()
	// Load: compinit finds _rawnet by its #compdef line.
	load := exec.Command("zsh", "-f", "-c", `fpath=($1 $fpath); autoload -Uz compinit; compinit -u -d $2/.zcompdump; print -r -- $_comps[rawnet]`, "zsh", filepath.Dir(script), home)
	out, err := load.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "_rawnet" {
		t.Fatalf("zsh compinit: %v, _comps[rawnet]=%q", err, out)
	}
	for _, tc := range completionCases {
		got := zshComplete(t, filepath.Dir(script), home, dir, tc.line)
		if !equal(got, tc.want) {
			t.Errorf("zsh: %q completes to %q, want %q", tc.line, got, tc.want)
		}
	}
}

// zshComplete types line and Tab into an interactive zsh in a zpty and
// collects the candidates that completion adds (through a compadd wrapper
// that prints them). It reads until the completion system says it is done
// (a comppostfuncs hook prints COMPLETION-DONE), not for a fixed time: in
// one loaded CI run the first file completion, which autoloads _files and
// _path_files, took longer than the half second the test used to wait,
// and the test saw no candidates.
func zshComplete(t *testing.T, fpathDir, home, dir, line string) []string {
	t.Helper()
	// The hook's print is spelt so that zle's echo of the line that
	// defines it does not match the pattern read waits for.
	prog := `
zmodload zsh/zpty
zpty -b z 'zsh -f -i'
zpty -w z "PS1=''; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -d $2/.zcompdump; cd $3"
zpty -w z 'compadd() { builtin compadd "$@"; local -a a; builtin compadd -O a "$@"; print -rl -- "<<<"${^a}; }'
zpty -w z 'zstyle ":completion:*" list-prompt ""; zstyle ":completion:*" menu no; unsetopt listambiguous'
zpty -w z 'done_hook() { print -r -- COMPLETION"-"DONE }; comppostfuncs=(done_hook)'
zpty -w z 'print READY'
zpty -r z out '*READY*'; zpty -r z out '*READY*'
zpty -n -w z "$4"$'\t'
zpty -r z out '*COMPLETION-DONE*'
print -r -- "$out"
zpty -d z`
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "zsh", "-f", "-c", prog, "zsh", fpathDir, home, dir, line)
	cmd.Env = append(os.Environ(), "HOME="+home, "TERM=dumb")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("zsh zpty completing %q (no end of completion within a minute?): %v\n%s", line, err, out)
	}
	var got []string
	seen := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		i := strings.Index(l, "<<<")
		if i < 0 {
			continue
		}
		w := strings.TrimSpace(strings.TrimRight(l[i+3:], "\r"))
		if w != "" && !seen[w] {
			seen[w] = true
			got = append(got, w)
		}
	}
	sort.Strings(got)
	return got
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// TestMakeInstall installs into a temporary DESTDIR, as `make install`
// does after building, and checks that man and the three shells find what
// it installed there.
func TestMakeInstall(t *testing.T) {
	needTool(t, "make")
	dest := t.TempDir()
	out, err := exec.Command("make", "-C", "../..", "install-files", "DESTDIR="+dest, "PREFIX=/usr", "BIN="+rawnetBin).CombinedOutput()
	if err != nil {
		t.Fatalf("make install-files: %v\n%s", err, out)
	}
	share := filepath.Join(dest, "usr", "share")
	pages, _ := filepath.Glob(filepath.Join(docsDir, "man", "*.1"))
	for _, p := range pages {
		if _, err := os.Stat(filepath.Join(share, "man", "man1", filepath.Base(p))); err != nil {
			t.Errorf("man page not installed: %v", err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dest, "usr", "bin", "rawnet")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("binary not installed with mode 0755: %v", err)
	}
	needTool(t, "man")
	cmd := exec.Command("man", "-w", "rawnet-ping")
	cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(share, "man"))
	if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) != filepath.Join(share, "man", "man1", "rawnet-ping.1") {
		t.Errorf("man -w rawnet-ping with MANPATH under DESTDIR: %v %q", err, out)
	}
	// bash-completion loads the script on demand from XDG_DATA_DIRS.
	loader := "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(loader); err != nil {
		needTool(t, "bash-completion-is-not-installed")
	}
	bash := exec.Command("bash", "--norc", "--noprofile", "-c", `source `+loader+`; __load_completion rawnet && complete -p rawnet`)
	bash.Env = append(os.Environ(), "XDG_DATA_DIRS="+share, "BASH_COMPLETION_USER_DIR="+t.TempDir())
	if out, err := bash.CombinedOutput(); err != nil || !strings.Contains(string(out), "complete -F _rawnet rawnet") {
		t.Errorf("bash-completion did not load the installed script: %v\n%s", err, out)
	}
	needTool(t, "fish")
	// fish loads completions for commands it finds on PATH only.
	fish := exec.Command("fish", "--no-config", "-c", `set -p fish_complete_path $argv[1]; complete -C 'rawnet trace -P '`, filepath.Join(share, "fish", "vendor_completions.d"))
	fish.Env = append(os.Environ(), "PATH="+filepath.Join(dest, "usr", "bin")+":"+os.Getenv("PATH"))
	if out, err := fish.CombinedOutput(); err != nil || !strings.Contains(string(out), "icmp") {
		t.Errorf("fish did not find the installed script: %v\n%s", err, out)
	}
	needTool(t, "zsh")
	zsh := exec.Command("zsh", "-f", "-c", `fpath=($1 $fpath); autoload -Uz compinit; compinit -u -d $2/.zcompdump; print -r -- $_comps[rawnet]`, "zsh", filepath.Join(share, "zsh", "site-functions"), t.TempDir())
	if out, err := zsh.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "_rawnet" {
		t.Errorf("zsh compinit did not find the installed _rawnet: %v %q", err, out)
	}
}

// BenchmarkNewApp is what every rawnet run pays before it starts its job
// (the long descriptions are not read unless help is printed).
func BenchmarkNewApp(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		newApp(io.Discard, io.Discard)
	}
}
