package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A detached responder is a process in its own session whose pid (and
// start time, against pid reuse) is kept in the lab's state directory.

const (
	pidFile       = "responder.pid"
	logFile       = "responder.log"
	readyTimeout  = 5 * time.Second
	signalTimeout = 3 * time.Second
)

// startDetached starts the responder command for namespace ns and waits
// until it says "ready" on stdout.
func startDetached(ctx context.Context, labName, ns string, delay time.Duration,
	command func(string, time.Duration) *exec.Cmd) error {
	dir := filepath.Join(stateRoot, labName)
	logf, err := os.Create(filepath.Join(dir, logFile))
	if err != nil {
		return err
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := command(ns, delay)
	cmd.Stdin = nil
	cmd.Stdout = w
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	if err := writePid(dir, cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	if err := awaitReady(ctx, r); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		log, _ := os.ReadFile(filepath.Join(dir, logFile))
		return fmt.Errorf("responder %s did not start: %w: %s", cmd.Path, err, strings.TrimSpace(string(log)))
	}
	return cmd.Process.Release()
}

func awaitReady(ctx context.Context, r *os.File) error {
	r.SetReadDeadline(time.Now().Add(readyTimeout))
	stop := context.AfterFunc(ctx, func() { r.SetReadDeadline(time.Now()) })
	defer stop()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("waiting for %q: %w", "ready", err)
	}
	if strings.TrimSpace(line) != "ready" {
		return fmt.Errorf("said %q instead of %q", strings.TrimSpace(line), "ready")
	}
	return nil
}

func writePid(dir string, pid int) error {
	start, err := procStartTime(pid)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, pidFile), fmt.Appendf(nil, "%d %d\n", pid, start), 0o644)
}

// stopDetached stops the responder recorded in dir, if it still runs:
// SIGTERM, then SIGKILL if it has not exited within signalTimeout.
func stopDetached(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	var pid int
	var start uint64
	if _, err := fmt.Sscan(string(b), &pid, &start); err != nil || pid <= 1 {
		return fmt.Errorf("lab: bad pid file %s: %q", filepath.Join(dir, pidFile), b)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lab: responder pid %d: %w", pid, err)
	}
	defer unix.Close(fd)
	// Checked after opening the pidfd, so the pid cannot be reused between
	// the check and the signal.
	if now, err := procStartTime(pid); err != nil || now != start {
		return nil // it is gone, and the pid belongs to someone else now
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGTERM, nil, 0); err != nil {
		return fmt.Errorf("lab: stop responder pid %d: %w", pid, err)
	}
	if exited(fd, signalTimeout) {
		return nil
	}
	unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	if !exited(fd, signalTimeout) {
		return fmt.Errorf("lab: responder pid %d does not exit", pid)
	}
	return nil
}

// exited waits up to d for the process behind pidfd fd to exit.
func exited(fd int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		ms := int(time.Until(deadline).Milliseconds())
		if ms <= 0 {
			return false
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && n > 0
	}
}

// procStartTime returns a process's start time in clock ticks since boot
// (field 22 of /proc/PID/stat), which tells a pid's owners apart.
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("lab: cannot parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	const startField = 22 - 3 // fields after ")" start at field 3
	if len(fields) <= startField {
		return 0, fmt.Errorf("lab: cannot parse /proc/%d/stat", pid)
	}
	return strconv.ParseUint(fields[startField], 10, 64)
}
