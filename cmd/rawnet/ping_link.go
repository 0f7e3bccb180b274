package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/icmp"
	"github.com/rawnet/rawnet/internal/arp"
	"github.com/rawnet/rawnet/internal/priv"
	"github.com/rawnet/rawnet/internal/rawsock"
	"github.com/rawnet/rawnet/internal/target"
)

// linkPing is what ping -P arp and -P ndp add to ping: the link-layer
// conn on one interface, the mode (request, --dad, -U), and the MACs
// each target answered from, so that a second MAC is flagged.
type linkPing struct {
	proto string // "arp" or "ndp"
	mode  icmp.LinkMode
	conn  *icmp.LinkConn
	macs  map[int][]arp.MAC // distinct MACs per target index, in order seen
}

// icmpOnlyFlags are ping flags that shape an IP packet, which the
// link-layer kinds do not send.
var icmpOnlyFlags = []string{"s", "t", "Q", "p", "pattern", "port", "M", "b", "socket", "id"}

// linkFlags reads -P, --dad and -U. It returns nil for ICMP echo.
func linkFlags(c *cli.Context, o *pingOptions) (*linkPing, error) {
	proto := c.String("P")
	switch proto {
	case "arp", "ndp":
	default: // kindFlags took -P
		for _, f := range []string{"dad", "U"} {
			if c.IsSet(f) {
				return nil, usageErrorf("%s: needs -P arp or -P ndp", flagName(f))
			}
		}
		return nil, nil
	}
	for _, f := range icmpOnlyFlags {
		if c.IsSet(f) {
			return nil, usageErrorf("%s: not used by -P %s (it sends no IP packet of its own)", flagName(f), proto)
		}
	}
	lp := &linkPing{proto: proto, macs: map[int][]arp.MAC{}}
	switch {
	case c.Bool("dad") && c.Bool("U"):
		return nil, usageErrorf("--dad and -U exclude each other")
	case c.Bool("dad"):
		lp.mode = icmp.LinkDAD
	case c.Bool("U"):
		lp.mode = icmp.LinkUnsolicited
	}
	if s := c.String("I"); s != "" {
		if _, err := netip.ParseAddr(s); err == nil {
			return nil, usageErrorf("-I %s: -P %s needs an interface name, not an address", s, proto)
		}
	}
	return lp, nil
}

// family is the address family names resolve to for the kind.
func (lp *linkPing) family() target.Family {
	if lp.proto == "arp" {
		return target.V4
	}
	return target.V6
}

// open checks the targets against the kind and opens the conn on -I's
// interface or, without -I, the interface of the first target's route.
func (lp *linkPing) open(o *pingOptions, targets []target.Target) error {
	flag := "-P " + lp.proto
	for _, t := range targets {
		if lp.proto == "arp" && !t.Addr.Is4() {
			return usageErrorf("%s: %s is an IPv6 address; ARP is IPv4 only (use -P ndp)", flag, t.Addr)
		}
		if lp.proto == "ndp" && t.Addr.Is4() {
			return usageErrorf("%s: %s is an IPv4 address; neighbour discovery is IPv6 only (use -P arp)", flag, t.Addr)
		}
	}
	iface := o.listen.Interface
	if iface == "" {
		var err error
		if iface, err = routeInterface(targets[0].Addr); err != nil {
			return usageErrorf("%s: no usable interface for %s (%v); give -I IFACE", flag, targets[0].Addr, err)
		}
	}
	conn, err := icmp.ListenLink(iface, lp.proto == "ndp", o.cfg.Flood)
	switch {
	case errors.Is(err, rawsock.ErrNoInterface):
		return usageErrorf("%s: -I %s is not an Ethernet interface (ARP and NDP need one)", flag, iface)
	case err != nil && isNoSuchInterface(err):
		return usageErrorf("%s: -I %s: no such interface", flag, iface)
	case err != nil:
		return priv.Hint(err)
	}
	for _, t := range targets {
		if !conn.OnLink(t.Addr) {
			conn.Close()
			return usageErrorf("%s: %s is not on the link of %s (the local link only; give -I IFACE)", flag, t.Addr, iface)
		}
		if lp.mode == icmp.LinkUnsolicited && !conn.Owns(t.Addr) {
			conn.Close()
			return usageErrorf("-U: %s is not an address of %s (an unsolicited announcement announces this host's own address)", t.Addr, iface)
		}
	}
	lp.conn = conn
	mac := conn.HardwareAddr()
	if lp.proto == "arp" {
		o.cfg.Kind = icmp.NewARP(mac, lp.mode)
	} else {
		o.cfg.Kind = icmp.NewNDP(mac, lp.mode)
	}
	o.cfg.Conns = []icmp.Conn{conn}
	if lp.mode == icmp.LinkUnsolicited && o.cfg.Timeout == 0 {
		o.cfg.Timeout = 1 // nothing answers an announcement: wait for nothing
	}
	return nil
}

