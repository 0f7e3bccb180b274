package exporter

import (
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rawnet/rawnet/icmp"
	"github.com/rawnet/rawnet/trace"
)

// A hop's probe that timed out counts for the address another probe of
// the hop answered from, else the hop's last known address, else none;
// requests minus replies of one hop_ip is then its loss.
func TestAppendHopAttribution(t *testing.T) {
	a, b := netip.MustParseAddr("198.18.1.2"), netip.MustParseAddr("198.18.101.2")
	hop := func(addrs ...netip.Addr) *trace.Hop {
		h := &trace.Hop{TTL: 2}
		for _, x := range addrs {
			h.Probes = append(h.Probes, trace.Probe{Addr: x, Timeout: !x.IsValid(), RTT: time.Millisecond})
		}
		return h
	}
	none := netip.Addr{}
	cases := []struct {
		name string
		h    *trace.Hop
		last netip.Addr
		want []netip.Addr
	}{
		{"answered here", hop(none, a, none), b, []netip.Addr{a, a, a}},
		{"silent, known before", hop(none, none, none), b, []netip.Addr{b, b, b}},
		{"silent, never heard", hop(none, none), none, []netip.Addr{none, none}},
		{"two branches", hop(a, b, none), none, []netip.Addr{a, b, a}},
	}
	for _, c := range cases {
		obs := appendHop(nil, c.h, c.last)
		for i, o := range obs {
			if o.addr != c.want[i] || o.ttl != 2 || o.answered != c.h.Probes[i].Addr.IsValid() {
				t.Errorf("%s: probe %d counted as %+v, want at %v", c.name, i, o, c.want[i])
			}
		}
	}
}

// The per-hop series exist only with hop_labels, and a trace that a
// reload interrupts counts nothing.
func TestTraceSeriesCounting(t *testing.T) {
	dst, r1 := netip.MustParseAddr("198.18.3.2"), netip.MustParseAddr("198.18.0.2")
	for _, hops := range []bool{false, true} {
		st := NewStore()
		s, release := AcquireTraceSeries(st, TraceLabels("g", "h", dst, "udp", nil), hops)
		tt := &traceTarget{series: s}
		run := func(interrupted bool) {
			for ttl, addr := range []netip.Addr{r1, dst} {
				tt.count(&trace.Event{Kind: trace.EventHop, Hop: &trace.Hop{TTL: ttl + 1, Probes: []trace.Probe{{Addr: addr, Reached: addr == dst}}}}, hops)
			}
			tt.count(&trace.Event{Kind: trace.EventDone, Result: &trace.Result{Hops: 2, Reached: true, Interrupted: interrupted}}, hops)
		}
		run(false)
		run(true)
		if got := testutil.ToFloat64(s.Runs); got != 1 {
			t.Errorf("hop_labels %v: %v runs, want 1 (the interrupted one not counted)", hops, got)
		}
		if got := testutil.ToFloat64(s.Hops); got != 2 {
			t.Errorf("hop_labels %v: hops %v, want 2", hops, got)
		}
		n, err := testutil.GatherAndCount(registryOf(st), "rawnet_trace_hop_requests_total", "rawnet_trace_hop_replies_total")
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{false: 0, true: 4}[hops]; n != want {
			t.Errorf("hop_labels %v: %d hop series, want %d", hops, n, want)
		}
		release()
	}
}

func registryOf(c prometheus.Collector) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(c)
	return r
}

func TestTCPSeriesFlags(t *testing.T) {
	s := NewTCPSeries(prometheus.Labels{"group": "g"})
	s.count(icmp.TCPSA)
	s.count(icmp.TCPSA)
	s.count(icmp.TCPRA)
	s.count(icmp.TCPRst)
	if sa, ra := testutil.ToFloat64(s.sa), testutil.ToFloat64(s.ra); sa != 2 || ra != 2 {
		t.Errorf("SA %v RA %v, want 2 and 2", sa, ra)
	}
}

