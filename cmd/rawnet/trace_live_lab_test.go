package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
	"github.com/rawnet/rawnet/internal/testenv"
)

// tmuxSession runs a command in a detached tmux session of its own (its
// own server socket, so that nothing else's tmux is touched) and reads
// its screen as a user sees it.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T, w, h int, command string) *tmuxSession {
	t.Helper()
	testenv.NeedTools(t, "tmux")
	s := &tmuxSession{t: t, socket: fmt.Sprintf("rawnet-test-%d-%d", os.Getpid(), time.Now().UnixNano())}
	s.run("new-session", "-d", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), command)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string { return s.run("capture-pane", "-p") }

func (s *tmuxSession) keys(k ...string) { s.run(append([]string{"send-keys"}, k...)...) }

// waitFor polls the screen until ok accepts it (at most d).
func (s *tmuxSession) waitFor(what string, d time.Duration, ok func(string) bool) string {
	s.t.Helper()
	end := time.Now().Add(d)
	for {
		scr := s.screen()
		if ok(scr) {
			return scr
		}
		if time.Now().After(end) {
			s.t.Fatalf("%s: not on screen after %v:\n%s", what, d, scr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// liveRow is a hop row of the live table.
type liveRow struct {
	ttl  int
	host string
	loss float64
	snt  int
}

var liveRowRE = regexp.MustCompile(`^[> ]\s*(\d+)\. (\S+)(?: \(rate limited\?\))?\s+([\d.]+)%\??\s+(\d+)\s`)

func liveRows(scr string) []liveRow {
	var rows []liveRow
	for _, l := range strings.Split(scr, "\n") {
		m := liveRowRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		ttl, _ := strconv.Atoi(m[1])
		loss, _ := strconv.ParseFloat(m[3], 64)
		snt, _ := strconv.Atoi(m[4])
		rows = append(rows, liveRow{ttl, m[2], loss, snt})
	}
	return rows
}

// The live view under a real terminal: six hops in order, the loss that
// nftables injects after router 3 and none before, p freezing the
// counts, r resetting them, q leaving the report on the normal screen.
func TestTraceLiveUnderTmux(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 5, Loss: []lab.Loss{{Link: 3, Percent: 30}}})
	hops := l.HopAddrs4()
	// A flat 150ms wait (-W with the adaptive rules off), so that a busy
	// test machine does not turn a slow answer into loss at hops 1-3.
	cmd := fmt.Sprintf("ip netns exec %s %s mtr -n -q 3 -i 0.05 -W 0.15,0,0 %s; echo EXIT=$?; sleep 120", l.Src.NS, rawnetBin, l.Dst.Addr4)
	s := newTmux(t, 120, 40, cmd)

	const want = 450 // probes at the last hop: 30% loss is then 30 +- 2.2 (one sigma)
	scr := s.waitFor(fmt.Sprintf("%d probes at hop 6", want), 3*time.Minute, func(scr string) bool {
		r := liveRows(scr)
		return len(r) == 6 && r[5].snt >= want
	})
	rows := liveRows(scr)
	for i, r := range rows {
		if r.ttl != i+1 || r.host != hops[i].String() {
			t.Errorf("row %d: hop %d %s, want %d %s:\n%s", i, r.ttl, r.host, i+1, hops[i], scr)
		}
		if i < 3 {
			if r.loss > 1 {
				t.Errorf("hop %d: %.1f%% loss before the lossy link, want about 0:\n%s", r.ttl, r.loss, scr)
			}
			continue
		}
		sigma := 100 * math.Sqrt(0.3*0.7/float64(r.snt))
		if math.Abs(r.loss-30) > 5*sigma {
			t.Errorf("hop %d: %.1f%% loss over %d probes, want 30%% +- %.1f (5 sigma):\n%s", r.ttl, r.loss, r.snt, 5*sigma, scr)
		}
	}

	// p: probing stops, Snt stays.
	s.keys("p")
	scr = s.waitFor("[paused]", 10*time.Second, func(scr string) bool { return strings.Contains(scr, "[paused]") })
	time.Sleep(500 * time.Millisecond) // the cut-short cycle is dropped, not counted
	before := liveRows(s.screen())
	time.Sleep(1500 * time.Millisecond) // 30 intervals
	after := liveRows(s.screen())
	if len(before) != 6 || len(after) != 6 {
		t.Fatalf("paused: rows %v then %v", before, after)
	}
	for i := range before {
		if before[i].snt != after[i].snt {
			t.Errorf("paused: hop %d Snt went from %d to %d", i+1, before[i].snt, after[i].snt)
		}
	}
	// r: the counts start again from nothing.
	s.keys("r")
	scr = s.waitFor("the reset", 10*time.Second, func(scr string) bool {
		return strings.Contains(scr, "cycles 0 ") && len(liveRows(scr)) == 0
	})
	s.keys("p")
	scr = s.waitFor("probing again", 30*time.Second, func(scr string) bool {
		r := liveRows(scr)
		return !strings.Contains(scr, "[paused]") && len(r) == 6 && r[5].snt > 0
	})
	if r := liveRows(scr); r[0].snt >= before[0].snt {
		t.Errorf("after r and p: hop 1 Snt %d, not below the %d before the reset", r[0].snt, before[0].snt)
	}
	// q: exit 0, the report stays on the normal screen.
	s.keys("q")
	scr = s.waitFor("exit status", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "EXIT=") })
	if !strings.Contains(scr, "EXIT=0") {
		t.Errorf("q: want exit 0:\n%s", scr)
	}
	if !strings.Contains(scr, "report for "+l.Dst.Addr4.String()) || !strings.Contains(scr, "Loss%   Snt     Last") {
		t.Fatalf("q: no report on the screen:\n%s", scr)
	}
	for i, h := range hops {
		if !strings.Contains(scr, fmt.Sprintf("%3d. %s ", i+1, h)) {
			t.Errorf("report lacks hop %d %s:\n%s", i+1, h, scr)
		}
	}
}

