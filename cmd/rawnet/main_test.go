package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// rawnetBin is the rawnet binary built once for the tests that run it as
// users do: as a separate process, with real exit codes and signals.
var rawnetBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rawnet-test")
	if err != nil {
		panic(err)
	}
	rawnetBin = filepath.Join(dir, "rawnet")
	// Built as `make build` builds it (with cgo, for libpcap's filter
	// compiler), with the race detector when the tests have it, so that
	// the real-socket paths run under it too.
	args := []string{"build", "-tags", "netgo,osusergo,urfave_cli_no_docs", "-o", rawnetBin, "."}
	env := append(os.Environ(), "CGO_ENABLED=1")
	if raceEnabled {
		args = append(args[:1], append([]string{"-race"}, args[1:]...)...)
		env = os.Environ()
		skipRaceExitSleep()
	}
	build := exec.Command("go", args...)
	build.Env = env
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building rawnet: " + err.Error())
	}
	parallelLabTests()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// parallelLabTests: the lab tests here mostly wait, for packets, timers
// and the tools they compare with (the package used 0.3 of a core over
// its run), so without -parallel they run 4 at a time, not GOMAXPROCS
// (2 on CI). Every test that calls t.Parallel has its own lab.
func parallelLabTests() {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(max(4, runtime.GOMAXPROCS(0))))
	}
}

// skipRaceExitSleep: a binary built with -race sleeps atexit_sleep_ms
// (1s by default) before it exits, to catch races of goroutines still
// running then. Every run of rawnet in these tests waited that second
// (TestReadFilterCountsMatchTcpdump runs it 28 times: 29s, without the
// sleep 4s), and the package took 330s instead of 220s. Races up to the
// exit are still reported (and exit 66); a GORACE that sets the option
// keeps its value.
func skipRaceExitSleep() {
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
	}
}

type result struct {
	stdout, stderr string
	code           int
}

// rawnet runs the binary with args and a time limit.
func rawnet(t *testing.T, args ...string) result {
	t.Helper()
	return rawnetCmd(t, exec.Command(rawnetBin, args...))
}

func rawnetCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	return startRawnet(t, cmd)()
}

// startRawnet starts cmd and returns a func that waits for it (60s at most).
func startRawnet(t *testing.T, cmd *exec.Cmd) func() result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() result {
		t.Helper()
		return waitRawnet(t, cmd, &stdout, &stderr)
	}
}

// startRawnetUntil starts cmd and waits (60s at most) until its standard
// output so far satisfies ready, then returns a func that waits for it to
// end, with the whole output.
func startRawnetUntil(t *testing.T, cmd *exec.Cmd, ready func(stdout string) bool) func() result {
	t.Helper()
	var stdout syncBuffer
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !ready(stdout.String()) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("%v: no sign of progress in 60s:\n%q%s", cmd.Args, stdout.String(), stderr.String())
		}
		select {
		case <-stdout.changed():
		case <-time.After(time.Second):
		}
	}
	return func() result {
		t.Helper()
		return waitRawnet(t, cmd, &stdout, &stderr)
	}
}

// syncBuffer is a bytes.Buffer that a command writes while the test reads
// it, and that says when it grew.
type syncBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	wake chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// changed returns a channel closed at the next write.
func (s *syncBuffer) changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wake == nil {
		s.wake = make(chan struct{})
	}
	return s.wake
}

