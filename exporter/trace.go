package exporter

import (
	"cmp"
	"context"
	"errors"
	"io"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rawnet/rawnet/trace"
)

func init() { RegisterTraceBuilder(buildTraces) }

// traceSocket returns the pool's shared trace sockets (a trace.Shared)
// for a method and family; TCP traces read answers from one port, so each
// probed port has its own.
func traceSocket(env *Env, m trace.Method, port int, v6 bool) (*trace.Shared, error) {
	kind := "trace-" + m.String()
	if m == trace.TCP {
		port = cmp.Or(port, 80)
		kind += ":" + strconv.Itoa(port)
	}
	c, err := env.Sockets.Get(SocketKey{Kind: kind, V6: v6}, func() (io.Closer, error) {
		conn, err := trace.Listen(trace.ListenConfig{V6: v6, Method: m, Port: uint16(port)})
		if err != nil {
			return nil, err
		}
		return trace.NewShared(conn), nil
	})
	if err != nil {
		return nil, err
	}
	return c.(*trace.Shared), nil
}

func buildTraces(env *Env, g *TraceGroup) ([]Runner, error) {
	m, err := trace.ParseMethod(g.Method)
	if err != nil {
		return nil, g.Errorf(env.File, "method", "%v", err)
	}
	r := &traceRunner{env: *env, g: *g, method: m}
	r.s4, r.s6, err = familySockets(env, g.Pos, g.Hosts, netip.Addr{}, "trace", func(v6 bool) (*trace.Shared, error) {
		return traceSocket(env, m, g.Port, v6)
	}, func(err error) string {
		if errors.Is(err, ErrSocketNotOpen) { // a method (or TCP port) new since start
			if m == trace.TCP {
				return "port"
			}
			return "method"
		}
		return "hosts"
	})
	if err != nil {
		return nil, err
	}
	return []Runner{r}, nil
}

// traceRunner runs the periodic Paris traces of one traces: group: one
// Tracer for all its addresses (every target on its own cycle, Interval
// after the last one began and not before it ended), rebuilt when a name
// resolves to another address.
type traceRunner struct {
	env    Env
	g      TraceGroup
	method trace.Method
	s4, s6 *trace.Shared
}

// traceTarget is one address the group traces and its series.
type traceTarget struct {
	host    string
	addr    netip.Addr
	series  *TraceSeries
	release func()
	hops    []hopObs // the current trace's probes, counted when it ends
}

// hopObs is one probe of a trace, for the per-hop series.
type hopObs struct {
	ttl      int
	addr     netip.Addr // who answered; the hop's address for a timeout
	answered bool
	rtt      time.Duration
}

func (r *traceRunner) Run(ctx context.Context) error {
	var cur []*traceTarget
	var job pingJob
	resolved := map[string]netip.Addr{}
	defer func() {
		job.stop()
		releaseTraces(cur)
	}()
	everyResolve(ctx, r.env.ResolveInterval, r.g.Hosts, false, func(bool) {
		next := r.expand(ctx, resolved)
		if ctx.Err() != nil || sameTraceTargets(cur, next) {
			return
		}
		cur = swapTargets(ctx, &job, cur, next, r.acquire, releaseTraces, r.trace)
	})
	return nil
}

// expand turns the group's hosts into addresses; a name that never
// resolved is logged and not traced (traces have no error series).
func (r *traceRunner) expand(ctx context.Context, resolved map[string]netip.Addr) []*traceTarget {
	var out []*traceTarget
	for _, h := range expandHosts(ctx, &r.env, r.g.Name, r.g.Hosts, netip.Addr{}, false, resolved, func(h string, err error) {
		r.env.Logger.Warn("trace host did not resolve", "group", r.g.Name, "host", h, "err", err)
	}) {
		out = append(out, &traceTarget{host: h.host, addr: h.addr})
	}
	return out
}

func (r *traceRunner) acquire(ts []*traceTarget) []*traceTarget {
	for _, t := range ts {
		l := TraceLabels(r.g.Name, t.host, t.addr, r.method.String(), r.g.Labels)
		t.series, t.release = AcquireTraceSeries(r.env.Series, l, r.g.HopLabels)
	}
	return ts
}

func releaseTraces(ts []*traceTarget) {
	for _, t := range ts {
		if t.release != nil {
			t.release()
		}
	}
}

func sameTraceTargets(a, b []*traceTarget) bool {
	return slices.EqualFunc(a, b, func(x, y *traceTarget) bool { return x.host == y.host && x.addr == y.addr })
}

