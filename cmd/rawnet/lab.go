package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/internal/lab"
)

// labCommand builds, lists and removes lab networks: chains of network
// namespaces to try rawnet on without touching any real network.
func labCommand() *cli.Command {
	subs := []*cli.Command{labUpCommand(), labDownCommand(), labListCommand(), labResponderCommand()}
	for _, s := range subs {
		s.OnUsageError = onUsageError
	}
	return &cli.Command{
		Name:        "lab",
		Usage:       "throwaway lab networks in network namespaces",
		Subcommands: subs,
	}
}

func labUpCommand() *cli.Command {
	return &cli.Command{
		Name:  "up",
		Usage: "build a lab and print how to use it",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "lab name, 1-12 of a-z and 0-9 (default: random)"},
			&cli.IntFlag{Name: "routers", Value: 3, Usage: "routers between src and dst (0-50)"},
			&cli.BoolFlag{Name: "diamond", Usage: "double router 2 into parallel routers r2a and r2b: ECMP hashed on L4 ports (needs --routers >= 3)"},
			&cli.StringSliceFlag{Name: "loss", Usage: "drop `LINK:PCT` percent of packets crossing link LINK toward dst (repeatable)"},
			&cli.IntSliceFlag{Name: "silent", Usage: "router `I` (1-based) sends no ICMP errors (repeatable)"},
			&cli.DurationFlag{Name: "delay", Usage: "add node slow (198.18.100.2) behind the last router, answering pings after `DUR`"},
			&cli.StringFlag{Name: "prefix4", Value: "198.19.0.0/22", Usage: "IPv4 `PREFIX` dst answers for entirely (\"none\" for none)"},
			&cli.StringFlag{Name: "prefix6", Value: "fd00:99::/64", Usage: "IPv6 `PREFIX` dst answers for entirely (\"none\" for none)"},
			&cli.StringSliceFlag{Name: "unreachable", Usage: "`PREFIX` the last router rejects with ICMP unreachable (repeatable)"},
			&cli.StringSliceFlag{Name: "blackhole", Usage: "`ADDR` of dst whose packets vanish (repeatable)"},
			&cli.IntFlag{Name: "vantages", Usage: "add `N` more vantage hosts v1..vN (0-8), each on its own link to r1 (198.18.20i.0/24)"},
			&cli.BoolFlag{Name: "monitor", Usage: "add host mon with a management link to src and each vantage (198.18.24i.0/24), e.g. for a Prometheus"},
			&cli.BoolFlag{Name: "ping-group", Usage: "allow unprivileged ICMP (ping) sockets in src"},
			&cli.BoolFlag{Name: "keep-icmp-ratelimit", Usage: "keep the kernel's ICMP rate limits in routers and dst"},
		},
		Action: labUp,
	}
}

func labUp(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usageErrorf("lab up takes no arguments, got %q", c.Args().First())
	}
	spec, err := labSpec(c)
	if err != nil {
		return err
	}
	name := c.String("name")
	l, err := lab.Up(c.Context, name, spec)
	if errors.Is(err, lab.ErrInvalidSpec) {
		return usageErrorf("lab up: %v", strings.TrimPrefix(err.Error(), lab.ErrInvalidSpec.Error()+": "))
	}
	if err != nil {
		return err
	}
	w := bufio.NewWriter(c.App.Writer)
	printLab(w, l)
	return flushOutput(w) // the lab stays up: lab down removes it
}

