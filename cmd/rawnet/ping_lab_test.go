package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// Lab tests: rawnet ping run as a user runs it, inside the src namespace
// of a lab the test builds, checked against what the topology must give.

// inNS runs rawnet in node n's namespace.
func inNS(t *testing.T, n *lab.Node, args ...string) result {
	t.Helper()
	return rawnetCmd(t, n.Command(context.Background(), rawnetBin, args...))
}

// jsonEvents parses JSON Lines output into maps, failing on any bad line.
func jsonEvents(t *testing.T, out string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		evs = append(evs, m)
	}
	return evs
}

func ofType(evs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, e := range evs {
		if e["type"] == typ {
			out = append(out, e)
		}
	}
	return out
}

func num(t *testing.T, e map[string]any, k string) float64 {
	t.Helper()
	v, ok := e[k].(float64)
	if !ok {
		t.Fatalf("event %v: %q is not a number", e, k)
	}
	return v
}

func TestPingAcrossFiveRouters(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 5})
	for _, dst := range []netip.Addr{l.Dst.Addr4, l.Dst.Addr6} {
		r := inNS(t, l.Src, "ping", "--json", "-c", "3", "-i", "0.01", dst.String())
		if r.code != 0 {
			t.Fatalf("ping %s: exit %d: %s %s", dst, r.code, r.stdout, r.stderr)
		}
		evs := jsonEvents(t, r.stdout)
		replies := ofType(evs, "reply")
		if len(replies) != 3 {
			t.Fatalf("ping %s: %d replies, want 3:\n%s", dst, len(replies), r.stdout)
		}
		for i, e := range replies {
			// Five routers each take one off the TTL of 64.
			if e["from"] != dst.String() || num(t, e, "ttl") != 59 || num(t, e, "seq") != float64(i+1) || e["ts_source"] != "kernel" {
				t.Errorf("ping %s: reply %v: want from %s, ttl 59, seq %d, kernel timestamp", dst, e, dst, i+1)
			}
		}
		sum := ofType(evs, "summary")
		if len(sum) != 1 || num(t, sum[0], "transmitted") != 3 || num(t, sum[0], "received") != 3 || num(t, sum[0], "loss_pct") != 0 {
			t.Errorf("ping %s: summary %v", dst, sum)
		}
		if st := ofType(evs, "start"); len(st) != 1 || num(t, st[0], "interval_ms") != 10 || num(t, st[0], "timeout_ms") != 2000 {
			t.Errorf("ping %s: start %v: want interval_ms 10 (-i 0.01), timeout_ms 2000", dst, st)
		}
	}
	// A flood's start line gives the interval it runs at (the wait for a
	// reply before the next probe goes anyway), not ping's default second.
	r0 := inNS(t, l.Src, "ping", "--json", "-f", "-c", "3", l.Dst.Addr4.String())
	if st := ofType(jsonEvents(t, r0.stdout), "start"); len(st) != 1 || num(t, st[0], "interval_ms") != 10 {
		t.Errorf("ping -f: start %v: want interval_ms 10", st)
	}
	// The text output, as iputils prints it.
	r := inNS(t, l.Src, "ping", "-c", "2", "-i", "0.01", l.Dst.Addr4.String())
	for _, want := range []string{
		"PING 198.18.5.2 (198.18.5.2) 56(84) bytes of data.",
		"64 bytes from 198.18.5.2: icmp_seq=1 ttl=59 time=",
		"64 bytes from 198.18.5.2: icmp_seq=2 ttl=59 time=",
		"--- 198.18.5.2 ping statistics ---",
		"2 packets transmitted, 2 received, 0% packet loss, time ",
		"rtt min/avg/max/mdev = ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestPingLossMatchesNftablesRule(t *testing.T) {
	t.Parallel()
	const pct, n = 30, 400
	l := labtest.Up(t, lab.Spec{Routers: 2, Loss: []lab.Loss{{Link: 1, Percent: pct}}})
	r := inNS(t, l.Src, "ping", "--json", "-q", "-c", strconv.Itoa(n), "-i", "0.002", "-W", "0.5", l.Dst.Addr4.String())
	sum := ofType(jsonEvents(t, r.stdout), "summary")
	if len(sum) != 1 {
		t.Fatalf("no summary: %s %s", r.stdout, r.stderr)
	}
	loss := num(t, sum[0], "loss_pct")
	// Binomial(n, p): six standard deviations either side.
	sd := 100 * math.Sqrt(pct/100.0*(1-pct/100.0)/n)
	if math.Abs(loss-pct) > 6*sd {
		t.Errorf("loss %.1f%%, want %d%% ± %.1f", loss, pct, 6*sd)
	}
	if r.code != 0 {
		t.Errorf("exit %d with replies", r.code)
	}
}

