package exporter

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/rawnet/rawnet/icmp"
	"github.com/rawnet/rawnet/internal/target"
)

// hostAddr is one address a group probes and the host entry it came from.
type hostAddr struct {
	host string
	addr netip.Addr
}

// maxLookups bounds the name lookups of one group in flight at once.
const maxLookups = 16

// expandHosts turns a group's hosts into addresses, in the order of the
// file, for every runner (icmp, tcp, udp, trace). Names are looked up
// concurrently, at most maxLookups at once, each for resolveTimeout at
// most, unless literal is set: then they are left out, so that a group's
// addresses are probed at once while its names resolve. A name that does
// not resolve keeps its last address (resolved, updated here; the lookup
// error is logged); one that never resolved is passed to unresolved and
// left out. A host given twice yields its addresses once. It returns nil
// when ctx ends.
func expandHosts(ctx context.Context, env *Env, group string, hosts []string, src netip.Addr, literal bool, resolved map[string]netip.Addr, unresolved func(host string, err error)) []hostAddr {
	results, errs := lookupHosts(ctx, env, hosts, sourceFamily(src), literal)
	if ctx.Err() != nil {
		return nil
	}
	var out []hostAddr
	seen := map[hostAddr]bool{}
	for i, h := range hosts {
		ts := results[i]
		if errs[i] != nil {
			a, ok := resolved[h]
			if !ok {
				unresolved(h, errs[i])
				continue
			}
			env.Logger.Warn("name did not resolve; probing its last address", "group", group, "host", h, "ip", a, "err", errs[i])
			ts = []target.Target{{Name: h, Addr: a}}
		}
		if len(ts) > 0 && checkAddrOrPrefix(h) != nil {
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

// lookupHosts expands each host (addresses and prefixes at once, names
// concurrently); with literal, names are skipped (no result, no error).
func lookupHosts(ctx context.Context, env *Env, hosts []string, fam target.Family, literal bool) ([][]target.Target, []error) {
	results := make([][]target.Target, len(hosts))
	errs := make([]error, len(hosts))
	sem := make(chan struct{}, maxLookups)
	var wg sync.WaitGroup
	for i, h := range hosts {
		name := checkAddrOrPrefix(h) != nil
		if name && literal {
			continue
		}
		if !name { // no lookup: expand here
			results[i], errs[i] = target.Expand(ctx, []string{h}, target.Options{Family: fam, Max: MaxPrefixHosts})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			lctx, cancel := context.WithTimeout(ctx, resolveTimeout)
			defer cancel()
			results[i], errs[i] = target.Expand(lctx, []string{h}, target.Options{Family: fam, Resolver: env.Resolver})
		}()
	}
	wg.Wait()
	return results, errs
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
