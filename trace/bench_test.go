package trace

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// BenchmarkProbeRoundTrip is one probe's way through the codec: the engine
// builds it, a router answers with a Time Exceeded quoting it (built by the
// test, into a reused buffer), and the engine's reader parses the answer
// back to the probe's identity.
func BenchmarkProbeRoundTrip(b *testing.B) {
	for _, m := range methods {
		for _, v6 := range []bool{false, true} {
			b.Run(m.String()+"/"+famName(v6), func(b *testing.B) {
				fp := testParams(m, v6, 0)
				src, dst, router := testAddrs(v6)
				pkt := make([]byte, fp.size)
				ans := make([]byte, 1600)
				s := errSpec{v6: v6, typ: teType(v6), from: router, to: src, ttl: 1, tos: fp.tos}
				var r reply
				id := uint16(1)
				b.ReportAllocs()
				for b.Loop() {
					p := fp.build(pkt, src, dst, 7, id, 1)
					msg := s.write(ans, p)
					if !fp.parseICMP(msg, router, &r) || r.id != id {
						b.Fatalf("answer read as %+v, want id %d", r, id)
					}
					if id++; id > maxID {
						id = 1
					}
				}
			})
		}
	}
}

// BenchmarkBuild and BenchmarkParse are the engine's halves alone.
func BenchmarkBuild(b *testing.B) {
	for _, m := range methods {
		b.Run(m.String(), func(b *testing.B) {
			fp := testParams(m, false, 0)
			src, dst, _ := testAddrs(false)
			pkt := make([]byte, fp.size)
			b.ReportAllocs()
			for b.Loop() {
				fp.build(pkt, src, dst, 7, 1234, 1)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, m := range methods {
		b.Run(m.String(), func(b *testing.B) {
			c := newProbeCase(m, false, 1234, 1)
			msg := c.errorFrom(c.router, teType(false), 0, func(s *errSpec) { s.labels = twoLabels })
			var r reply
			b.ReportAllocs()
			for b.Loop() {
				if !c.fp.parseICMP(msg, c.router, &r) {
					b.Fatal("not taken")
				}
			}
		})
	}
}

// TestCodecDoesNotAllocate: building a probe and reading its answers
// allocate nothing.
func TestCodecDoesNotAllocate(t *testing.T) {
	for _, m := range methods {
		for _, v6 := range []bool{false, true} {
			c := newProbeCase(m, v6, 1234, 1)
			msg := c.errorFrom(c.router, teType(v6), 0, func(s *errSpec) { s.labels = twoLabels })
			pkt := make([]byte, c.fp.size)
			var seg []byte
			if m == TCP {
				seg = writeTCPAnswer(make([]byte, 40), c.l4(), true, c.dst, c.src)
			}
			var r reply
			n := testing.AllocsPerRun(200, func() {
				c.fp.build(pkt, c.src, c.dst, 7, 99, 2)
				c.fp.parseICMP(msg, c.router, &r)
				if seg != nil {
					c.fp.parseTCP(seg, c.dst, &r)
				}
			})
			if n != 0 {
				t.Errorf("%s/%s: %v allocations per build+parse", m, famName(v6), n)
			}
		}
	}
}

// engineCycles runs `cycles` report cycles over a 10-router path and
// returns the probes sent and the heap allocations of the whole Run.
func engineCycles(tb testing.TB, m Method, cycles int) (probes int, mallocs uint64) {
	dst := targetAddr(false, 1)
	f := newFakeNet(false).addPath(dst, linearPath(false, 10, 1))
	cfg := testConfig(m, dst)
	cfg.Cycles = cycles
	events := 0
	sink := func(Event) error { events++; return nil }
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	guard := hangGuard + time.Duration(cycles)*time.Millisecond // a cycle takes some 50µs
	sum, err := runGuardedFor(tb, guard, context.Background(), cfg, []Conn{f}, sink)
	runtime.ReadMemStats(&after)
	if err != nil || sum.Reached != 1 {
		tb.Fatalf("run: %+v %v", sum, err)
	}
	return sum.Sent, after.Mallocs - before.Mallocs
}

// BenchmarkEngineCycle is the whole engine over the fake network, one op
// being one cycle of a report (11 TTLs x 3 probes once the target's
// distance is known). allocs/probe is what the engine allocates per probe
// in steady state, the setup of a Run amortised over b.N cycles.
func BenchmarkEngineCycle(b *testing.B) {
	for _, m := range methods {
		b.Run(m.String(), func(b *testing.B) {
			// Warm the fake network's queues, so that its growth is not
			// counted.
			engineCycles(b, m, 2)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			probes, mallocs := engineCycles(b, m, b.N)
			b.ReportMetric(float64(probes)/float64(b.N), "probes/op")
			b.ReportMetric(float64(mallocs)/float64(probes), "allocs/probe")
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(probes), "ns/probe")
		})
	}
}

// TestEngineAllocsPerCycle backs the README's "0 allocs per probe": a run
// of 220 report cycles allocates no more than a run of 20 (each a fresh
// fake network and engine), whatever the thousands of probes between them.
// Not parallel: Mallocs counts every goroutine's allocations.
func TestEngineAllocsPerCycle(t *testing.T) {
	if testing.Short() {
		t.Skip("measures a few hundred cycles")
	}
	for _, m := range methods {
		engineCycles(t, m, 2) // warm up
		// A per-probe allocation would add thousands in every attempt; a
		// little slack is left for the runtime's own (timers, the race
		// detector; MemStats counts every goroutine's), which under a
		// loaded CI run once reached 19, so the best of three attempts
		// counts.
		var extra int64
		var more int
		for attempt := 0; attempt < 3; attempt++ {
			p1, m1 := engineCycles(t, m, 20)
			p2, m2 := engineCycles(t, m, 220)
			extra, more = int64(m2)-int64(m1), p2-p1
			t.Logf("%v: %d allocations for %d probes, %d for %d", m, m1, p1, m2, p2)
			if more >= 1000 && extra <= 16 {
				break
			}
		}
		if more < 1000 || extra > 16 {
			t.Errorf("%v: %d more probes cost %d more allocations", m, more, extra)
		}
	}
}
