package priv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/testenv"
)

// helperEnv tells a re-executed test binary which helper to run.
const helperEnv = "RAWNET_PRIV_TEST_HELPER"

const capNetRaw = 13

// needRoot skips a test that needs root with CAP_NET_RAW, except under
// CI (testenv.InCI), where such a skip would hide a broken setup and fails instead.
func needRoot(t *testing.T) {
	t.Helper()
	eff, err := Effective()
	if os.Geteuid() == 0 && err == nil && eff&(1<<capNetRaw) != 0 {
		return
	}
	msg := fmt.Sprintf("needs root with CAP_NET_RAW (euid %d, CapEff %#x, %v)", os.Geteuid(), eff, err)
	testenv.SkipOrFail(t, "%s", msg)
}

// runHelper re-executes the test binary to run the named helper test in a
// child process and returns its combined output and error.
func runHelper(t *testing.T, test, mode string, attr *syscall.SysProcAttr, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+mode), env...)
	cmd.SysProcAttr = attr
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestEffectiveMatchesStatus compares Effective (capget) with the CapEff
// line of /proc/self/status, read on the same locked thread.
func TestEffectiveMatchesStatus(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	eff, err := Effective()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/status", unix.Gettid()))
	if err != nil {
		t.Fatal(err)
	}
	want, err := parseCapability(string(b), "CapEff")
	if err != nil {
		t.Fatal(err)
	}
	if eff != want {
		t.Fatalf("Effective() = %#x, /proc says CapEff %#x", eff, want)
	}
}

func TestDropErrorMapping(t *testing.T) {
	if err := dropError(0); err != nil {
		t.Errorf("dropError(0) = %v", err)
	}
	err := dropError(syscall.ENOTSUP)
	if !errors.Is(err, ErrDropUnsupported) || !errors.Is(err, syscall.ENOTSUP) {
		t.Errorf("dropError(ENOTSUP) = %v, want ErrDropUnsupported wrapping ENOTSUP", err)
	}
	err = dropError(syscall.EPERM)
	if errors.Is(err, ErrDropUnsupported) || !errors.Is(err, syscall.EPERM) || !strings.HasPrefix(err.Error(), "priv: ") {
		t.Errorf("dropError(EPERM) = %v", err)
	}
}

// TestDrop drops capabilities in a child process (this one keeps its own)
// and relies on the child's exit status: see TestDropHelper. Both a binary
// that links cgo (as `make build` and -race builds do; psx then runs the
// call on every thread) and one built without cgo must drop them on every
// thread: this test binary and a copy built with the other setting.
func TestDrop(t *testing.T) {
	needRoot(t)
	expectDropHelper(t, os.Args[0], 0)
	if linksCgo() {
		expectDropHelper(t, buildTestBinary(t, "0"), 0)
	} else {
		expectDropHelper(t, buildTestBinary(t, "1"), 0)
	}
}

// linksCgo reports whether this binary links cgo, where AllThreadsSyscall
// refuses to work. getpid is harmless on every thread.
func linksCgo() bool {
	_, _, errno := syscall.AllThreadsSyscall(syscall.SYS_GETPID, 0, 0, 0)
	return errno == syscall.ENOTSUP
}

func expectDropHelper(t *testing.T, binary string, code int) {
	t.Helper()
	cmd := exec.Command(binary, "-test.run=^TestDropHelper$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"=drop")
	out, err := cmd.CombinedOutput()
	if got := cmd.ProcessState.ExitCode(); got != code {
		t.Fatalf("%s: drop helper exited with %d (%v), want %d\n%s", filepath.Base(binary), got, err, code, out)
	}
}

// buildTestBinary builds this package's test binary with CGO_ENABLED=cgo.
func buildTestBinary(t *testing.T, cgo string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go" // where this project's machines have it
	}
	bin := filepath.Join(t.TempDir(), "priv-cgo"+cgo+".test")
	cmd := exec.Command(goTool, "test", "-c", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := fmt.Sprintf("cannot build a test binary with CGO_ENABLED=%s: %v\n%s", cgo, err, out)
		testenv.SkipOrFail(t, "%s", msg)
	}
	return bin
}

// Exit codes of the drop helper.
const (
	exitNoRawBefore = 3 + iota
	exitDropFailed
	exitDropUnsupported
	exitCapEff
	exitThreadCaps
	exitRawAfter
	exitKeptChanged
)

// TestDropHelper is not a test by itself: it runs only in the children that
// TestDrop starts, and reports through its exit status.
func TestDropHelper(t *testing.T) {
	if os.Getenv(helperEnv) != "drop" {
		return
	}
	code, msg := dropAndVerify()
	fmt.Fprintf(os.Stderr, "drop-helper: %s\n", msg)
	os.Exit(code)
}

