package lab

import (
	"fmt"
	"net/netip"
	"slices"
)

// A graph is a lab network before it exists: nodes, point-to-point links
// with one IPv4 and/or one IPv6 subnet each, and prefixes that nodes own.
// Builders (the chain, later others) fill it in; routes and the commands
// that create it are computed from it, so nothing here knows about a
// particular shape.
type graph struct {
	nodes []*node
	links []*link
	// aggregates is the whole address space of the lab. Every subnet and
	// owned prefix must lie inside one of them, and stub nodes route
	// exactly these toward their forwarding neighbours.
	aggregates []netip.Prefix
}

// A node is one network namespace.
type node struct {
	name string
	// forward makes the node a router (ip_forward, IPv6 forwarding).
	forward bool
	// stub nodes (hosts at the edge) get no per-destination routes through
	// routers, only the graph's aggregates via their forwarding neighbours,
	// so that an address nobody owns still leaves the host and draws an
	// ICMP error from the first router that has no route for it.
	stub bool
	// isolated nodes (the monitor) get no routes at all: they reach only
	// their direct neighbours.
	isolated bool
	owned    []ownedPrefix
	links    []int // indexes into graph.links, in the order they were added

	silent        bool         // send no ICMP errors
	blackhole     []netip.Addr // silently drop packets addressed to these
	echoIgnore    bool         // the kernel does not answer echo requests
	pingGroup     bool         // unprivileged ICMP datagram sockets for every group
	noICMPLimit   bool         // ICMP error rate limits off
	inboundICMPIf bool         // ICMPv4 errors come from the interface the packet arrived on
	// hashL4 makes multipath routes hash on L4 (addresses, protocol,
	// ports, as fib_multipath_hash_policy=1 does, but on the packet's
	// fields only; see sysctls) instead of addresses only.
	hashL4 bool
}

// prefixKind says how the owner of a prefix treats packets addressed into it.
type prefixKind uint8

const (
	// prefixLocal: the owner answers for every address in the prefix
	// (AnyIP, "ip route add local PREFIX dev lo").
	prefixLocal prefixKind = iota
	// prefixUnreachable: the owner rejects packets for the prefix with an
	// ICMP destination unreachable ("ip route add unreachable PREFIX").
	prefixUnreachable
)

type ownedPrefix struct {
	prefix netip.Prefix
	kind   prefixKind
}

// A link joins two nodes. ends[0] gets the first host address of each
// subnet (.1, ::1), ends[1] the second (.2, ::2).
type link struct {
	ends       [2]linkEnd
	net4, net6 netip.Prefix // either may be the zero Prefix (no such family)
	// loss[i] is the percentage of packets dropped as they arrive at
	// ends[i] over this link.
	loss [2]int
	// connectedOnly links (management links) reach only their two ends:
	// no node gets a route to their subnets.
	connectedOnly bool
}

type linkEnd struct {
	node         int
	ifname       string
	ifindex      int
	addr4, addr6 netip.Addr
}

// firstIfindex is the interface index of the first link's first end.
const firstIfindex = 10

func newGraph(aggregates ...netip.Prefix) *graph {
	return &graph{aggregates: aggregates}
}

// addNode adds a node and returns its index.
func (g *graph) addNode(n *node) int {
	g.nodes = append(g.nodes, n)
	return len(g.nodes) - 1
}

// connect joins nodes a and b with a link on the given subnets (either may
// be the zero Prefix) and returns it. Interfaces are named after the peer
// ("to-r2") when that is unique on the node and fits IFNAMSIZ.
func (g *graph) connect(a, b int, net4, net6 netip.Prefix) *link {
	l := &link{net4: net4, net6: net6}
	for i, n := range [2]int{a, b} {
		e := linkEnd{node: n}
		if net4.IsValid() {
			e.addr4 = nthHost(net4, i+1)
		}
		if net6.IsValid() {
			e.addr6 = nthHost(net6, i+1)
		}
		l.ends[i] = e
	}
	l.ends[0].ifname = g.ifname(a, b)
	l.ends[1].ifname = g.ifname(b, a)
	// The two ends never share an interface index. When they do, the
	// kernel's linkwatch treats the carrier change of a veth as not urgent
	// and handles it up to a second later, and until then the end that
	// came up first has no qdisc and drops what it sends.
	l.ends[0].ifindex = firstIfindex + 2*len(g.links)
	l.ends[1].ifindex = firstIfindex + 2*len(g.links) + 1
	g.links = append(g.links, l)
	g.nodes[a].links = append(g.nodes[a].links, len(g.links)-1)
	g.nodes[b].links = append(g.nodes[b].links, len(g.links)-1)
	return l
}

