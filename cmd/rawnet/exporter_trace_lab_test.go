package main

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// Lab tests of the exporter's traces: groups and udp targets: rawnet
// exporter runs in src as users run it, the test scrapes its /metrics
// from inside src and checks the series against the lab's topology.

const exporterTestAddr = "127.0.0.1:9427"

// scrape fetches /metrics from the exporter in n's namespace (the socket
// is opened on a thread in it) and parses it.
func scrape(t *testing.T, n *lab.Node) map[string]*dto.MetricFamily {
	t.Helper()
	return scrapePath(t, n, "/metrics")
}

// scrapePath fetches path (/metrics, /probe?...) as scrape does.
func scrapePath(t *testing.T, n *lab.Node, path string) map[string]*dto.MetricFamily {
	t.Helper()
	var body []byte
	err := n.Do(func() error {
		c, err := net.DialTimeout("tcp", exporterTestAddr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: x\r\nAccept: text/plain\r\n\r\n", path); err != nil {
			return err
		}
		body, err = io.ReadAll(c)
		return err
	})
	if err != nil {
		return nil
	}
	_, text, ok := strings.Cut(string(body), "\r\n\r\n")
	if !ok {
		t.Fatalf("not an HTTP response: %q", body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, text)
	}
	return fams
}

// series are the samples of one metric whose labels include want.
func series(fams map[string]*dto.MetricFamily, name string, want map[string]string) []*dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
	var out []*dto.Metric
	for _, m := range f.Metric {
		ok := true
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			ok = ok && found
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// value is the value of the one series of name with labels want, -1 when
// there is none (or several).
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	ms := series(fams, name, want)
	if len(ms) != 1 {
		return -1
	}
	m := ms[0]
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return -1
}

// waitFor scrapes until ok says the metrics are as wanted, or fails after
// limit with what it last saw.
func waitFor(t *testing.T, n *lab.Node, limit time.Duration, what string, ok func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		fams := scrape(t, n)
		if fams != nil && ok(fams) {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v; last scrape had:\n%s", what, limit, dump(fams, "rawnet_trace", "rawnet_probe"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func dump(fams map[string]*dto.MetricFamily, prefixes ...string) string {
	var b strings.Builder
	for name, f := range fams {
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				for _, m := range f.Metric {
					fmt.Fprintf(&b, "%s %v\n", name, m.String())
				}
			}
		}
	}
	return b.String()
}

func ipRoute(t *testing.T, n *lab.Node, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", n.NS, "route"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip route %v in %s: %v: %s", args, n.Name, err, out)
	}
}