// labSpec turns the flags of lab up into a Spec, naming the flag at fault.
func labSpec(c *cli.Context) (lab.Spec, error) {
	spec := lab.Spec{
		Routers:           c.Int("routers"),
		Diamond:           c.Bool("diamond"),
		Silent:            c.IntSlice("silent"),
		Delay:             c.Duration("delay"),
		Vantages:          c.Int("vantages"),
		Monitor:           c.Bool("monitor"),
		PingGroup:         c.Bool("ping-group"),
		KeepICMPRateLimit: c.Bool("keep-icmp-ratelimit"),
	}
	if spec.Routers < 0 || spec.Routers > lab.MaxRouters {
		return spec, usageErrorf("--routers must be 0..%d, got %d", lab.MaxRouters, spec.Routers)
	}
	if spec.Diamond && spec.Routers < 3 {
		return spec, usageErrorf("--diamond doubles router 2 between r1 and r3: it needs --routers >= 3, got %d", spec.Routers)
	}
	if name := c.String("name"); c.IsSet("name") && !lab.ValidName(name) {
		return spec, usageErrorf("--name must be 1-12 of a-z and 0-9, got %q", name)
	}
	for _, s := range c.StringSlice("loss") {
		l, err := parseLoss(s, spec.Routers)
		if err != nil {
			return spec, err
		}
		spec.Loss = append(spec.Loss, l)
	}
	for _, r := range spec.Silent {
		if r < 1 || r > spec.Routers {
			return spec, usageErrorf("--silent must name a router 1..%d, got %d", spec.Routers, r)
		}
	}
	if spec.Delay < 0 {
		return spec, usageErrorf("--delay must not be negative, got %s", spec.Delay)
	}
	if spec.Vantages < 0 || spec.Vantages > lab.MaxVantages {
		return spec, usageErrorf("--vantages must be 0..%d, got %d", lab.MaxVantages, spec.Vantages)
	}
	if spec.Vantages > 0 && spec.Routers < 1 {
		return spec, usageErrorf("--vantages attach to r1: they need --routers >= 1")
	}
	var err error
	if spec.LocalPrefix4, err = parseLabPrefix("prefix4", c.String("prefix4"), 4); err != nil {
		return spec, err
	}
	if spec.LocalPrefix6, err = parseLabPrefix("prefix6", c.String("prefix6"), 6); err != nil {
		return spec, err
	}
	for _, s := range c.StringSlice("unreachable") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return spec, usageErrorf("--unreachable wants a prefix such as 198.19.8.0/24, got %q", s)
		}
		if err := inLab("--unreachable", p); err != nil {
			return spec, err
		}
		if spec.Routers == 0 {
			return spec, usageErrorf("--unreachable needs at least one router (--routers)")
		}
		if p.Addr().Is4() {
			spec.Unreachable4 = append(spec.Unreachable4, p)
		} else {
			spec.Unreachable6 = append(spec.Unreachable6, p)
		}
	}
	for _, s := range c.StringSlice("blackhole") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return spec, usageErrorf("--blackhole wants an address, got %q", s)
		}
		if err := inLab("--blackhole", netip.PrefixFrom(a, a.BitLen())); err != nil {
			return spec, err
		}
		spec.Blackhole = append(spec.Blackhole, a)
	}
	if spec.Delay > 0 {
		self, err := os.Executable()
		if err != nil {
			return spec, fmt.Errorf("lab up: cannot find the rawnet binary to run the responder: %w", err)
		}
		spec.DetachedResponder = func(ns string, d time.Duration) *exec.Cmd {
			return exec.Command(self, "lab", "responder", "--netns", ns, "--delay", d.String())
		}
	}
	return spec, nil
}

func parseLoss(s string, routers int) (lab.Loss, error) {
	ls, ps, ok := strings.Cut(s, ":")
	link, err1 := strconv.Atoi(ls)
	pct, err2 := strconv.Atoi(strings.TrimSuffix(ps, "%"))
	if !ok || err1 != nil || err2 != nil {
		return lab.Loss{}, usageErrorf("--loss wants LINK:PERCENT such as 1:20, got %q", s)
	}
	if link < 0 || link > routers {
		return lab.Loss{}, usageErrorf("--loss link must be 0..%d (link k joins node k and k+1, src is 0), got %d", routers, link)
	}
	if pct < 0 || pct > 100 {
		return lab.Loss{}, usageErrorf("--loss percent must be 0..100, got %d", pct)
	}
	return lab.Loss{Link: link, Percent: pct}, nil
}

