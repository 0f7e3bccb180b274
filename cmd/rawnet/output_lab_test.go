package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// The failed-write policy, checked for every kind of command: with a
// standard output that cannot be written (/dev/full: ENOSPC; a pipe whose
// reader has gone: EPIPE), the command stops, says so in one line on
// stderr and exits 2, in text and in JSON.

var brokenStdouts = map[string]string{"full": "no space left on device", "pipe": "broken pipe"}

// runBroken runs cmd with a standard output of the given kind that fails
// every write. ready, when not nil, is called once stderr says "listening"
// (for capture, which needs traffic then).
func runBroken(t *testing.T, kind string, cmd *exec.Cmd, ready func()) result {
	t.Helper()
	var out *os.File
	switch kind {
	case "full":
		f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		out = f
	case "pipe":
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close() // the reader is gone before the first write
		out = w
	}
	defer out.Close()
	cmd.Stdout = out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	var wg sync.WaitGroup
	wg.Go(func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if ready != nil && strings.Contains(sc.Text(), "listening") {
				go ready()
				ready = nil
			}
		}
	})
	done := make(chan struct{})
	go func() { wg.Wait(); cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Errorf("%v with a broken stdout (%s) ran on for 30s", cmd.Args, kind)
	}
	return result{stderr: strings.Join(lines, "\n"), code: cmd.ProcessState.ExitCode()}
}

// checkWriteFailure asserts the policy on the result of runBroken.
func checkWriteFailure(t *testing.T, kind string, r result) {
	t.Helper()
	lines := strings.Split(r.stderr, "\n")
	last := lines[len(lines)-1]
	said := 0
	for _, l := range lines {
		if strings.Contains(l, brokenStdouts[kind]) {
			said++
		}
	}
	if r.code != 2 || !strings.HasPrefix(last, "rawnet: write output: ") || !strings.Contains(last, brokenStdouts[kind]) || said != 1 {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and one last line \"rawnet: write output: ...%s\"", r.code, r.stderr, brokenStdouts[kind])
	}
}

func TestFailedWriteOfFilesAndDecodes(t *testing.T) {
	t.Parallel()
	file, _ := mixedPcap(t)
	const hexPacket = "450000200001000040117cc9c6120001c6120102138900090000b74f6869"
	for _, args := range [][]string{
		{"read", file}, {"read", "--json", file}, {"read", "--stats", file}, {"read", "--stats", "--json", file},
		{"decode", hexPacket}, {"decode", "--json", hexPacket},
		{"send", "--dry-run", "-c", "3", "ip(dst=198.18.1.2)/udp(dport=9)"},
		{"send", "--dry-run", "--json", "-c", "3", "ip(dst=198.18.1.2)/udp(dport=9)"},
	} {
		for kind := range brokenStdouts {
			t.Run(strings.Join(args[:2], " ")+" "+kind, func(t *testing.T) {
				checkWriteFailure(t, kind, runBroken(t, kind, exec.Command(rawnetBin, args...), nil))
			})
		}
	}
}

func TestFailedWriteOfNetworkCommands(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	dst := l.Dst.Addr4.String()
	stopServe := startServe(t, l.Dst, ":7600")
	defer stopServe()
	for _, args := range [][]string{
		{"ping", "-c", "5", "-i", "0.02", dst}, {"ping", "--json", "-c", "5", "-i", "0.02", dst},
		{"ping", "-f", "-c", "300", dst},
		{"trace", "-n", "-m", "4", dst}, {"trace", "--json", "-m", "4", dst},
		{"trace", "--report", "-c", "2", "-n", "-m", "4", dst},
		{"udp", "probe", "-c", "5", "-i", "0.02", dst + ":7600"}, {"udp", "probe", "--json", "-c", "5", "-i", "0.02", dst + ":7600"},
		{"udp", "scan", dst, "7600-7602"}, {"udp", "scan", "--json", dst, "7600-7602"},
		{"send", "-c", "3", "--wait", "0.5", "ip(dst=" + dst + ")/icmp"},
		{"send", "--json", "-c", "3", "--wait", "0.5", "ip(dst=" + dst + ")/icmp"},
		{"lab", "list"},
	} {
		for kind := range brokenStdouts {
			t.Run(strings.Join(args[:2], " ")+" "+kind, func(t *testing.T) {
				checkWriteFailure(t, kind, runBroken(t, kind, l.Src.Command(context.Background(), rawnetBin, args...), nil))
			})
		}
	}
	for _, args := range [][]string{{"udp", "serve", ":7700"}, {"udp", "serve", "--json", ":7701"}} {
		for kind := range brokenStdouts {
			t.Run(strings.Join(args[:2], " ")+" "+kind, func(t *testing.T) {
				checkWriteFailure(t, kind, runBroken(t, kind, l.Dst.Command(context.Background(), rawnetBin, args...), nil))
			})
		}
	}
	for _, args := range [][]string{{"capture", "-i", "any", "icmp"}, {"capture", "--json", "-i", "any", "icmp"}} {
		for kind := range brokenStdouts {
			t.Run(strings.Join(args[:2], " ")+" "+kind, func(t *testing.T) {
				ping := func() { // traffic for the capture, 2s at most
					l.Src.Command(context.Background(), rawnetBin, "ping", "-q", "-c", "100", "-i", "0.02", "-w", "2", dst).Run()
				}
				checkWriteFailure(t, kind, runBroken(t, kind, l.Dst.Command(context.Background(), rawnetBin, args...), ping))
			})
		}
	}
}

// A reader that goes away in the middle of a run stops the job there: ping
// sends no more probes (its pcap, which records every probe, holds far
// fewer than the run would have sent), says why and exits 2.
func TestFailedWriteMidRunStopsTheJob(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	file := filepath.Join(t.TempDir(), "ping.pcap")
	const count = 400 // 4s of probes at -i 0.01
	cmd := l.Src.Command(context.Background(), rawnetBin, "ping", "-c", strconv.Itoa(count), "-i", "0.01", "--write", file, l.Dst.Addr4.String())
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	var stdout, stderr bytes.Buffer // stdout stays empty: the pipe has it
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	lines := bufio.NewReader(r)
	for i := 0; i < 3; i++ { // the header and two replies
		if _, err := lines.ReadString('\n'); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
	}
	r.Close()
	res := waitRawnet(t, cmd, &stdout, &stderr)
	res.stderr = strings.TrimRight(res.stderr, "\n")
	checkWriteFailure(t, "pipe", res)
	probes := tsharkCount(t, file, "icmp.type == 8")
	if probes < 3 || probes > count/2 {
		t.Errorf("%d probes in the pcap, want a few: the job goes on after its output failed", probes)
	}
}
