package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// routeLines returns node name's routes in g as ip(8) commands.
func routeLines(t *testing.T, g *graph, name string) []string {
	t.Helper()
	routes := g.routes()
	for i, n := range g.nodes {
		if n.name == name {
			var lines []string
			for _, r := range routes[i] {
				lines = append(lines, r.command())
			}
			return lines
		}
	}
	t.Fatalf("no node %q", name)
	return nil
}

func assertRoutes(t *testing.T, g *graph, name string, want ...string) {
	t.Helper()
	got := routeLines(t, g, name)
	if !slices.Equal(got, want) {
		t.Errorf("routes of %s:\n got  %s\n want %s", name, strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

func TestChainRoutes(t *testing.T) {
	c, err := buildChain(Spec{
		Routers:      2,
		LocalPrefix4: netip.MustParsePrefix("198.19.0.0/22"),
		LocalPrefix6: netip.MustParsePrefix("fd00:99::/64"),
		Unreachable4: []netip.Prefix{netip.MustParsePrefix("198.19.8.0/24")},
	})
	if err != nil {
		t.Fatal(err)
	}
	assertRoutes(t, c.g, "src",
		"route add 198.18.0.0/15 via 198.18.0.2 dev to-r1",
		"route add fd00::/8 via fd00::2 dev to-r1")
	assertRoutes(t, c.g, "r1",
		"route add 198.18.2.0/24 via 198.18.1.2 dev to-r2",
		"route add fd00:0:0:2::/64 via fd00:0:0:1::2 dev to-r2",
		"route add 198.19.8.0/24 via 198.18.1.2 dev to-r2",
		"route add 198.19.0.0/22 via 198.18.1.2 dev to-r2",
		"route add fd00:99::/64 via fd00:0:0:1::2 dev to-r2")
	assertRoutes(t, c.g, "r2",
		"route add 198.18.0.0/24 via 198.18.1.1 dev to-r1",
		"route add fd00::/64 via fd00:0:0:1::1 dev to-r1",
		"route add unreachable 198.19.8.0/24",
		"route add 198.19.0.0/22 via 198.18.2.2 dev to-dst",
		"route add fd00:99::/64 via fd00:0:0:2::2 dev to-dst")
	assertRoutes(t, c.g, "dst",
		"route add 198.18.0.0/24 via 198.18.2.1 dev to-r2",
		"route add fd00::/64 via fd00:0:0:2::1 dev to-r2",
		"route add 198.18.1.0/24 via 198.18.2.1 dev to-r2",
		"route add fd00:0:0:1::/64 via fd00:0:0:2::1 dev to-r2",
		"route add 198.19.8.0/24 via 198.18.2.1 dev to-r2",
		"route add local 198.19.0.0/22 dev lo",
		"route add local fd00:99::/64 dev lo")
}

// diamond builds src - r1 - {a, b} - r4 - dst: two equal paths.
func diamond() *graph {
	g := newGraph(LabNet4, LabNet6)
	src := g.addNode(&node{name: "src", stub: true})
	r1 := g.addNode(&node{name: "r1", forward: true})
	a := g.addNode(&node{name: "a", forward: true})
	b := g.addNode(&node{name: "b", forward: true})
	r4 := g.addNode(&node{name: "r4", forward: true})
	dst := g.addNode(&node{name: "dst"})
	for k, ends := range [][2]int{{src, r1}, {r1, a}, {r1, b}, {a, r4}, {b, r4}, {r4, dst}} {
		v4, v6 := chainNets(k)
		g.connect(ends[0], ends[1], v4, v6)
	}
	return g
}

func TestRoutesKeepEqualCostNextHops(t *testing.T) {
	g := diamond()
	if err := g.check(); err != nil {
		t.Fatal(err)
	}
	r1 := routeLines(t, g, "r1")
	for _, want := range []string{
		"route add 198.18.5.0/24 nexthop via 198.18.1.2 dev to-a nexthop via 198.18.2.2 dev to-b",
		"route add fd00:0:0:5::/64 nexthop via fd00:0:0:1::2 dev to-a nexthop via fd00:0:0:2::2 dev to-b",
		"route add 198.18.3.0/24 via 198.18.1.2 dev to-a", // a's far link: one path
	} {
		if !slices.Contains(r1, want) {
			t.Errorf("r1 lacks %q; has\n%s", want, strings.Join(r1, "\n"))
		}
	}
	r4 := routeLines(t, g, "r4")
	want := "route add 198.18.0.0/24 nexthop via 198.18.3.1 dev to-a nexthop via 198.18.4.1 dev to-b"
	if !slices.Contains(r4, want) {
		t.Errorf("r4 lacks %q; has\n%s", want, strings.Join(r4, "\n"))
	}
	// dst is a host, not a stub: one route per lab subnet it lacks.
	if got := len(routeLines(t, g, "dst")); got != 2*5 {
		t.Errorf("dst has %d routes, want 10", got)
	}
}

func TestParallelLinksGetDistinctNamesAndECMP(t *testing.T) {
	g := newGraph(LabNet4, LabNet6)
	x := g.addNode(&node{name: "x", forward: true})
	y := g.addNode(&node{name: "y", forward: true})
	z := g.addNode(&node{name: "z"})
	for k, ends := range [][2]int{{x, y}, {x, y}, {y, z}} {
		v4, _ := chainNets(k)
		g.connect(ends[0], ends[1], v4, netip.Prefix{})
	}
	if g.links[0].ends[0].ifname != "to-y" || g.links[1].ends[0].ifname != "eth1" {
		t.Errorf("interface names %q, %q; want to-y, eth1", g.links[0].ends[0].ifname, g.links[1].ends[0].ifname)
	}
	assertRoutes(t, g, "x", "route add 198.18.2.0/24 nexthop via 198.18.0.2 dev to-y nexthop via 198.18.1.2 dev eth1")
	assertRoutes(t, g, "z",
		"route add 198.18.0.0/24 via 198.18.2.1 dev to-y",
		"route add 198.18.1.0/24 via 198.18.2.1 dev to-y")
}

func TestHostsDoNotForward(t *testing.T) {
	// No routers: src links to dst and to slow, and forwards for neither.
	// dst and slow reach src's address on the other link through src (it
	// is on that subnet), but not dst's local prefix from slow.
	c, err := buildChain(Spec{Delay: time.Millisecond, LocalPrefix4: netip.MustParsePrefix("198.19.0.0/22")})
	if err != nil {
		t.Fatal(err)
	}
	assertRoutes(t, c.g, "src", "route add 198.19.0.0/22 via 198.18.0.2 dev to-dst")
	assertRoutes(t, c.g, "dst",
		"route add 198.18.100.0/24 via 198.18.0.1 dev to-src",
		"route add fd00:0:0:100::/64 via fd00::1 dev to-src",
		"route add local 198.19.0.0/22 dev lo")
	assertRoutes(t, c.g, "slow",
		"route add 198.18.0.0/24 via 198.18.100.1 dev to-src",
		"route add fd00::/64 via fd00:0:0:100::1 dev to-src")
}

func TestChainAddressing(t *testing.T) {
	v4, v6 := chainNets(12)
	if v4.String() != "198.18.12.0/24" || v6.String() != "fd00:0:0:12::/64" {
		t.Errorf("chainNets(12) = %s, %s", v4, v6)
	}
	c, err := buildChain(Spec{Routers: 3, Delay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l := newLab("t", Spec{Routers: 3}, c)
	want4 := "[198.18.0.2 198.18.1.2 198.18.2.2 198.18.3.2]"
	want6 := "[fd00::2 fd00:0:0:1::2 fd00:0:0:2::2 fd00:0:0:3::2]"
	if got := fmtAddrs(l.HopAddrs4()); got != want4 {
		t.Errorf("HopAddrs4 = %s, want %s", got, want4)
	}
	if got := fmtAddrs(l.HopAddrs6()); got != want6 {
		t.Errorf("HopAddrs6 = %s, want %s", got, want6)
	}
	if l.Src.NS != "rn-t-src" || l.Slow.Addr4.String() != "198.18.100.2" || l.Slow.Addr6.String() != "fd00:0:0:100::2" {
		t.Errorf("src ns %s, slow %s %s", l.Src.NS, l.Slow.Addr4, l.Slow.Addr6)
	}
	if ifc := l.Node("r3").Ifaces; len(ifc) != 3 || ifc[2].Name != "to-slow" || ifc[2].Addr4.String() != "198.18.100.1/24" {
		t.Errorf("r3 interfaces %+v, want the third to be to-slow 198.18.100.1/24", ifc)
	}
}

func fmtAddrs(as []netip.Addr) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestBadSpecs(t *testing.T) {
	p := netip.MustParsePrefix
	cases := map[string]Spec{
		"too many routers":      {Routers: MaxRouters + 1},
		"negative routers":      {Routers: -1},
		"loss link":             {Routers: 2, Loss: []Loss{{Link: 3, Percent: 10}}},
		"loss percent":          {Routers: 2, Loss: []Loss{{Link: 1, Percent: 101}}},
		"silent router 0":       {Routers: 2, Silent: []int{0}},
		"silent router N+1":     {Routers: 2, Silent: []int{3}},
		"negative delay":        {Delay: -time.Second},
		"unreachable no router": {Unreachable4: []netip.Prefix{p("198.19.8.0/24")}},
		"v6 prefix as v4":       {LocalPrefix4: p("fd00:99::/64")},
		"outside the lab":       {LocalPrefix4: p("10.0.0.0/8")},
		"outside the lab v6":    {LocalPrefix6: p("2001:db8::/64")},
		"overlaps a link":       {LocalPrefix4: p("198.18.0.0/16")},
		"host bits":             {LocalPrefix4: p("198.19.0.1/22")},
		"overlapping prefixes":  {Routers: 1, LocalPrefix4: p("198.19.0.0/22"), Unreachable4: []netip.Prefix{p("198.19.1.0/24")}},
		"blackhole not dst":     {Routers: 1, Blackhole: []netip.Addr{netip.MustParseAddr("198.18.0.2")}},
	}
	for name, spec := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := buildChain(spec); !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("buildChain: %v, want ErrInvalidSpec", err)
			}
		})
	}
	if _, err := buildChain(Spec{Routers: MaxRouters, Delay: 1}); err != nil {
		t.Errorf("largest chain: %v", err)
	}
}

func TestNodeNames(t *testing.T) {
	g := newGraph(LabNet4)
	g.addNode(&node{name: "Bad-Name"})
	if err := g.check(); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("bad node name: %v", err)
	}
	for ns, want := range map[string]string{"rn-abc-r1": "abc", "rn-abc": "", "rn-a-b-c": "", "other": ""} {
		if got, _ := labOf(ns); got != want {
			t.Errorf("labOf(%q) = %q, want %q", ns, got, want)
		}
	}
}