// trace runs one Tracer over ts until ctx ends.
func (r *traceRunner) trace(ctx context.Context, ts []*traceTarget) {
	var conns []trace.Conn
	for _, s := range []*trace.Shared{r.s4, r.s6} {
		if s == nil {
			continue
		}
		c, err := s.Conn()
		if err != nil {
			r.env.Logger.Error("no share of the trace sockets", "group", r.g.Name, "err", err)
			return
		}
		defer c.Close()
		conns = append(conns, c)
	}
	var live []*traceTarget
	var addrs []netip.Addr
	for _, t := range ts {
		if (t.addr.Is4() && r.s4 == nil) || (!t.addr.Is4() && r.s6 == nil) {
			r.env.Logger.Warn("no trace socket of this family", "group", r.g.Name, "host", t.host, "ip", t.addr)
			continue
		}
		live = append(live, t)
		addrs = append(addrs, t.addr)
	}
	if len(addrs) == 0 {
		<-ctx.Done()
		return
	}
	block := traceBlocks.take()
	defer traceBlocks.give(block)
	cfg := trace.Config{Targets: addrs, Conns: conns, Method: r.method, Port: r.g.Port, MaxTTL: r.g.MaxHops,
		Cycles: math.MaxInt32, Interval: r.g.Interval, IDBlock: block}
	tr, err := trace.New(cfg)
	if err != nil {
		r.env.Logger.Error("cannot trace group", "group", r.g.Name, "err", err)
		<-ctx.Done()
		return
	}
	_, err = tr.Run(ctx, func(ev trace.Event) error {
		live[ev.Target].count(&ev, r.g.HopLabels)
		return nil
	})
	if err != nil && ctx.Err() == nil {
		r.env.Logger.Error("tracing stopped", "group", r.g.Name, "err", err)
	}
}

// count takes one engine event of the target's trace. Hop series are
// counted when the trace ends, and not at all for one interrupted by a
// reload, so that its probes still out do not count as lost.
func (t *traceTarget) count(ev *trace.Event, hopLabels bool) {
	s := t.series
	switch ev.Kind {
	case trace.EventHop:
		s.mu.Lock()
		s.path.Hop(ev.Hop)
		if hopLabels {
			t.hops = appendHop(t.hops, ev.Hop, s.lastAnswered(ev.Hop.TTL))
		}
		s.mu.Unlock()
	case trace.EventDone:
		res := ev.Result
		s.mu.Lock()
		changed := s.path.Done(res)
		s.mu.Unlock()
		if !res.Interrupted {
			s.Runs.Inc()
			s.Hops.Set(float64(res.Hops))
			s.Reached.Set(b2f(res.Reached))
			if changed {
				s.PathChanges.Inc()
			}
			s.countHops(t.hops)
		}
		t.hops = t.hops[:0]
	}
}

// appendHop adds the probes of one hop: a probe that timed out is put on
// the address another probe of the hop got an answer from, else the one
// the hop last answered from among those it has series for (last), else
// none, so that requests minus replies of one hop_ip is its loss.
func appendHop(obs []hopObs, h *trace.Hop, last netip.Addr) []hopObs {
	at := last
	for i := range h.Probes {
		if p := &h.Probes[i]; !p.Timeout && p.Addr.IsValid() {
			at = p.Addr
			break
		}
	}
	for i := range h.Probes {
		p := &h.Probes[i]
		if p.Timeout || !p.Addr.IsValid() {
			obs = append(obs, hopObs{ttl: h.TTL, addr: at})
			continue
		}
		obs = append(obs, hopObs{ttl: h.TTL, addr: p.Addr, answered: true, rtt: p.RTT})
	}
	return obs
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// TraceLabels are the labels of one trace target's series: group, host
// (as written), ip, method, then the group's labels.
func TraceLabels(group, host string, ip netip.Addr, method string, extra Labels) prometheus.Labels {
	l := prometheus.Labels{"group": group, "host": host, "ip": "", "method": method}
	if ip.IsValid() {
		l["ip"] = ip.String()
	}
	for _, e := range extra {
		l[e.Name] = e.Value
	}
	return l
}

// TraceSeries are the series of one traced target (rawnet_trace_*), and
// the path its traces followed, which outlives a reload with them.
type TraceSeries struct {
	Runs        prometheus.Counter
	Hops        prometheus.Gauge
	Reached     prometheus.Gauge
	PathChanges prometheus.Counter
	// Only with hop_labels: true, labelled hop (the TTL) and hop_ip;
	// guarded by mu. The series of an address that has left its hop, or
	// of a TTL the path no longer reaches, are dropped (trace_hops.go).
	HopRequests, HopReplies *prometheus.CounterVec
	HopRTT                  *prometheus.HistogramVec

	labels prometheus.Labels
	mu     sync.Mutex
	path   trace.PathTracker
	ttls   []hopTTL // by TTL: the addresses with per-hop series
	traces uint64   // traces counted into the per-hop series
}

// NewTraceSeries makes the series of one target with labels l
// (TraceLabels); the per-hop ones only with hopLabels.
func NewTraceSeries(l prometheus.Labels, hopLabels bool) *TraceSeries {
	s := &TraceSeries{
		labels: l,
		Runs: prometheus.NewCounter(prometheus.CounterOpts{Name: "rawnet_trace_runs_total", ConstLabels: l,
			Help: "Traces to the target that ended (not those a reload interrupted)."}),
		Hops: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rawnet_trace_hops", ConstLabels: l,
			Help: "Hops of the last trace: the target's distance in TTL when it was reached, else the last TTL probed."}),
		Reached: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rawnet_trace_reached", ConstLabels: l,
			Help: "Whether the last trace reached the target (1) or not (0)."}),
		PathChanges: prometheus.NewCounter(prometheus.CounterOpts{Name: "rawnet_trace_path_changes_total", ConstLabels: l,
			Help: "Traces whose ordered hop list differed from the path before (an unanswered hop matches any address, hops sharing an address are the same, an address a hop stopped answering from for long has left it)."}),
	}
	s.setHopLabels(hopLabels)
	return s
}

