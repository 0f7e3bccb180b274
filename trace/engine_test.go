package trace

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rawnet/rawnet/tap"
)

// traceLog keeps what the engine reported, copied out of the events.
type traceLog struct {
	hops     map[[2]int][]Hop // by target and cycle, in the order reported
	results  map[[2]int]Result
	problems []string // reports out of order or twice
	onHop    func(target int, h *Hop)
}

func newTraceLog() *traceLog {
	return &traceLog{hops: map[[2]int][]Hop{}, results: map[[2]int]Result{}}
}

func (l *traceLog) sink(ev Event) error {
	k := [2]int{ev.Target, ev.Cycle}
	switch ev.Kind {
	case EventHop:
		if _, done := l.results[k]; done {
			l.problems = append(l.problems, fmt.Sprintf("target %d cycle %d: hop %d after the result", ev.Target, ev.Cycle, ev.Hop.TTL))
		}
		if hs := l.hops[k]; len(hs) > 0 && hs[len(hs)-1].TTL >= ev.Hop.TTL {
			l.problems = append(l.problems, fmt.Sprintf("target %d cycle %d: hop %d after hop %d", ev.Target, ev.Cycle, ev.Hop.TTL, hs[len(hs)-1].TTL))
		}
		h := Hop{TTL: ev.Hop.TTL, Probes: slices.Clone(ev.Hop.Probes)}
		for i := range h.Probes {
			h.Probes[i].Labels = slices.Clone(h.Probes[i].Labels)
		}
		l.hops[k] = append(l.hops[k], h)
		if l.onHop != nil {
			l.onHop(ev.Target, &h)
		}
	case EventDone:
		if _, dup := l.results[k]; dup {
			l.problems = append(l.problems, fmt.Sprintf("target %d cycle %d: two results", ev.Target, ev.Cycle))
		}
		r := *ev.Result
		r.Links = slices.Clone(r.Links)
		l.results[k] = r
	}
	return nil
}

// hangGuard bounds a Run that should end on its own; it is not a speed
// claim, only a way to fail instead of hanging.
const hangGuard = 5 * time.Second

type runOut struct {
	log *traceLog
	sum Summary
	err error
}

// runGuarded is Run, failing the test instead of hanging when Run does
// not end within hangGuard (the Run goroutine is then left behind).
func runGuarded(tb testing.TB, ctx context.Context, cfg Config, conns []Conn, sink func(Event) error) (Summary, error) {
	tb.Helper()
	return runGuardedFor(tb, hangGuard, ctx, cfg, conns, sink)
}

func runGuardedFor(tb testing.TB, guard time.Duration, ctx context.Context, cfg Config, conns []Conn, sink func(Event) error) (Summary, error) {
	tb.Helper()
	type result struct {
		sum Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		cfg.Conns = conns
		tr, err := New(cfg)
		if err != nil {
			done <- result{Summary{}, err}
			return
		}
		sum, err := tr.Run(ctx, sink)
		done <- result{sum, err}
	}()
	select {
	case r := <-done:
		return r.sum, r.err
	case <-time.After(guard):
		tb.Fatalf("Run did not end within %v", guard)
		return Summary{}, nil
	}
}

// runTrace runs the engine over fakes, logging what it reports.
func runTrace(t *testing.T, ctx context.Context, cfg Config, log *traceLog, conns ...Conn) runOut {
	t.Helper()
	if log == nil {
		log = newTraceLog()
	}
	sum, err := runGuarded(t, ctx, cfg, conns, log.sink)
	for _, p := range log.problems {
		t.Errorf("reporting: %s", p)
	}
	for _, c := range conns {
		if f, ok := c.(*fakeNet); ok {
			if _, _, bad := f.stats(); bad != "" {
				t.Errorf("the engine sent a malformed probe: %s", bad)
			}
		}
	}
	return runOut{log, sum, err}
}

func testConfig(m Method, targets ...netip.Addr) Config {
	return Config{Targets: targets, Method: m, SrcPort: 40000, Wait: Wait{Max: 2 * time.Second}}
}

// destKind is how the target answers each method.
func destKind(m Method, tcpOpen bool) Kind {
	switch m {
	case ICMP:
		return KindEchoReply
	case TCP:
		if tcpOpen {
			return KindSynAck
		}
		return KindRST
	}
	return KindUnreachable
}

// checkPath checks that a trace saw, at each TTL, the addresses want[ttl-1]
// (an invalid address: a silent hop) and then the target, with queries
// probes per hop, and ended there.
func checkPath(t *testing.T, out runOut, target int, cycle int, cfg Config, want []netip.Addr, dst netip.Addr, tcpOpen bool) {
	t.Helper()
	hops := out.log.hops[[2]int{target, cycle}]
	res, ok := out.log.results[[2]int{target, cycle}]
	if !ok {
		t.Fatalf("target %d cycle %d: no result", target, cycle)
	}
	dist := len(want) + 1
	var ttls []int
	for _, h := range hops {
		ttls = append(ttls, h.TTL)
	}
	if len(hops) != dist || ttls[0] != 1 || ttls[len(ttls)-1] != dist {
		t.Fatalf("target %d cycle %d: hops reported %v, want 1..%d", target, cycle, ttls, dist)
	}
	queries := cfg.Queries
	if queries == 0 {
		queries = 3
	}
	v6 := dst.Is6()
	for _, h := range hops {
		if len(h.Probes) != queries {
			t.Errorf("ttl %d: %d probes, want %d", h.TTL, len(h.Probes), queries)
		}
		for i, p := range h.Probes {
			where := fmt.Sprintf("target %s ttl %d probe %d", dst, h.TTL, i)
			if h.TTL < dist {
				w := want[h.TTL-1]
				if !w.IsValid() {
					if !p.Timeout {
						t.Errorf("%s: answered by %s at a silent hop", where, p.Addr)
					}
					continue
				}
				if p.Timeout || p.Addr != w || p.Kind != KindTimeExceeded || p.Reached || p.QuotedTTL != 1 || p.Annotation(v6) != "" {
					t.Errorf("%s: %+v, want time exceeded from %s quoting TTL 1", where, p, w)
				}
				continue
			}
			m := cfg.Method
			if p.Timeout || p.Addr != dst || p.Kind != destKind(m, tcpOpen) || !p.Reached || p.Annotation(v6) != "" {
				t.Errorf("%s: %+v, want %v from the target", where, p, destKind(m, tcpOpen))
			}
			wantQTTL := -1
			if m == UDP {
				wantQTTL = 1
			}
			if p.QuotedTTL != wantQTTL {
				t.Errorf("%s: quoted TTL %d, want %d", where, p.QuotedTTL, wantQTTL)
			}
		}
		for _, p := range h.Probes {
			if !p.Timeout && (p.RTT < 0 || p.RTT > hangGuard) {
				t.Errorf("ttl %d: RTT %v", h.TTL, p.RTT)
			}
			if p.Changed.Any() || len(p.Labels) != 0 || p.MTU != 0 {
				t.Errorf("ttl %d: changes %v, labels %v, MTU %d on a plain path", h.TTL, p.Changed, p.Labels, p.MTU)
			}
		}
	}
	if !res.Reached || res.Hops != dist || res.Interrupted || res.Target != dst || res.Source != sourceAddr(v6) ||
		res.Answered > res.Sent || res.SendError != "" || res.Cycle != cycle {
		t.Errorf("target %d cycle %d result %+v, want reached at %d", target, cycle, res, dist)
	}
}