func TestNftScript(t *testing.T) {
	c, err := buildChain(Spec{
		Routers:      2,
		LocalPrefix6: netip.MustParsePrefix("fd00:99::/64"),
		Loss:         []Loss{{Link: 1, Percent: 30}, {Link: 2, Percent: 100}},
		Silent:       []int{1},
		Blackhole:    []netip.Addr{netip.MustParseAddr("fd00:99::9"), netip.MustParseAddr("198.18.2.2")},
	})
	if err != nil {
		t.Fatal(err)
	}
	script := func(name string) string {
		for i, n := range c.g.nodes {
			if n.name == name {
				return c.g.nftScript(i)
			}
		}
		return "no such node"
	}
	if s := script("src"); s != "" {
		t.Errorf("src needs no rules, got\n%s", s)
	}
	for node, wants := range map[string][]string{
		"r1":  {"hook output", "icmp type { destination-unreachable, time-exceeded, parameter-problem } drop", "icmpv6 type"},
		"r2":  {"hook prerouting", `iifname "to-r1" numgen random mod 100 < 30 drop`, `iifname "to-r1" icmpv6 type { nd-neighbor-solicit`},
		"dst": {`iifname "to-r2" drop`, "ip daddr { 198.18.2.2 } drop", "ip6 daddr { fd00:99::9 } drop"},
	} {
		s := script(node)
		for _, w := range wants {
			if !strings.Contains(s, w) {
				t.Errorf("%s's rules lack %q:\n%s", node, w, s)
			}
		}
	}
	if s := script("r2"); strings.Contains(s, "hook output") {
		t.Errorf("r2 is not silent:\n%s", s)
	}
}

