package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
	"github.com/rawnet/rawnet/internal/promlab"
	"github.com/rawnet/rawnet/internal/testenv"
)

// exporterPort is where the test's exporters listen, on their management
// address.
const exporterPort = "10731"

// TestExporterVantagesThroughPrometheus is issue 12's multi-vantage test:
// exporters in src and in two more vantage hosts (v1, v2) probe the same
// targets (dst over IPv4 and IPv6, router r2a) every 10ms; a real
// Prometheus in mon scrapes all three over their management links every
// second. nftables drops 20% of the packets on src's first link only.
// Through Prometheus's query API, the loss computed from the scraped
// counters over the last 10s is within binomial bounds of 0.2 at src and
// about 0 at v1 and v2, for every target. A third group probes a prefix
// the last router rejects, and every vantage counts the router's host
// unreachables by kind.
// The routers form a diamond (r1 - {r2a, r2b} - r3); a traces: group
// traces dst over IPv4 and IPv6 from every vantage, and once Prometheus
// has scraped the first traces, r1's route to dst's IPv4 subnet moves
// from r2a to r2b: rawnet_trace_path_changes_total rises by exactly one
// for the IPv4 target at every vantage and stays 0 for IPv6, whose route
// did not move, and r2a's per-hop series go stale once it has left the
// path by the tracker's rule. UDP (against a reflector in dst) and TCP groups make the
// exporters expose every family of the contract, which the shipped rules
// and dashboard are checked against.
func TestExporterVantagesThroughPrometheus(t *testing.T) {
	t.Parallel()
	testenv.NeedTools(t, "prometheus", "promtool")
	const lossPercent = 20
	unreachable := netip.MustParsePrefix("198.19.8.0/24")
	l := labtest.Up(t, lab.Spec{
		Routers:      3,
		Diamond:      true,
		Vantages:     2,
		Monitor:      true,
		Loss:         []lab.Loss{{Link: 0, Percent: lossPercent}},
		Unreachable4: []netip.Prefix{unreachable},
	})
	r2 := l.Routers[1].Addr4 // r2a
	// r1 balances dst's subnet over both branches: pin it to r2a, so
	// that moving it to r2b later is one known path change.
	const dstNet4 = "198.18.3.0/24"
	r2a, r2b := l.DiamondBranches4()[0], l.DiamondBranches4()[1]
	ipRoute(t, l.Routers[0], "replace", dstNet4, "via", r2a.String())
	stopReflector := startServe(t, l.Dst, "--mode", "reflect", ":7007")
	defer stopReflector()
	const coreTargets = 3 // dst over IPv4 and IPv6, r2a
	// r3 sends a host unreachable for an unreachable route only as its
	// kernel's per-source limit allows (ip_error: a burst of 5, then one
	// a second; route.error_cost and error_burst, not settable in a
	// namespace), and that limit shares its token bucket with the
	// limiter of every other ICMP error r3 sends to the source
	// (icmpv4_xrlim_allow, inet_peer rate_tokens). The lab turns
	// icmp_ratelimit off, which empties the bucket at each such error:
	// the time exceededs r3 sends for the traces below every 200ms left
	// the unreachables of the same source none, except those that won
	// the race at the start (in a lab: 15 unreachables in 10s to a ping
	// every 100ms alone, 0 next to a TTL-expiring ping every 200ms). So
	// each vantage probes the prefix from an address of its own, which
	// nothing else uses.
	unreachFrom := func(v *lab.Node) netip.Addr {
		ifc, ok := v.Iface("r1")
		if !ok {
			t.Fatalf("%s has no link to r1", v.Name)
		}
		a := ifc.Addr4.Masked().Addr().As4()
		a[3] = 200
		addr := netip.AddrFrom4(a)
		if out, err := exec.Command("ip", "-n", v.NS, "addr", "add", netip.PrefixFrom(addr, ifc.Addr4.Bits()).String(), "dev", ifc.Name).CombinedOutput(); err != nil {
			t.Fatalf("ip addr add %s in %s: %v: %s", addr, v.Name, err, out)
		}
		return addr
	}
	configFor := func(v *lab.Node) string {
		return fmt.Sprintf(`targets:
  - name: core
    hosts: [%[1]s, %[2]s, %[3]s]
    interval: 10ms
    labels: {site: lab}
  - name: unreach
    hosts: [%[4]s]
    interval: 100ms
    source: %[5]s
  - name: reflect
    hosts: [%[1]s]
    protocol: udp
    port: 7007
    interval: 100ms
  - name: syn
    hosts: [%[1]s]
    protocol: tcp
    port: 7008
    interval: 100ms
traces:
  - name: paths
    hosts: [%[1]s, "%[3]s"]
    interval: 200ms
    method: icmp
    max_hops: 8
    hop_labels: true
`, l.Dst.Addr4, r2, l.Dst.Addr6, unreachable.Addr().Next(), unreachFrom(v))
	}
	vantages := append([]*lab.Node{l.Src}, l.Vantages...)
	var targets []string
	instance := map[string]string{} // instance label -> vantage name
	for _, v := range vantages {
		ifc, ok := v.Iface("mon")
		if !ok {
			t.Fatalf("%s has no management link", v.Name)
		}
		startExporter(t, v, net.JoinHostPort(ifc.Addr4.Addr().String(), exporterPort), configFor(v), "--log.level", "warn")
		inst := net.JoinHostPort(ifc.Addr4.Addr().String(), exporterPort)
		targets = append(targets, inst)
		instance[inst] = v.Name
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	s, err := promlab.Start(ctx, l.Mon, dir, promlab.Config{Jobs: []promlab.Job{{Name: "rawnet", Targets: targets}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()

	// Once Prometheus has scraped three traces of each path from every
	// vantage (all on r2a), move dst's IPv4 route to r2b.
	const traceSeries = 2 // dst over IPv4 and IPv6
	const runsExpr = `rawnet_trace_runs_total{job="rawnet", group="paths"}`
	runs, err := s.WaitFor(ctx, runsExpr, func(v []promlab.Sample) bool {
		return len(v) == traceSeries*len(vantages) && !slices.ContainsFunc(v, func(x promlab.Sample) bool { return x.Value < 3 })
	})
	if err != nil {
		t.Fatal(err)
	}
	checkPathChanges(t, s, "before the route change", instance, nil)
	ipRoute(t, l.Routers[0], "replace", dstNet4, "via", r2b.String())

	// The exporter counts a probe as a request once its fate is known, so
	// in its first timeout no lost probe is counted yet and the loss from
	// the counters since the start would be low; an increase over a
	// window that starts later counts lost and answered probes alike.
	// Wait until every vantage has probed each core target for about 15s.
	const started = 1500
	if _, err := s.WaitFor(ctx, `rawnet_probe_requests_total{job="rawnet", group="core"}`, func(v []promlab.Sample) bool {
		if len(v) != coreTargets*len(vantages) {
			return false
		}
		return !slices.ContainsFunc(v, func(x promlab.Sample) bool { return x.Value < started })
	}); err != nil {
		t.Fatal(err)
	}
	// and until the 10s window holds at least 8 scrapes of every series
	// (under load, Prometheus may take seconds to start).
	if _, err := s.WaitFor(ctx, `min(count_over_time(rawnet_probe_requests_total{job="rawnet", group="core"}[10s]))`,
		func(v []promlab.Sample) bool { return len(v) == 1 && v[0].Value >= 8 }); err != nil {
		t.Fatal(err)
	}
	requests := query(t, s, `increase(rawnet_probe_requests_total{job="rawnet", group="core"}[10s])`)
	loss := query(t, s, `1 - increase(rawnet_probe_replies_total{job="rawnet", group="core"}[10s]) / increase(rawnet_probe_requests_total{job="rawnet", group="core"}[10s])`)
	if len(loss) != coreTargets*len(vantages) {
		t.Fatalf("loss: want %d series (%d targets, %d vantages), got %v", coreTargets*len(vantages), coreTargets, len(vantages), loss)
	}
	for _, x := range loss {
		v, ok := instance[x.Labels["instance"]]
		if !ok || x.Labels["site"] != "lab" || x.Labels["protocol"] != "icmp" || x.Labels["ip"] != x.Labels["host"] {
			t.Errorf("loss series %v: want instance one of %v, site=lab, protocol=icmp, ip=host", x, slices.Collect(maps.Keys(instance)))
			continue
		}
		n := sampleFor(requests, x.Labels["instance"], x.Labels["host"])
		p := 0.0
		if v == "src" {
			p = lossPercent / 100.0
		}
		checkLoss(t, fmt.Sprintf("loss %s -> %s", v, x.Labels["host"]), x.Value, p, n)
	}

	// The unreachable prefix: r3 answers probes with ICMP host
	// unreachable, at least its burst of 5 to each vantage's own address
	// (the vantages have probed it for 15s: more come, one a second).
	errs := query(t, s, `rawnet_probe_errors_total{job="rawnet", group="unreach"}`)
	for _, inst := range targets {
		n := 0.0
		for _, x := range errs {
			if x.Labels["instance"] == inst && x.Labels["kind"] == "host_unreachable" {
				n = x.Value
			}
		}
		if n < 5 {
			t.Errorf("%s (%s) counted %v host_unreachable errors to %s, want at least 5; errors seen: %v", instance[inst], inst, n, unreachable, errs)
		} else {
			t.Logf("%s counted %v host_unreachable errors to %s", instance[inst], n, unreachable)
		}
	}

	// The change counts at the first trace after it, unless that trace's
	// probes at hop 2 straddled it (r2a answered the first, r2b the later
	// ones): then once r2a has been left out of 31 answers at hop 2
	// (trace.PathTracker's leaveAfter), 11 traces later, some 16 at src
	// with its loss. Wait for the counter itself at every vantage, then
	// for ten more traces of every path scraped (Prometheus's value may
	// lag the exporter's by a scrape, 5 traces), so that a change counted
	// twice shows too.
	changesExpr := `rawnet_trace_path_changes_total{job="rawnet", group="paths", host="` + l.Dst.Addr4.String() + `"}`
	if _, err := s.WaitFor(ctx, changesExpr, func(v []promlab.Sample) bool {
		return len(v) == len(vantages) && !slices.ContainsFunc(v, func(x promlab.Sample) bool { return x.Value < 1 })
	}); err != nil {
		t.Fatalf("the route change to r2b did not show in the path-change counter at every vantage: %v", err)
	}
	counted := query(t, s, runsExpr)
	if _, err := s.WaitFor(ctx, runsExpr, func(v []promlab.Sample) bool {
		return len(v) == len(runs) && !slices.ContainsFunc(v, func(x promlab.Sample) bool {
			return x.Value < sampleFor(counted, x.Labels["instance"], x.Labels["host"])+10
		})
	}); err != nil {
		t.Fatal(err)
	}
	checkPathChanges(t, s, "after the route change", instance, map[string]bool{l.Dst.Addr4.String(): true})
	// v1 and v2 lose nothing: every trace scraped in the last 5s reached
	// dst in 4 hops (r1, r2a or r2b, r3, dst). At src a trace whose
	// probes to dst were all dropped would not have.
	for _, expr := range []string{
		`min_over_time(rawnet_trace_reached{job="rawnet", group="paths"}[5s])`,
		`min_over_time(rawnet_trace_hops{job="rawnet", group="paths"}[5s])`,
		`max_over_time(rawnet_trace_hops{job="rawnet", group="paths"}[5s])`,
	} {
		want := 4.0
		if strings.Contains(expr, "reached") {
			want = 1
		}
		v := query(t, s, expr)
		n := 0
		for _, x := range v {
			if instance[x.Labels["instance"]] == "src" {
				continue
			}
			n++
			if x.Value != want {
				t.Errorf("%s at %s to %s = %v, want %v", expr, instance[x.Labels["instance"]], x.Labels["host"], x.Value, want)
			}
		}
		if n != traceSeries*len(l.Vantages) {
			t.Errorf("%s: want %d series from v1 and v2, got %v", expr, traceSeries*len(l.Vantages), v)
		}
	}
	hop2 := query(t, s, `rawnet_trace_hop_replies_total{job="rawnet", group="paths", hop="2", hop_ip="`+r2b.String()+`"}`)
	if len(hop2) != len(vantages) || slices.ContainsFunc(hop2, func(x promlab.Sample) bool { return x.Value < 1 }) {
		t.Errorf("replies from r2b at hop 2 after the change: want some from each of %d vantages, got %v", len(vantages), hop2)
	}
	// r2a left hop 2 once hop 2 answered 31 times without it (some 16
	// traces at src with its loss, long done): the exporters no longer
	// expose its series, so Prometheus has marked them stale and an
	// instant query finds none, though the last minutes hold their
	// samples from before the change. Every hop of every path has one
	// address left.
	r2aExpr := `rawnet_trace_hop_requests_total{job="rawnet", group="paths", hop="2", hop_ip="` + r2a.String() + `"}`
	if v, err := s.WaitFor(ctx, r2aExpr, func(v []promlab.Sample) bool { return len(v) == 0 }); err != nil {
		t.Errorf("r2a's hop 2 series not stale after it left the path: %v", v)
	}
	if v := query(t, s, `count_over_time(`+r2aExpr+`[5m])`); len(v) != len(vantages) {
		t.Errorf("r2a's hop 2 series before the change: want one from each of %d vantages, got %v", len(vantages), v)
	}
	if v := query(t, s, `count by (instance, host, hop) (rawnet_trace_hop_requests_total{job="rawnet", group="paths"}) > 1`); len(v) != 0 {
		t.Errorf("hops with more than one address after the change: %v", v)
	}

	checkExposedFamilies(t, s, targets...)
}

// checkPathChanges asserts that rawnet_trace_path_changes_total, as
// Prometheus last scraped it, is 1 for the trace targets in changed and 0
// for the others, at every vantage.
func checkPathChanges(t *testing.T, s *promlab.Server, when string, instance map[string]string, changed map[string]bool) {
	t.Helper()
	v := query(t, s, `rawnet_trace_path_changes_total{job="rawnet", group="paths"}`)
	if len(v) != 2*len(instance) {
		t.Errorf("path changes %s: want %d series (2 targets, %d vantages), got %v", when, 2*len(instance), len(instance), v)
	}
	for _, x := range v {
		want := 0.0
		if changed[x.Labels["host"]] {
			want = 1
		}
		if x.Value != want {
			t.Errorf("path changes %s at %s to %s = %v, want %v", when, instance[x.Labels["instance"]], x.Labels["host"], x.Value, want)
		} else {
			t.Logf("path changes %s at %s to %s = %v", when, instance[x.Labels["instance"]], x.Labels["host"], x.Value)
		}
	}
}

// query runs expr on s and fails the test on an error.
func query(t *testing.T, s *promlab.Server, expr string) []promlab.Sample {
	t.Helper()
	v, err := s.Query(t.Context(), expr)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sampleFor(v []promlab.Sample, instance, host string) float64 {
	for _, x := range v {
		if x.Labels["instance"] == instance && x.Labels["host"] == host {
			return x.Value
		}
	}
	return math.NaN()
}

// checkLoss fails unless got is within 5 standard deviations of the
// binomial loss p over n probes, plus the probes that may still be in
// flight at a scrape (a 1ms RTT at a 10ms interval: 1), counted as lost.
func checkLoss(t *testing.T, what string, got, p, n float64) {
	t.Helper()
	tol := 5*math.Sqrt(p*(1-p)/n) + 2/n
	if !(math.Abs(got-p) <= tol) {
		t.Errorf("%s = %.4f over %.0f probes, want %.2f ± %.4f", what, got, n, p, tol)
		return
	}
	t.Logf("%s = %.4f over %.0f probes (want %.2f ± %.4f)", what, got, n, p, tol)
}

// checkExposedFamilies reads a real exporter's /metrics (from mon, as
// Prometheus does), runs promtool check metrics on it, and checks that
// every rawnet_ name that docs/prometheus/rules.yml and
// docs/grafana/rawnet.json use is a family it exposes with the contract's
// type, and that it exposes every family of the contract (its config has
// traces with hop labels, udp and tcp targets).
func checkExposedFamilies(t *testing.T, s *promlab.Server, targets ...string) {
	t.Helper()
	exposed := map[string]string{} // family -> type, over all targets
	for _, target := range targets {
		resp, err := s.Client.Get("http://" + target + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		check := exec.Command("promtool", "check", "metrics")
		check.Stdin = bytes.NewReader(body)
		if out, err := check.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics on %s's /metrics: %v\n%s", target, err, out)
		}
		for line := range strings.Lines(string(body)) {
			if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
				exposed[f[2]] = f[3]
			}
		}
	}
	var used []string
	for _, file := range []string{"../../docs/prometheus/rules.yml", "../../docs/grafana/rawnet.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		used = append(used, promlab.MetricNames(string(b))...)
	}
	for _, name := range used {
		fam := promlab.Family(name)
		if typ, ok := exposed[fam]; !ok || typ != promlab.ContractMetrics[fam] {
			t.Errorf("%s (family %q, contract type %s) is used by the rules or dashboard, but the exporter exposes it as %q", name, fam, promlab.ContractMetrics[fam], typ)
		}
	}
	for fam, want := range promlab.ContractMetrics {
		if typ := exposed[fam]; typ != want {
			t.Errorf("contract family %s (type %s): the exporter exposes it as %q", fam, want, typ)
		}
	}
}

// TestExporterNativeHistogramThroughPrometheus: a Prometheus with native
// histograms on scrapes an exporter that pings the lab's slow node, whose
// replies come exactly 20ms after the request; the p50 from the native
// histogram, by the expression of docs/prometheus/rules.yml, is within
// one native bucket (factor 1.1) above 20ms, where the classic buckets
// (12.8ms, 25.6ms] could only say about 19ms. Prometheus 2.42 then
// stores no classic buckets, as rules.yml says.
func TestExporterNativeHistogramThroughPrometheus(t *testing.T) {
	t.Parallel()
	testenv.NeedTools(t, "prometheus")
	const delay = 20 * time.Millisecond
	l := labtest.Up(t, lab.Spec{Routers: 1, Delay: delay})
	startExporter(t, l.Src, "127.0.0.1:"+exporterPort, fmt.Sprintf(`targets:
  - name: slow
    hosts: [%s]
    interval: 50ms
`, l.Slow.Addr4), "--log.level", "warn")
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	s, err := promlab.Start(ctx, l.Src, t.TempDir(), promlab.Config{
		Jobs:             []promlab.Job{{Name: "rawnet", Targets: []string{"127.0.0.1:" + exporterPort}}},
		NativeHistograms: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	const ruleExpr = `histogram_quantile(0.5, rate(rawnet_probe_rtt_seconds[5m]))`
	rules, err := os.ReadFile("../../docs/prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rules), "expr: "+ruleExpr) {
		t.Fatalf("docs/prometheus/rules.yml has no rule %q", ruleExpr)
	}
	// 5 scrapes (the exporter may have probed for a while before the
	// first: Prometheus takes seconds to start), about 100 round trips.
	if _, err := s.WaitFor(ctx, `count_over_time(rawnet_probe_rtt_seconds{job="rawnet"}[5m])`,
		func(v []promlab.Sample) bool { return len(v) == 1 && v[0].Value >= 5 }); err != nil {
		t.Fatal(err)
	}
	p50 := query(t, s, ruleExpr)
	if len(p50) != 1 {
		t.Fatalf("%s: want one sample, got %v", ruleExpr, p50)
	}
	lo, hi := delay.Seconds(), delay.Seconds()*1.1+0.001
	if got := p50[0].Value; got < lo || got > hi {
		t.Errorf("native p50 RTT to a host that answers after %v = %.5fs, want %.4f..%.4f", delay, got, lo, hi)
	} else {
		t.Logf("native p50 RTT to a host that answers after %v = %.5fs", delay, got)
	}
	if v := query(t, s, `rawnet_probe_rtt_seconds_bucket`); len(v) != 0 {
		t.Errorf("Prometheus 2.42 with native histograms stored classic buckets too (rules.yml says it does not): %v", v[:1])
	}
}

// TestExporterProbeThroughPrometheus: Prometheus scrapes /probe as
// blackbox_exporter users do (module and target as URL parameters), every
// second. Each scrape runs the module's 20 pings afresh: against dst all
// 20 are answered and probe_success is 1; against an address the last
// router rejects, none is, and probe_success is 0. The router's kernel
// limits the host unreachables of an unreachable route (ip_error: a
// burst of 5, then one a second, fixed outside network namespaces), so
// a scrape sees 1 to 5 of them, as iputils ping does (+1 errors of 20 at
// -i 0.01).
func TestExporterProbeThroughPrometheus(t *testing.T) {
	t.Parallel()
	testenv.NeedTools(t, "prometheus")
	unreachable := netip.MustParsePrefix("198.19.8.0/24")
	l := labtest.Up(t, lab.Spec{Routers: 2, Unreachable4: []netip.Prefix{unreachable}})
	startExporter(t, l.Src, "127.0.0.1:"+exporterPort, `modules:
  icmp20:
    count: 20
    interval: 10ms
    timeout: 500ms
`, "--log.level", "warn")
	exporter := "127.0.0.1:" + exporterPort
	job := func(name, target string) promlab.Job {
		return promlab.Job{Name: name, Targets: []string{exporter}, MetricsPath: "/probe",
			Params: map[string][]string{"module": {"icmp20"}, "target": {target}}}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	s, err := promlab.Start(ctx, l.Src, t.TempDir(), promlab.Config{Jobs: []promlab.Job{
		job("dst", l.Dst.Addr4.String()),
		job("unreach", unreachable.Addr().Next().String()),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	if _, err := s.WaitFor(ctx, `count_over_time(probe_success[1m])`, func(v []promlab.Sample) bool {
		return len(v) == 2 && v[0].Value >= 3 && v[1].Value >= 3
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		expr string
		want float64
	}{
		{`probe_success{job="dst"}`, 1},
		{`rawnet_probe_requests_total{job="dst"}`, 20},
		{`rawnet_probe_replies_total{job="dst"}`, 20},
		{`rawnet_probe_rtt_seconds_count{job="dst"}`, 20},
		{`probe_success{job="unreach"}`, 0},
		{`rawnet_probe_requests_total{job="unreach"}`, 20},
		{`rawnet_probe_replies_total{job="unreach"}`, 0},
		// Every scrape of the last 3s said the same.
		{`min_over_time(probe_success{job="dst"}[3s])`, 1},
		{`max_over_time(probe_success{job="unreach"}[3s])`, 0},
	} {
		v := query(t, s, c.expr)
		if len(v) != 1 || v[0].Value != c.want {
			t.Errorf("%s = %v, want one sample of %v", c.expr, v, c.want)
		}
	}
	if v := query(t, s, `rawnet_probe_errors_total{job="unreach", kind="host_unreachable"}`); len(v) != 1 || v[0].Value < 1 || v[0].Value > 5 {
		t.Errorf("host unreachables in one /probe scrape: %v, want one sample of 1 to 5", v)
	}
	if v := query(t, s, `probe_duration_seconds{job="dst"}`); len(v) != 1 || v[0].Value <= 0 || v[0].Value > 1 {
		t.Errorf("probe_duration_seconds = %v, want one sample in (0, 1s]", v)
	}
}