// ifname picks the name of n's next interface, which leads to peer.
func (g *graph) ifname(n, peer int) string {
	name := "to-" + g.nodes[peer].name
	if len(name) > 15 || g.hasIfname(n, name) {
		name = fmt.Sprintf("eth%d", len(g.nodes[n].links))
	}
	return name
}

func (g *graph) hasIfname(n int, name string) bool {
	for _, li := range g.nodes[n].links {
		if g.links[li].end(n).ifname == name {
			return true
		}
	}
	return false
}

// nthHost returns the n-th address of p (n=1: .1 or ::1).
func nthHost(p netip.Prefix, n int) netip.Addr {
	a := p.Masked().Addr()
	for range n {
		a = a.Next()
	}
	return a
}

// end returns the end of l at node n, and other the end at the peer.
func (l *link) end(n int) *linkEnd {
	if l.ends[0].node == n {
		return &l.ends[0]
	}
	return &l.ends[1]
}

func (l *link) other(n int) *linkEnd {
	if l.ends[0].node == n {
		return &l.ends[1]
	}
	return &l.ends[0]
}

// subnet returns l's subnet in the family of p (zero if it has none).
func (l *link) subnet(is4 bool) netip.Prefix {
	if is4 {
		return l.net4
	}
	return l.net6
}

func (e *linkEnd) addr(is4 bool) netip.Addr {
	if is4 {
		return e.addr4
	}
	return e.addr6
}

// primary returns the addresses others reach node n by: those on its first
// link.
func (g *graph) primary(n int) (v4, v6 netip.Addr) {
	if len(g.nodes[n].links) == 0 {
		return netip.Addr{}, netip.Addr{}
	}
	e := g.links[g.nodes[n].links[0]].end(n)
	return e.addr4, e.addr6
}

// check verifies that names are usable and unique, and that every subnet
// and owned prefix is canonical, inside the lab's aggregates and disjoint
// from every other.
func (g *graph) check() error {
	seen := map[string]bool{}
	for _, n := range g.nodes {
		if !validName(n.name, 12) {
			return fmt.Errorf("%w: node name %q: want 1-12 of a-z, 0-9", ErrInvalidSpec, n.name)
		}
		if seen[n.name] {
			return fmt.Errorf("%w: two nodes named %q", ErrInvalidSpec, n.name)
		}
		seen[n.name] = true
	}
	var all []netip.Prefix
	for _, l := range g.links {
		for _, p := range []netip.Prefix{l.net4, l.net6} {
			if p.IsValid() {
				all = append(all, p)
			}
		}
	}
	for _, n := range g.nodes {
		for _, o := range n.owned {
			all = append(all, o.prefix)
		}
	}
	for i, p := range all {
		if p != p.Masked() {
			return fmt.Errorf("%w: prefix %s has host bits set (want %s)", ErrInvalidSpec, p, p.Masked())
		}
		if !g.inLab(p) {
			return fmt.Errorf("%w: prefix %s is outside the lab's address space %v", ErrInvalidSpec, p, g.aggregates)
		}
		for _, q := range all[:i] {
			if p.Overlaps(q) {
				return fmt.Errorf("%w: prefixes %s and %s overlap", ErrInvalidSpec, q, p)
			}
		}
	}
	return nil
}