func TestPingRTTOfDelayedResponder(t *testing.T) {
	t.Parallel()
	const delay = 30 * time.Millisecond
	l := labtest.Up(t, lab.Spec{Routers: 1, Delay: delay})
	for _, dst := range []netip.Addr{l.Slow.Addr4, l.Slow.Addr6} {
		// Never below the delay; the best of up to 3 rounds of 5 below
		// twice the delay, so it is applied once (the average, and any
		// one round, are left to machine load).
		best := math.Inf(1)
		for round := 0; round < 3 && best >= 60; round++ {
			r := inNS(t, l.Src, "ping", "--json", "-q", "-c", "5", "-i", "0.05", dst.String())
			sum := ofType(jsonEvents(t, r.stdout), "summary")
			if len(sum) != 1 || num(t, sum[0], "received") != 5 {
				t.Fatalf("ping %s: %s %s", dst, r.stdout, r.stderr)
			}
			lo := num(t, sum[0], "rtt_min_ms")
			if lo < 30 {
				t.Fatalf("ping %s: rtt min %.3f ms, before the 30 ms delay", dst, lo)
			}
			best = min(best, lo)
		}
		if best >= 60 {
			t.Errorf("ping %s: best rtt of 3 rounds %.3f ms, want below 60 ms for a 30ms responder", dst, best)
		}
	}
}

func TestPingTTLExceededFromTheRightRouter(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 4, PingGroup: true})
	hops4, hops6 := l.HopAddrs4(), l.HopAddrs6()
	for _, tc := range []struct {
		dst    netip.Addr
		ttl    int
		router netip.Addr
		socket string
	}{
		{l.Dst.Addr4, 2, hops4[1], "raw"},
		{l.Dst.Addr4, 3, hops4[2], "datagram"},
		{l.Dst.Addr6, 3, hops6[2], "raw"},
		{l.Dst.Addr6, 1, hops6[0], "datagram"},
	} {
		r := inNS(t, l.Src, "ping", "--socket", tc.socket, "-c", "2", "-i", "0.01", "-t", strconv.Itoa(tc.ttl), tc.dst.String())
		want := fmt.Sprintf("From %s icmp_seq=1 Time to live exceeded", tc.router)
		if !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "+2 errors") {
			t.Errorf("ping -t %d %s (%s socket): want %q and +2 errors in:\n%s%s", tc.ttl, tc.dst, tc.socket, want, r.stdout, r.stderr)
		}
		if r.code != 1 {
			t.Errorf("ping -t %d: exit %d, want 1 (no reply)", tc.ttl, r.code)
		}
	}
}

func TestPingUnreachable(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 2,
		Unreachable4: []netip.Prefix{netip.MustParsePrefix("198.18.250.0/24")},
		Unreachable6: []netip.Prefix{netip.MustParsePrefix("fd00:250::/64")}})
	last4, last6 := l.Routers[1].Addr4, l.Routers[1].Addr6
	for _, tc := range []struct{ dst, want string }{
		{"198.18.200.1", "From 198.18.0.2 icmp_seq=1 Destination Net Unreachable"}, // r1 has no route
		{"198.18.250.9", "From " + last4.String() + " icmp_seq=1 Destination Host Unreachable"},
		{"fd00:250::9", "From " + last6.String() + " icmp_seq=1 Destination unreachable: No route"},
	} {
		r := inNS(t, l.Src, "ping", "-c", "1", "-W", "1", tc.dst)
		if !strings.Contains(r.stdout, tc.want) || r.code != 1 {
			t.Errorf("ping %s: exit %d, want 1 and %q in:\n%s%s", tc.dst, r.code, tc.want, r.stdout, r.stderr)
		}
	}
}

