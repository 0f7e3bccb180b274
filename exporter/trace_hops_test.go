package exporter

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rawnet/rawnet/trace"
)

// hopFeeder drives one target's TraceSeries (hop_labels: true) with the
// engine's events, as the trace runner does.
type hopFeeder struct {
	t   testing.TB
	tt  *traceTarget
	reg *prometheus.Registry
}

func newHopFeeder(t testing.TB) *hopFeeder {
	s := NewTraceSeries(TraceLabels("g", "h", netip.MustParseAddr("198.18.3.2"), "udp", nil), true)
	return &hopFeeder{t: t, tt: &traceTarget{series: s}, reg: registryOf(s)}
}

// trace feeds one trace: path[i] are the answers to the probes at TTL
// i+1 (an invalid address for a probe that timed out); the last TTL is
// the target's.
func (f *hopFeeder) trace(path ...[]netip.Addr) {
	for i, probes := range path {
		h := &trace.Hop{TTL: i + 1}
		for _, a := range probes {
			h.Probes = append(h.Probes, trace.Probe{Addr: a, Timeout: !a.IsValid(), RTT: time.Millisecond, Reached: i == len(path)-1 && a.IsValid()})
		}
		f.tt.count(&trace.Event{Kind: trace.EventHop, Hop: h}, true)
	}
	f.tt.count(&trace.Event{Kind: trace.EventDone, Result: &trace.Result{Hops: len(path), Reached: true}}, true)
}

// series returns the exported per-hop series: "name hop hop_ip" -> value
// (a histogram's sample count).
func (f *hopFeeder) series() map[string]float64 {
	fams, err := f.reg.Gather()
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]float64{}
	for _, fam := range fams {
		for _, m := range fam.GetMetric() {
			var hop, ip string
			ok := false
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "hop":
					hop, ok = l.GetValue(), true
				case "hop_ip":
					ip = l.GetValue()
				}
			}
			if !ok {
				continue
			}
			v := m.GetCounter().GetValue()
			if h := m.GetHistogram(); h != nil {
				v = float64(h.GetSampleCount())
			}
			out[fam.GetName()+" "+hop+" "+ip] = v
		}
	}
	return out
}

func (f *hopFeeder) requests(hop int, ip netip.Addr) (float64, bool) {
	label := ""
	if ip.IsValid() {
		label = ip.String()
	}
	v, ok := f.series()[fmt.Sprintf("rawnet_trace_hop_requests_total %d %s", hop, label)]
	return v, ok
}

func probes(a ...netip.Addr) []netip.Addr { return a }

func three(a netip.Addr) []netip.Addr { return probes(a, a, a) }

var (
	hopR1  = netip.MustParseAddr("198.18.0.2")
	hopA   = netip.MustParseAddr("198.18.1.2")
	hopB   = netip.MustParseAddr("198.18.101.2")
	hopC   = netip.MustParseAddr("198.18.2.2")
	hopDst = netip.MustParseAddr("198.18.3.2")
)

// A route change at hop 2 from a to b: a's series go once b has
// answered trace.LeaveAfter(2) (31) times without a, 11 traces of 3
// probes, and not before; b's are there from b's first answer. When a
// comes back, its series start again from 0.
func TestHopSeriesRouteChange(t *testing.T) {
	for _, straddle := range []bool{false, true} {
		f := newHopFeeder(t)
		for range 5 {
			f.trace(three(hopR1), three(hopA), three(hopDst))
		}
		if n, ok := f.requests(2, hopA); !ok || n != 15 {
			t.Fatalf("hop 2 from a: %v requests (exported %v), want 15", n, ok)
		}
		first := three(hopB)
		if straddle { // the change came while the trace's probes were out
			first = probes(hopA, hopB, hopB)
		}
		f.trace(three(hopR1), first, three(hopDst))
		need := int(trace.LeaveAfter(2))
		// Answers of hop 2 that left a out: those of the first trace
		// after the change unless it straddled it (a answered there).
		answers := 3
		if straddle {
			answers = 0
		}
		for i := 1; ; i++ {
			if _, ok := f.requests(2, hopB); !ok {
				t.Fatalf("straddle %v: no series of b after %d traces through b", straddle, i)
			}
			_, ok := f.requests(2, hopA)
			if want := answers < need; ok != want {
				t.Fatalf("straddle %v: a's series exported %v after %d answers from b alone, want %v (threshold %d)", straddle, ok, answers, want, need)
			}
			if !ok {
				t.Logf("straddle %v: a's series gone after %d answers of b alone (%d traces)", straddle, answers, i)
				break
			}
			f.trace(three(hopR1), three(hopB), three(hopDst))
			answers += 3
		}
		if n := len(f.series()); n != 9 {
			t.Errorf("straddle %v: %d per-hop series, want 9 (3 hops, 3 series each): %v", straddle, n, f.series())
		}
		f.trace(three(hopR1), three(hopA), three(hopDst)) // the route moves back
		if n, ok := f.requests(2, hopA); !ok || n != 3 {
			t.Errorf("straddle %v: a came back with %v requests (exported %v), want 3: a new series", straddle, n, ok)
		}
	}
}