// Not a terminal: one line that says so and points at --report, exit 2,
// before any socket is opened.
func TestTraceLiveNeedsATerminal(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"mtr", "198.18.0.1"}, {"trace", "--live", "-n", "198.18.0.1"}} {
		r := rawnet(t, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "not a terminal") || !strings.Contains(r.stderr, "--report") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stdout != "" {
			t.Errorf("rawnet %v with stdout a pipe: exit %d, stderr %q, stdout %q", args, r.code, r.stderr, r.stdout)
		}
	}
	r := rawnet(t, "trace", "--live", "--report", "198.18.0.1")
	if r.code != 2 || !strings.Contains(r.stderr, "--live and --report") {
		t.Errorf("--live --report: exit %d, stderr %q", r.code, r.stderr)
	}
}

// --write and --json-file keep working while the view runs; the view
// follows a resize; f shows one flow; Ctrl-C quits as q does.
func TestTraceLiveWritesFilesAndResizes(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 2})
	dir := t.TempDir()
	pcapFile, jsonFile := dir+"/live.pcapng", dir+"/live.json"
	cmd := fmt.Sprintf("ip netns exec %s %s trace --live -n -P icmp --flows 2 -i 0.05 --write %s --json-file %s %s; echo EXIT=$?; sleep 120",
		l.Src.NS, rawnetBin, pcapFile, jsonFile, l.Dst.Addr6)
	s := newTmux(t, 100, 30, cmd)
	cyclesRE := regexp.MustCompile(`cycles (\d+) `)
	s.waitFor("20 cycles", 2*time.Minute, func(scr string) bool {
		m := cyclesRE.FindStringSubmatch(scr)
		n := 0
		if m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		return n >= 20 && len(liveRows(scr)) == 3
	})
	s.run("resize-window", "-x", "60", "-y", "15")
	s.waitFor("the view redrawn at 60x15", 10*time.Second, func(scr string) bool {
		lines := strings.Split(strings.TrimRight(scr, "\n"), "\n")
		for _, l := range lines {
			if len([]rune(l)) > 60 {
				return false
			}
		}
		return len(lines) <= 15 && strings.HasPrefix(lines[0], "rawnet mtr to "+l.Dst.Addr6.String()) && strings.Contains(scr, "Loss%")
	})
	s.keys("f")
	s.waitFor("flow 0", 10*time.Second, func(scr string) bool { return strings.Contains(scr, "flow 0 (1 of 2)") })
	s.keys("C-c")
	scr := s.waitFor("exit status", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "EXIT=") })
	if !strings.Contains(scr, "EXIT=0") {
		t.Errorf("Ctrl-C: want exit 0:\n%s", scr)
	}
	hops, probes, reached, reports := 0, 0, 0, 0
	data, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range jsonEvents(t, string(data)) {
		switch e["type"] {
		case "hop":
			if _, ok := e["cycle"]; !ok {
				t.Fatalf("hop without its cycle: %v", e)
			}
			hops++
			for _, p := range e["probes"].([]any) {
				probes++
				if p.(map[string]any)["reached"] == true {
					reached++
				}
			}
		case "report":
			reports++
		}
	}
	if hops < 60 || reports != 3 {
		t.Errorf("--json-file: %d hop lines, %d report lines; want 60 or more (20 cycles) and 3", hops, reports)
	}
	req := tsharkCount(t, pcapFile, "icmpv6.type == 128")
	rep := tsharkCount(t, pcapFile, "icmpv6.type == 129 && ipv6.src == "+l.Dst.Addr6.String())
	if req < probes || rep < reached || reached < 20 {
		t.Errorf("--write: %d echo requests and %d replies from dst; the JSON reports %d probes, %d reaching dst", req, rep, probes, reached)
	}
}