func parseLabPrefix(flag, s string, family int) (netip.Prefix, error) {
	if s == "" || s == "none" {
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Is4() != (family == 4) {
		return p, usageErrorf("--%s wants an IPv%d prefix or \"none\", got %q", flag, family, s)
	}
	return p, inLab("--"+flag, p)
}

// inLab refuses prefixes outside the lab's address space, naming the flag.
func inLab(flag string, p netip.Prefix) error {
	if !(lab.LabNet4.Contains(p.Addr()) && p.Bits() >= lab.LabNet4.Bits()) &&
		!(lab.LabNet6.Contains(p.Addr()) && p.Bits() >= lab.LabNet6.Bits()) {
		return usageErrorf("%s %s is outside the lab's address space (%s, %s)", flag, p, lab.LabNet4, lab.LabNet6)
	}
	return nil
}

// printLab shows the nodes of l, where things are, and how to use it.
func printLab(w io.Writer, l *lab.Lab) {
	spec := l.Spec()
	fmt.Fprintf(w, "lab %s is up: src, %d router(s), dst", l.Name, len(l.Routers))
	if len(l.Branches) > 0 {
		fmt.Fprintf(w, ", router 2 doubled into %s and %s (ECMP)", l.Branches[0].Name, l.Branches[1].Name)
	}
	if l.Slow != nil {
		fmt.Fprintf(w, ", slow (answers after %s)", spec.Delay)
	}
	if len(l.Vantages) > 0 {
		fmt.Fprintf(w, ", %d more vantage(s) on r1", len(l.Vantages))
	}
	if l.Mon != nil {
		fmt.Fprint(w, ", mon (management links)")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tNAMESPACE\tINTERFACE\tIPv4\tIPv6")
	for _, n := range l.Nodes {
		for i, ifc := range n.Ifaces {
			node, ns := n.Name, n.NS
			if i > 0 {
				node, ns = "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s -> %s\t%s\t%s\n", node, ns, ifc.Name, ifc.Peer, ifc.Addr4, ifc.Addr6)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintf(w, "hops from src:   %s\n", joinHops(l.Hops4()))
	fmt.Fprintf(w, "                 %s\n", joinHops(l.Hops6()))
	for _, p := range []netip.Prefix{spec.LocalPrefix4, spec.LocalPrefix6} {
		if p.IsValid() {
			fmt.Fprintf(w, "dst answers:     every address in %s\n", p)
		}
	}
	for _, ls := range spec.Loss {
		fmt.Fprintf(w, "loss:            %d%% toward dst on link %d (%s -> %s)\n",
			ls.Percent, ls.Link, chainNode(l, ls.Link), chainNode(l, ls.Link+1))
	}
	for _, r := range spec.Silent {
		fmt.Fprintf(w, "silent:          %s sends no ICMP errors\n", chainNode(l, r))
	}
	for _, p := range append(append([]netip.Prefix{}, spec.Unreachable4...), spec.Unreachable6...) {
		fmt.Fprintf(w, "unreachable:     %s, rejected by the last router\n", p)
	}
	for _, a := range spec.Blackhole {
		fmt.Fprintf(w, "blackhole:       %s never answers\n", a)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "try:")
	fmt.Fprintf(w, "  ip netns exec %s rawnet ping %s\n", l.Src.NS, l.Dst.Addr4)
	fmt.Fprintf(w, "  ip netns exec %s rawnet ping %s\n", l.Src.NS, l.Dst.Addr6)
	if p := spec.LocalPrefix4; p.IsValid() {
		fmt.Fprintf(w, "  ip netns exec %s ping -c 3 %s\n", l.Src.NS, p.Addr().Next())
	}
	if l.Slow != nil {
		fmt.Fprintf(w, "  ip netns exec %s ping -c 3 %s\n", l.Src.NS, l.Slow.Addr4)
	}
	if len(l.Routers) > 0 {
		r := l.Routers[0]
		fmt.Fprintf(w, "  ip netns exec %s tcpdump -ni %s\n", r.NS, r.Ifaces[0].Name)
	}
	fmt.Fprintf(w, "remove it:\n  rawnet lab down %s\n", l.Name)
}

// chainNode names chain node k of l (0 is src): "r2a|r2b" for a diamond's
// doubled router.
func chainNode(l *lab.Lab, k int) string {
	switch {
	case k == 0:
		return l.Src.Name
	case k > len(l.Routers):
		return l.Dst.Name
	case k == 2 && len(l.Branches) == 2:
		return l.Branches[0].Name + "|" + l.Branches[1].Name
	}
	return l.Routers[k-1].Name
}

// joinHops shows one hop per TTL, the addresses that may answer there
// joined by "|" (a diamond's branches).
func joinHops(hops [][]netip.Addr) string {
	s := make([]string, len(hops))
	for i, as := range hops {
		s[i] = strings.ReplaceAll(joinAddrs(as), " ", "|")
	}
	return strings.Join(s, " ")
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}

func labDownCommand() *cli.Command {
	return &cli.Command{
		Name:      "down",
		Usage:     "remove labs, with their namespaces and responders",
		ArgsUsage: "NAME... | --all",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "all", Usage: "remove every lab"}},
		Action:    labDown,
	}
}

func labDown(c *cli.Context) error {
	names := c.Args().Slice()
	switch {
	case c.Bool("all") && len(names) > 0:
		return usageErrorf("lab down takes lab names or --all, not both")
	case c.Bool("all"):
		var err error
		if names, err = lab.List(); err != nil {
			return err
		}
	case len(names) == 0:
		return usageErrorf("lab down needs a lab name or --all (see rawnet lab list)")
	}
	var failed []string // one line in all, however many names failed
	w := bufio.NewWriter(c.App.Writer)
	for _, name := range names {
		if !lab.ValidName(name) {
			failed = append(failed, fmt.Sprintf("lab name must be 1-12 of a-z and 0-9, got %q", name))
			continue
		}
		if err := lab.Down(name); err != nil {
			failed = append(failed, err.Error())
			continue
		}
		fmt.Fprintf(w, "removed lab %s\n", name)
	}
	if err := flushOutput(w); err != nil {
		return err
	}
	if len(failed) > 0 {
		return usageErrorf("%s", strings.Join(failed, "; "))
	}
	return nil
}

func labListCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "print the names of the labs on this machine, one a line",
		Action: func(c *cli.Context) error {
			names, err := lab.List()
			if err != nil {
				return err
			}
			w := bufio.NewWriter(c.App.Writer)
			for _, n := range names {
				fmt.Fprintln(w, n)
			}
			return flushOutput(w)
		},
	}
}

// labResponderCommand is what lab up starts, detached, to answer pings in
// the slow node after the delay; lab down stops it.
func labResponderCommand() *cli.Command {
	return &cli.Command{
		Name:   "responder",
		Usage:  "answer echo requests in a namespace after a delay (started by lab up)",
		Hidden: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "netns", Required: true, Usage: "network namespace `NAME` (as in ip netns)"},
			&cli.DurationFlag{Name: "delay", Required: true, Usage: "reply delay"},
		},
		Action: func(c *cli.Context) error {
			node := &lab.Node{NS: c.String("netns")}
			var r *lab.Responder
			err := node.Do(func() (err error) {
				r, err = lab.ListenResponder(c.Duration("delay"))
				return err
			})
			if err != nil {
				return err
			}
			defer r.Close()
			fmt.Fprintln(c.App.Writer, "ready")
			return r.Serve(c.Context)
		},
	}
}