func TestSysctls(t *testing.T) {
	has := func(n *node, key, value string) bool {
		return slices.Contains(n.sysctls(), sysctl{key, value})
	}
	c, err := buildChain(Spec{Routers: 1, Delay: 1, PingGroup: true})
	if err != nil {
		t.Fatal(err)
	}
	src, r1, dst, slow := c.g.nodes[c.src], c.g.nodes[c.routers[0]], c.g.nodes[c.dst], c.g.nodes[c.slow]
	checks := []struct {
		n          *node
		key, value string
		want       bool
	}{
		{r1, "net/ipv4/ip_forward", "1", true},
		{r1, "net/ipv6/conf/all/forwarding", "1", true},
		{r1, "net/ipv4/icmp_ratelimit", "0", true},
		{r1, "net/ipv6/icmp/ratelimit", "0", true},
		{dst, "net/ipv4/icmp_ratelimit", "0", true},
		{dst, "net/ipv4/ip_forward", "1", false},
		{src, "net/ipv4/ping_group_range", "0\t2147483647", true},
		{src, "net/ipv6/conf/default/accept_dad", "0", true},
		{slow, "net/ipv4/icmp_echo_ignore_all", "1", true},
		{slow, "net/ipv6/icmp/echo_ignore_all", "1", true},
	}
	for _, c := range checks {
		if got := has(c.n, c.key, c.value); got != c.want {
			t.Errorf("%s: %s=%q set: %v, want %v", c.n.name, c.key, c.value, got, c.want)
		}
	}
	c, _ = buildChain(Spec{Routers: 1, KeepICMPRateLimit: true})
	if has(c.g.nodes[c.routers[0]], "net/ipv4/icmp_ratelimit", "0") {
		t.Error("KeepICMPRateLimit still turns the rate limit off")
	}
}