func path(p *fakePath) []netip.Addr {
	var out []netip.Addr
	for _, h := range p.hops {
		if h.silent {
			out = append(out, netip.Addr{})
		} else {
			out = append(out, h.addrs[0])
		}
	}
	return out
}

func TestEngineHopsMatchTopology(t *testing.T) {
	for _, m := range methods {
		for _, v6 := range []bool{false, true} {
			for _, open := range []bool{false, true} {
				if open && m != TCP {
					continue
				}
				name := m.String() + "/" + famName(v6)
				if open {
					name += "/open"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					dst := targetAddr(v6, 1)
					p := linearPath(v6, 5, 1)
					p.tcpOpen = open
					f := newFakeNet(v6).addPath(dst, p)
					cfg := testConfig(m, dst)
					out := runTrace(t, context.Background(), cfg, nil, f)
					if out.err != nil {
						t.Fatal(out.err)
					}
					checkPath(t, out, 0, 0, cfg, path(p), dst, open)
					sent, _, _ := f.stats()
					if out.sum.Targets != 1 || out.sum.Reached != 1 || out.sum.Sent != sent || out.log.results[[2]int{0, 0}].Sent != sent {
						t.Errorf("summary %+v, result sent %d; the network saw %d probes", out.sum, out.log.results[[2]int{0, 0}].Sent, sent)
					}
					for ttl := 31; ttl < 256; ttl++ {
						if n := f.sentTTL[dst][ttl]; n > 0 {
							t.Errorf("%d probes with TTL %d, beyond the maximum", n, ttl)
						}
					}
				})
			}
		}
	}
}

func TestEngineSilentRouter(t *testing.T) {
	for _, m := range methods {
		for _, v6 := range []bool{false, true} {
			t.Run(m.String()+"/"+famName(v6), func(t *testing.T) {
				t.Parallel()
				dst := targetAddr(v6, 1)
				p := linearPath(v6, 5, 1)
				p.hops[2].silent = true
				f := newFakeNet(v6).addPath(dst, p)
				cfg := testConfig(m, dst)
				cfg.Wait.Max = 200 * time.Millisecond
				out := runTrace(t, context.Background(), cfg, nil, f)
				if out.err != nil {
					t.Fatal(out.err)
				}
				checkPath(t, out, 0, 0, cfg, path(p), dst, false)
			})
		}
	}
}

func TestEngineUnreachable(t *testing.T) {
	cases := []struct {
		v6   bool
		code uint8
		want string
	}{
		{false, 1, "!H"}, {false, 0, "!N"}, {false, 13, "!X"},
		{true, 3, "!H"}, {true, 0, "!N"}, {true, 1, "!X"},
	}
	for _, m := range methods {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%s/%s", m, famName(c.v6), c.want), func(t *testing.T) {
				t.Parallel()
				dst := targetAddr(c.v6, 1)
				p := linearPath(c.v6, 6, 1)
				p.hops[2].unreach, p.hops[2].code = true, c.code
				f := newFakeNet(c.v6).addPath(dst, p)
				cfg := testConfig(m, dst)
				out := runTrace(t, context.Background(), cfg, nil, f)
				hops := out.log.hops[[2]int{0, 0}]
				res := out.log.results[[2]int{0, 0}]
				if res.Reached || res.Hops != 3 || len(hops) != 3 {
					t.Fatalf("result %+v with %d hops, want the trace to end unreached at 3", res, len(hops))
				}
				for _, p := range hops[2].Probes {
					if p.Timeout || p.Kind != KindUnreachable || p.Addr != routerAddr(c.v6, 1, 3, 0) || p.Reached || p.Annotation(c.v6) != c.want || !p.Final() {
						t.Errorf("hop 3: %+v annotated %q, want %s from the router", p, p.Annotation(c.v6), c.want)
					}
				}
				for _, h := range hops[:2] {
					for _, p := range h.Probes {
						if p.Addr != routerAddr(c.v6, 1, h.TTL, 0) || p.Kind != KindTimeExceeded {
							t.Errorf("hop %d: %+v", h.TTL, p)
						}
					}
				}
			})
		}
	}
}