// TestConcurrentPingsDoNotCrossTalk: two rawnet processes with the same
// echo identifier on the same host, one to a target whose replies never
// come: each counts only its own replies.
func TestConcurrentPingsDoNotCrossTalk(t *testing.T) {
	t.Parallel()
	hole := netip.MustParseAddr("198.19.0.77")
	l := labtest.Up(t, lab.Spec{Routers: 1, LocalPrefix4: netip.MustParsePrefix("198.19.0.0/24"), Blackhole: []netip.Addr{hole}})
	args := func(dst string) []string {
		return []string{"ping", "--json", "-q", "--id", "4242", "-c", "100", "-i", "0.005", "-W", "0.3", dst}
	}
	answered := l.Src.Command(context.Background(), rawnetBin, args(l.Dst.Addr4.String())...)
	silent := l.Src.Command(context.Background(), rawnetBin, args(hole.String())...)
	type res struct {
		name string
		r    result
	}
	// Both run at once; only the test's goroutine calls t.Fatal.
	waitAnswered, waitSilent := startRawnet(t, answered), startRawnet(t, silent)
	for _, x := range []res{{"answered", waitAnswered()}, {"silent", waitSilent()}} {
		sum := ofType(jsonEvents(t, x.r.stdout), "summary")
		if len(sum) != 1 {
			t.Fatalf("%s: %s %s", x.name, x.r.stdout, x.r.stderr)
		}
		got, dups := num(t, sum[0], "received"), num(t, sum[0], "duplicates")
		want := map[string]float64{"answered": 100, "silent": 0}[x.name]
		if got != want || dups != 0 {
			t.Errorf("%s ping: received %v, duplicates %v; want %v and 0", x.name, got, dups, want)
		}
	}
}

func TestPingSweepOfSlash22(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1, LocalPrefix4: netip.MustParsePrefix("198.19.0.0/22")})
	r := inNS(t, l.Src, "ping", "--json", "-q", "198.19.0.0/22")
	evs := jsonEvents(t, r.stdout)
	total := ofType(evs, "total")
	if r.code != 0 || len(total) != 1 {
		t.Fatalf("sweep: exit %d: %s", r.code, r.stderr)
	}
	if num(t, total[0], "targets") != 1024 || num(t, total[0], "alive") != 1024 || num(t, total[0], "received") != 1024 {
		t.Errorf("sweep total %v: want 1024 targets, all alive", total[0])
	}
	if n := len(ofType(evs, "summary")); n != 1024 {
		t.Errorf("%d per-target summaries, want 1024", n)
	}
}

// tsharkCount counts the packets of file that match a display filter.
func tsharkCount(t *testing.T, file, filter string) int {
	t.Helper()
	out, err := exec.Command("tshark", "-r", file, "-Y", filter, "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatalf("tshark -r %s -Y %q: %v", file, filter, err)
	}
	return strings.Count(string(out), "\n")
}

func TestPingWritePcapReadByTshark(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 2})
	dir := t.TempDir()
	for _, tc := range []struct{ dst, file, req, rep string }{
		{l.Dst.Addr4.String(), dir + "/v4.pcap", "icmp.type == 8", "icmp.type == 0 && ip.src == " + l.Dst.Addr4.String()},
		{l.Dst.Addr6.String(), dir + "/v6.pcapng", "icmpv6.type == 128", "icmpv6.type == 129 && ipv6.src == " + l.Dst.Addr6.String()},
	} {
		r := inNS(t, l.Src, "ping", "-q", "-c", "7", "-i", "0.01", "--write", tc.file, tc.dst)
		if r.code != 0 {
			t.Fatalf("ping: %s %s", r.stdout, r.stderr)
		}
		if n := tsharkCount(t, tc.file, tc.req); n != 7 {
			t.Errorf("%s: %d requests, want 7", tc.file, n)
		}
		if n := tsharkCount(t, tc.file, tc.rep); n != 7 {
			t.Errorf("%s: %d replies from %s, want 7", tc.file, n, tc.dst)
		}
		// Every checksum rawnet recorded is right.
		if bad := tsharkBadChecksums(t, tc.file); len(bad) != 0 {
			t.Errorf("%s: frames %v have bad checksums", tc.file, bad)
		}
	}
}