func TestScripts(t *testing.T) {
	c, err := buildChain(Spec{Routers: 1})
	if err != nil {
		t.Fatal(err)
	}
	links := c.g.linkScript("t")
	want := "link add to-r1 index 10 netns rn-t-src type veth peer name to-src index 11 netns rn-t-r1\n" +
		"link add to-dst index 12 netns rn-t-r1 type veth peer name to-r1 index 13 netns rn-t-dst\n"
	if links != want {
		t.Errorf("linkScript:\n%s\nwant\n%s", links, want)
	}
	if ns := c.g.namespaceScript("t"); ns != "netns add rn-t-src\nnetns add rn-t-r1\nnetns add rn-t-dst\n" {
		t.Errorf("namespaceScript:\n%s", ns)
	}
	r1 := c.g.nodeScript(c.routers[0], c.g.routes()[c.routers[0]])
	for _, w := range []string{
		"link set lo up\n",
		"addr add 198.18.0.2/24 dev to-src\n",
		"addr add fd00::2/64 dev to-src nodad\n",
		"addr add fe80::2/64 dev to-src nodad\n",
		"addr add fe80::1/64 dev to-dst nodad\n",
		"link set to-dst up\n",
	} {
		if !strings.Contains(r1, w) {
			t.Errorf("r1's script lacks %q:\n%s", w, r1)
		}
	}
}