func TestEngineMaxTTLShorterThanPath(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		dst := targetAddr(v6, 1)
		p := linearPath(v6, 8, 1)
		f := newFakeNet(v6).addPath(dst, p)
		cfg := testConfig(UDP, dst)
		cfg.MaxTTL = 4
		out := runTrace(t, context.Background(), cfg, nil, f)
		hops := out.log.hops[[2]int{0, 0}]
		res := out.log.results[[2]int{0, 0}]
		if res.Reached || res.Hops != 4 || len(hops) != 4 || out.sum.Reached != 0 {
			t.Fatalf("%s: result %+v with %d hops, want unreached at 4", famName(v6), res, len(hops))
		}
		for _, h := range hops {
			for _, p := range h.Probes {
				if p.Addr != routerAddr(v6, 1, h.TTL, 0) {
					t.Errorf("hop %d: %+v", h.TTL, p)
				}
			}
		}
		for ttl := 5; ttl < 256; ttl++ {
			if n := f.sentTTL[dst][ttl]; n > 0 {
				t.Errorf("%d probes with TTL %d beyond -m 4", n, ttl)
			}
		}
	}
}

func TestEngineFirstTTL(t *testing.T) {
	dst := targetAddr(false, 1)
	f := newFakeNet(false).addPath(dst, linearPath(false, 5, 1))
	cfg := testConfig(ICMP, dst)
	cfg.FirstTTL = 3
	out := runTrace(t, context.Background(), cfg, nil, f)
	hops := out.log.hops[[2]int{0, 0}]
	if len(hops) != 4 || hops[0].TTL != 3 || hops[3].TTL != 6 || !out.log.results[[2]int{0, 0}].Reached {
		t.Fatalf("hops %+v", hops)
	}
	for ttl := 0; ttl < 3; ttl++ {
		if f.sentTTL[dst][ttl] != 0 {
			t.Errorf("probes sent with TTL %d below -f 3", ttl)
		}
	}
}

// diamondPath: router 1, two balanced routers at TTL 2, router 3, then
// three balanced routers at TTL 4, router 5, target at 6.
func diamondPath(v6 bool) *fakePath {
	p := linearPath(v6, 5, 2)
	p.hops[1].addrs = []netip.Addr{routerAddr(v6, 2, 2, 0), routerAddr(v6, 2, 2, 1)}
	p.hops[3].addrs = []netip.Addr{routerAddr(v6, 2, 4, 0), routerAddr(v6, 2, 4, 1), routerAddr(v6, 2, 4, 2)}
	return p
}

func addrsAt(h Hop) []netip.Addr {
	var out []netip.Addr
	for _, p := range h.Probes {
		if !p.Timeout && !slices.Contains(out, p.Addr) {
			out = append(out, p.Addr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// TestEngineParisOneFlow: the default trace keeps its flow constant, so
// a balancer sends every probe the same way: one address per TTL, though
// the balancer alternates between flows that differ at all.
func TestEngineParisOneFlow(t *testing.T) {
	for _, m := range methods {
		for _, v6 := range []bool{false, true} {
			t.Run(m.String()+"/"+famName(v6), func(t *testing.T) {
				t.Parallel()
				dst := targetAddr(v6, 1)
				p := diamondPath(v6)
				f := newFakeNet(v6).addPath(dst, p)
				cfg := testConfig(m, dst)
				cfg.Queries = 6
				out := runTrace(t, context.Background(), cfg, nil, f)
				hops := out.log.hops[[2]int{0, 0}]
				if len(hops) != 6 {
					t.Fatalf("%d hops, want 6", len(hops))
				}
				for _, h := range hops {
					got := addrsAt(h)
					if len(got) != 1 || !slices.Contains(p.addrsAt(h.TTL, dst), got[0]) {
						t.Errorf("ttl %d: answered by %v, want one of %v", h.TTL, got, p.addrsAt(h.TTL, dst))
					}
				}
			})
		}
	}
}

// addrsAt is every address that may answer at ttl.
func (p *fakePath) addrsAt(ttl int, dst netip.Addr) []netip.Addr {
	if ttl > len(p.hops) {
		return []netip.Addr{dst}
	}
	return p.hops[ttl-1].addrs
}

func TestEngineFlowsSeeBranches(t *testing.T) {
	for _, m := range methods {
		for _, v6 := range []bool{false, true} {
			t.Run(m.String()+"/"+famName(v6), func(t *testing.T) {
				t.Parallel()
				dst := targetAddr(v6, 1)
				p := diamondPath(v6)
				f := newFakeNet(v6).addPath(dst, p)
				cfg := testConfig(m, dst)
				cfg.Flows, cfg.Queries = 3, 2
				out := runTrace(t, context.Background(), cfg, nil, f)
				hops := out.log.hops[[2]int{0, 0}]
				if len(hops) != 6 {
					t.Fatalf("%d hops, want 6", len(hops))
				}
				for _, h := range hops {
					if len(h.Probes) != 6 {
						t.Errorf("ttl %d: %d probes, want flows*queries = 6", h.TTL, len(h.Probes))
					}
					// Each flow sees one address; three flows over a
					// balancer that alternates see every branch.
					byFlow := map[int]netip.Addr{}
					for _, pr := range h.Probes {
						if a, ok := byFlow[pr.Flow]; ok && a != pr.Addr {
							t.Errorf("ttl %d flow %d: answered by %s and %s", h.TTL, pr.Flow, a, pr.Addr)
						}
						byFlow[pr.Flow] = pr.Addr
					}
					if len(byFlow) != 3 {
						t.Errorf("ttl %d: flows %v, want 0..2", h.TTL, byFlow)
					}
					want := slices.Clone(p.addrsAt(h.TTL, dst))
					sort.Slice(want, func(i, j int) bool { return want[i].Less(want[j]) })
					if got := addrsAt(h); !slices.Equal(got, want) {
						t.Errorf("ttl %d: answered by %v, want %v", h.TTL, got, want)
					}
				}
			})
		}
	}
}

func TestEngineMultipathDiamond(t *testing.T) {
	for _, m := range methods {
		for _, v6 := range []bool{false, true} {
			t.Run(m.String()+"/"+famName(v6), func(t *testing.T) {
				t.Parallel()
				dst := targetAddr(v6, 1)
				p := diamondPath(v6)
				f := newFakeNet(v6).addPath(dst, p)
				cfg := testConfig(m, dst)
				cfg.Multipath = true
				out := runTrace(t, context.Background(), cfg, nil, f)
				hops := out.log.hops[[2]int{0, 0}]
				res := out.log.results[[2]int{0, 0}]
				if len(hops) != 6 || !res.Reached || res.Hops != 6 {
					t.Fatalf("%d hops, result %+v; want reached at 6", len(hops), res)
				}
				for _, h := range hops {
					want := slices.Clone(p.addrsAt(h.TTL, dst))
					sort.Slice(want, func(i, j int) bool { return want[i].Less(want[j]) })
					if got := addrsAt(h); !slices.Equal(got, want) {
						t.Errorf("ttl %d: found %v, want %v", h.TTL, got, want)
					}
					for i, pr := range h.Probes {
						if pr.Flow != i {
							t.Errorf("ttl %d probe %d has flow %d", h.TTL, i, pr.Flow)
						}
					}
				}
				// The links of the topology, exactly.
				var want []Link
				for ttl := 1; ttl < 6; ttl++ {
					for _, a := range p.addrsAt(ttl, dst) {
						for _, b := range p.addrsAt(ttl+1, dst) {
							want = append(want, Link{TTL: ttl, From: a, To: b})
						}
					}
				}
				sortLinks(want)
				got := slices.Clone(res.Links)
				sortLinks(got)
				if !slices.Equal(got, want) {
					t.Errorf("links\n got %v\nwant %v", got, want)
				}
				// The stopping rule: 3 interfaces at TTL 4 need n[3] = 16
				// flows at least, every TTL is probed as much.
				if n := len(hops[3].Probes); n < 16 {
					t.Errorf("ttl 4 probed with %d flows, MDA needs 16 for 3 interfaces", n)
				}
			})
		}
	}
}

func sortLinks(ls []Link) {
	sort.Slice(ls, func(i, j int) bool {
		a, b := ls[i], ls[j]
		if a.TTL != b.TTL {
			return a.TTL < b.TTL
		}
		if a.From != b.From {
			return a.From.Less(b.From)
		}
		return a.To.Less(b.To)
	})
}

func TestEngineMPLSLabels(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, compat := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/compat=%v", famName(v6), compat), func(t *testing.T) {
				t.Parallel()
				dst := targetAddr(v6, 1)
				p := linearPath(v6, 4, 1)
				p.hops[1].labels, p.hops[1].compat = twoLabels, compat
				p.hops[2].labels, p.hops[2].compat = twoLabels[1:], compat
				f := newFakeNet(v6).addPath(dst, p)
				out := runTrace(t, context.Background(), testConfig(UDP, dst), nil, f)
				hops := out.log.hops[[2]int{0, 0}]
				if len(hops) != 5 {
					t.Fatalf("%d hops, want 5", len(hops))
				}
				for _, h := range hops {
					var want []MPLSLabel
					if h.TTL <= 3 {
						want = p.hops[h.TTL-1].labels
					}
					for _, pr := range h.Probes {
						if !slices.Equal(pr.Labels, want) {
							t.Errorf("ttl %d: labels %+v, want %+v", h.TTL, pr.Labels, want)
						}
						if pr.Addr != p.addrsAt(h.TTL, dst)[0] {
							t.Errorf("ttl %d: answered by %s", h.TTL, pr.Addr)
						}
					}
				}
			})
		}
	}
}