func TestPingInterruptPrintsStatisticsAndLeavesValidPcap(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	file := t.TempDir() + "/int.pcap"
	cmd := l.Src.Command(context.Background(), rawnetBin, "ping", "-i", "0.02", "--write", file, l.Dst.Addr4.String())
	wait := startRawnetUntil(t, cmd, func(out string) bool { return strings.Count(out, " bytes from ") >= 10 })
	// ip netns exec replaces itself with rawnet, so the signal reaches it.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r := wait()
	if r.code != 0 {
		t.Fatalf("interrupted ping: exit %d: %s", r.code, r.stderr)
	}
	var tx, rx int
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, "packets transmitted") {
			fmt.Sscanf(line, "%d packets transmitted, %d received", &tx, &rx)
		}
	}
	if tx < 10 || rx < tx-1 {
		t.Fatalf("statistics after Ctrl-C: %d sent, %d received:\n%s", tx, rx, r.stdout)
	}
	out, err := exec.Command("tcpdump", "-nn", "-r", file).Output()
	if err != nil {
		t.Fatalf("tcpdump -r: %v", err)
	}
	if req, rep := strings.Count(string(out), "echo request"), strings.Count(string(out), "echo reply"); req != tx || rep != rx {
		t.Errorf("pcap holds %d requests and %d replies, statistics say %d and %d", req, rep, tx, rx)
	}
}

func TestFloodPing(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	r := inNS(t, l.Src, "ping", "-f", "-c", "2000", l.Dst.Addr4.String())
	if r.code != 0 || !strings.Contains(r.stdout, "2000 packets transmitted, 2000 received, 0% packet loss") {
		t.Fatalf("flood: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	// ping -f prints a dot per probe and a backspace per reply.
	if dots, bs := strings.Count(r.stdout, "."), strings.Count(r.stdout, "\b"); dots < 2000 || bs != 2000 {
		t.Errorf("flood output: %d dots, %d backspaces; want 2000 of each", dots, bs)
	}
}

// tsharkFields prints fields of the packets of file that match filter,
// one line per packet, fields separated by "|".
func tsharkFields(t *testing.T, file, filter string, fields ...string) []string {
	t.Helper()
	args := []string{"-r", file, "-Y", filter, "-T", "fields", "-E", "separator=|"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	return strings.Fields(strings.TrimSpace(string(out)))
}

// TestPingOptionsReachTheWire: -Q, -M do, -t, -s and -p as a capture in
// the destination's namespace sees them, and as rawnet's own pcap records
// them.
func TestPingOptionsReachTheWire(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 2})
	// A flood writes the IPv4 header of its small probes itself
	// (IP_HDRINCL); paced probes leave that to the kernel. Both must put
	// the same header on the wire.
	for _, mode := range []string{"-i 0.01", "-f"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			seen, written := dir+"/dst.pcap", dir+"/rawnet.pcap"
			capture := l.Dst.Command(context.Background(), "tcpdump", "-i", "any", "-nn", "--immediate-mode", "-U", "-w", seen, "icmp")
			labtest.StartListening(t, capture)
			args := append([]string{"ping", "-q", "-c", "2"}, strings.Fields(mode)...)
			args = append(args, "-Q", "0x28", "-M", "do", "-t", "10", "-s", "100", "-p", "abcd", "--write", written, l.Dst.Addr4.String())
			r := inNS(t, l.Src, args...)
			time.Sleep(100 * time.Millisecond)
			capture.Process.Signal(syscall.SIGINT)
			capture.Wait()
			if r.code != 0 {
				t.Fatalf("ping: %s %s", r.stdout, r.stderr)
			}
			pattern := strings.Repeat("abcd", 42)[:2*84] // 100 bytes minus rawnet's 16, as hex
			for _, tc := range []struct {
				file string
				ttl  string // two routers between src and dst take two off
			}{{seen, "8"}, {written, "10"}} {
				rows := tsharkFields(t, tc.file, "icmp.type == 8", "ip.dsfield", "ip.flags.df", "ip.ttl", "ip.len", "data.data", "ip.src")
				if len(rows) != 2 {
					t.Fatalf("%s: %d echo requests, want 2: %v", tc.file, len(rows), rows)
				}
				for _, row := range rows {
					f := strings.Split(row, "|")
					if f[0] != "0x28" || (f[1] != "1" && f[1] != "True") || f[2] != tc.ttl || f[3] != "128" || !strings.HasSuffix(f[4], pattern) || f[5] != l.Src.Addr4.String() {
						t.Errorf("%s: request %q: want tos 0x28, DF, ttl %s, length 128, payload ending in abcd..., from %s", tc.file, row, tc.ttl, l.Src.Addr4)
					}
				}
			}
		})
	}
}

