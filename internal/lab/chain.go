package lab

import (
	"fmt"
	"net/netip"
	"strconv"
)

// slowLink is the link number of the delayed responder's link.
const slowLink = 100

// chain is a chain graph plus where its named nodes are.
type chain struct {
	g       *graph
	src     int
	routers []int
	dst     int
	slow    int // -1 when there is no slow node
}

// chainNets returns the subnets of chain link k.
func chainNets(k int) (netip.Prefix, netip.Prefix) {
	v4 := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(k), 0}), 24)
	// k's decimal digits used as hex digits: link 12 is fd00:0:0:12::/64.
	v6 := netip.MustParsePrefix(fmt.Sprintf("fd00:0:0:%d::/64", k))
	return v4, v6
}

// buildChain turns a Spec into a graph.
func buildChain(s Spec) (*chain, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	g := newGraph(LabNet4, LabNet6)
	c := &chain{g: g, slow: -1}
	noLimit := !s.KeepICMPRateLimit

	c.src = g.addNode(&node{name: "src", stub: true, pingGroup: s.PingGroup})
	prev := c.src
	for i := 1; i <= s.Routers; i++ {
		r := g.addNode(&node{
			name:          "r" + strconv.Itoa(i),
			forward:       true,
			noICMPLimit:   noLimit,
			inboundICMPIf: true,
		})
		c.routers = append(c.routers, r)
		v4, v6 := chainNets(i - 1)
		g.connect(prev, r, v4, v6)
		prev = r
	}
	c.dst = g.addNode(&node{name: "dst", noICMPLimit: noLimit})
	v4, v6 := chainNets(s.Routers)
	g.connect(prev, c.dst, v4, v6)

	dstNode := g.nodes[c.dst]
	for _, p := range []netip.Prefix{s.LocalPrefix4, s.LocalPrefix6} {
		if p.IsValid() {
			dstNode.owned = append(dstNode.owned, ownedPrefix{prefix: p, kind: prefixLocal})
		}
	}
	if s.Routers > 0 {
		last := g.nodes[c.routers[s.Routers-1]]
		for _, p := range append(append([]netip.Prefix{}, s.Unreachable4...), s.Unreachable6...) {
			last.owned = append(last.owned, ownedPrefix{prefix: p, kind: prefixUnreachable})
		}
	}
	for _, r := range s.Silent {
		g.nodes[c.routers[r-1]].silent = true
	}
	for _, l := range s.Loss {
		g.links[l.Link].loss[1] = l.Percent
	}
	dst4, dst6 := g.primary(c.dst)
	if err := s.checkBlackhole(dst4, dst6); err != nil {
		return nil, err
	}
	dstNode.blackhole = append(dstNode.blackhole, s.Blackhole...)

	if s.Delay > 0 {
		c.slow = g.addNode(&node{name: "slow", echoIgnore: true, noICMPLimit: noLimit})
		attach := c.src
		if s.Routers > 0 {
			attach = c.routers[s.Routers-1]
		}
		v4, v6 := chainNets(slowLink)
		g.connect(attach, c.slow, v4, v6)
	}
	if err := g.check(); err != nil {
		return nil, err
	}
	return c, nil
}