// A traces: group against the diamond lab: the trace reaches dst in 4
// hops; moving router 1's route from r2a to r2b changes the path once, in
// rawnet_trace_path_changes_total, and the per-hop series (only in the
// group with hop_labels) show hop 2 answering from r2b afterwards, and
// r2a's go once it has left the hop by the path tracker's rule.
func TestExporterTracePathChange(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 3, Diamond: true, LocalPrefix4: netip.MustParsePrefix("198.19.0.0/22"),
		Blackhole: []netip.Addr{netip.MustParseAddr("198.19.1.1")}})
	dstNet := "198.18.3.0/24"
	r1 := l.Routers[0]
	r2a, r2b := l.DiamondBranches4()[0], l.DiamondBranches4()[1]
	ipRoute(t, r1, "replace", dstNet, "via", r2a.String())
	dst, dst6 := l.Dst.Addr4.String(), l.Dst.Addr6.String()
	exp := startExporter(t, l.Src, exporterTestAddr, fmt.Sprintf(`
traces:
  - name: paths
    hosts: [%[1]s]
    interval: 200ms
    method: udp
    max_hops: 8
    hop_labels: true
    labels: {site: lab}
  - name: plain
    hosts: [%[1]s, "%[2]s", 198.19.1.1]
    interval: 200ms
    method: icmp
    max_hops: 8
  - name: syn
    hosts: [%[1]s]
    interval: 200ms
    method: tcp
    port: 8080
    max_hops: 8
`, dst, dst6), "--log.level", "warn")
	paths := map[string]string{"group": "paths", "host": dst, "ip": dst, "method": "udp", "site": "lab"}
	plain := map[string]string{"group": "plain", "host": dst, "ip": dst, "method": "icmp"}
	plain6 := map[string]string{"group": "plain", "host": dst6, "ip": dst6, "method": "icmp"}
	syn := map[string]string{"group": "syn", "host": dst, "ip": dst, "method": "tcp"}
	all := []map[string]string{paths, plain, plain6, syn}
	// dst drops what comes to 198.19.1.1: a trace that does not reach its
	// target probes up to max_hops.
	unreach := map[string]string{"group": "plain", "host": "198.19.1.1", "ip": "198.19.1.1", "method": "icmp"}
	fams := waitFor(t, l.Src, 30*time.Second, "three traces of each target", func(f map[string]*dto.MetricFamily) bool {
		return value(f, "rawnet_trace_runs_total", paths) >= 3 && value(f, "rawnet_trace_runs_total", plain) >= 3 && value(f, "rawnet_trace_runs_total", plain6) >= 3 &&
			value(f, "rawnet_trace_runs_total", syn) >= 3 && value(f, "rawnet_trace_runs_total", unreach) >= 1
	})
	for _, g := range all {
		if h, r, c := value(fams, "rawnet_trace_hops", g), value(fams, "rawnet_trace_reached", g), value(fams, "rawnet_trace_path_changes_total", g); h != 4 || r != 1 || c != 0 {
			t.Errorf("group %s, %s: hops %v reached %v path changes %v; want 4, 1, 0", g["group"], g["ip"], h, r, c)
		}
	}
	if h, r, c := value(fams, "rawnet_trace_hops", unreach), value(fams, "rawnet_trace_reached", unreach), value(fams, "rawnet_trace_runs_total", unreach); h != 8 || r != 0 || c < 1 {
		t.Errorf("silent target: hops %v reached %v after %v traces; want 8, 0", h, r, c)
	}
	hop2a := map[string]string{"group": "paths", "hop": "2", "hop_ip": r2a.String()}
	if value(fams, "rawnet_trace_hop_replies_total", hop2a) < 1 || value(fams, "rawnet_trace_hop_rtt_seconds", hop2a) < 1 {
		t.Errorf("no replies from r2a at hop 2:\n%s", dump(fams, "rawnet_trace_hop"))
	}
	for _, name := range []string{"rawnet_trace_hop_requests_total", "rawnet_trace_hop_replies_total", "rawnet_trace_hop_rtt_seconds"} {
		if n := len(series(fams, name, map[string]string{"group": "plain"})); n != 0 {
			t.Errorf("%d %s series in the group without hop_labels", n, name)
		}
	}
	if n := len(series(fams, "rawnet_trace_hop_requests_total", map[string]string{"group": "paths"})); n != 4 {
		t.Errorf("%d hop request series, want one per hop (4):\n%s", n, dump(fams, "rawnet_trace_hop_requests"))
	}

	before := value(fams, "rawnet_trace_runs_total", paths)
	ipRoute(t, r1, "replace", dstNet, "via", r2b.String())
	fams = waitFor(t, l.Src, 30*time.Second, "three traces after the route change", func(f map[string]*dto.MetricFamily) bool {
		return value(f, "rawnet_trace_runs_total", paths) >= before+3 && value(f, "rawnet_trace_runs_total", plain) >= before+3 &&
			value(f, "rawnet_trace_runs_total", syn) >= before+3
	})
	// The IPv4 route moved; the IPv6 path did not.
	checkChanges := func(when string, fams map[string]*dto.MetricFamily) {
		t.Helper()
		for _, g := range all {
			want := 1.0
			if g["ip"] == dst6 {
				want = 0
			}
			if h, r, c := value(fams, "rawnet_trace_hops", g), value(fams, "rawnet_trace_reached", g), value(fams, "rawnet_trace_path_changes_total", g); h != 4 || r != 1 || c != want {
				t.Errorf("group %s, %s %s: hops %v reached %v path changes %v; want 4, 1, %v", g["group"], g["ip"], when, h, r, c, want)
			}
		}
	}
	checkChanges("after the route change", fams)
	hop2b := map[string]string{"group": "paths", "hop": "2", "hop_ip": r2b.String()}
	if value(fams, "rawnet_trace_hop_replies_total", hop2b) < 1 {
		t.Errorf("no replies from r2b at hop 2 after the change:\n%s", dump(fams, "rawnet_trace_hop"))
	}
	// r2a has left hop 2 once hop 2 has answered 31 times without it
	// (trace.LeaveAfter(2)): 11 traces of 3 probes through r2b, 12 if the
	// first straddled the change. Then, and not before, its series go
	// from /metrics, and each hop has one address again.
	hopFamilies := []string{"rawnet_trace_hop_requests_total", "rawnet_trace_hop_replies_total", "rawnet_trace_hop_rtt_seconds"}
	r2aGone := func(f map[string]*dto.MetricFamily) bool {
		for _, name := range hopFamilies {
			if len(series(f, name, hop2a)) != 0 {
				return false
			}
		}
		return true
	}
	if n := value(fams, "rawnet_trace_runs_total", paths) - before; n <= 10 && r2aGone(fams) {
		t.Errorf("r2a's hop 2 series gone after %v traces since the change, want them until 11:\n%s", n, dump(fams, "rawnet_trace_hop"))
	}
	fams = waitFor(t, l.Src, 30*time.Second, "r2a's hop 2 series gone", r2aGone)
	if n := value(fams, "rawnet_trace_runs_total", paths) - before; n < 11 {
		t.Errorf("r2a's hop 2 series gone after %v traces since the change, want at least 11 (31 answers of hop 2 without it)", n)
	} else {
		t.Logf("r2a's hop 2 series gone %v traces after the change", n)
	}
	for _, name := range hopFamilies {
		if n := len(series(fams, name, map[string]string{"group": "paths"})); n != 4 || value(fams, name, hop2b) < 1 {
			t.Errorf("%d %s series once r2a left, want one per hop (4), hop 2's from r2b:\n%s", n, name, dump(fams, "rawnet_trace_hop"))
		}
	}

	// A reload (SIGHUP) interrupts the traces and starts them again: the
	// counters go on, and the path the series remember does not change.
	before = value(fams, "rawnet_trace_runs_total", paths)
	requests := value(fams, "rawnet_trace_hop_requests_total", hop2b)
	reloaded := time.Now().Truncate(time.Second)
	exp.signal(t, syscall.SIGHUP)
	fams = waitFor(t, l.Src, 30*time.Second, "three traces after a reload", func(f map[string]*dto.MetricFamily) bool {
		return value(f, "rawnet_trace_runs_total", paths) >= before+3 && value(f, "rawnet_trace_runs_total", plain6) >= before+3 &&
			value(f, "rawnet_trace_runs_total", syn) >= before+3
	})
	if ok := value(fams, "rawnet_exporter_config_last_reload_successful", nil); ok != 1 || value(fams, "rawnet_exporter_config_last_reload_success_timestamp_seconds", nil) < float64(reloaded.Unix()) {
		t.Errorf("no successful reload since SIGHUP:\n%s", dump(fams, "rawnet_exporter"))
	}
	checkChanges("after a reload", fams)
	if r := value(fams, "rawnet_trace_hop_requests_total", hop2b); r < requests+9 {
		t.Errorf("hop 2 requests went from %v to %v over three traces and a reload", requests, r)
	}
}