// TestEngineExtensionIsNoMTU: a Time Exceeded with an RFC 4884 length
// field (as every MPLS router sends) carries no MTU; Probe.MTU is "the
// next-hop MTU of frag needed / packet too big".
func TestEngineExtensionIsNoMTU(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		dst := targetAddr(v6, 1)
		p := linearPath(v6, 3, 1)
		p.hops[1].labels = twoLabels
		f := newFakeNet(v6).addPath(dst, p)
		out := runTrace(t, context.Background(), testConfig(UDP, dst), nil, f)
		for _, h := range out.log.hops[[2]int{0, 0}] {
			for _, pr := range h.Probes {
				if pr.MTU != 0 {
					t.Errorf("%s ttl %d: %s with MTU %d (%#x)", famName(v6), h.TTL, pr.Describe(v6), pr.MTU, pr.MTU)
				}
			}
		}
	}
}

func TestEngineMiddleboxChanges(t *testing.T) {
	for _, m := range methods {
		for _, v6 := range []bool{false, true} {
			t.Run(m.String()+"/"+famName(v6), func(t *testing.T) {
				t.Parallel()
				dst := targetAddr(v6, 1)
				p := linearPath(v6, 5, 1)
				p.hops[1].setTOS, p.hops[1].tos = true, 0x28 // router 2 rewrites what it forwards
				p.hops[3].clearDF = true                     // router 4 clears DF
				f := newFakeNet(v6).addPath(dst, p)
				cfg := testConfig(m, dst)
				cfg.TOS, cfg.DF = 0x10, true
				out := runTrace(t, context.Background(), cfg, nil, f)
				hops := out.log.hops[[2]int{0, 0}]
				if len(hops) != 6 {
					t.Fatalf("%d hops", len(hops))
				}
				for _, h := range hops {
					quoted := h.TTL < 6 || m == UDP // echo replies and TCP answers quote nothing
					wantTOS := quoted && h.TTL > 2
					wantDF := quoted && !v6 && h.TTL > 4
					for _, pr := range h.Probes {
						c := pr.Changed
						if c.TOS != wantTOS || c.DF != wantDF || c.Ports {
							t.Errorf("ttl %d: changed %+v, want tos %v df %v", h.TTL, c, wantTOS, wantDF)
						}
						if wantTOS && (c.SentTOS != 0x10 || c.GotTOS != 0x28) {
							t.Errorf("ttl %d: tos %#x->%#x, want 0x10->0x28", h.TTL, c.SentTOS, c.GotTOS)
						}
						if wantDF && (!c.SentDF || c.GotDF) {
							t.Errorf("ttl %d: df %v->%v, want on->off", h.TTL, c.SentDF, c.GotDF)
						}
					}
				}
			})
		}
	}
}