func dropAndVerify() (int, string) {
	if err := openRawICMP(); err != nil {
		return exitNoRawBefore, fmt.Sprintf("raw ICMP socket before Drop: %v", err)
	}
	before, _ := Effective()
	release := occupyThreads(4) // make sure there are several OS threads to drop on
	defer release()
	if err := Drop(); errors.Is(err, ErrDropUnsupported) {
		return verifyKept(before, err)
	} else if err != nil {
		return exitDropFailed, err.Error()
	}
	if eff, err := Effective(); err != nil || eff != 0 {
		return exitCapEff, fmt.Sprintf("after Drop: CapEff %#x, %v", eff, err)
	}
	if err := allThreadsCapless(); err != nil {
		return exitThreadCaps, err.Error()
	}
	if err := openRawICMP(); !errors.Is(err, syscall.EPERM) {
		return exitRawAfter, fmt.Sprintf("raw ICMP socket after Drop: %v, want EPERM", err)
	}
	return 0, "ok: capabilities dropped on every thread"
}

// verifyKept checks that a Drop that reported ErrDropUnsupported left the
// capabilities as they were.
func verifyKept(before uint64, dropErr error) (int, string) {
	after, err := Effective()
	if err != nil || after != before {
		return exitKeptChanged, fmt.Sprintf("%v, yet CapEff went from %#x to %#x (%v)", dropErr, before, after, err)
	}
	if err := openRawICMP(); err != nil {
		return exitKeptChanged, fmt.Sprintf("%v, yet raw sockets now fail: %v", dropErr, err)
	}
	return exitDropUnsupported, dropErr.Error() + "; capabilities kept"
}

func openRawICMP() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// occupyThreads parks n goroutines each locked to an OS thread of its own.
func occupyThreads(n int) (release func()) {
	var started sync.WaitGroup
	done := make(chan struct{})
	for i := 0; i < n; i++ {
		started.Add(1)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			started.Done()
			<-done
		}()
	}
	started.Wait()
	return func() { close(done) }
}

// allThreadsCapless checks CapEff, CapPrm and CapInh of every thread of the
// process.
func allThreadsCapless() error {
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil || len(tasks) < 2 {
		return fmt.Errorf("want several threads, found %d (%v)", len(tasks), err)
	}
	for _, path := range tasks {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, field := range []string{"CapEff", "CapPrm", "CapInh"} {
			if mask, err := parseCapability(string(b), field); err != nil || mask != 0 {
				return fmt.Errorf("%s: %s %#x, %v", path, field, mask, err)
			}
		}
	}
	return nil
}

// TestPingGroupAllowsMatchesKernel compares PingGroupAllows with whether the
// kernel lets this process open an ICMP datagram socket: here, and in child
// processes in fresh network namespaces (ping_group_range is per namespace)
// where the range is set to include or exclude the child's group.
func TestPingGroupAllowsMatchesKernel(t *testing.T) {
	if allows, canOpen := PingGroupAllows(), openPingSocket() == nil; allows != canOpen {
		t.Errorf("host namespace: PingGroupAllows() = %v but socket opens: %v", allows, canOpen)
	}
	needRoot(t)
	egid := os.Getegid()
	for _, tc := range []struct {
		rng  string
		want bool
	}{
		{"1 0", false},
		{fmt.Sprintf("%d %d", egid, egid), true},
		{fmt.Sprintf("%d 2147483647", egid+1), false},
	} {
		attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
		out, err := runHelper(t, "TestPingGroupHelper", "pinggroup", attr,
			"RAWNET_PING_GROUP_RANGE="+tc.rng, "RAWNET_PARENT_NETNS="+netns(t))
		if err != nil {
			t.Fatalf("range %q: helper failed: %v\n%s", tc.rng, err, out)
		}
		want := fmt.Sprintf("ping-helper: allows=%v opens=%v", tc.want, tc.want)
		if !strings.Contains(out, want) {
			t.Errorf("range %q: want %q in\n%s", tc.rng, want, out)
		}
	}
}

// TestPingGroupHelper runs only in the children of
// TestPingGroupAllowsMatchesKernel, each in a network namespace of its own.
func TestPingGroupHelper(t *testing.T) {
	if os.Getenv(helperEnv) != "pinggroup" {
		return
	}
	// Write the sysctl only in a namespace of our own, never the host's.
	if parent := os.Getenv("RAWNET_PARENT_NETNS"); parent == "" || parent == netns(t) {
		t.Fatalf("refusing to set ping_group_range: not in a new network namespace")
	}
	rng := os.Getenv("RAWNET_PING_GROUP_RANGE")
	if err := os.WriteFile(pingGroupRangePath, []byte(rng), 0); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "ping-helper: allows=%v opens=%v\n", PingGroupAllows(), openPingSocket() == nil)
	os.Stderr.Write(out.Bytes())
}

func openPingSocket() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// netns identifies the network namespace of this process.
func netns(t *testing.T) string {
	t.Helper()
	ns, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}
