// Package testenv decides, in one place, what a test does when the
// machine lacks something it needs (root, a tool such as tcpdump or
// tshark): on a developer's machine it skips with the reason, under CI it
// fails, because there a skip would hide a broken setup and a green run
// would claim what was never checked. Only tests use it.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// InCI reports whether the tests run under CI: CI is set to anything but
// "", "false" or "0" (GitHub Actions and GitLab set "true", others "1" or
// "yes").
func InCI() bool {
	return inCI(os.Getenv("CI"))
}

func inCI(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "false", "0":
		return false
	}
	return true
}

// SkipOrFail skips the test with the formatted reason, or fails it when
// InCI says a skip would hide a broken setup.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s; CI=%q, so this is a failure, not a skip", msg, os.Getenv("CI"))
	}
	t.Skip(msg)
}

// NeedTools skips (or under CI fails) the test unless every named program
// is on PATH.
func NeedTools(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			SkipOrFail(t, "%s is not installed (scripts/deps.sh installs it)", name)
		}
	}
}