// A udp group against rawnet udp serve in dst: the reflector's stamps
// give forward and reverse one-way delays and jitter; an echo server's
// target has round trips and round-trip jitter, and no one-way series.
func TestExporterUDPReflector(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	stopReflect := startServe(t, l.Dst, "--mode", "reflect", ":7007")
	defer stopReflect()
	stopEcho := startServe(t, l.Dst, "--mode", "echo", ":7008")
	defer stopEcho()
	dst := l.Dst.Addr4.String()
	startExporter(t, l.Src, exporterTestAddr, fmt.Sprintf(`
targets:
  - name: reflect
    hosts: [%[1]s]
    protocol: udp
    port: 7007
    interval: 50ms
  - name: echo
    hosts: [%[1]s]
    protocol: udp
    port: 7008
    interval: 50ms
modules:
  reflect:
    protocol: udp
    port: 7007
    count: 5
    interval: 20ms
`, dst), "--log.level", "warn")
	refl := map[string]string{"group": "reflect", "host": dst, "ip": dst, "protocol": "udp"}
	echo := map[string]string{"group": "echo", "host": dst, "ip": dst, "protocol": "udp"}
	fams := waitFor(t, l.Src, 30*time.Second, "20 answered datagrams per group", func(f map[string]*dto.MetricFamily) bool {
		return value(f, "rawnet_probe_replies_total", refl) >= 20 && value(f, "rawnet_probe_replies_total", echo) >= 20
	})
	for _, g := range []map[string]string{refl, echo} {
		req, rep := value(fams, "rawnet_probe_requests_total", g), value(fams, "rawnet_probe_replies_total", g)
		if rep != req || value(fams, "rawnet_probe_rtt_seconds", g) != rep {
			t.Errorf("group %s: %v requests, %v replies, %v RTTs: want all answered and timed", g["group"], req, rep, value(fams, "rawnet_probe_rtt_seconds", g))
		}
		if j := value(fams, "rawnet_probe_jitter_seconds", with(g, "direction", "round_trip")); j < 0 || j > 0.1 {
			t.Errorf("group %s: round-trip jitter %v s", g["group"], j)
		}
	}
	for _, dir := range []string{"forward", "reverse"} {
		n := value(fams, "rawnet_probe_oneway_delay_seconds", with(refl, "direction", dir))
		if rep := value(fams, "rawnet_probe_replies_total", refl); n < rep-2 || n > rep {
			t.Errorf("%s one-way delays: %v for %v replies", dir, n, rep)
		}
		// One clock: each one-way delay is positive and below the round trip.
		sum := histSum(fams, "rawnet_probe_oneway_delay_seconds", with(refl, "direction", dir))
		if sum <= 0 || sum > histSum(fams, "rawnet_probe_rtt_seconds", refl) {
			t.Errorf("%s one-way delay sum %v s, round-trip sum %v s", dir, sum, histSum(fams, "rawnet_probe_rtt_seconds", refl))
		}
		if j := value(fams, "rawnet_probe_jitter_seconds", with(refl, "direction", dir)); j < 0 || j > 0.1 {
			t.Errorf("%s jitter %v s", dir, j)
		}
		if n := len(series(fams, "rawnet_probe_oneway_delay_seconds", with(echo, "direction", dir))); n != 0 {
			t.Errorf("%d %s one-way series against an echo server", n, dir)
		}
		if n := len(series(fams, "rawnet_probe_jitter_seconds", with(echo, "direction", dir))); n != 0 {
			t.Errorf("%d %s jitter series against an echo server", n, dir)
		}
	}
	// /probe with the udp module: five datagrams, all answered, with
	// one-way delays.
	pr := scrapePath(t, l.Src, "/probe?module=reflect&target="+dst)
	mod := map[string]string{"group": "reflect", "host": dst, "ip": dst, "protocol": "udp"}
	if s, req, rep, fwd := value(pr, "probe_success", nil), value(pr, "rawnet_probe_requests_total", mod), value(pr, "rawnet_probe_replies_total", mod),
		value(pr, "rawnet_probe_oneway_delay_seconds", with(mod, "direction", "forward")); s != 1 || req != 5 || rep != 5 || fwd != 5 {
		t.Errorf("/probe udp: success %v, %v requests, %v replies, %v forward delays; want 1, 5, 5, 5:\n%s", s, req, rep, fwd, dump(pr, "probe_", "rawnet_"))
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

func histSum(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	ms := series(fams, name, want)
	if len(ms) != 1 || ms[0].Histogram == nil {
		return -1
	}
	return ms[0].Histogram.GetSampleSum()
}

// A tcp group against an open and a closed port of dst: every SYN is
// answered, by SYN-ACK (flags SA) from the open port and by RST (RA) from
// the closed one, and both count as replies.
func TestExporterTCPOpenClosed(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	var ln net.Listener
	if err := l.Dst.Do(func() (err error) {
		ln, err = net.Listen("tcp4", ":8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accept and drop what completes (nothing should: the prober resets)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dst := l.Dst.Addr4.String()
	startExporter(t, l.Src, exporterTestAddr, fmt.Sprintf(`
targets:
  - name: open
    hosts: [%[1]s]
    protocol: tcp
    port: 8080
    interval: 50ms
  - name: closed
    hosts: [%[1]s]
    protocol: tcp
    port: 8081
    interval: 50ms
modules:
  syn:
    protocol: tcp
    port: 8081
    count: 4
    interval: 20ms
`, dst), "--log.level", "warn")
	open := map[string]string{"group": "open", "host": dst, "ip": dst, "protocol": "tcp"}
	closed := map[string]string{"group": "closed", "host": dst, "ip": dst, "protocol": "tcp"}
	fams := waitFor(t, l.Src, 30*time.Second, "20 answered SYNs per group", func(f map[string]*dto.MetricFamily) bool {
		return value(f, "rawnet_probe_replies_total", open) >= 20 && value(f, "rawnet_probe_replies_total", closed) >= 20
	})
	for _, c := range []struct {
		g        map[string]string
		yes, not string
	}{{open, "SA", "RA"}, {closed, "RA", "SA"}} {
		req, rep := value(fams, "rawnet_probe_requests_total", c.g), value(fams, "rawnet_probe_replies_total", c.g)
		yes, not := value(fams, "rawnet_probe_tcp_replies_total", with(c.g, "flags", c.yes)), value(fams, "rawnet_probe_tcp_replies_total", with(c.g, "flags", c.not))
		if rep != req || yes != rep || not != 0 || value(fams, "rawnet_probe_rtt_seconds", c.g) != rep {
			t.Errorf("group %s: %v requests, %v replies, %v %s and %v %s", c.g["group"], req, rep, yes, c.yes, not, c.not)
		}
	}
	// /probe with the tcp module, to the closed port: four RSTs.
	pr := scrapePath(t, l.Src, "/probe?module=syn&target="+dst)
	mod := map[string]string{"group": "syn", "host": dst, "ip": dst, "protocol": "tcp"}
	if s, rep, ra := value(pr, "probe_success", nil), value(pr, "rawnet_probe_replies_total", mod), value(pr, "rawnet_probe_tcp_replies_total", with(mod, "flags", "RA")); s != 1 || rep != 4 || ra != 4 {
		t.Errorf("/probe tcp: success %v, %v replies, %v RA; want 1, 4, 4:\n%s", s, rep, ra, dump(pr, "probe_", "rawnet_"))
	}
}

// A hundred reloads of a file with trace, tcp and udp groups leave the
// exporter's goroutines and open files (sockets) where they were, and its
// counters going on.
func TestExporterTraceUDPTCPReloadsLeakNothing(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	stop := startServe(t, l.Dst, "--mode", "reflect", ":7007")
	defer stop()
	dst := l.Dst.Addr4.String()
	exp := startExporter(t, l.Src, exporterTestAddr, fmt.Sprintf(`
traces:
  - name: t
    hosts: [%[1]s]
    interval: 100ms
    max_hops: 4
    hop_labels: true
targets:
  - name: u
    hosts: [%[1]s]
    protocol: udp
    port: 7007
    interval: 20ms
  - name: c
    hosts: [%[1]s]
    protocol: tcp
    port: 7008
    interval: 20ms
`, dst), "--log.level", "warn")
	tr := map[string]string{"group": "t", "ip": dst}
	u := map[string]string{"group": "u", "ip": dst}
	c := map[string]string{"group": "c", "ip": dst}
	ready := func(f map[string]*dto.MetricFamily) bool {
		return value(f, "rawnet_trace_runs_total", tr) >= 3 && value(f, "rawnet_probe_replies_total", u) >= 10 && value(f, "rawnet_probe_replies_total", c) >= 10
	}
	fams := waitFor(t, l.Src, 30*time.Second, "traces and replies", ready)
	goroutines, fds := value(fams, "go_goroutines", nil), value(fams, "process_open_fds", nil)
	runs, replies := value(fams, "rawnet_trace_runs_total", tr), value(fams, "rawnet_probe_replies_total", u)
	if goroutines <= 0 || fds <= 0 {
		t.Fatalf("no go_goroutines (%v) or process_open_fds (%v)", goroutines, fds)
	}
	for range 100 {
		exp.signal(t, syscall.SIGHUP)
		time.Sleep(30 * time.Millisecond)
	}
	fams = waitFor(t, l.Src, 30*time.Second, "traces and replies after 100 reloads", func(f map[string]*dto.MetricFamily) bool {
		return value(f, "rawnet_trace_runs_total", tr) >= runs+3 && value(f, "rawnet_probe_replies_total", u) >= replies+10
	})
	// Settle: a reload in progress holds a few goroutines for a moment.
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, f := value(fams, "go_goroutines", nil), value(fams, "process_open_fds", nil)
		if g <= goroutines+2 && f == fds {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 100 reloads: %v goroutines (%v before), %v open files (%v before)", g, goroutines, f, fds)
		}
		time.Sleep(500 * time.Millisecond)
		fams = scrape(t, l.Src)
	}
	if v := value(fams, "rawnet_exporter_config_last_reload_successful", nil); v != 1 {
		t.Errorf("last reload successful %v", v)
	}
}