func TestIDBlocks(t *testing.T) {
	b := &idBlocks{}
	seen := map[int]bool{}
	for range trace.IDBlocks {
		i := b.take()
		if i < 1 || i > trace.IDBlocks || seen[i] {
			t.Fatalf("took block %d (seen %v)", i, seen)
		}
		seen[i] = true
	}
	if i := b.take(); i != 0 {
		t.Errorf("took block %d with all taken, want 0", i)
	}
	b.give(3)
	if i := b.take(); i != 3 {
		t.Errorf("took block %d after giving 3 back", i)
	}
}

// udp groups: interface is refused (their sockets are opened after the
// capabilities are dropped), and so is a size below the probe header.
func TestBuildUDPErrors(t *testing.T) {
	env := &Env{File: "x.yml", Sockets: NewSockets(), Series: NewStore(), Logger: slog.New(slog.DiscardHandler)}
	for _, c := range []struct {
		g     TargetGroup
		field string
	}{
		{TargetGroup{Pos: Pos{Line: 3, Path: "targets[0]"}, Protocol: "udp", Port: 7, Interface: "eth0"}, "targets[0].interface"},
		{TargetGroup{Pos: Pos{Line: 3, Path: "targets[0]"}, Protocol: "udp", Port: 7, Size: 20}, "targets[0].size"},
	} {
		_, err := buildUDP(env, &c.g)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field || ce.Line != 3 || !strings.Contains(err.Error(), "x.yml:3") {
			t.Errorf("%+v: %v, want a config error at %s", c.g, err, c.field)
		}
	}
}

// A reload that turns hop_labels off (or on) keeps the target's other
// series, and the store never holds two sets of them (which would make
// /metrics fail on duplicate series).
func TestTraceSeriesHopLabelsToggle(t *testing.T) {
	st := NewStore()
	l := TraceLabels("g", "h", netip.MustParseAddr("198.18.3.2"), "udp", nil)
	s1, release := AcquireTraceSeries(st, l, true)
	s1.Runs.Inc()
	s1.countHops([]hopObs{{ttl: 1, answered: true}})
	release()
	s2, release := AcquireTraceSeries(st, l, false)
	defer release()
	if s2 != s1 || testutil.ToFloat64(s2.Runs) != 1 {
		t.Fatal("the reload's series are not the ones before")
	}
	reg := registryOf(st)
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 4 {
		t.Errorf("%d series (%v), want the 4 without hop labels", n, err)
	}
	AcquireTraceSeries(st, l, true)
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 4 {
		t.Errorf("%d series (%v) after turning hop labels on again, want 4 (no hop counted yet)", n, err)
	}
}

func TestExpandHostsOnce(t *testing.T) {
	env := &Env{Logger: slog.New(slog.DiscardHandler)}
	got := expandHosts(t.Context(), env, "g", []string{"198.18.3.2", "198.18.3.2", "198.18.3.0/31"}, netip.Addr{}, false, map[string]netip.Addr{}, func(string, error) {})
	want := []hostAddr{{"198.18.3.2", netip.MustParseAddr("198.18.3.2")}, {"198.18.3.0/31", netip.MustParseAddr("198.18.3.0")}, {"198.18.3.0/31", netip.MustParseAddr("198.18.3.1")}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %v, want %v", got, want)
		}
	}
}

// A reload that needs trace sockets the exporter did not open at start
// (a method, or a TCP port, new since then) is refused, naming the field.
func TestBuildTracesSocketNotOpen(t *testing.T) {
	env := &Env{File: "x.yml", Sockets: NewSockets(), Series: NewStore(), Logger: slog.New(slog.DiscardHandler)}
	env.Sockets.Seal()
	for _, c := range []struct{ method, field string }{{"udp", "traces[0].method"}, {"tcp", "traces[0].port"}} {
		g := TraceGroup{Pos: Pos{Line: 7, Path: "traces[0]"}, Name: "t", Hosts: []string{"198.18.3.2"}, Method: c.method, Port: 443}
		_, err := buildTraces(env, &g)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field || ce.Line != 7 || !errors.Is(err, ErrSocketNotOpen) && !strings.Contains(err.Error(), "restart") {
			t.Errorf("%s: %v, want a config error at %s", c.method, err, c.field)
		}
	}
}