func TestPingDatagramSocket(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1, PingGroup: true})
	for _, dst := range []netip.Addr{l.Dst.Addr4, l.Dst.Addr6} {
		r := inNS(t, l.Src, "ping", "--socket", "datagram", "--json", "-c", "3", "-i", "0.01", dst.String())
		evs := jsonEvents(t, r.stdout)
		start, sum := ofType(evs, "start"), ofType(evs, "summary")
		if r.code != 0 || len(start) != 1 || start[0]["socket"] != "datagram" || len(sum) != 1 || num(t, sum[0], "received") != 3 {
			t.Fatalf("datagram ping %s: exit %d\n%s%s", dst, r.code, r.stdout, r.stderr)
		}
		for _, e := range ofType(evs, "reply") {
			if num(t, e, "ttl") != 63 || e["ts_source"] != "kernel" {
				t.Errorf("datagram ping %s: reply %v: want ttl 63 and a kernel timestamp", dst, e)
			}
		}
	}
}

// TestPingBroadcastTargetIsASendError: the kernel refuses to send to a
// broadcast address (no SO_BROADCAST); that target fails, the run goes on.
func TestPingBroadcastTargetIsASendError(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	r := inNS(t, l.Src, "ping", "--json", "-q", "-W", "0.5", "198.18.0.2", "198.18.0.255")
	sums := ofType(jsonEvents(t, r.stdout), "summary")
	if r.code != 0 || len(sums) != 2 {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, s := range sums {
		switch s["target"] {
		case "198.18.0.2":
			if num(t, s, "received") != 1 {
				t.Errorf("router: %v", s)
			}
		case "198.18.0.255":
			if num(t, s, "send_errors") != 1 || num(t, s, "received") != 0 {
				t.Errorf("broadcast: %v, want one send error", s)
			}
		}
	}
}

// TestFloodKeepsPaceAmidOtherICMP: ICMP errors for another process keep
// arriving while rawnet floods a target that never answers; its probes
// still leave one per interval.
func TestFloodKeepsPaceAmidOtherICMP(t *testing.T) {
	t.Parallel()
	hole := netip.MustParseAddr("198.19.0.77")
	l := labtest.Up(t, lab.Spec{Routers: 2, LocalPrefix4: netip.MustParsePrefix("198.19.0.0/24"), Blackhole: []netip.Addr{hole}})
	noise := l.Src.Command(context.Background(), "ping", "-q", "-i", "0.002", "-t", "1", "-w", "10", l.Dst.Addr4.String())
	if err := noise.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { noise.Process.Kill(); noise.Wait() }()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	r := inNS(t, l.Src, "ping", "-f", "-q", "-c", "20", "-W", "0.2", hole.String())
	// 20 probes 10ms apart and a 0.2s wait: well under a second; a flood
	// that waits for a quiet socket took seconds per probe.
	if d := time.Since(start); !strings.Contains(r.stdout, "20 packets transmitted, 0 received") || d > 3*time.Second {
		t.Errorf("flood among ICMP noise took %v:\n%s%s", d, r.stdout, r.stderr)
	}
}

// TestFloodInterruptStopsPromptly: Ctrl-C during a flood paced by a long
// -i ends the run at once, with statistics.
func TestFloodInterruptStopsPromptly(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	// A raw socket of the test's own in src sees the echo reply arrive
	// (the flood's dots are written only at the end).
	var watch net.PacketConn
	if err := l.Src.Do(func() (err error) { watch, err = net.ListenPacket("ip4:icmp", "0.0.0.0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	cmd := l.Src.Command(context.Background(), rawnetBin, "ping", "-f", "-i", "3", l.Dst.Addr4.String())
	wait := startRawnet(t, cmd)
	watch.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 1500)
	for {
		n, from, err := watch.ReadFrom(buf)
		if err != nil {
			cmd.Process.Kill()
			wait()
			t.Fatalf("no echo reply from %s: %v", l.Dst.Addr4, err)
		}
		if n >= 8 && buf[0] == 0 && from.String() == l.Dst.Addr4.String() {
			break
		}
	}
	// The first probe has been answered; the second is due 3 s after it,
	// so a run that ends with one probe sent ended before that.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r := wait()
	// The reply that reached the test's socket reached rawnet's too; the
	// signal may still be handled before rawnet reads it.
	switch {
	case strings.Contains(r.stdout, "1 packets transmitted, 1 received") && r.code == 0:
	case strings.Contains(r.stdout, "1 packets transmitted, 0 received") && r.code == 1:
	default:
		t.Errorf("Ctrl-C did not end the flood before its second probe (exit %d):\n%q%s", r.code, r.stdout, r.stderr)
	}
}

func TestPingInterfaceAndSource(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	for _, via := range []string{l.Src.Ifaces[0].Name, l.Src.Addr4.String()} {
		r := inNS(t, l.Src, "ping", "-c", "1", "-I", via, l.Dst.Addr4.String())
		if r.code != 0 || !strings.Contains(r.stdout, "1 received") {
			t.Errorf("-I %s: exit %d:\n%s%s", via, r.code, r.stdout, r.stderr)
		}
	}
	r := inNS(t, l.Src, "ping", "-c", "1", "-I", "nosuchif0", l.Dst.Addr4.String())
	if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "nosuchif0") {
		t.Errorf("-I nosuchif0: exit %d, stderr %q: want 2 and one line naming the interface", r.code, r.stderr)
	}
	r = inNS(t, l.Src, "ping", "-c", "1", "-I", "fd00::1", l.Dst.Addr4.String())
	if r.code != 2 || !strings.Contains(r.stderr, "-I fd00::1") {
		t.Errorf("-I with the other family: exit %d, stderr %q", r.code, r.stderr)
	}
}

// iputilsPing runs iputils ping in n's namespace, for the tests that
// compare rawnet with it in the same lab.
func iputilsPing(t *testing.T, n *lab.Node, args ...string) result {
	t.Helper()
	needTools(t, "ping")
	return rawnetCmd(t, n.Command(context.Background(), "ping", args...))
}

// TestPingBroadcastNeedsDashB: the broadcast address of src's link is
// refused as iputils refuses it, before anything is sent (exit 2, its
// message); with -b it is pinged (SO_BROADCAST) and r1, told to answer
// broadcasts, replies, as it does to iputils ping -b.
func TestPingBroadcastNeedsDashB(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	const bcast = "198.18.0.255" // link 0, 198.18.0.0/24: src .1, r1 .2
	if out, err := l.Routers[0].Command(context.Background(), "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_broadcasts=0").CombinedOutput(); err != nil {
		t.Fatalf("sysctl in r1: %v %s", err, out)
	}
	const hint = "Do you want to ping broadcast? Then -b. If not, check your local firewall rules"
	peer := iputilsPing(t, l.Src, "-c", "1", bcast)
	if peer.code != 2 || !strings.Contains(peer.stderr, hint) {
		t.Fatalf("iputils ping %s: exit %d, %q; the lab does not make it a broadcast", bcast, peer.code, peer.stderr)
	}
	r := inNS(t, l.Src, "ping", "-c", "1", bcast)
	if r.code != 2 || r.stderr != "rawnet: ping: "+hint+"\n" || r.stdout != "" {
		t.Errorf("rawnet ping %s: exit %d, stdout %q, stderr %q; want exit 2 and iputils' hint alone", bcast, r.code, r.stdout, r.stderr)
	}
	peer = iputilsPing(t, l.Src, "-b", "-c", "2", "-i", "0.2", bcast)
	if peer.code != 0 || !strings.Contains(peer.stdout, "64 bytes from 198.18.0.2: icmp_seq=2") {
		t.Fatalf("iputils ping -b: exit %d:\n%s%s", peer.code, peer.stdout, peer.stderr)
	}
	r = inNS(t, l.Src, "ping", "-b", "--json", "-c", "2", "-i", "0.2", bcast)
	replies := ofType(jsonEvents(t, r.stdout), "reply")
	sums := ofType(jsonEvents(t, r.stdout), "summary")
	if r.code != 0 || len(replies) != 2 || len(sums) != 1 || num(t, sums[0], "received") != 2 || num(t, sums[0], "send_errors") != 0 ||
		!strings.Contains(r.stderr, "WARNING: pinging broadcast address") {
		t.Fatalf("rawnet ping -b %s: exit %d:\n%s%s", bcast, r.code, r.stdout, r.stderr)
	}
	for _, e := range replies {
		if e["from"] != "198.18.0.2" || e["target"] != bcast {
			t.Errorf("reply %v: want one from r1 (198.18.0.2) for target %s", e, bcast)
		}
	}
}

// TestPingMessageTooLongIsALocalError: -M do -s 1600 over src's 1500-byte
// link is refused by the kernel for every probe. iputils prints "local
// error: message too long, mtu=1500" per probe and counts "+N errors";
// rawnet prints and counts the same, in text and in JSON.
func TestPingMessageTooLongIsALocalError(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	dst := l.Dst.Addr4.String()
	args := []string{"-M", "do", "-s", "1600", "-c", "2", "-i", "0.2", dst}
	const line = "local error: message too long, mtu=1500"
	peer := iputilsPing(t, l.Src, args...)
	if peer.code != 1 || strings.Count(peer.stderr, "ping: "+line+"\n") != 2 ||
		!strings.Contains(peer.stdout, "2 packets transmitted, 0 received, +2 errors, 100% packet loss") {
		t.Fatalf("iputils ping %v: exit %d:\n%s%s", args, peer.code, peer.stdout, peer.stderr)
	}
	r := inNS(t, l.Src, append([]string{"ping"}, args...)...)
	if r.code != 1 || r.stderr != strings.Repeat("rawnet: "+line+"\n", 2) ||
		!strings.Contains(r.stdout, "2 packets transmitted, 0 received, +2 errors, 100% packet loss") {
		t.Errorf("rawnet ping %v: exit %d:\n%s%s", args, r.code, r.stdout, r.stderr)
	}
	r = inNS(t, l.Src, append([]string{"ping", "--json"}, args...)...)
	evs := jsonEvents(t, r.stdout)
	locals, sums := ofType(evs, "local_error"), ofType(evs, "summary")
	if r.code != 1 || len(locals) != 2 || len(sums) != 1 {
		t.Fatalf("rawnet ping --json %v: exit %d:\n%s%s", args, r.code, r.stdout, r.stderr)
	}
	for i, e := range locals {
		if num(t, e, "seq") != float64(i+1) || num(t, e, "mtu") != 1500 || e["error"] != "message too long" {
			t.Errorf("local_error %v: want seq %d, mtu 1500, message too long", e, i+1)
		}
	}
	if s := sums[0]; num(t, s, "transmitted") != 2 || num(t, s, "errors") != 2 || num(t, s, "send_errors") != 0 || num(t, s, "loss_pct") != 100 {
		t.Errorf("summary %v: want 2 transmitted, 2 errors, no send errors", s)
	}
}

// TestPingKeepsTxStampsAfterAFailedSend: a netfilter rule on src's way out
// drops the second echo request, which the send reports as EPERM after the
// kernel has numbered the packet for its transmit stamps; the probes after
// it must still get kernel stamps (ts_source "kernel"), not fall back to
// the user-space send time for the rest of the run.
func TestPingKeepsTxStampsAfterAFailedSend(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	nftScript(t, l.Src, `table inet rnfail {
	chain out {
		type filter hook output priority 0;
		icmp type echo-request icmp sequence 2 drop
		icmpv6 type echo-request icmpv6 sequence 2 drop
	}
}`)
	for _, dst := range []netip.Addr{l.Dst.Addr4, l.Dst.Addr6} {
		r := inNS(t, l.Src, "ping", "--json", "-c", "6", "-i", "0.05", dst.String())
		evs := jsonEvents(t, r.stdout)
		replies := ofType(evs, "reply")
		var seqs []float64
		for _, e := range replies {
			seqs = append(seqs, num(t, e, "seq"))
			if e["ts_source"] != "kernel" {
				t.Errorf("ping %s: reply seq %v: ts_source %v, want kernel", dst, e["seq"], e["ts_source"])
			}
		}
		if !slices.Equal(seqs, []float64{1, 3, 4, 5, 6}) {
			t.Errorf("ping %s: reply seqs %v, want 1 3 4 5 6 (2 dropped on the way out): exit %d\n%s%s", dst, seqs, r.code, r.stdout, r.stderr)
		}
	}
}
