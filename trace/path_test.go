package trace

import (
	"net/netip"
	"strings"
	"testing"
)

// tr is one trace for the path tests: its hops, TTL 1 first, each a list
// of the addresses its probes got answers from ("*" a timeout); the
// trace reached the target when its last hop is "dst".
type tr string

func (s tr) feed(p *PathTracker) bool {
	hops := strings.Fields(string(s))
	for i, h := range hops {
		hop := Hop{TTL: i + 1}
		for _, a := range strings.Split(h, ",") {
			pr := Probe{Timeout: a == "*"}
			if !pr.Timeout {
				pr.Addr = pathAddr(a)
			}
			hop.Probes = append(hop.Probes, pr)
		}
		p.Hop(&hop)
	}
	return p.Done(&Result{Hops: len(hops), Reached: strings.HasSuffix(string(s), "dst")})
}

func pathAddr(name string) netip.Addr {
	if name == "dst" {
		return netip.MustParseAddr("198.19.0.1")
	}
	return netip.AddrFrom4([4]byte{198, 18, name[0], name[len(name)-1]})
}

func TestPathTracker(t *testing.T) {
	cases := []struct {
		name   string
		traces []tr
		want   []bool // changed, per trace
	}{
		{"same path", []tr{"a b dst", "a b dst", "a b dst"}, []bool{false, false, false}},
		{"first trace is no change", []tr{"a b dst"}, []bool{false}},
		{"middle hop replaced", []tr{"a b dst", "a c dst", "a c dst"}, []bool{false, true, false}},
		{"rate-limited hop", []tr{"a b dst", "a * dst", "a b dst"}, []bool{false, false, false}},
		{"one of three probes answered", []tr{"a b,b,b dst", "a *,b,* dst"}, []bool{false, false}},
		{"changed while silent", []tr{"a b dst", "a * dst", "a c dst"}, []bool{false, false, true}},
		{"ecmp subsets", []tr{"a b,c dst", "a b dst", "a c dst", "a b,c dst"}, []bool{false, false, false, false}},
		{"ecmp other branch", []tr{"a b dst", "a c dst"}, []bool{false, true}},
		{"path grew", []tr{"a b dst", "a b c dst"}, []bool{false, true}},
		{"path shrank", []tr{"a b c dst", "a b dst"}, []bool{false, true}},
		{"target silent once", []tr{"a b dst", "a b *", "a b dst"}, []bool{false, false, false}},
		{"target silent, then longer", []tr{"a b dst", "a b * * *", "a b c dst"}, []bool{false, false, true}},
		{"never reached, timeouts vary", []tr{"a b * *", "a * * * * *", "a b *"}, []bool{false, false, false}},
		{"unknown hop filled in later", []tr{"a * dst", "a b dst", "a c dst"}, []bool{false, false, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p PathTracker
			for i, trace := range c.traces {
				if got := trace.feed(&p); got != c.want[i] {
					t.Errorf("trace %d %q: changed %v, want %v (reference %v)", i, trace, got, c.want[i], p.Path())
				}
			}
		})
	}
}

func TestPathTrackerInterrupted(t *testing.T) {
	var p PathTracker
	tr("a b dst").feed(&p)
	p.Hop(&Hop{TTL: 1, Probes: []Probe{{Addr: pathAddr("x")}}})
	if p.Done(&Result{Hops: 1, Interrupted: true}) {
		t.Error("an interrupted trace changed the path")
	}
	if tr("a b dst").feed(&p) {
		t.Error("the interrupted trace's hops were kept")
	}
	if got, want := p.Addr(2), pathAddr("b"); got != want {
		t.Errorf("Addr(2) = %v, want %v", got, want)
	}
	if p.Addr(4).IsValid() || p.Addr(0).IsValid() {
		t.Error("Addr beyond the path is valid")
	}
}