func isNoSuchInterface(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) || strings.Contains(err.Error(), "no such network interface")
}

// routeInterface is the interface of the route to dst: its zone for a
// link-local address, else the interface holding the route's source.
func routeInterface(dst netip.Addr) (string, error) {
	if z := dst.Zone(); z != "" {
		return z, nil
	}
	src, err := rawsock.SourceFor(dst, "")
	if err != nil {
		return "", err
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, ifc := range ifs {
		as, _ := ifc.Addrs()
		for _, a := range as {
			if n, ok := a.(*net.IPNet); ok {
				if ip, _ := netip.AddrFromSlice(n.IP); ip.Unmap() == src.WithZone("") {
					return ifc.Name, nil
				}
			}
		}
	}
	return "", fmt.Errorf("no interface holds the route's source %s", src)
}

// seqName is what reply lines call the sequence.
func (lp *linkPing) seqName() string { return lp.proto + "_seq" }

// header is the first line: arping's "ARPING addr from src iface".
func (lp *linkPing) header(targets []target.Target) string {
	ifc := lp.conn.Interface().Name
	what := map[icmp.LinkMode]string{icmp.LinkRequest: "", icmp.LinkDAD: " (duplicate address detection)", icmp.LinkUnsolicited: " (unsolicited)"}[lp.mode]
	name := map[string]string{"arp": "ARPING", "ndp": "NDPING"}[lp.proto]
	if len(targets) > 1 {
		return fmt.Sprintf("%s %d targets on %s%s", name, len(targets), ifc, what)
	}
	src, _ := lp.conn.Source(targets[0].Addr)
	if lp.mode == icmp.LinkDAD {
		src = netip.IPv4Unspecified()
		if lp.proto == "ndp" {
			src = netip.IPv6Unspecified()
		}
	}
	return fmt.Sprintf("%s %s from %s %s%s", name, targets[0].Addr, src.WithZone(""), ifc, what)
}

// note records the MAC of a reply; other is true when the target
// answered from another MAC before (first is that one).
func (lp *linkPing) note(ti int, mac arp.MAC) (other bool, first arp.MAC) {
	seen := lp.macs[ti]
	if len(seen) == 0 {
		lp.macs[ti] = []arp.MAC{mac}
		return false, mac
	}
	if !slices.Contains(seen, mac) {
		lp.macs[ti] = append(seen, mac)
	}
	return mac != seen[0], seen[0]
}

// conflicts are the lines that end a run whose targets answered from
// several MACs.
func (lp *linkPing) conflicts(targets []target.Target) []string {
	var lines []string
	for ti, t := range targets {
		if ms := lp.macs[ti]; len(ms) > 1 {
			s := make([]string, len(ms))
			for i, m := range ms {
				s[i] = m.String()
			}
			lines = append(lines, fmt.Sprintf("WARNING: %s answered from %d MACs: %s", t.Addr, len(ms), strings.Join(s, ", ")))
		}
	}
	return lines
}

// exit is the run's exit status, as arping's: with --dad 0 when nobody
// answered (the address is free) and 1 when somebody did (it is in use);
// with -U 0 once the announcements left; else ping's.
func (lp *linkPing) exit(sum *icmp.Summary) error {
	t := sum.Totals()
	switch lp.mode {
	case icmp.LinkDAD:
		if t.Received > 0 {
			return exitError(1)
		}
		return nil
	case icmp.LinkUnsolicited:
		if t.Transmitted == 0 {
			return exitError(1)
		}
		return nil
	}
	if t.Received == 0 {
		return exitError(1)
	}
	return nil
}