// A path that gets shorter (the target answers at TTL 3, then at 2): the
// series of TTL 3 go once trace.LeaveAfter(2) (31) traces in a row did
// not probe it; a hop that never answers keeps its hop_ip="" series as
// long as its TTL is probed.
func TestHopSeriesPathShortens(t *testing.T) {
	f := newHopFeeder(t)
	silent := probes(netip.Addr{}, netip.Addr{}, netip.Addr{})
	for range 3 {
		f.trace(silent, three(hopA), three(hopDst))
	}
	need := int(trace.LeaveAfter(2))
	for i := 1; i <= need; i++ {
		f.trace(silent, three(hopDst))
		_, ok := f.requests(3, hopDst)
		if want := i < need; ok != want {
			t.Fatalf("TTL 3 unprobed for %d traces: its series exported %v, want %v", i, ok, want)
		}
	}
	s := f.series()
	for _, k := range []string{"rawnet_trace_hop_requests_total 1 ", "rawnet_trace_hop_requests_total 2 " + hopDst.String(), "rawnet_trace_hop_replies_total 2 " + hopDst.String()} {
		if _, ok := s[k]; !ok {
			t.Errorf("no series %q after the path shortened: %v", k, s)
		}
	}
	// TTL 2 answered from a, then from dst: a left after 31 answers.
	if _, ok := f.requests(2, hopA); ok || len(s) != 4 {
		t.Errorf("%d series, want 4 (TTL 1's hop_ip=\"\" requests; TTL 2's dst: requests, replies, RTTs): %v", len(s), s)
	}
	if n, _ := f.requests(1, netip.Addr{}); n != float64(3*(3+need)) {
		t.Errorf("silent TTL 1 counted %v requests, want all %d", n, 3*(3+need))
	}
	// The silent hop answers: its hop_ip="" series goes like an address.
	for range need / 3 {
		f.trace(three(hopR1), three(hopDst))
	}
	if _, ok := f.requests(1, netip.Addr{}); !ok {
		t.Errorf("hop_ip=\"\" gone after %d answers of TTL 1, want it kept until %d", need/3*3, need)
	}
	f.trace(three(hopR1), three(hopDst))
	if _, ok := f.requests(1, netip.Addr{}); ok {
		t.Errorf("hop_ip=\"\" still there after %d answers of TTL 1 from r1", (need/3+1)*3)
	}
}

// A per-packet balancer (hop 2 spreads every probe over two addresses,
// hop 3 over four, some probes lost) never loses a series: after 10,000
// traces every probe is still counted, none went with a dropped series.
func TestHopSeriesBalancerKeepsSeries(t *testing.T) {
	t.Parallel()
	f := newHopFeeder(t)
	rng := rand.New(rand.NewPCG(1, 2))
	two := []netip.Addr{hopA, hopB}
	four := []netip.Addr{hopC, hopC.Next(), hopC.Next().Next(), hopC.Next().Next().Next()}
	pick := func(set []netip.Addr) []netip.Addr {
		var out []netip.Addr
		for range 3 {
			if rng.IntN(10) == 0 { // rate-limited
				out = append(out, netip.Addr{})
				continue
			}
			out = append(out, set[rng.IntN(len(set))])
		}
		return out
	}
	const traces = 10000
	for range traces {
		f.trace(three(hopR1), pick(two), pick(four), three(hopDst))
	}
	s := f.series()
	for hop, set := range map[int][]netip.Addr{2: two, 3: four} {
		sum := 0.0
		for _, a := range set {
			n, ok := f.requests(hop, a)
			if !ok {
				t.Errorf("hop %d: no series of %v", hop, a)
			}
			sum += n
		}
		if sum != 3*traces {
			t.Errorf("hop %d: %v requests over its addresses, want all %d (a series was dropped)", hop, sum, 3*traces)
		}
	}
	if len(s) != 3*(1+2+4+1) {
		t.Errorf("%d series, want %d: %v", len(s), 3*(1+2+4+1), s)
	}
}

// A path churning at random (every answer at every TTL from an address
// it may never have shown before) keeps the exported series within
// max_hops × trace.MaxHopAddrs × 3 and the heap flat over 10,000 traces.
func TestHopSeriesChurnBounded(t *testing.T) {
	// Not parallel: the heap is measured, and the parallel tests wait
	// until the others have run.
	const ttls, traces = 8, 10000
	f := newHopFeeder(t)
	rng := rand.New(rand.NewPCG(3, 4))
	addr := func() netip.Addr {
		return netip.AddrFrom4([4]byte{198, 18, byte(rng.IntN(256)), byte(rng.IntN(256))})
	}
	limit := ttls * trace.MaxHopAddrs * 3
	var heap [2]uint64
	path := make([][]netip.Addr, ttls)
	for i := 1; i <= traces; i++ {
		n := ttls - rng.IntN(3) // the length varies too
		for ttl := range n {
			path[ttl] = probes(addr(), addr(), addr())
			if ttl == n-1 {
				path[ttl] = three(hopDst)
			}
		}
		f.trace(path[:n]...)
		if i%1000 != 0 {
			continue
		}
		if got := len(f.series()); got > limit {
			t.Fatalf("%d per-hop series after %d traces, want at most %d", got, i, limit)
		}
		switch i {
		case 1000:
			heap[0] = heapInUse()
		case traces:
			heap[1] = heapInUse()
		}
	}
	t.Logf("%d series after %d traces; heap in use %d KB after 1,000 traces, %d KB after %d", len(f.series()), traces, heap[0]>>10, heap[1]>>10, traces)
	if heap[1] > heap[0]+512<<10 {
		t.Errorf("heap grew from %d KB to %d KB between 1,000 and %d traces", heap[0]>>10, heap[1]>>10, traces)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