func diamondChain(t *testing.T, s Spec) *chain {
	t.Helper()
	s.Diamond = true
	c, err := buildChain(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDiamondRoutes(t *testing.T) {
	c := diamondChain(t, Spec{
		Routers:      3,
		LocalPrefix4: netip.MustParsePrefix("198.19.0.0/22"),
		LocalPrefix6: netip.MustParsePrefix("fd00:99::/64"),
	})
	var names []string
	for _, n := range c.g.nodes {
		names = append(names, n.name)
	}
	if want := []string{"src", "r1", "r2a", "r2b", "r3", "dst"}; !slices.Equal(names, want) {
		t.Fatalf("nodes %v, want %v", names, want)
	}
	assertRoutes(t, c.g, "src",
		"route add 198.18.0.0/15 via 198.18.0.2 dev to-r1",
		"route add fd00::/8 via fd00::2 dev to-r1")
	// r1 splits everything behind the diamond over both branches; a
	// branch's own far link is reached through that branch only.
	const (
		viaBoth4  = " nexthop via 198.18.1.2 dev to-r2a nexthop via 198.18.101.2 dev to-r2b"
		viaBoth6  = " nexthop via fd00:0:0:1::2 dev to-r2a nexthop via fd00:0:0:101::2 dev to-r2b"
		backBoth4 = " nexthop via 198.18.2.1 dev to-r2a nexthop via 198.18.102.1 dev to-r2b"
		backBoth6 = " nexthop via fd00:0:0:2::1 dev to-r2a nexthop via fd00:0:0:102::1 dev to-r2b"
	)
	assertRoutes(t, c.g, "r1",
		"route add 198.18.2.0/24 via 198.18.1.2 dev to-r2a",
		"route add fd00:0:0:2::/64 via fd00:0:0:1::2 dev to-r2a",
		"route add 198.18.102.0/24 via 198.18.101.2 dev to-r2b",
		"route add fd00:0:0:102::/64 via fd00:0:0:101::2 dev to-r2b",
		"route add 198.18.3.0/24"+viaBoth4,
		"route add fd00:0:0:3::/64"+viaBoth6,
		"route add 198.19.0.0/22"+viaBoth4,
		"route add fd00:99::/64"+viaBoth6)
	// r3 splits the way back to src's link the same way.
	assertRoutes(t, c.g, "r3",
		"route add 198.18.0.0/24"+backBoth4,
		"route add fd00::/64"+backBoth6,
		"route add 198.18.1.0/24 via 198.18.2.1 dev to-r2a",
		"route add fd00:0:0:1::/64 via fd00:0:0:2::1 dev to-r2a",
		"route add 198.18.101.0/24 via 198.18.102.1 dev to-r2b",
		"route add fd00:0:0:101::/64 via fd00:0:0:102::1 dev to-r2b",
		"route add 198.19.0.0/22 via 198.18.3.2 dev to-dst",
		"route add fd00:99::/64 via fd00:0:0:3::2 dev to-dst")
	for _, b := range []string{"r2a", "r2b"} {
		for _, line := range routeLines(t, c.g, b) {
			if strings.Contains(line, "nexthop") {
				t.Errorf("branch %s has a multipath route: %s", b, line)
			}
		}
	}
	// Only the routers with multipath routes hash on L4: policy 3 with
	// policy 1's fields, for both families.
	for _, n := range c.g.nodes {
		want := n.name == "r1" || n.name == "r3"
		for _, fam := range []string{"ipv4", "ipv6"} {
			policy := slices.Contains(n.sysctls(), sysctl{"net/" + fam + "/fib_multipath_hash_policy", "3"})
			fields := slices.Contains(n.sysctls(), sysctl{"net/" + fam + "/fib_multipath_hash_fields", "0x0037"})
			if policy != want || fields != want {
				t.Errorf("%s: %s L4 hash policy %v, fields %v; want %v", n.name, fam, policy, fields, want)
			}
		}
	}
}

func TestDiamondAddressing(t *testing.T) {
	c := diamondChain(t, Spec{Routers: 4, Delay: time.Millisecond})
	l := newLab("t", Spec{Routers: 4, Diamond: true}, c)
	if got := fmtAddrs(l.DiamondBranches4()); got != "[198.18.1.2 198.18.101.2]" {
		t.Errorf("DiamondBranches4 = %s", got)
	}
	if got := fmtAddrs(l.DiamondBranches6()); got != "[fd00:0:0:1::2 fd00:0:0:101::2]" {
		t.Errorf("DiamondBranches6 = %s", got)
	}
	var routers []string
	for _, r := range l.Routers {
		routers = append(routers, r.Name)
	}
	if fmt.Sprint(routers) != "[r1 r2a r3 r4]" || len(l.Branches) != 2 || l.Branches[1].Name != "r2b" {
		t.Errorf("Routers %v, Branches %+v", routers, l.Branches)
	}
	if got := fmtAddrs(l.HopAddrs4()); got != "[198.18.0.2 198.18.1.2 198.18.2.2 198.18.3.2 198.18.4.2]" {
		t.Errorf("HopAddrs4 = %s", got)
	}
	want4 := "[[198.18.0.2] [198.18.1.2 198.18.101.2] [198.18.2.2 198.18.102.2] [198.18.3.2] [198.18.4.2]]"
	if got := fmt.Sprint(l.Hops4()); got != want4 {
		t.Errorf("Hops4 = %s, want %s", got, want4)
	}
	want6 := "[[fd00::2] [fd00:0:0:1::2 fd00:0:0:101::2] [fd00:0:0:2::2 fd00:0:0:102::2] [fd00:0:0:3::2] [fd00:0:0:4::2]]"
	if got := fmt.Sprint(l.Hops6()); got != want6 {
		t.Errorf("Hops6 = %s, want %s", got, want6)
	}
	// The slow node hangs off the last router, outside the diamond.
	if l.Slow.Ifaces[0].Peer != "r4" {
		t.Errorf("slow attached to %s, want r4", l.Slow.Ifaces[0].Peer)
	}
	for i, hop := range l.Hops4() {
		if hop[0] != l.HopAddrs4()[i] {
			t.Errorf("Hops4()[%d][0] = %s, want HopAddrs4's %s", i, hop[0], l.HopAddrs4()[i])
		}
	}
}

func TestChainHopsAreHopAddrs(t *testing.T) {
	for _, routers := range []int{0, 1, 5} {
		c, err := buildChain(Spec{Routers: routers, Delay: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		l := newLab("t", Spec{Routers: routers}, c)
		for fam, hops := range map[string][][]netip.Addr{"4": l.Hops4(), "6": l.Hops6()} {
			flat := l.HopAddrs4()
			if fam == "6" {
				flat = l.HopAddrs6()
			}
			if len(hops) != len(flat) {
				t.Fatalf("%d routers, IPv%s: Hops %v, HopAddrs %v", routers, fam, hops, flat)
			}
			for i := range hops {
				if len(hops[i]) != 1 || hops[i][0] != flat[i] {
					t.Errorf("%d routers, IPv%s: Hops %v, HopAddrs %v", routers, fam, hops, flat)
				}
			}
		}
		if l.DiamondBranches4() != nil || l.Branches != nil {
			t.Errorf("a chain has diamond branches %v", l.DiamondBranches4())
		}
	}
}

func TestDiamondLossAndSilenceCoverBothBranches(t *testing.T) {
	c := diamondChain(t, Spec{
		Routers:      3,
		Loss:         []Loss{{Link: 1, Percent: 30}, {Link: 2, Percent: 40}, {Link: 3, Percent: 50}},
		Silent:       []int{2},
		Unreachable4: []netip.Prefix{netip.MustParsePrefix("198.19.8.0/24")},
	})
	script := func(name string) string {
		for i, n := range c.g.nodes {
			if n.name == name {
				return c.g.nftScript(i)
			}
		}
		return "no such node"
	}
	for node, wants := range map[string][]string{
		"r2a": {`iifname "to-r1" numgen random mod 100 < 30 drop`, "hook output"},
		"r2b": {`iifname "to-r1" numgen random mod 100 < 30 drop`, "hook output"},
		"r3":  {`iifname "to-r2a" numgen random mod 100 < 40 drop`, `iifname "to-r2b" numgen random mod 100 < 40 drop`},
		"dst": {`iifname "to-r3" numgen random mod 100 < 50 drop`},
	} {
		s := script(node)
		for _, w := range wants {
			if !strings.Contains(s, w) {
				t.Errorf("%s's rules lack %q:\n%s", node, w, s)
			}
		}
	}
	for _, n := range []string{"r1", "r3"} {
		if strings.Contains(script(n), "hook output") {
			t.Errorf("%s is not silent:\n%s", n, script(n))
		}
	}
	// The last router, r3, owns the unreachable prefix.
	if r3 := routeLines(t, c.g, "r3"); !slices.Contains(r3, "route add unreachable 198.19.8.0/24") {
		t.Errorf("r3 lacks the unreachable route:\n%s", strings.Join(r3, "\n"))
	}
}

func TestDiamondNeedsThreeRouters(t *testing.T) {
	for _, routers := range []int{0, 2} {
		_, err := buildChain(Spec{Routers: routers, Diamond: true})
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "3 routers") {
			t.Errorf("diamond with %d routers: %v, want ErrInvalidSpec naming 3 routers", routers, err)
		}
	}
	if _, err := buildChain(Spec{Routers: MaxRouters, Diamond: true, Delay: 1}); err != nil {
		t.Errorf("largest diamond: %v", err)
	}
}

// TestVantageRoutes: vantages reach the lab through r1 as src does, and
// routers and dst route back to them; the monitor's management links are
// reached only from their two ends (no node routes to them, mon routes
// nowhere), so scrapes never cross the links under test.
func TestVantageRoutes(t *testing.T) {
	c, err := buildChain(Spec{Routers: 2, Vantages: 2, Monitor: true})
	if err != nil {
		t.Fatal(err)
	}
	assertRoutes(t, c.g, "src",
		"route add 198.18.0.0/15 via 198.18.0.2 dev to-r1",
		"route add fd00::/8 via fd00::2 dev to-r1")
	assertRoutes(t, c.g, "v2",
		"route add 198.18.0.0/15 via 198.18.202.1 dev to-r1",
		"route add fd00::/8 via fd00:0:0:202::1 dev to-r1")
	assertRoutes(t, c.g, "mon")
	assertRoutes(t, c.g, "r1",
		"route add 198.18.2.0/24 via 198.18.1.2 dev to-r2",
		"route add fd00:0:0:2::/64 via fd00:0:0:1::2 dev to-r2")
	assertRoutes(t, c.g, "dst",
		"route add 198.18.0.0/24 via 198.18.2.1 dev to-r2",
		"route add fd00::/64 via fd00:0:0:2::1 dev to-r2",
		"route add 198.18.1.0/24 via 198.18.2.1 dev to-r2",
		"route add fd00:0:0:1::/64 via fd00:0:0:2::1 dev to-r2",
		"route add 198.18.201.0/24 via 198.18.2.1 dev to-r2",
		"route add fd00:0:0:201::/64 via fd00:0:0:2::1 dev to-r2",
		"route add 198.18.202.0/24 via 198.18.2.1 dev to-r2",
		"route add fd00:0:0:202::/64 via fd00:0:0:2::1 dev to-r2")
	l := newLab("t", Spec{}, c)
	if len(l.Vantages) != 2 || l.Vantages[1].Name != "v2" || l.Mon == nil {
		t.Fatalf("vantages %v, mon %v", l.Vantages, l.Mon)
	}
	if got := l.Vantages[1].Addr4.String(); got != "198.18.202.2" {
		t.Errorf("v2's address = %s, want 198.18.202.2 (its link to r1)", got)
	}
	for i, n := range []*Node{l.Src, l.Vantages[0], l.Vantages[1]} {
		ifc, ok := n.Iface("mon")
		if want := fmt.Sprintf("198.18.%d.2/24", 240+i); !ok || ifc.Addr4.String() != want {
			t.Errorf("%s's management address = %v, want %s", n.Name, ifc.Addr4, want)
		}
	}
	for name, spec := range map[string]Spec{
		"vantages without routers": {Vantages: 1},
		"too many vantages":        {Routers: 1, Vantages: MaxVantages + 1},
	} {
		if _, err := buildChain(spec); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%s: buildChain: %v, want ErrInvalidSpec", name, err)
		}
	}
}
