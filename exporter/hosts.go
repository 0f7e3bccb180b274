package exporter

import (
	"context"
	"net/netip"
	"slices"

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
	fam := target.Any
	if src.IsValid() {
		fam = target.V4
		if src.Is6() {
			fam = target.V6
		}
	}
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

func hasNames(hosts []string) bool {
	return slices.ContainsFunc(hosts, func(h string) bool { return checkAddrOrPrefix(h) != nil })
}
