package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/internal/target"
)

func udpCommand() *cli.Command {
	cmd := &cli.Command{
		Name:            "udp",
		Usage:           "UDP echo/reflector server, latency/jitter/loss probe, port scan",
		Subcommands:     []*cli.Command{udpServeCommand(), udpProbeCommand(), udpScanCommand()},
		HideHelpCommand: true,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("udp: unknown command %q (serve, probe or scan)", c.Args().First())
			}
			return cli.ShowSubcommandHelp(c)
		},
	}
	for _, sub := range cmd.Subcommands {
		sub.OnUsageError = onUsageError
	}
	return cmd
}

// withDuration bounds ctx by the --duration flag, if given.
func withDuration(c *cli.Context) (context.Context, context.CancelFunc, error) {
	d := c.Generic("duration").(*seconds)
	if !d.set {
		ctx, cancel := context.WithCancel(c.Context)
		return ctx, cancel, nil
	}
	if d.d <= 0 {
		return nil, nil, usageErrorf("--duration %s: must be above zero", d.d)
	}
	ctx, cancel := context.WithTimeout(c.Context, d.d)
	return ctx, cancel, nil
}

// parseListen reads serve's [ADDR]:PORT (or a bare PORT): no address
// means every address, IPv4 and IPv6.
func parseListen(s string) (netip.AddrPort, error) {
	if p, err := strconv.ParseUint(s, 10, 16); err == nil {
		return netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(p)), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, usageErrorf("serve: %q: want [ADDR]:PORT, e.g. :7, 198.18.1.2:7 or [fd00::2]:7", s)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, usageErrorf("serve: port %q: want 0..65535", port)
	}
	addr := netip.IPv6Unspecified()
	if host != "" {
		if addr, err = netip.ParseAddr(host); err != nil {
			return netip.AddrPort{}, usageErrorf("serve: %q is not an IP address", host)
		}
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(p)), nil
}

// resolveHost turns a host name or address into one address, of the
// family -4 or -6 asks for.
func resolveHost(c *cli.Context, host string) (netip.Addr, error) {
	fam := target.Any
	if c.Bool("4") && c.Bool("6") {
		return netip.Addr{}, usageErrorf("-4 and -6 exclude each other")
	}
	if c.Bool("4") {
		fam = target.V4
	} else if c.Bool("6") {
		fam = target.V6
	}
	if strings.Contains(host, "/") {
		return netip.Addr{}, usageErrorf("%q: want one host, not a prefix", host)
	}
	ts, err := target.Expand(c.Context, []string{host}, target.Options{Family: fam, Max: 1})
	if err != nil || len(ts) == 0 {
		return netip.Addr{}, usageErrorf("%s", strings.TrimPrefix(fmt.Sprint(err), "target: "))
	}
	return ts[0].Addr, nil
}

// parseHostPort reads probe's HOST:PORT.
func parseHostPort(c *cli.Context, s string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return netip.AddrPort{}, usageErrorf("probe: %q: want HOST:PORT, e.g. 198.18.1.2:7 or [fd00::2]:7", s)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return netip.AddrPort{}, usageErrorf("probe: port %q: want 1..65535", port)
	}
	a, err := resolveHost(c, host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// parsePercent reads "1%", "1" or "0.5%".
func parsePercent(flag, s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
		return 0, usageErrorf("%s %s: want a percentage 0..100, e.g. 1%%", flag, s)
	}
	return v, nil
}

// rateFlag reads a rate in datagrams per second (0 allowed when zeroOK).
func rateFlag(c *cli.Context, name string, zeroOK bool) (float64, error) {
	v := c.Float64(name)
	if math.IsNaN(v) || v < 0 || v > 10_000_000 || (v == 0 && !zeroOK) {
		lo := "above 0"
		if zeroOK {
			lo = "0 or more"
		}
		return 0, usageErrorf("--%s %g: want %s and at most 10000000 per second", name, v, lo)
	}
	return v, nil
}

// bindHint explains a refused bind.
func bindHint(err error, port uint16) error {
	if port < 1024 && (errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)) {
		return fmt.Errorf("%w: ports below 1024 need root or CAP_NET_BIND_SERVICE ('sudo setcap cap_net_bind_service+ep rawnet'), or pick a port above 1023", err)
	}
	return err
}

// durationFlag reads a positive seconds/duration flag into *d when set.
func durationFlag(c *cli.Context, name string, d *time.Duration) error {
	v := c.Generic(name).(*seconds)
	if !v.set {
		return nil
	}
	if v.d <= 0 {
		return usageErrorf("--%s %s: must be above zero", name, v.d)
	}
	*d = v.d
	return nil
}