func (g *graph) inLab(p netip.Prefix) bool {
	for _, a := range g.aggregates {
		if a.Bits() <= p.Bits() && a.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func validName(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// routeKind is what a route does with a packet.
type routeKind uint8

const (
	routeVia         routeKind = iota // forward to the next hops
	routeLocal                        // deliver locally (AnyIP)
	routeUnreachable                  // reject with ICMP unreachable
)

// A route is one entry of a node's routing table (connected subnets are
// left to the kernel).
type route struct {
	dst  netip.Prefix
	kind routeKind
	via  []nexthop // routeVia only; more than one is ECMP
}

type nexthop struct {
	gw  netip.Addr
	dev string
}

// destination is something to route to: a prefix and the nodes that have
// it (both ends of a link, or the owner of a prefix).
type destination struct {
	prefix  netip.Prefix
	targets []int
	owned   *ownedPrefix // nil for link subnets
}

func (g *graph) destinations() []destination {
	var ds []destination
	for _, l := range g.links {
		if l.connectedOnly {
			continue
		}
		targets := []int{l.ends[0].node, l.ends[1].node}
		for _, p := range []netip.Prefix{l.net4, l.net6} {
			if p.IsValid() {
				ds = append(ds, destination{prefix: p, targets: targets})
			}
		}
	}
	for i, n := range g.nodes {
		for j := range n.owned {
			ds = append(ds, destination{prefix: n.owned[j].prefix, targets: []int{i}, owned: &n.owned[j]})
		}
	}
	return ds
}

// routes computes every node's routing table: for each destination, the
// next hops on all shortest paths (in hops) toward it, through nodes that
// forward. The result is indexed like g.nodes and deterministic.
func (g *graph) routes() [][]route {
	out := make([][]route, len(g.nodes))
	for i, n := range g.nodes {
		if n.stub {
			out[i] = append(out[i], g.aggregateRoutes(i)...)
		}
	}
	for _, d := range g.destinations() {
		dist := g.distances(d)
		for i := range g.nodes {
			if g.nodes[i].isolated {
				continue
			}
			if r, ok := g.routeTo(i, d, dist); ok {
				out[i] = append(out[i], r)
			}
		}
	}
	return out
}

// routeTo returns node n's route to d, if it needs one.
func (g *graph) routeTo(n int, d destination, dist []int) (route, bool) {
	if slices.Contains(d.targets, n) {
		if d.owned == nil {
			return route{}, false // connected subnet: the kernel has it
		}
		kind := routeLocal
		if d.owned.kind == prefixUnreachable {
			kind = routeUnreachable
		}
		return route{dst: d.prefix, kind: kind}, true
	}
	if dist[n] < 0 {
		return route{}, false
	}
	is4 := d.prefix.Addr().Is4()
	var hops []nexthop
	viaRouters := true
	for _, li := range g.nodes[n].links {
		l := g.links[li]
		peer := l.other(n)
		if !l.subnet(is4).IsValid() || dist[peer.node] != dist[n]-1 {
			continue
		}
		hops = append(hops, nexthop{gw: peer.addr(is4), dev: l.end(n).ifname})
		viaRouters = viaRouters && g.nodes[peer.node].forward
	}
	if g.nodes[n].stub && viaRouters && g.inLab(d.prefix) {
		return route{}, false // the aggregate route already sends it there
	}
	return route{dst: d.prefix, kind: routeVia, via: hops}, true
}

// aggregateRoutes routes the lab's aggregates from stub node n via all of
// its forwarding neighbours.
func (g *graph) aggregateRoutes(n int) []route {
	var rs []route
	for _, a := range g.aggregates {
		is4 := a.Addr().Is4()
		var hops []nexthop
		for _, li := range g.nodes[n].links {
			l := g.links[li]
			peer := l.other(n)
			if l.subnet(is4).IsValid() && g.nodes[peer.node].forward {
				hops = append(hops, nexthop{gw: peer.addr(is4), dev: l.end(n).ifname})
			}
		}
		if len(hops) > 0 {
			rs = append(rs, route{dst: a, kind: routeVia, via: hops})
		}
	}
	return rs
}

// distances returns, for every node, the number of hops to the nearest
// target of d over links that carry d's family, or -1 when it cannot reach
// one. Paths only pass through nodes that forward.
func (g *graph) distances(d destination) []int {
	is4 := d.prefix.Addr().Is4()
	dist := make([]int, len(g.nodes))
	for i := range dist {
		dist[i] = -1
	}
	queue := make([]int, 0, len(g.nodes))
	for _, t := range d.targets {
		if dist[t] < 0 {
			dist[t] = 0
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		if dist[u] > 0 && !g.nodes[u].forward {
			continue // hosts do not carry traffic for others
		}
		for _, li := range g.nodes[u].links {
			l := g.links[li]
			v := l.other(u).node
			if l.subnet(is4).IsValid() && dist[v] < 0 {
				dist[v] = dist[u] + 1
				queue = append(queue, v)
			}
		}
	}
	return dist
}

// hops returns, for each hop count t = 1..d on the shortest paths from
// node from to node to (d hops away), the addresses of the link ends that
// a packet arrives on at hop t, in link order: the addresses routers there
// answer from when they use the inbound interface. It is nil when to
// cannot be reached.
func (g *graph) hops(from, to int, is4 bool) [][]netip.Addr {
	family := netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	if is4 {
		family = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	fromDist := g.distances(destination{prefix: family, targets: []int{from}})
	toDist := g.distances(destination{prefix: family, targets: []int{to}})
	total := fromDist[to]
	if total <= 0 {
		return nil
	}
	out := make([][]netip.Addr, total)
	onPath := func(n, t int) bool { return fromDist[n] == t && toDist[n] == total-t }
	for t := 1; t <= total; t++ {
		for _, l := range g.links {
			for i := range 2 {
				u, v := l.ends[i].node, l.ends[1-i].node
				a := l.ends[1-i].addr(is4)
				if onPath(u, t-1) && onPath(v, t) && a.IsValid() && !slices.Contains(out[t-1], a) {
					out[t-1] = append(out[t-1], a)
				}
			}
		}
	}
	return out
}