// setHopLabels adds the per-hop series, or drops them: a reload may turn
// hop_labels on or off for a target whose other series go on.
func (s *TraceSeries) setHopLabels(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !on:
		s.HopRequests, s.HopReplies, s.HopRTT = nil, nil, nil
		s.ttls = nil
	case s.HopRequests == nil:
		l, hl := s.labels, []string{"hop", "hop_ip"}
		s.HopRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rawnet_trace_hop_requests_total", ConstLabels: l,
			Help: "Trace probes sent at a TTL (hop), by the address that hop answered from (hop_ip, empty if it never did)."}, hl)
		s.HopReplies = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rawnet_trace_hop_replies_total", ConstLabels: l,
			Help: "Trace probes answered at a TTL (hop), by the address that answered (hop_ip)."}, hl)
		s.HopRTT = prometheus.NewHistogramVec(HistogramOpts("rawnet_trace_hop_rtt_seconds",
			"Round-trip time of the answers at a TTL (hop), by the address that answered (hop_ip).", l), hl)
	}
}

// Describe sends the descriptors of the series.
func (s *TraceSeries) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range s.collectors() {
		c.Describe(ch)
	}
}

// Collect sends the series.
func (s *TraceSeries) Collect(ch chan<- prometheus.Metric) {
	for _, c := range s.collectors() {
		c.Collect(ch)
	}
}

func (s *TraceSeries) collectors() []prometheus.Collector {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := []prometheus.Collector{s.Runs, s.Hops, s.Reached, s.PathChanges}
	if s.HopRequests != nil {
		cs = append(cs, s.HopRequests, s.HopReplies, s.HopRTT)
	}
	return cs
}

// AcquireTraceSeries returns the series of the trace target with labels l
// from the store, with the function that releases them; a reload that
// turns hop_labels on or off keeps the others going.
func AcquireTraceSeries(st *Store, l prometheus.Labels, hopLabels bool) (*TraceSeries, func()) {
	key := SeriesKey("trace", l)
	s := st.Acquire(key, func() prometheus.Collector { return NewTraceSeries(l, hopLabels) }).(*TraceSeries)
	s.setHopLabels(hopLabels)
	return s, func() { st.Release(key) }
}

// traceBlocks hands out the probe identity blocks (trace.Config.IDBlock)
// of the Tracers running in this process, so that those sharing sockets
// never match each other's answers. When all are taken a Tracer gets 0:
// the whole space from a random start.
var traceBlocks = &idBlocks{}

type idBlocks struct {
	mu    sync.Mutex
	taken [trace.IDBlocks + 1]bool
}

func (b *idBlocks) take() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := 1; i <= trace.IDBlocks; i++ {
		if !b.taken[i] {
			b.taken[i] = true
			return i
		}
	}
	return 0
}

func (b *idBlocks) give(i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.taken[i] = false
}
