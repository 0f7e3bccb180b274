package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
)

// exporterRun is a rawnet exporter that startExporter runs in a lab node.
type exporterRun struct {
	cmd    *exec.Cmd
	stderr syncBuffer
	done   chan struct{} // closed when the process has ended
	err    error         // cmd.Wait's, once done is closed
}

// startExporter runs rawnet exporter in n with config (the YAML text),
// listening on addr (host:port in n's namespace) with the extra flags
// args, and waits (30s at most) until its /-/ready answers. When the
// test ends, an exporter the test did not stop gets SIGTERM and must exit
// 0 within 10s.
func startExporter(t *testing.T, n *lab.Node, addr, config string, args ...string) *exporterRun {
	t.Helper()
	file := filepath.Join(t.TempDir(), "rawnet.yml")
	if err := os.WriteFile(file, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &exporterRun{done: make(chan struct{})}
	e.cmd = n.Command(context.Background(), rawnetBin,
		append([]string{"exporter", "--config", file, "--web.listen-address", addr}, args...)...)
	e.cmd.Stderr = &e.stderr
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		e.err = e.cmd.Wait()
		close(e.done)
	}()
	t.Cleanup(func() {
		select {
		case <-e.done:
			return // stopped by the test, which checked how
		default:
		}
		if code, stderr := e.stop(); code != 0 {
			t.Errorf("exporter in %s after SIGTERM: exit %d (%v)\n%s", n.Name, code, e.err, stderr)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if n.Command(context.Background(), "curl", "-sf", "-o", "/dev/null", "http://"+addr+"/-/ready").Run() == nil {
			return e
		}
		select {
		case <-e.done:
			t.Fatalf("exporter in %s ended before it was ready: %v\n%s", n.Name, e.err, e.stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.cmd.Process.Kill()
			<-e.done
			t.Fatalf("exporter in %s not ready in 30s:\n%s", n.Name, e.stderr.String())
		}
	}
}

// signal sends sig (SIGHUP: reload) to the exporter.
func (e *exporterRun) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := e.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// stop sends SIGTERM and waits for the exporter to end (10s at most, then
// SIGKILL): its exit code (-1 when killed) and standard error.
func (e *exporterRun) stop() (int, string) {
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		e.cmd.Process.Kill()
		<-e.done
		return -1, e.stderr.String() + "(no exit within 10s of SIGTERM: killed)\n"
	}
	return e.cmd.ProcessState.ExitCode(), e.stderr.String()
}
