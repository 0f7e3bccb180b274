package exporter

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/rawnet/rawnet/icmp"
	"github.com/rawnet/rawnet/internal/target"
)

// hostAddr is one address a group probes and the host entry it came from.
type hostAddr struct {
	host string
	addr netip.Addr
}

// expandHosts turns a group's hosts into addresses (the udp, tcp and trace
// runners'; ICMP's icmpRunner.expand does the same with its own targets).
// A name that does not resolve keeps its last address (resolved, updated
// here); one that never resolved is passed to unresolved and left out.
// A host given twice yields its addresses once.
// It returns nil when ctx ends.
func expandHosts(ctx context.Context, env *Env, hosts []string, src netip.Addr, resolved map[string]netip.Addr, unresolved func(host string, err error)) []hostAddr {
	fam := sourceFamily(src)
	var out []hostAddr
	seen := map[hostAddr]bool{}
	for _, h := range hosts {
		lctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		ts, err := target.Expand(lctx, []string{h}, target.Options{Family: fam, Resolver: env.Resolver})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a, ok := resolved[h]
			if !ok {
				unresolved(h, err)
				continue
			}
			ts = []target.Target{{Name: h, Addr: a}}
		}
		if checkAddrOrPrefix(h) != nil {
			resolved[h] = ts[0].Addr
		}
		for _, t := range ts {
			// A host written twice is one target: its series are one set.
			if ha := (hostAddr{h, t.Addr}); !seen[ha] {
				seen[ha] = true
				out = append(out, ha)
			}
		}
	}
	return out
}

// sourceFamily is the address family a group's hosts are expanded to: the
// family of its source address, any without one.
func sourceFamily(src netip.Addr) target.Family {
	switch {
	case !src.IsValid():
		return target.Any
	case src.Is6():
		return target.V6
	}
	return target.V4
}

// groupRate is the probe rate cap of a group's engine: twice what n targets
// every interval need, and never below the engine's default.
func groupRate(n int, interval time.Duration) float64 {
	return max(icmp.DefaultRate, 2*float64(n)/interval.Seconds())
}

func hasNames(hosts []string) bool {
	return slices.ContainsFunc(hosts, func(h string) bool { return checkAddrOrPrefix(h) != nil })
}