func TestEngineCancel(t *testing.T) {
	t.Run("all silent", func(t *testing.T) {
		t.Parallel()
		dst := targetAddr(false, 1)
		p := linearPath(false, 40, 1)
		for i := range p.hops {
			p.hops[i].silent = true
		}
		f := newFakeNet(false).addPath(dst, p)
		cfg := testConfig(UDP, dst)
		cfg.Wait.Max = time.Minute
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		out := runTrace(t, ctx, cfg, nil, f)
		res, ok := out.log.results[[2]int{0, 0}]
		if !ok || !res.Interrupted || res.Reached || res.Hops != 0 || len(out.log.hops[[2]int{0, 0}]) != 0 {
			t.Errorf("result %+v (reported %v), %d hops; want interrupted with nothing", res, ok, len(out.log.hops[[2]int{0, 0}]))
		}
		if out.err != nil {
			t.Errorf("Run: %v", out.err)
		}
	})
	t.Run("after two hops", func(t *testing.T) {
		t.Parallel()
		dst := targetAddr(true, 1)
		p := linearPath(true, 40, 1)
		for i := 2; i < len(p.hops); i++ {
			p.hops[i].silent = true
		}
		f := newFakeNet(true).addPath(dst, p)
		cfg := testConfig(ICMP, dst)
		cfg.Wait.Max = time.Minute
		ctx, cancel := context.WithCancel(context.Background())
		log := newTraceLog()
		log.onHop = func(_ int, h *Hop) {
			if h.TTL == 2 {
				go cancel()
			}
		}
		out := runTrace(t, ctx, cfg, log, f)
		res := out.log.results[[2]int{0, 0}]
		hops := out.log.hops[[2]int{0, 0}]
		if !res.Interrupted || res.Reached || res.Hops != 2 || len(hops) != 2 {
			t.Fatalf("result %+v, %d hops; want interrupted after hop 2", res, len(hops))
		}
		for _, h := range hops {
			for _, pr := range h.Probes {
				if pr.Addr != routerAddr(true, 1, h.TTL, 0) {
					t.Errorf("hop %d: %+v", h.TTL, pr)
				}
			}
		}
	})
}

