package lab

import (
	"fmt"
	"net/netip"
	"strings"
)

// This file turns a graph into the text that iproute2 and nftables read.
// Nothing here runs a command.

// nftTable is the nftables table every lab node's rules live in.
const nftTable = "rawnet_lab"

// nsName returns the namespace of node nodeName in lab labName.
func nsName(labName, nodeName string) string { return "rn-" + labName + "-" + nodeName }

// labOf parses a namespace name rn-<lab>-<node>.
func labOf(ns string) (string, bool) {
	rest, ok := strings.CutPrefix(ns, "rn-")
	if !ok {
		return "", false
	}
	name, node, ok := strings.Cut(rest, "-")
	if !ok || !validName(name, 12) || !validName(node, 12) {
		return "", false
	}
	return name, true
}

// l4HashFields selects, for fib_multipath_hash_policy 3, the fields
// policy 1 hashes: source IP (0x01), destination IP (0x02), IP protocol
// (0x04), source port (0x10) and destination port (0x20).
const l4HashFields = "0x0037"

// A sysctl is one setting, by its path under /proc/sys.
type sysctl struct{ key, value string }

// sysctls lists what node n sets in its namespace. They are written before
// its interfaces exist, so the "default" entries reach every interface.
func (n *node) sysctls() []sysctl {
	s := []sysctl{
		{"net/ipv6/conf/all/accept_dad", "0"},
		{"net/ipv6/conf/default/accept_dad", "0"},
		// No automatic link-local address: the kernel adds it only once
		// linkwatch has seen the carrier, and a router cannot send a
		// neighbour solicitation (from link-local) before that. Each
		// interface gets a fixed one at once instead (linkLocal).
		{"net/ipv6/conf/default/addr_gen_mode", "1"},
		{"net/ipv4/conf/all/rp_filter", "0"},
		{"net/ipv4/conf/default/rp_filter", "0"},
	}
	if n.forward {
		s = append(s,
			sysctl{"net/ipv4/ip_forward", "1"},
			sysctl{"net/ipv6/conf/all/forwarding", "1"})
	}
	if n.hashL4 {
		// Policy 3 (custom) with policy 1's fields: source and
		// destination address, protocol, source and destination port.
		// Policy 1 itself first takes the hash a local socket left on the
		// packet (skb->l4_hash, random per connected socket), which
		// survives the veth into the router: in a lab, two sockets with
		// one 5-tuple would then take different branches, which no real
		// router does. Policy 3 hashes only what is in the packet.
		s = append(s,
			sysctl{"net/ipv4/fib_multipath_hash_fields", l4HashFields},
			sysctl{"net/ipv4/fib_multipath_hash_policy", "3"},
			sysctl{"net/ipv6/fib_multipath_hash_fields", l4HashFields},
			sysctl{"net/ipv6/fib_multipath_hash_policy", "3"})
	}
	if n.inboundICMPIf {
		s = append(s, sysctl{"net/ipv4/icmp_errors_use_inbound_ifaddr", "1"})
	}
	if n.noICMPLimit {
		s = append(s,
			sysctl{"net/ipv4/icmp_ratelimit", "0"},
			sysctl{"net/ipv6/icmp/ratelimit", "0"},
			// The global ICMP budget (per namespace since Linux 6.0)
			// applies to IPv4 and IPv6 errors alike.
			sysctl{"net/ipv4/icmp_msgs_per_sec", "1000000"},
			sysctl{"net/ipv4/icmp_msgs_burst", "1000000"})
	}
	if n.echoIgnore {
		s = append(s,
			sysctl{"net/ipv4/icmp_echo_ignore_all", "1"},
			sysctl{"net/ipv6/icmp/echo_ignore_all", "1"})
	}
	if n.pingGroup {
		s = append(s, sysctl{"net/ipv4/ping_group_range", "0\t2147483647"})
	}
	return s
}

// namespaceScript creates every namespace (ip -batch, root namespace).
func (g *graph) namespaceScript(labName string) string {
	var b strings.Builder
	for _, n := range g.nodes {
		fmt.Fprintf(&b, "netns add %s\n", nsName(labName, n.name))
	}
	return b.String()
}

// linkScript creates every veth pair directly inside its two namespaces
// (ip -batch, run from the root namespace; no name ever exists there).
func (g *graph) linkScript(labName string) string {
	var b strings.Builder
	for _, l := range g.links {
		a, z := l.ends[0], l.ends[1]
		fmt.Fprintf(&b, "link add %s index %d netns %s type veth peer name %s index %d netns %s\n",
			a.ifname, a.ifindex, nsName(labName, g.nodes[a.node].name),
			z.ifname, z.ifindex, nsName(labName, g.nodes[z.node].name))
	}
	return b.String()
}

