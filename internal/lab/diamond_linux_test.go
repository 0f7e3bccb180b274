package lab_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// These tests check the ECMP diamond src - r1 - {r2a, r2b} - r3 - dst with
// the kernel as the observer: ip route for the routes, /proc/sys for the
// hash policy, iputils ping for who answers at each TTL, and nftables
// counters in r2a and r2b for which branch each UDP flow took.

// counterTable holds, in each branch router, one counter per destination
// port of the test's flows: the UDP datagrams it forwarded to that port.
const counterTable = "rawnet_test"

// flowPorts are the destination ports of the test's flows, one per family
// and kind of flow, so that each has its own counter.
var flowPorts = map[string]struct{ spread, fixed int }{
	"4": {7041, 7042},
	"6": {7061, 7062},
}

// socketsPort is the destination port of the one flow sent from many
// connected sockets (plus the family's number: 7104, 7106).
const socketsPort = 7100

const (
	spreadFlows = 64 // flows with distinct source ports
	fixedSends  = 20 // datagrams of one fixed 5-tuple
	// spreadFloor is the least each branch must carry of the 64 flows:
	// for a fair hash, P(Binomial(64, 1/2) < 8) < 1e-10.
	spreadFloor = 8
)

func diamondSpec() lab.Spec {
	return lab.Spec{Routers: 3, Diamond: true, LocalPrefix4: prefix4, LocalPrefix6: prefix6}
}

// run runs a command (from the root namespace) and returns its output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

var nexthopRE = regexp.MustCompile(`nexthop via (\S+) dev (\S+)`)

// nexthops returns the gateways of node n's route to p, as ip route shows it.
func nexthops(t *testing.T, n *lab.Node, p netip.Prefix) []string {
	t.Helper()
	fam := "-4"
	if p.Addr().Is6() {
		fam = "-6"
	}
	out := run(t, "ip", "-n", n.NS, fam, "route", "show", p.String())
	var gws []string
	for _, m := range nexthopRE.FindAllStringSubmatch(out, -1) {
		gws = append(gws, m[1])
	}
	slices.Sort(gws)
	return gws
}

func sortedStrings(as ...netip.Addr) []string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	slices.Sort(s)
	return s
}

func TestDiamondRoutesAreMultipath(t *testing.T) {
	l := labtest.Up(t, diamondSpec())
	r1, r3 := l.Routers[0], l.Routers[2]
	r2a, r2b := l.Branches[0], l.Branches[1]
	back := func(b *lab.Node, is4 bool) netip.Addr { // b's address toward r3
		for _, ifc := range b.Ifaces {
			if ifc.Peer == "r3" && is4 {
				return ifc.Addr4.Addr()
			}
			if ifc.Peer == "r3" {
				return ifc.Addr6.Addr()
			}
		}
		t.Fatalf("%s has no link to r3", b.Name)
		return netip.Addr{}
	}
	cases := []struct {
		node *lab.Node
		dst  netip.Prefix
		want []string
	}{
		{r1, netip.MustParsePrefix("198.18.3.0/24"), sortedStrings(l.DiamondBranches4()...)},
		{r1, netip.MustParsePrefix("fd00:0:0:3::/64"), sortedStrings(l.DiamondBranches6()...)},
		{r1, prefix4, sortedStrings(l.DiamondBranches4()...)},
		{r1, prefix6, sortedStrings(l.DiamondBranches6()...)},
		{r3, netip.MustParsePrefix("198.18.0.0/24"), sortedStrings(back(r2a, true), back(r2b, true))},
		{r3, netip.MustParsePrefix("fd00::/64"), sortedStrings(back(r2a, false), back(r2b, false))},
	}
	for _, c := range cases {
		if got := nexthops(t, c.node, c.dst); !slices.Equal(got, c.want) {
			t.Errorf("%s's route to %s has next hops %v, want %v", c.node.Name, c.dst, got, c.want)
		}
	}
	for _, n := range []*lab.Node{r1, r2a, r3} {
		want := "0\n" // the kernel's default: addresses only
		if n == r1 || n == r3 {
			want = "3\n" // custom fields: the packet's 5-tuple
		}
		for _, fam := range []string{"ipv4", "ipv6"} {
			var got []byte
			err := n.Do(func() (err error) {
				got, err = os.ReadFile("/proc/sys/net/" + fam + "/fib_multipath_hash_policy")
				return err
			})
			if err != nil || string(got) != want {
				t.Errorf("%s: %s fib_multipath_hash_policy = %q (%v), want %q", n.Name, fam, got, err, want)
			}
		}
	}
}