func TestEngineSinkError(t *testing.T) {
	dst := targetAddr(false, 1)
	f := newFakeNet(false).addPath(dst, linearPath(false, 5, 1))
	stop := errors.New("enough")
	n := 0
	_, err := runGuarded(t, context.Background(), testConfig(UDP, dst), []Conn{f}, func(ev Event) error {
		n++
		if ev.Kind == EventHop && ev.Hop.TTL == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Errorf("Run returned %v after %d events, want the sink's error after 2", err, n)
	}
}

func TestEngineManyTargets(t *testing.T) {
	for _, m := range methods {
		t.Run(m.String(), func(t *testing.T) {
			t.Parallel()
			f4, f6 := newFakeNet(false), newFakeNet(true)
			type tgt struct {
				dst  netip.Addr
				path *fakePath
				f    *fakeNet
			}
			tgts := []tgt{
				{targetAddr(false, 1), linearPath(false, 2, 1), f4},
				{targetAddr(true, 2), linearPath(true, 6, 2), f6},
				{targetAddr(false, 3), linearPath(false, 9, 3), f4},
				{targetAddr(true, 4), linearPath(true, 0, 4), f6},
			}
			tgts[2].path.hops[4].silent = true
			var addrs []netip.Addr
			for _, g := range tgts {
				g.f.addPath(g.dst, g.path)
				addrs = append(addrs, g.dst)
			}
			cfg := testConfig(m, addrs...)
			cfg.Wait.Max = 300 * time.Millisecond
			out := runTrace(t, context.Background(), cfg, nil, f4, f6)
			if out.err != nil {
				t.Fatal(out.err)
			}
			for i, g := range tgts {
				checkPath(t, out, i, 0, cfg, path(g.path), g.dst, false)
			}
			if out.sum.Targets != 4 || out.sum.Reached != 4 {
				t.Errorf("summary %+v", out.sum)
			}
		})
	}
}

// TestEngineConnReusable runs twice over the same Conn. The engine stops
// its readers with a past read deadline; a second Run must still read.
func TestEngineConnReusable(t *testing.T) {
	dst := targetAddr(false, 1)
	p := linearPath(false, 2, 1)
	f := newFakeNet(false).addPath(dst, p)
	cfg := testConfig(UDP, dst)
	cfg.Wait.Max = 300 * time.Millisecond
	for run := 0; run < 2; run++ {
		out := runTrace(t, context.Background(), cfg, nil, f)
		if res := out.log.results[[2]int{0, 0}]; !res.Reached || res.Hops != 3 {
			t.Errorf("run %d over the same Conn: %+v, want the target reached at 3", run, res)
		}
	}
}

// TestEngineForeignAndDuplicateAnswers: errors about other runs' probes
// (another port, identifier or cookie) are not taken, and an answer that
// arrives twice counts once.
func TestEngineForeignAndDuplicateAnswers(t *testing.T) {
	for _, m := range methods {
		for _, v6 := range []bool{false, true} {
			t.Run(m.String()+"/"+famName(v6), func(t *testing.T) {
				t.Parallel()
				dst := targetAddr(v6, 1)
				p := linearPath(v6, 4, 1)
				f := newFakeNet(v6).addPath(dst, p)
				f.noise, f.dup = true, true
				cfg := testConfig(m, dst)
				out := runTrace(t, context.Background(), cfg, nil, f)
				checkPath(t, out, 0, 0, cfg, path(p), dst, false)
				res := out.log.results[[2]int{0, 0}]
				sent, _, _ := f.stats()
				if res.Sent != sent || res.Answered > res.Sent {
					t.Errorf("result: sent %d answered %d; the network saw %d probes", res.Sent, res.Answered, sent)
				}
			})
		}
	}
}

func TestEngineInFlightCap(t *testing.T) {
	for _, limit := range []int{1, 4} {
		for _, m := range []Method{UDP, ICMP} {
			t.Run(fmt.Sprintf("%s/%d", m, limit), func(t *testing.T) {
				t.Parallel()
				dst := targetAddr(false, 1)
				p := linearPath(false, 6, 1)
				f := newFakeNet(false).addPath(dst, p)
				f.delay = 5 * time.Millisecond // answers take a while: probes pile up
				cfg := testConfig(m, dst)
				cfg.InFlight = limit
				cfg.MaxTTL = 10
				out := runTrace(t, context.Background(), cfg, nil, f)
				checkPath(t, out, 0, 0, cfg, path(p), dst, false)
				_, maxOut, _ := f.stats()
				// maxOut counts probes whose answer has not been read yet: a
				// lower bound of what the engine has in flight.
				if maxOut > limit {
					t.Errorf("%d probes in flight at once, cap %d", maxOut, limit)
				}
				if maxOut < 1 {
					t.Errorf("no probe was ever in flight")
				}
			})
		}
	}
}

func TestEngineAllSilent(t *testing.T) {
	dst := targetAddr(false, 1)
	p := linearPath(false, 40, 1)
	for i := range p.hops {
		p.hops[i].silent = true
	}
	f := newFakeNet(false).addPath(dst, p)
	cfg := testConfig(UDP, dst)
	cfg.Wait.Max = 300 * time.Millisecond
	out := runTrace(t, context.Background(), cfg, nil, f)
	hops := out.log.hops[[2]int{0, 0}]
	res := out.log.results[[2]int{0, 0}]
	if res.Reached || res.Hops != 30 || res.Interrupted || len(hops) != 30 || res.Answered != 0 || res.Sent != 90 {
		t.Fatalf("result %+v, %d hops; want 30 silent hops of 3 probes", res, len(hops))
	}
	for _, h := range hops {
		if len(h.Probes) != 3 {
			t.Errorf("ttl %d: %d probes", h.TTL, len(h.Probes))
		}
		for _, pr := range h.Probes {
			if !pr.Timeout || pr.Addr.IsValid() || pr.Kind != KindNone {
				t.Errorf("ttl %d: %+v, want a timeout", h.TTL, pr)
			}
		}
	}
}

func TestEngineCycles(t *testing.T) {
	dst := targetAddr(false, 1)
	p := linearPath(false, 4, 1)
	f := newFakeNet(false).addPath(dst, p)
	cfg := testConfig(ICMP, dst)
	cfg.Cycles = 4
	out := runTrace(t, context.Background(), cfg, nil, f)
	var rep Report
	for c := 0; c < 4; c++ {
		checkPath(t, out, 0, c, cfg, path(p), dst, false)
		for _, h := range out.log.hops[[2]int{0, c}] {
			rep.Add(&h)
		}
		r := out.log.results[[2]int{0, c}]
		rep.AddResult(&r)
		// Later cycles probe only as far as the target: 5 TTLs x 3.
		if c > 0 && r.Sent != 15 {
			t.Errorf("cycle %d sent %d probes, want 15", c, r.Sent)
		}
	}
	rep.Finish()
	if rep.Cycles != 4 || rep.Reached != 4 || len(rep.Hops) != 5 {
		t.Fatalf("report: %d cycles, %d reached, %d hops", rep.Cycles, rep.Reached, len(rep.Hops))
	}
	for _, h := range rep.Hops {
		if h.Sent != 12 || h.Received != 12 || h.LossPct() != 0 || h.RateLimited || len(h.Addrs) != 1 {
			t.Errorf("report hop %d: %+v", h.TTL, h)
		}
	}
}

func TestEngineSendError(t *testing.T) {
	dst := targetAddr(false, 1)
	f := newFakeNet(false).addPath(dst, linearPath(false, 3, 1))
	f.sendErr = errors.New("fake: network is unreachable")
	cfg := testConfig(UDP, dst)
	cfg.MaxTTL = 5
	cfg.Wait.Max = 100 * time.Millisecond
	out := runTrace(t, context.Background(), cfg, nil, f)
	res := out.log.results[[2]int{0, 0}]
	if res.SendError != f.sendErr.Error() || res.Reached || res.Answered != 0 {
		t.Errorf("result %+v, want the send error reported", res)
	}
	for _, h := range out.log.hops[[2]int{0, 0}] {
		for _, pr := range h.Probes {
			if !pr.Timeout {
				t.Errorf("ttl %d: a probe that was never sent is answered: %+v", h.TTL, pr)
			}
		}
	}
}

func TestEngineTap(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		dst := targetAddr(v6, 1)
		f := newFakeNet(v6).addPath(dst, linearPath(v6, 3, 1))
		f.keepPkts = true
		var mu sync.Mutex
		var out, in [][]byte
		cfg := testConfig(UDP, dst)
		cfg.Tap = func(dir tap.Dir, _ time.Time, b []byte) {
			mu.Lock()
			defer mu.Unlock()
			if dir == tap.Out {
				out = append(out, slices.Clone(b))
			} else {
				in = append(in, slices.Clone(b))
			}
		}
		res := runTrace(t, context.Background(), cfg, nil, f)
		mu.Lock()
		if len(out) != len(f.sentPkts) {
			t.Fatalf("%s: tap saw %d probes, the network %d", famName(v6), len(out), len(f.sentPkts))
		}
		for i := range out {
			if !slices.Equal(out[i], f.sentPkts[i]) {
				t.Errorf("%s: tapped probe %d differs from what was sent", famName(v6), i)
			}
		}
		if len(in) < res.log.results[[2]int{0, 0}].Answered {
			t.Errorf("%s: tap saw %d answers, %d were taken", famName(v6), len(in), res.log.results[[2]int{0, 0}].Answered)
		}
		for _, b := range in {
			// Whole IP packets, to the source, carrying ICMP.
			if v6 {
				if len(b) < 48 || b[0]>>4 != 6 || b[6] != 58 || netip.AddrFrom16([16]byte(b[24:40])) != sourceAddr(true) ||
					int(b[4])<<8|int(b[5]) != len(b)-40 {
					t.Errorf("tapped IPv6 answer % x", b[:min(len(b), 48)])
				}
			} else if len(b) < 28 || b[0] != 0x45 || b[9] != 1 || refSum(b[:20], 0) != 0xffff {
				t.Errorf("tapped IPv4 answer % x", b[:min(len(b), 28)])
			}
		}
		mu.Unlock()
	}
}

