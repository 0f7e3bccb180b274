package lab

import (
	"fmt"
	"net/netip"
	"strconv"
)

// slowLink is the link number of the delayed responder's link.
const slowLink = 100

// vantageLink and monitorLink number the links of vantage i (to r1) and
// of the monitor's management link to src (i = 0) or to vantage i.
const (
	vantageLink = 200
	monitorLink = 240
)

// twinLinkOffset numbers the links of a diamond's second branch: chain
// link k's twin is link twinLinkOffset+k (links 101 and 102).
const twinLinkOffset = 100

// chain is a chain graph plus where its named nodes are.
type chain struct {
	g   *graph
	src int
	// routers[k-1] is chain router k; in a diamond, router 2 is r2a.
	routers []int
	// branches holds a diamond's parallel routers r2a and r2b (nil when
	// there is no diamond).
	branches []int
	dst      int
	slow     int // -1 when there is no slow node
	vantages []int
	mon      int // -1 when there is no monitor
	// links[k] holds the graph links of chain link k: one, or a
	// diamond's two branches.
	links [][]int
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
	c := &chain{g: g, slow: -1, mon: -1}
	noLimit := !s.KeepICMPRateLimit

	c.src = g.addNode(&node{name: "src", stub: true, pingGroup: s.PingGroup})
	prev := []int{c.src}
	for i := 1; i <= s.Routers; i++ {
		names := []string{"r" + strconv.Itoa(i)}
		if s.Diamond && i == 2 {
			names = []string{"r2a", "r2b"}
		}
		var stage []int
		for _, name := range names {
			stage = append(stage, g.addNode(&node{
				name:          name,
				forward:       true,
				noICMPLimit:   noLimit,
				inboundICMPIf: true,
			}))
		}
		c.routers = append(c.routers, stage[0])
		if len(stage) == 2 {
			c.branches = stage
		}
		c.connectStage(i-1, prev, stage)
		prev = stage
	}
	c.dst = g.addNode(&node{name: "dst", noICMPLimit: noLimit})
	c.connectStage(s.Routers, prev, []int{c.dst})

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
		for _, n := range c.routersAt(r) {
			g.nodes[n].silent = true
		}
	}
	for _, l := range s.Loss {
		for _, li := range c.links[l.Link] {
			g.links[li].loss[1] = l.Percent
		}
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
	c.addVantages(s)
	if err := g.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// addVantages adds Spec.Vantages hosts on links of their own to r1, and
// the monitor with its management links to src and each of them.
func (c *chain) addVantages(s Spec) {
	g := c.g
	for i := 1; i <= s.Vantages; i++ {
		v := g.addNode(&node{name: "v" + strconv.Itoa(i), stub: true, pingGroup: s.PingGroup})
		c.vantages = append(c.vantages, v)
		v4, v6 := chainNets(vantageLink + i)
		g.connect(c.routers[0], v, v4, v6)
	}
	if !s.Monitor {
		return
	}
	c.mon = g.addNode(&node{name: "mon", stub: true, isolated: true})
	for i, v := range append([]int{c.src}, c.vantages...) {
		v4, v6 := chainNets(monitorLink + i)
		g.connect(c.mon, v, v4, v6).connectedOnly = true
	}
}

// connectStage makes chain link k between the nodes of one stage and the
// next (each one node, or a diamond's two branches). The first branch gets
// the link's own subnets, the second its twin's. A node that branches
// out, or where branches merge, hashes its multipath routes on L4.
func (c *chain) connectStage(k int, from, to []int) {
	var ls []int
	for j := range max(len(from), len(to)) {
		a, b := from[min(j, len(from)-1)], to[min(j, len(to)-1)]
		v4, v6 := chainNets(k + j*twinLinkOffset)
		c.g.connect(a, b, v4, v6)
		ls = append(ls, len(c.g.links)-1)
	}
	c.links = append(c.links, ls)
	if len(from) == 1 && len(to) > 1 {
		c.g.nodes[from[0]].hashL4 = true
	}
	if len(from) > 1 && len(to) == 1 {
		c.g.nodes[to[0]].hashL4 = true
	}
}

// routersAt returns the routers at chain position r (1-based): one, or a
// diamond's two branches.
func (c *chain) routersAt(r int) []int {
	if r == 2 && c.branches != nil {
		return c.branches
	}
	return []int{c.routers[r-1]}
}