// nodeScript configures node n inside its namespace (ip -n NS -batch):
// loopback, addresses, links up, then routes.
func (g *graph) nodeScript(n int, routes []route) string {
	var b strings.Builder
	b.WriteString("link set lo up\n")
	for _, li := range g.nodes[n].links {
		l := g.links[li]
		e := l.end(n)
		if e.addr4.IsValid() {
			fmt.Fprintf(&b, "addr add %s/%d dev %s\n", e.addr4, l.net4.Bits(), e.ifname)
		}
		if e.addr6.IsValid() {
			fmt.Fprintf(&b, "addr add %s/%d dev %s nodad\n", e.addr6, l.net6.Bits(), e.ifname)
		}
		if e.addr6.IsValid() {
			fmt.Fprintf(&b, "addr add %s/64 dev %s nodad\n", linkLocal(l, n), e.ifname)
		}
		fmt.Fprintf(&b, "link set %s up\n", e.ifname)
	}
	for _, r := range routes {
		b.WriteString(r.command())
		b.WriteByte('\n')
	}
	return b.String()
}

// linkLocal returns node n's IPv6 link-local address on l: fe80::1 for
// the first end, fe80::2 for the second.
func linkLocal(l *link, n int) netip.Addr {
	if l.ends[0].node == n {
		return netip.MustParseAddr("fe80::1")
	}
	return netip.MustParseAddr("fe80::2")
}

// command returns r as an ip(8) route command without the leading "ip".
func (r route) command() string {
	switch r.kind {
	case routeLocal:
		return fmt.Sprintf("route add local %s dev lo", r.dst)
	case routeUnreachable:
		return fmt.Sprintf("route add unreachable %s", r.dst)
	}
	if len(r.via) == 1 {
		return fmt.Sprintf("route add %s via %s dev %s", r.dst, r.via[0].gw, r.via[0].dev)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "route add %s", r.dst)
	for _, h := range r.via {
		fmt.Fprintf(&b, " nexthop via %s dev %s", h.gw, h.dev)
	}
	return b.String()
}

// nftScript returns node n's nftables ruleset, or "" when it needs none:
// loss on arrival over a link, silence (no ICMP errors), blackholed
// addresses.
func (g *graph) nftScript(n int) string {
	var pre, in, out []string
	nd := "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert, nd-redirect } accept"
	for _, li := range g.nodes[n].links {
		l := g.links[li]
		i := 0
		if l.ends[1].node == n {
			i = 1
		}
		if pct := l.loss[i]; pct > 0 {
			ifname := l.ends[i].ifname
			// Neighbour discovery is spared: losing it would add
			// resolution failures on top of the configured loss.
			drop := fmt.Sprintf("iifname %q numgen random mod 100 < %d drop", ifname, pct)
			if pct >= 100 {
				drop = fmt.Sprintf("iifname %q drop", ifname)
			}
			pre = append(pre, fmt.Sprintf("iifname %q %s", ifname, nd), drop)
		}
	}
	var bh4, bh6 []string
	for _, a := range g.nodes[n].blackhole {
		if a.Is4() {
			bh4 = append(bh4, a.String())
		} else {
			bh6 = append(bh6, a.String())
		}
	}
	if len(bh4) > 0 {
		in = append(in, fmt.Sprintf("ip daddr { %s } drop", strings.Join(bh4, ", ")))
	}
	if len(bh6) > 0 {
		in = append(in, fmt.Sprintf("ip6 daddr { %s } drop", strings.Join(bh6, ", ")))
	}
	if g.nodes[n].silent {
		out = append(out,
			"icmp type { destination-unreachable, time-exceeded, parameter-problem } drop",
			"icmpv6 type { destination-unreachable, time-exceeded, parameter-problem } drop")
	}
	if len(pre)+len(in)+len(out) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", nftTable)
	writeChain(&b, "prerouting", "prerouting", -150, pre)
	writeChain(&b, "input", "input", 0, in)
	writeChain(&b, "output", "output", 0, out)
	b.WriteString("}\n")
	return b.String()
}

func writeChain(b *strings.Builder, name, hook string, prio int, rules []string) {
	if len(rules) == 0 {
		return
	}
	fmt.Fprintf(b, "\tchain %s {\n\t\ttype filter hook %s priority %d; policy accept;\n", name, hook, prio)
	for _, r := range rules {
		fmt.Fprintf(b, "\t\t%s\n", r)
	}
	b.WriteString("\t}\n")
}