// TestDiamondHopsAnswer checks Hops4 and Hops6 against the kernel: ICMP
// echo requests with TTL 2 and 3 draw time exceeded from the addresses
// listed for those hops.
func TestDiamondHopsAnswer(t *testing.T) {
	l := labtest.Up(t, diamondSpec())
	for _, fam := range []string{"4", "6"} {
		hops, dst := l.Hops4(), l.Dst.Addr4
		if fam == "6" {
			hops, dst = l.Hops6(), l.Dst.Addr6
		}
		for ttl := 1; ttl <= 3; ttl++ {
			t.Run(fmt.Sprintf("v%s/ttl%d", fam, ttl), func(t *testing.T) {
				t.Parallel()
				out := ping(t, l.Src, "-"+fam, "-c", "1", "-W", "1", "-t", strconv.Itoa(ttl), dst.String())
				from := fromRE.FindStringSubmatch(out)
				if from == nil {
					t.Fatalf("no time exceeded at TTL %d:\n%s", ttl, out)
				}
				t.Logf("TTL %d: from %s", ttl, from[1])
				if !slices.Contains(sortedStrings(hops[ttl-1]...), from[1]) {
					t.Errorf("TTL %d answered from %s, want one of %v:\n%s", ttl, from[1], hops[ttl-1], out)
				}
			})
		}
	}
}

var fromRE = regexp.MustCompile(`From (\S+) icmp_seq=1 Time`)

// TestDiamondSpreadsFlowsOverBothBranches sends UDP from src to dst: 64
// flows with distinct source ports must use both branches, and one fixed
// 5-tuple sent 20 times exactly one, both from one socket and from 20
// connected sockets in turn (each with its own random socket hash, which
// fib_multipath_hash_policy=1 would use instead of the 5-tuple). The nftables counters in r2a and r2b
// say which branch carried what.
func TestDiamondSpreadsFlowsOverBothBranches(t *testing.T) {
	l := labtest.Up(t, diamondSpec())
	for _, b := range l.Branches {
		addCounters(t, b)
	}
	for _, fam := range []string{"4", "6"} {
		t.Run("v"+fam, func(t *testing.T) {
			t.Parallel()
			src, dst := l.Src.Addr4, l.Dst.Addr4
			if fam == "6" {
				src, dst = l.Src.Addr6, l.Dst.Addr6
			}
			ports := flowPorts[fam]

			// 64 flows, source ports 40000..40063, one datagram each.
			sink := listenUDP(t, l.Dst, ports.spread)
			send(t, l.Src, func() error {
				for i := range spreadFlows {
					if err := sendUDP(src, 40000+i, dst, ports.spread, 1); err != nil {
						return err
					}
				}
				return nil
			})
			sink.await(t, spreadFlows)
			a, b := forwarded(t, l.Branches[0], ports.spread), forwarded(t, l.Branches[1], ports.spread)
			t.Logf("IPv%s: %d flows: r2a forwarded %d, r2b %d", fam, spreadFlows, a, b)
			if a+b != spreadFlows || a < spreadFloor || b < spreadFloor {
				t.Errorf("IPv%s: of %d flows r2a forwarded %d and r2b %d: want all forwarded, at least %d by each",
					fam, spreadFlows, a, b, spreadFloor)
			}

			// One 5-tuple, 20 datagrams from one socket.
			sink = listenUDP(t, l.Dst, ports.fixed)
			send(t, l.Src, func() error { return sendUDP(src, 50000, dst, ports.fixed, fixedSends) })
			sink.await(t, fixedSends)
			assertOneBranch(t, l, "one flow from one socket", ports.fixed)

			// The same 5-tuple from 20 connected sockets, one after another.
			port := socketsPort + int(fam[0]-'0')
			sink = listenUDP(t, l.Dst, port)
			send(t, l.Src, func() error {
				for range fixedSends {
					if err := sendConnected(src, 50001, dst, port); err != nil {
						return err
					}
				}
				return nil
			})
			sink.await(t, fixedSends)
			assertOneBranch(t, l, "one flow from 20 connected sockets", port)
		})
	}
}

