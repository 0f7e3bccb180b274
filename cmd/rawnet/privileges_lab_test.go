package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
	"github.com/rawnet/rawnet/internal/testenv"
)

// Every command that opens raw sockets gives up its capabilities once its
// sockets and files are open, and still does its job: the test watches
// CapEff of every thread of the running rawnet in /proc while the command
// waits for answers that do not come (a blackholed address) or for its
// duration to end. With -v each says so on standard error.
func TestCapabilitiesDroppedAfterSetup(t *testing.T) {
	t.Parallel()
	hole := netip.MustParseAddr("198.19.0.99")
	l := labtest.Up(t, lab.Spec{Routers: 1, LocalPrefix4: netip.MustParsePrefix("198.19.0.0/24"), Blackhole: []netip.Addr{hole}})
	dst, h := l.Dst.Addr4.String(), hole.String()
	near4, near6 := l.Routers[0].Addr4.String(), l.Routers[0].Addr6.String()
	for _, args := range [][]string{
		{"ping", "-v", "-c", "3", "-i", "0.5", dst},
		{"ping", "-v", "-P", "tcp", "-c", "3", "-i", "0.5", dst},
		{"ping", "-v", "-P", "arp", "-c", "3", "-i", "0.5", near4},
		{"ping", "-v", "-P", "ndp", "-c", "3", "-i", "0.5", near6},
		{"trace", "-v", "-n", "-m", "2", "-q", "1", "-W", "2", h},
		{"send", "-v", "--wait", "2", "ip(dst=" + dst + ")/icmp"},
		{"capture", "-v", "-i", "any", "--duration", "2", "icmp"},
		{"udp", "scan", "-v", "--wait", "1", "--retries", "1", h, "9"},
	} {
		name := strings.Join(args[:2], " ")
		if args[2] == "-P" {
			name += " -P " + args[3]
		}
		t.Run(name, func(t *testing.T) {
			cmd := l.Src.Command(context.Background(), rawnetBin, args...)
			wait := startRawnet(t, cmd)
			msg := capsDropped(cmd.Process.Pid, 10*time.Second)
			r := wait()
			if msg != "" {
				t.Errorf("%v: %s (exit %d, %s)", args, msg, r.code, r.stderr)
			}
			if r.code == 2 {
				t.Errorf("%v: exit 2 without privileges: %s", args, r.stderr)
			}
			if !strings.Contains(r.stderr, "rawnet: capabilities dropped\n") {
				t.Errorf("%v: -v did not say the capabilities were dropped; stderr:\n%s", args, r.stderr)
			}
		})
	}
}

// The files a command is told to write are opened before the capabilities
// are dropped, so they may be in a directory only root (through
// CAP_DAC_OVERRIDE) can write: here one with mode 0555.
func TestFilesOpenedBeforeCapabilitiesDrop(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	jsonFile, pcapFile := filepath.Join(dir, "trace.json"), filepath.Join(dir, "trace.pcap")
	cmd := l.Src.Command(context.Background(), rawnetBin, "trace", "-v", "-n", "-q", "1", "-W", "2",
		"--json-file", jsonFile, "--write", pcapFile, l.Dst.Addr4.String())
	r := startRawnet(t, cmd)()
	if r.code != 0 || !strings.Contains(r.stderr, "rawnet: capabilities dropped\n") {
		t.Fatalf("trace --json-file in a 0555 directory: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	b, err := os.ReadFile(jsonFile)
	if err != nil || !strings.Contains(string(b), `"type":"summary"`) {
		t.Errorf("--json-file %s: %v; got:\n%s", jsonFile, err, b)
	}
}

// capsDropped waits until process pid runs rawnet (ip netns exec has
// exec'd it) and every one of its threads has an empty effective
// capability set; it returns what it saw instead, or "" once that holds.
func capsDropped(pid int, limit time.Duration) string {
	deadline := time.Now().Add(limit)
	seen := "process never ran rawnet"
	for time.Now().Before(deadline) {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			return "process ended before its capabilities were seen dropped: " + seen
		}
		if strings.TrimSpace(string(comm)) == "rawnet" {
			if seen = threadCaps(pid); seen == "" {
				return ""
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "after " + limit.String() + ": " + seen
}

// threadCaps returns "" when every thread of pid has CapEff 0, otherwise
// the first one that does not.
func threadCaps(pid int) string {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		return "no threads"
	}
	for _, status := range tasks {
		b, err := os.ReadFile(status)
		if err != nil {
			continue // the thread ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
				if mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err != nil || mask != 0 {
					return fmt.Sprintf("%s: CapEff %s", status, strings.TrimSpace(v))
				}
			}
		}
	}
	return ""
}

// The exporter opens its sockets and its listener, then gives up every
// capability for the rest of its life, and goes on probing: its replies
// keep growing after the drop, across tcp, udp and trace groups too.
func TestExporterDropsCapabilities(t *testing.T) {
	t.Parallel()
	testenv.NeedTools(t, "curl")
	l := labtest.Up(t, lab.Spec{Routers: 1})
	dst := l.Dst.Addr4.String()
	cfg := filepath.Join(t.TempDir(), "rawnet.yml")
	conf := "targets:\n  - name: icmp\n    hosts: [" + dst + "]\n    interval: 100ms\n" +
		"  - name: tcp\n    hosts: [" + dst + "]\n    protocol: tcp\n    port: 80\n    interval: 100ms\n" +
		"traces:\n  - name: path\n    hosts: [" + dst + "]\n    interval: 1s\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	const addr = "127.0.0.1:10731"
	cmd := l.Src.Command(context.Background(), rawnetBin, "exporter", "--config", cfg, "--web.listen-address", addr)
	wait := startRawnet(t, cmd)
	if msg := capsDropped(cmd.Process.Pid, 10*time.Second); msg != "" {
		cmd.Process.Kill()
		t.Fatalf("exporter: %s\n%s", msg, wait().stderr)
	}
	replies := func() float64 {
		out, err := l.Src.Command(context.Background(), "curl", "-sf", "http://"+addr+"/metrics").Output()
		if err != nil {
			return -1
		}
		sum := 0.0
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "rawnet_probe_replies_total{") {
				f := strings.Fields(line)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				sum += v
			}
		}
		return sum
	}
	first := -1.0
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if first < 0 {
			first = replies()
		} else if r := replies(); r > first+5 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	last := replies()
	cmd.Process.Signal(syscall.SIGTERM)
	r := wait()
	if first < 0 || last <= first+5 {
		t.Errorf("replies did not grow after the capability drop: %v then %v\n%s", first, last, r.stderr)
	}
	if r.code != 0 {
		t.Errorf("exporter exit %d after SIGTERM: %s", r.code, r.stderr)
	}
}
