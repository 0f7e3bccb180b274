// Package labtest builds lab networks for tests: it skips a test that
// cannot have one (no root, no ip or nft) with a message that says why,
// except under CI (testenv.InCI), where a skip would hide a broken setup
// and the test fails instead.
package labtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/testenv"
)

// upTimeout bounds building one lab.
const upTimeout = 30 * time.Second

// Up builds a lab from spec under a random name and removes it when the
// test ends. It skips (or, under CI, fails) when the lab cannot be
// built for lack of privilege or tools.
func Up(t testing.TB, spec lab.Spec) *lab.Lab {
	t.Helper()
	RequireRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), upTimeout)
	defer cancel()
	l, err := lab.Up(ctx, "", spec)
	if err != nil {
		t.Fatalf("labtest: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("labtest: close lab %s: %v", l.Name, err)
		}
	})
	return l
}

// RequireRoot skips the test unless it may build labs and send raw
// packets: CAP_SYS_ADMIN, CAP_NET_ADMIN and CAP_NET_RAW, and the ip and
// nft commands. Under CI it fails instead of skipping.
func RequireRoot(t testing.TB) {
	t.Helper()
	reason := missing()
	if reason == "" {
		return
	}
	testenv.SkipOrFail(t, "labtest: %s (run the tests as root, e.g. sudo -E go test ./...)", reason)
}

// Linux capability numbers (linux/capability.h).
var needCaps = []struct {
	bit  uint
	name string
}{{21, "CAP_SYS_ADMIN"}, {12, "CAP_NET_ADMIN"}, {13, "CAP_NET_RAW"}}

// missing says what the process lacks to build a lab, or "".
func missing() string {
	eff, err := effectiveCaps()
	if err != nil {
		return fmt.Sprintf("network namespace labs need Linux: %v", err)
	}
	var lack []string
	for _, c := range needCaps {
		if eff&(1<<c.bit) == 0 {
			lack = append(lack, c.name)
		}
	}
	if len(lack) > 0 {
		return "lab needs root: missing " + strings.Join(lack, ", ")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Sprintf("lab needs %s (install iproute2 and nftables): %v", tool, err)
		}
	}
	return ""
}

// effectiveCaps reads the effective capability set of this process.
func effectiveCaps() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, fmt.Errorf("no CapEff in /proc/self/status")
}

// StartListening starts the capture command c (tcpdump) and returns once
// it says it listens; the rest of its stderr is drained in the
// background.
func StartListening(t testing.TB, c *exec.Cmd) {
	t.Helper()
	stderr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.Contains(sc.Text(), "listening on") {
	}
	go func() {
		for sc.Scan() {
		}
	}()
}
