package promlab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
)

// readyTimeout bounds the wait for a started server to become ready.
const readyTimeout = 30 * time.Second

// stopTimeout bounds the wait for the server to exit after SIGTERM; then
// it is killed.
const stopTimeout = 10 * time.Second

// A Server is a running prometheus process in a lab namespace.
type Server struct {
	// URL is the server's base URL inside its namespace; reach it through
	// Client (or from a process in the same namespace).
	URL string
	// Client dials inside the server's namespace.
	Client *http.Client
	// Dir holds prometheus.yml, the TSDB (data/) and prometheus.log.
	Dir string

	cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error
	stopOnce sync.Once
}

// Start writes cfg to dir/prometheus.yml and starts prometheus in node's
// namespace with its TSDB in dir/data, and waits until it reports ready.
// dir must exist and belong to the caller (a test's t.TempDir()). Stop
// the server with Close.
func Start(ctx context.Context, node *lab.Node, dir string, cfg Config) (*Server, error) {
	if _, err := exec.LookPath("prometheus"); err != nil {
		return nil, fmt.Errorf("promlab: prometheus not found (scripts/deps.sh installs Debian's prometheus): %w", err)
	}
	file, err := cfg.file()
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(confPath, file, 0o644); err != nil {
		return nil, fmt.Errorf("promlab: %w", err)
	}
	log, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		return nil, fmt.Errorf("promlab: %w", err)
	}
	defer log.Close()
	args := []string{
		"--config.file=" + confPath,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + listenAddr,
		"--log.level=warn",
	}
	if cfg.NativeHistograms {
		args = append(args, "--enable-feature=native-histograms")
	}
	// Not CommandContext: ctx bounds the start, the server lives until
	// Close.
	cmd := node.Command(context.Background(), "prometheus", args...)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so that a signal to the test's terminal does
	// not reach it before Close does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("promlab: start prometheus: %w", err)
	}
	s := &Server{
		URL:    "http://" + listenAddr,
		Client: nsClient(node),
		Dir:    dir,
		cmd:    cmd,
		exited: make(chan struct{}),
	}
	go func() {
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// nsClient returns an HTTP client whose connections are opened inside
// node's namespace (a socket keeps the namespace it was created in).
func nsClient(node *lab.Node) *http.Client {
	var d net.Dialer
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := node.Do(func() error {
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	return &http.Client{
		Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true},
		Timeout:   10 * time.Second,
	}
}

// waitReady polls /-/ready (Prometheus has no other readiness signal)
// until it answers 200, the process exits, or the time is up.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.get(ctx, "/-/ready") == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("promlab: prometheus exited before it was ready: %v: %s", s.exitErr, s.LogTail())
		case <-ctx.Done():
			return fmt.Errorf("promlab: prometheus not ready after %v: %w: %s", readyTimeout, ctx.Err(), s.LogTail())
		case <-tick.C:
		}
	}
}

func (s *Server) get(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return nil
}

// LogTail returns the last lines of the server's log, for error messages.
func (s *Server) LogTail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "prometheus.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}

// Close stops the server (SIGTERM, then SIGKILL after stopTimeout) and
// waits for it. It is safe to call more than once. The TSDB stays in Dir
// for the caller to remove (t.TempDir does).
func (s *Server) Close() error {
	var err error
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(stopTimeout):
				s.cmd.Process.Kill()
				<-s.exited
				err = fmt.Errorf("promlab: prometheus did not stop within %v of SIGTERM; killed", stopTimeout)
			}
		}
		s.Client.CloseIdleConnections()
	})
	return err
}