// assertOneBranch checks that all fixedSends datagrams to port crossed
// one branch.
func assertOneBranch(t *testing.T, l *lab.Lab, what string, port int) {
	t.Helper()
	a, b := forwarded(t, l.Branches[0], port), forwarded(t, l.Branches[1], port)
	if !(a == fixedSends && b == 0 || a == 0 && b == fixedSends) {
		t.Errorf("%s, %d datagrams to port %d: r2a forwarded %d, r2b %d; want all on one branch",
			what, fixedSends, port, a, b)
	}
}

// addCounters installs a named counter per test port in node n, counting
// the UDP datagrams it forwards to that port.
func addCounters(t *testing.T, n *lab.Node) {
	t.Helper()
	var counters, rules strings.Builder
	ports := []int{socketsPort + 4, socketsPort + 6}
	for _, ps := range flowPorts {
		ports = append(ports, ps.spread, ps.fixed)
	}
	for _, p := range ports {
		fmt.Fprintf(&counters, "\tcounter p%d {}\n", p)
		fmt.Fprintf(&rules, "\t\tudp dport %d counter name p%d\n", p, p)
	}
	script := fmt.Sprintf("table inet %s {\n%s\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n%s\t}\n}\n",
		counterTable, counters.String(), rules.String())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cmd := n.Command(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in %s: %v\n%s\n%s", n.Name, err, out, script)
	}
}

var packetsRE = regexp.MustCompile(`packets (\d+) bytes`)

// forwarded returns how many datagrams to port node n has forwarded.
func forwarded(t *testing.T, n *lab.Node, port int) int {
	t.Helper()
	out := run(t, "ip", "netns", "exec", n.NS, "nft", "list", "counter", "inet", counterTable, "p"+strconv.Itoa(port))
	m := packetsRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no packet count in:\n%s", out)
	}
	c, _ := strconv.Atoi(m[1])
	return c
}

// send runs fn in n, where the sockets it opens live.
func send(t *testing.T, n *lab.Node, fn func() error) {
	t.Helper()
	if err := n.Do(fn); err != nil {
		t.Fatalf("send from %s: %v", n.Name, err)
	}
}

// sendUDP sends count datagrams from one unconnected socket bound to
// src:sport to dst:dport.
func sendUDP(src netip.Addr, sport int, dst netip.Addr, dport, count int) error {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, uint16(sport))))
	if err != nil {
		return err
	}
	defer c.Close()
	to := netip.AddrPortFrom(dst, uint16(dport))
	for range count {
		if _, err := c.WriteToUDPAddrPort([]byte("rawnet diamond"), to); err != nil {
			return err
		}
	}
	return nil
}

// sendConnected sends one datagram from a new socket bound to src:sport
// and connected to dst:dport (which gives it a random flow hash). The
// sockets set SO_REUSEADDR, so that the next one can bind the same port
// however soon the kernel releases the last.
func sendConnected(src netip.Addr, sport int, dst netip.Addr, dport int) error {
	d := net.Dialer{
		LocalAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, uint16(sport))),
		Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			})
			return errors.Join(err, serr)
		},
	}
	c, err := d.Dial("udp", netip.AddrPortFrom(dst, uint16(dport)).String())
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte("rawnet diamond"))
	return err
}

// A udpSink receives the test's datagrams in dst, so that the test knows
// when all have crossed the diamond.
type udpSink struct{ c *net.UDPConn }

func listenUDP(t *testing.T, n *lab.Node, port int) udpSink {
	t.Helper()
	var c *net.UDPConn
	err := n.Do(func() (err error) {
		c, err = net.ListenUDP("udp", &net.UDPAddr{Port: port})
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", n.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return udpSink{c}
}

// await reads until n datagrams have arrived, for at most 5 seconds.
func (s udpSink) await(t *testing.T, n int) {
	t.Helper()
	s.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	for got := 0; got < n; got++ {
		if _, _, err := s.c.ReadFromUDPAddrPort(buf); err != nil {
			t.Fatalf("received %d of %d datagrams: %v", got, n, err)
		}
	}
}