func TestConfigErrors(t *testing.T) {
	dst := targetAddr(false, 1)
	bad := []Config{
		{},
		{Targets: []netip.Addr{dst}, FirstTTL: 256},
		{Targets: []netip.Addr{dst}, FirstTTL: 5, MaxTTL: 4},
		{Targets: []netip.Addr{dst}, Queries: 11},
		{Targets: []netip.Addr{dst}, Flows: 257},
		{Targets: []netip.Addr{dst}, Port: 70000},
		{Targets: []netip.Addr{dst}, SrcPort: 65535, Flows: 2},
		{Targets: []netip.Addr{dst}, TOS: 256},
		{Targets: []netip.Addr{dst}, Confidence: 1},
		{Targets: []netip.Addr{dst}, InFlight: -1},
		{Targets: []netip.Addr{dst}, Size: 29},
		{Targets: []netip.Addr{dst}, Method: TCP, Size: 39},
		{Targets: []netip.Addr{targetAddr(true, 1)}}, // no IPv6 conn
	}
	f := newFakeNet(false).addPath(dst, linearPath(false, 1, 1))
	for i, c := range bad {
		_, err := runGuarded(t, context.Background(), c, []Conn{f}, func(Event) error { return nil })
		if !errors.Is(err, ErrConfig) {
			t.Errorf("config %d (%+v): %v, want ErrConfig", i, c, err)
		}
	}
}

func TestWait(t *testing.T) {
	cfg := Config{Targets: []netip.Addr{targetAddr(false, 1)}, Wait: Wait{Max: time.Second, Here: 3, Near: 10}}
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	ts := newTargetState(0, cfg.Targets[0], sourceAddr(false), nil, testParams(UDP, false, 0), &cfg)
	if got := ts.wait(5); got != time.Second {
		t.Errorf("no answers yet: %v, want Max", got)
	}
	ts.hereRTT[5] = 100 * ms
	if got := ts.wait(5); got != 300*ms {
		t.Errorf("here 100ms: %v, want 300ms", got)
	}
	ts.laterRTT[5] = 20 * ms
	if got := ts.wait(5); got != 200*ms {
		t.Errorf("near 20ms: %v, want 200ms", got)
	}
	ts.laterRTT[5], ts.hereRTT[5] = ms, ms
	if got := ts.wait(5); got != 50*ms {
		t.Errorf("tiny RTTs: %v, want MinWait 50ms", got)
	}
	cfg.Wait.Max = 20 * ms
	if got := ts.wait(5); got != 20*ms {
		t.Errorf("Max under MinWait: %v, want Max", got)
	}
}

// TestEngineSleepsWhenNothingIsDue drives the engine's loop steps by hand.
// When nothing can be sent until a probe is answered or expires, the
// loop's next wake-up must be that expiry, not now: waking now makes
// loop() spin (timer.Reset(0) again and again) for as long as the probes
// wait, up to Wait.Max.
func TestEngineSleepsWhenNothingIsDue(t *testing.T) {
	setup := func(t *testing.T, inFlight int) (*engine, time.Time) {
		dst := targetAddr(false, 1)
		p := linearPath(false, 10, 1)
		for i := range p.hops {
			p.hops[i].silent = true
		}
		cfg := testConfig(UDP, dst)
		cfg.MaxTTL, cfg.Wait.Max, cfg.InFlight = 5, 10*time.Second, inFlight
		e, err := newEngine(cfg, []Conn{newFakeNet(false).addPath(dst, p)})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		e.start = start
		for _, tg := range e.targets {
			tg.startCycle(start, e.firstFlows())
		}
		return e, start
	}
	t.Run("all probes out, target silent", func(t *testing.T) {
		e, start := setup(t, 0)
		e.send(start) // the first wave
		later := start.Add(e.cfg.Wait.Max/10 + time.Millisecond)
		e.send(later) // the rest, once the first wave's gap has passed
		if len(e.busy) != 15 {
			t.Fatalf("%d probes out, want 5 TTLs x 3", len(e.busy))
		}
		if _, _, ok := e.targets[0].next(later); ok {
			t.Fatal("the trace still has probes to send")
		}
		if wake := e.nextWake(later); !wake.After(later) {
			t.Errorf("nextWake = now (+%v) with every probe out and none due to expire for %v: the loop spins",
				wake.Sub(later), e.cfg.Wait.Max-later.Sub(start))
		}
	})
	t.Run("in-flight cap reached", func(t *testing.T) {
		e, start := setup(t, 2)
		e.send(start)
		if len(e.busy) != 2 {
			t.Fatalf("%d probes out, want the cap of 2", len(e.busy))
		}
		now := start.Add(time.Millisecond)
		if wake := e.nextWake(now); !wake.After(now) {
			t.Errorf("nextWake = now (+%v) while the cap holds every probe back for %v: the loop spins",
				wake.Sub(now), e.cfg.Wait.Max)
		}
	})
}

// TestEngineTCPPortRewrite: a middlebox that redirects the probed port
// shows in the quotes of every router after it.
func TestEngineTCPPortRewrite(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		dst := targetAddr(v6, 1)
		p := linearPath(v6, 5, 1)
		p.hops[1].setDport, p.hops[1].dport = true, 8080
		f := newFakeNet(v6).addPath(dst, p)
		cfg := testConfig(TCP, dst)
		out := runTrace(t, context.Background(), cfg, nil, f)
		checkPathIgnoringChanges(t, out, cfg, path(p), dst)
		for _, h := range out.log.hops[[2]int{0, 0}] {
			want := h.TTL > 2 && h.TTL < 6 // the target's RST quotes nothing
			for _, pr := range h.Probes {
				c := pr.Changed
				if c.Ports != want || c.TOS || c.DF {
					t.Errorf("%s ttl %d: changed %+v, want ports %v only", famName(v6), h.TTL, c, want)
				}
				if want && (c.SentDport != 80 || c.Dport != 8080 || c.SentSport != 40000 || c.Sport != 40000) {
					t.Errorf("%s ttl %d: ports %d:%d->%d:%d, want 40000:80->40000:8080", famName(v6), h.TTL, c.SentSport, c.SentDport, c.Sport, c.Dport)
				}
			}
		}
	}
}

