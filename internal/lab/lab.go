package lab

import (
	"context"
	"net/netip"
	"os/exec"
	"sync"
)

// A Lab is a running chain of namespaces. Close removes it.
type Lab struct {
	// Name is the lab's name; its namespaces are rn-<Name>-<node>.
	Name string
	Src  *Node
	// Routers holds chain routers r1..rN: Routers[k-1] is router k. In a
	// diamond (Spec.Diamond), router 2 is r2a.
	Routers []*Node
	// Branches holds a diamond's two parallel routers r2a and r2b; nil
	// without Spec.Diamond.
	Branches []*Node
	Dst      *Node
	Slow     *Node // nil unless Spec.Delay > 0
	// Vantages holds v1..vN (Spec.Vantages); Mon the monitor (Spec.Monitor,
	// else nil).
	Vantages []*Node
	Mon      *Node
	// Nodes holds every node: src, r1..rN (r2a then r2b in a diamond),
	// dst, then slow, v1..vN and mon.
	Nodes []*Node

	spec  Spec
	chain *chain

	closeOnce     sync.Once
	closeErr      error
	stopResponder func() error // in-process responder, nil when none
}

// A Node is one namespace of a lab.
type Node struct {
	// Name is the node's name in the lab: "src", "r1", ..., "dst", "slow".
	Name string
	// NS is the network namespace, as ip netns knows it.
	NS string
	// Addr4 and Addr6 are the addresses others reach the node by: for a
	// router, its interface toward src, which is also where its ICMP
	// errors come from.
	Addr4, Addr6 netip.Addr
	// Ifaces lists the node's interfaces in the order its links were made.
	Ifaces []Iface
}

// An Iface is one end of a link.
type Iface struct {
	Name         string       // e.g. "to-r2"
	Peer         string       // the node at the other end
	Addr4, Addr6 netip.Prefix // address and subnet length; zero if none
}

// newLab describes the nodes of chain c as they will exist in lab name.
func newLab(name string, spec Spec, c *chain) *Lab {
	l := &Lab{Name: name, spec: spec, chain: c}
	g := c.g
	for i, n := range g.nodes {
		node := &Node{Name: n.name, NS: nsName(name, n.name)}
		node.Addr4, node.Addr6 = g.primary(i)
		for _, li := range n.links {
			lk := g.links[li]
			e := lk.end(i)
			ifc := Iface{Name: e.ifname, Peer: g.nodes[lk.other(i).node].name}
			if e.addr4.IsValid() {
				ifc.Addr4 = netip.PrefixFrom(e.addr4, lk.net4.Bits())
			}
			if e.addr6.IsValid() {
				ifc.Addr6 = netip.PrefixFrom(e.addr6, lk.net6.Bits())
			}
			node.Ifaces = append(node.Ifaces, ifc)
		}
		l.Nodes = append(l.Nodes, node)
	}
	l.Src = l.Nodes[c.src]
	l.Dst = l.Nodes[c.dst]
	for _, r := range c.routers {
		l.Routers = append(l.Routers, l.Nodes[r])
	}
	for _, b := range c.branches {
		l.Branches = append(l.Branches, l.Nodes[b])
	}
	if c.slow >= 0 {
		l.Slow = l.Nodes[c.slow]
	}
	for _, v := range c.vantages {
		l.Vantages = append(l.Vantages, l.Nodes[v])
	}
	if c.mon >= 0 {
		l.Mon = l.Nodes[c.mon]
	}
	return l
}

// Spec returns the spec the lab was built from.
func (l *Lab) Spec() Spec { return l.spec }

// HopAddrs4 returns the IPv4 address each router answers from (its
// interface toward src), in order, then dst's address: the hop list a trace
// from src to dst must produce. In a diamond it is the path through r2a
// (r2 is r2a, r3 answers from its interface toward r2a); a flow that
// takes r2b sees the other addresses that Hops4 lists.
func (l *Lab) HopAddrs4() []netip.Addr {
	var as []netip.Addr
	for _, r := range l.Routers {
		as = append(as, r.Addr4)
	}
	return append(as, l.Dst.Addr4)
}

// HopAddrs6 is HopAddrs4 for IPv6.
func (l *Lab) HopAddrs6() []netip.Addr {
	var as []netip.Addr
	for _, r := range l.Routers {
		as = append(as, r.Addr6)
	}
	return append(as, l.Dst.Addr6)
}

// Hops4 returns, for each hop (TTL 1, 2, ...) from src to dst, every IPv4
// address that may answer there, HopAddrs4's first: in a chain one per
// hop; in a diamond, r2a's and r2b's at TTL 2 and r3's two interfaces
// toward them at TTL 3. The last hop is dst. Routers answer with IPv4 ICMP
// errors from the interface a probe arrived on, so r3's address tells
// which branch the probe took.
func (l *Lab) Hops4() [][]netip.Addr { return l.chain.g.hops(l.chain.src, l.chain.dst, true) }

// Hops6 is Hops4 for IPv6. IPv6 has no "inbound interface" setting: the
// kernel picks the source of an ICMPv6 error by its route back to src,
// which at r3 is itself multipath, so a trace test should accept either
// of r3's addresses at TTL 3 rather than expect the probe's branch.
func (l *Lab) Hops6() [][]netip.Addr { return l.chain.g.hops(l.chain.src, l.chain.dst, false) }

// DiamondBranches4 returns the IPv4 addresses r2a and r2b answer from (their
// interfaces toward r1), or nil without Spec.Diamond.
func (l *Lab) DiamondBranches4() []netip.Addr {
	var as []netip.Addr
	for _, b := range l.Branches {
		as = append(as, b.Addr4)
	}
	return as
}

// DiamondBranches6 is DiamondBranches4 for IPv6.
func (l *Lab) DiamondBranches6() []netip.Addr {
	var as []netip.Addr
	for _, b := range l.Branches {
		as = append(as, b.Addr6)
	}
	return as
}

// Node returns the node called name ("src", "r2", ...), or nil.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Iface returns n's interface toward the node called peer ("r1", "mon").
func (n *Node) Iface(peer string) (Iface, bool) {
	for _, ifc := range n.Ifaces {
		if ifc.Peer == peer {
			return ifc, true
		}
	}
	return Iface{}, false
}

// Command returns a command that runs name with args inside n's namespace
// (ip netns exec NS name args...).
func (n *Node) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.NS, name}, args...)...)
}
