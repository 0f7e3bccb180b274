package trace
import ("testing";"context";"time")
func TestDebugMany(t *testing.T) {
	f4 := newFakeNet(false)
	d1, d3 := targetAddr(false, 1), targetAddr(false, 3)
	f4.addPath(d1, linearPath(false, 2, 1))
	f4.addPath(d3, linearPath(false, 9, 3))
	for _, m := range methods {
	cfg := testConfig(m, d1, d3)
	cfg.Wait.Max = 300 * time.Millisecond
	out := runTrace(t, context.Background(), cfg, nil, f4)
	for k, hs := range out.log.hops {
		for _, h := range hs { if h.TTL < 5 { t.Logf("%s %v ttl %d %+v", m, k, h.TTL, h.Probes[0]) } }
	}
	t.Logf("%+v", out.log.results)
	}
}