// checkPathIgnoringChanges is checkPath for paths with middleboxes.
func checkPathIgnoringChanges(t *testing.T, out runOut, cfg Config, want []netip.Addr, dst netip.Addr) {
	t.Helper()
	stripped := runOut{log: newTraceLog(), sum: out.sum, err: out.err}
	for k, hs := range out.log.hops {
		var c []Hop
		for _, h := range hs {
			h2 := Hop{TTL: h.TTL, Probes: slices.Clone(h.Probes)}
			for i := range h2.Probes {
				h2.Probes[i].Changed = Changes{}
			}
			c = append(c, h2)
		}
		stripped.log.hops[k] = c
	}
	stripped.log.results = out.log.results
	checkPath(t, stripped, 0, 0, cfg, want, dst, false)
}

// TestEngineFragNeededMTU: an IPv4 "fragmentation needed" carries the
// next-hop MTU in its low 16 bits; with an RFC 4884 extension (length
// byte 5) Probe.MTU must still be the MTU.
func TestEngineFragNeededMTU(t *testing.T) {
	for _, labels := range [][]MPLSLabel{nil, twoLabels} {
		dst := targetAddr(false, 1)
		p := linearPath(false, 4, 1)
		p.hops[2].unreach, p.hops[2].code, p.hops[2].info, p.hops[2].labels = true, 4, 1400, labels
		f := newFakeNet(false).addPath(dst, p)
		cfg := testConfig(UDP, dst)
		cfg.DF = true
		out := runTrace(t, context.Background(), cfg, nil, f)
		hops := out.log.hops[[2]int{0, 0}]
		if len(hops) != 3 {
			t.Fatalf("%d hops, want the trace to end at 3", len(hops))
		}
		for _, pr := range hops[2].Probes {
			if pr.MTU != 1400 || pr.Annotation(false) != "!F-1400" || !slices.Equal(pr.Labels, labels) {
				t.Errorf("labels %v: MTU %d (%#x), annotation %q, labels %v; want 1400, !F-1400", labels, pr.MTU, pr.MTU, pr.Annotation(false), pr.Labels)
			}
		}
	}
}

// TestEngineOneQuery: with one probe per hop, the target's answers to the
// first wave's probes beyond it must not be reported as hops.
func TestEngineOneQuery(t *testing.T) {
	for _, m := range methods {
		for _, v6 := range []bool{false, true} {
			dst := targetAddr(v6, 1)
			p := linearPath(v6, 3, 1)
			f := newFakeNet(v6).addPath(dst, p)
			f.delay = time.Millisecond
			cfg := testConfig(m, dst)
			cfg.Queries = 1
			out := runTrace(t, context.Background(), cfg, nil, f)
			checkPath(t, out, 0, 0, cfg, path(p), dst, false)
		}
	}
}

// TestEngineCycleStartAfterPreviousEnd: "a cycle starts Interval after the
// one before it began, and not before it ended". When a cycle outlasts
// the interval, the next one cannot have started before it ended.
func TestEngineCycleStartAfterPreviousEnd(t *testing.T) {
	dst := targetAddr(false, 1)
	p := linearPath(false, 3, 1)
	p.hops[1].silent = true // each cycle waits Wait.Max for TTL 2
	f := newFakeNet(false).addPath(dst, p)
	cfg := testConfig(UDP, dst)
	cfg.Cycles, cfg.Interval, cfg.Wait.Max = 3, 20*time.Millisecond, 200*time.Millisecond
	out := runTrace(t, context.Background(), cfg, nil, f)
	for c := 1; c < 3; c++ {
		prev, cur := out.log.results[[2]int{0, c - 1}], out.log.results[[2]int{0, c}]
		if prevEnd := prev.Start.Add(prev.Duration); cur.Start.Before(prevEnd) {
			t.Errorf("cycle %d: Start %v is %v before cycle %d ended (it took %v)",
				c, cur.Start.Format("15:04:05.000"), prevEnd.Sub(cur.Start), c-1, prev.Duration)
		}
		for _, h := range out.log.hops[[2]int{0, c}] {
			for _, pr := range h.Probes {
				if pr.Sent.Before(cur.Start) {
					t.Errorf("cycle %d ttl %d: a probe sent at %v, before the cycle's Start %v", c, h.TTL, pr.Sent.Format("15:04:05.000"), cur.Start.Format("15:04:05.000"))
				}
			}
		}
	}
}

// A path that grows between cycles is traced whole again: the cycle that
// does not reach the target (it probes only as far as the old distance)
// makes the next one probe up to MaxTTL.
func TestEngineCyclesPathGrows(t *testing.T) {
	dst := targetAddr(false, 1)
	f := newFakeNet(false).addPath(dst, linearPath(false, 3, 1))
	longer := linearPath(false, 6, 1)
	cfg := testConfig(ICMP, dst)
	cfg.Cycles, cfg.MaxTTL, cfg.Wait.Max = 3, 12, 200*time.Millisecond
	log := newTraceLog()
	sink := func(ev Event) error {
		if ev.Kind == EventDone && ev.Cycle == 0 {
			f.mu.Lock()
			f.paths[dst] = longer
			f.mu.Unlock()
		}
		return log.sink(ev)
	}
	_, err := runGuarded(t, context.Background(), cfg, []Conn{f}, sink)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		reached bool
		hops    int
	}{{true, 4}, {false, 4}, {true, 7}}
	for c, w := range want {
		r := log.results[[2]int{0, c}]
		if r.Reached != w.reached || r.Hops != w.hops {
			t.Errorf("cycle %d: reached %v at %d hops, want %v at %d", c, r.Reached, r.Hops, w.reached, w.hops)
		}
	}
}
