package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	}
	build := exec.Command("go", args...)
	build.Env = env
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building rawnet: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
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

func waitRawnet(t *testing.T, cmd *exec.Cmd, stdout, stderr *bytes.Buffer) result {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%v did not finish in 60s", cmd.Args)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

func TestBadInputExitsTwoWithOneLine(t *testing.T) {
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
		{[]string{"ping", "-W", "0", "127.0.0.1"}, "-W"},
		{[]string{"ping", "--rate", "0", "127.0.0.1", "127.0.0.2"}, "--rate"},
		{[]string{"ping", "--socket", "magic", "127.0.0.1"}, "--socket magic"},
		{[]string{"ping", "-4", "-6", "127.0.0.1"}, "-4"},
		{[]string{"ping", "-6", "127.0.0.1"}, "127.0.0.1"},
		{[]string{"ping", "10.0.0.0/8"}, "10.0.0.0/8"},
		{[]string{"ping", "--bogus", "127.0.0.1"}, "bogus"},
		{[]string{"ping"}, "TARGET"},
		{[]string{"pong", "127.0.0.1"}, "pong"},
	} {
		r := rawnet(t, tc.args...)
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