// waitRawnet waits (60s at most) for cmd to end and returns its output.
func waitRawnet(t *testing.T, cmd *exec.Cmd, stdout, stderr fmt.Stringer) result {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not finish in 60s", cmd.Args)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// isolatedNode returns a node of a new lab (src, alone on a link with
// dst) whose namespace has no default route: tests that check that rawnet
// refuses bad targets run there, so that if the input checks ever broke,
// no packet could leave the machine.
func isolatedNode(t *testing.T) *lab.Node {
	t.Helper()
	l := labtest.Up(t, lab.Spec{})
	for _, fam := range []string{"-4", "-6"} {
		out, err := l.Src.Command(t.Context(), "ip", fam, "route", "show", "default").Output()
		if err != nil || len(bytes.TrimSpace(out)) != 0 {
			t.Fatalf("ip %s route show default in %s: %q, %v; want no default route", fam, l.Src.NS, out, err)
		}
	}
	return l.Src
}

func TestBadInputExitsTwoWithOneLine(t *testing.T) {
	t.Parallel()
	n := isolatedNode(t)
	for _, tc := range []struct {
		args []string
		want string // the flag or argument the error must name
	}{
		{[]string{"ping", "not_an..address"}, "not_an..address"},
		{[]string{"ping", "-c", "0", "127.0.0.1"}, "-c 0"},
		{[]string{"ping", "-c", "-3", "127.0.0.1"}, "-c -3"},
		{[]string{"ping", "-i", "0.00001", "127.0.0.1"}, "-i"},
		{[]string{"ping", "-i", "-1", "127.0.0.1"}, "-i"},
		{[]string{"ping", "-i", "soon", "127.0.0.1"}, "soon"},
		{[]string{"ping", "-i", "nan", "127.0.0.1"}, "nan"},
		{[]string{"ping", "-W", "inf", "127.0.0.1"}, "inf"},
		{[]string{"ping", "--max-targets", "0", "127.0.0.1"}, "--max-targets"},
		{[]string{"ping", "198.19.0.0/15"}, "--max-targets"},
		{[]string{"ping", "-t", "0", "127.0.0.1"}, "-t 0"},
		{[]string{"ping", "-t", "300", "127.0.0.1"}, "-t 300"},
		{[]string{"ping", "-s", "70000", "127.0.0.1"}, "-s 70000"},
		{[]string{"ping", "-Q", "256", "127.0.0.1"}, "-Q 256"},
		{[]string{"ping", "-p", "xyz", "127.0.0.1"}, "-p xyz"},
		{[]string{"ping", "-M", "sometimes", "127.0.0.1"}, "-M sometimes"},
		{[]string{"ping", "-P", "sctp", "127.0.0.1"}, "-P sctp"},
		{[]string{"ping", "-P", "tcp", "-p", "70000", "127.0.0.1"}, "-p 70000"},
		{[]string{"ping", "-P", "udp", "--port", "0", "127.0.0.1"}, "--port 0"},
		{[]string{"ping", "-P", "tcp", "-p", "ff", "127.0.0.1"}, "-p ff"},
		{[]string{"ping", "--port", "80", "127.0.0.1"}, "--port 80"},
		{[]string{"ping", "-P", "tcp", "-p", "80", "--port", "81", "127.0.0.1"}, "--port 81"},
		{[]string{"ping", "-P", "udp", "--pattern", "zz", "127.0.0.1"}, "--pattern zz"},
		{[]string{"ping", "-P", "tcp", "--pattern", "ab", "127.0.0.1"}, "--pattern ab"},
		{[]string{"ping", "-P", "tcp", "--socket", "raw", "127.0.0.1"}, "--socket"},
		{[]string{"ping", "-P", "udp", "--id", "7", "127.0.0.1"}, "--id"},
		{[]string{"ping", "-W", "0", "127.0.0.1"}, "-W"},
		{[]string{"ping", "--rate", "0", "127.0.0.1", "127.0.0.2"}, "--rate"},
		{[]string{"ping", "--socket", "magic", "127.0.0.1"}, "--socket magic"},
		{[]string{"ping", "-4", "-6", "127.0.0.1"}, "-4"},
		{[]string{"ping", "-6", "127.0.0.1"}, "127.0.0.1"},
		{[]string{"ping", "10.0.0.0/8"}, "10.0.0.0/8"},
		{[]string{"ping", "--bogus", "127.0.0.1"}, "bogus"},
		{[]string{"ping"}, "TARGET"},
		{[]string{"pong", "127.0.0.1"}, "pong"},
		{[]string{"send"}, "SPEC"},
		{[]string{"send", "ip(dst=127.0.0.1,ttl=300)"}, "column 22: ip.ttl: 300 is out of range 0..255"},
		{[]string{"send", "ip(dst=127.0.0.1)/udp(dport=70000)"}, "udp.dport: 70000 is out of range 0..65535"},
		{[]string{"send", "ip(dst=127.0.0.1,tll=1)"}, `column 18: unknown field "tll" for ip`},
		{[]string{"send", "ip(dst=127.0.0.1"}, "column 17: expected ',' or ')'"},
		{[]string{"send", "ip(dst=127.0.0.1)/icmp6"}, "icmp6 cannot follow ip"},
		{[]string{"send", "--rate", "-1", "ip(dst=127.0.0.1)"}, "--rate"},
		{[]string{"send", "-i", "u0", "ip(dst=127.0.0.1)"}, "-i u0"},
		{[]string{"send", "-i", "1", "--rate", "5", "ip(dst=127.0.0.1)"}, "--rate"},
		{[]string{"send", "--fragment", "4", "ip(dst=127.0.0.1)"}, "--fragment 4"},
		{[]string{"send", "-c", "0", "ip(dst=127.0.0.1)"}, "-c 0"},
		{[]string{"send", "--l2", "--l3", "ip(dst=127.0.0.1)"}, "--l3"},
		{[]string{"send", "--dry-run", "--wait", "1", "ip(dst=127.0.0.1)"}, "--wait"},
		{[]string{"send", "--wait", "soon", "ip(dst=127.0.0.1)"}, "soon"},
		{[]string{"decode", "zz"}, "zz"},
	} {
		r := inNS(t, n, tc.args...)
		line := strings.TrimSpace(r.stderr)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", tc.args, r.code, r.stderr)
			continue
		}
		if strings.Count(line, "\n") != 0 || !strings.Contains(line, tc.want) {
			t.Errorf("%v: stderr %q: want one line naming %q", tc.args, r.stderr, tc.want)
		}
		if strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "panic") || r.stdout != "" {
			t.Errorf("%v: stdout %q stderr %q", tc.args, r.stdout, r.stderr)
		}
	}
}

func TestPermuteArgs(t *testing.T) {
	app := newApp(nil, nil)
	for _, tc := range []struct{ in, want string }{
		{"rawnet ping 198.18.0.1 -c 3", "rawnet ping -c 3 -- 198.18.0.1"},
		{"rawnet ping -c3 -i0.2 -W1 198.18.0.1", "rawnet ping -c 3 -i 0.2 -W 1 -- 198.18.0.1"},
		{"rawnet ping -qc3 198.18.0.1 -fn", "rawnet ping -q -c 3 -f -n -- 198.18.0.1"},
		{"rawnet ping -qc 3 198.18.0.1", "rawnet ping -q -c 3 -- 198.18.0.1"},
		{"rawnet ping -4 198.18.0.1", "rawnet ping -4 -- 198.18.0.1"},
		{"rawnet ping -xyz 198.18.0.1", "rawnet ping -xyz -- 198.18.0.1"},
		{"rawnet ping -q 198.18.0.1 -4 --json", "rawnet ping -q -4 --json -- 198.18.0.1"},
		{"rawnet ping --count=2 198.18.0.1", "rawnet ping --count=2 -- 198.18.0.1"},
		{"rawnet ping -- -weird", "rawnet ping -- -weird"},
		{"rawnet lab down x --all", "rawnet lab down --all -- x"},
	} {
		got := strings.Join(permuteArgs(app, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("permuteArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
