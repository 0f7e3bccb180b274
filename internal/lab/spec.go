package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"time"

	"github.com/rawnet/rawnet/internal/unsupported"
)

var (
	// ErrInvalidSpec marks a Spec (or lab name) that cannot be built.
	ErrInvalidSpec = errors.New("lab: invalid spec")
	// ErrExists marks a lab name that is already in use.
	ErrExists = errors.New("lab: lab exists")
	// ErrNotFound marks a lab name with nothing behind it.
	ErrNotFound = errors.New("lab: no such lab")
	// ErrUnsupported is returned on systems without network namespaces.
	ErrUnsupported = unsupported.New("lab: network namespace labs need Linux")
)

// MaxRouters is the most routers a chain may have.
const MaxRouters = 50

// MaxVantages is the most extra vantage hosts (Spec.Vantages) a lab may have.
const MaxVantages = 8

// The lab's whole address space: nothing outside it is ever configured.
var (
	LabNet4 = netip.MustParsePrefix("198.18.0.0/15")
	LabNet6 = netip.MustParsePrefix("fd00::/8")
)

// Spec describes a chain lab: src, routers r1..rN, dst, and optionally a
// slow node behind the last router. The zero Spec is src and dst on one
// link, with nothing else.
//
// Chain link k (k = 0..Routers) joins chain node k and node k+1 (node 0 is
// src, node Routers+1 is dst) on 198.18.k.0/24 and fd00:0:0:k::/64, with .1
// and ::1 on the left (src side) and .2 and ::2 on the right. The IPv6
// subnet is written with k's decimal digits (link 12: fd00:0:0:12::/64), so
// it reads like the IPv4 one.
//
// With Diamond, router 2 is doubled into two parallel routers r2a and r2b
// (see Diamond and diamondLink).
type Spec struct {
	// Routers is the number of routers between src and dst (0..MaxRouters).
	Routers int

	// Diamond (needs Routers >= 3) replaces router 2 by two parallel
	// routers, an ECMP diamond: src - r1 - {r2a, r2b} - r3 - ... - dst.
	// r2a sits on chain links 1 and 2 as r2 would; r2b on their twins
	// 198.18.101.0/24 (r1 - r2b) and 198.18.102.0/24 (r2b - r3), and
	// fd00:0:0:101::/64, fd00:0:0:102::/64. r1 routes everything behind
	// the diamond, and r3 everything before it, over both branches
	// ("nexthop via A nexthop via B"), hashing on L4 for IPv4 and IPv6:
	// the fields of fib_multipath_hash_policy=1 (addresses, protocol,
	// ports), set as policy 3 so that only the packet counts, not the
	// sending socket's hash. Each flow takes one branch, flows with other
	// ports spread over both; ICMP has no ports, so all ICMP between two
	// addresses takes one branch.
	// Loss on link 1 or 2 applies to both branches of that link, and
	// Silent 2 silences r2a and r2b.
	Diamond bool

	// LocalPrefix4 and LocalPrefix6, when valid, are answered by dst for
	// every address in them (AnyIP), e.g. 198.19.0.0/22 and fd00:99::/64.
	LocalPrefix4, LocalPrefix6 netip.Prefix

	// Unreachable4 and Unreachable6 are routed to the last router, which
	// rejects them with ICMP destination unreachable (host unreachable for
	// IPv4, no route for IPv6). They need at least one router.
	//
	// The router's kernel sends the IPv4 ones only as a per-source budget
	// allows, whatever KeepICMPRateLimit says (ip_error: a burst of 5,
	// then one a second; net.ipv4.route.error_cost and error_burst are
	// not per namespace). Every other ICMP error it sends to that source,
	// such as a time exceeded to a trace through it, draws on the same
	// budget, and with the rate limits off each one empties it: a test
	// that counts the unreachables probes them from an address that
	// nothing else uses (see TestExporterVantagesThroughPrometheus).
	Unreachable4, Unreachable6 []netip.Prefix

	// Loss drops a share of the packets that cross a link toward dst.
	Loss []Loss

	// Silent lists routers (1-based) that send no ICMP errors.
	Silent []int

	// Blackhole lists addresses of dst (its own or inside a local prefix)
	// whose packets dst drops silently: targets that never answer.
	Blackhole []netip.Addr

	// Delay > 0 adds a node "slow" on 198.18.100.0/24 and
	// fd00:0:0:100::/64, attached to the last router (to src when there is
	// none), whose echo replies come from a user-space responder after
	// exactly Delay.
	Delay time.Duration

	// PingGroup lets every group open ICMP datagram ("ping") sockets in src.
	PingGroup bool

	// Vantages (needs Routers >= 1) adds hosts v1..vN beside src, each on
	// a link of its own to r1: vantage i's link is 198.18.(200+i).0/24 and
	// fd00:0:0:(200+i)::/64 (decimal digits, as chain links), v_i at .2
	// and ::2, r1 at .1. They reach dst through the same routers as src,
	// so exporters in src and in each v_i probe the same targets from
	// several vantage points; Loss on link 0 touches only src's path.
	Vantages int

	// Monitor adds a host "mon" with a management link to src and to each
	// vantage: to src on 198.18.240.0/24 and fd00:0:0:240::/64, to v_i on
	// 198.18.(240+i).0/24 and fd00:0:0:(240+i)::/64, mon at .1 and ::1.
	// No node has a route to a management subnet and mon has no route at
	// all, so a Prometheus there scrapes every vantage over its direct
	// link only, never across the links under test (Node.Iface("mon")
	// gives a vantage's address on its management link).
	Monitor bool

	// KeepICMPRateLimit keeps the kernel's ICMP rate limits in routers and
	// dst. By default they are off, so ICMP errors are deterministic.
	KeepICMPRateLimit bool

	// DetachedResponder, when set, runs the delayed responder as its own
	// process instead of a goroutine, so the lab outlives this process
	// (rawnet lab up). It returns the command for the namespace and delay;
	// the lab starts it in a new session, waits until it prints a line
	// "ready" on stdout, and records its pid so that Down can stop it.
	DetachedResponder func(netns string, delay time.Duration) *exec.Cmd

	// failAt makes Up fail after the named step (tests only).
	failAt string
}

// Loss drops Percent % of the packets arriving over chain link Link in the
// forward direction (toward dst), so round-trip loss equals Percent.
type Loss struct {
	Link    int
	Percent int
}

// ValidName reports whether s can name a lab: 1 to 12 of a-z and 0-9.
func ValidName(s string) bool { return validName(s, 12) }

func (s *Spec) validate() error {
	if s.Routers < 0 || s.Routers > MaxRouters {
		return specErrorf("routers must be 0..%d, got %d", MaxRouters, s.Routers)
	}
	for _, l := range s.Loss {
		if l.Link < 0 || l.Link > s.Routers {
			return specErrorf("loss link must be 0..%d, got %d", s.Routers, l.Link)
		}
		if l.Percent < 0 || l.Percent > 100 {
			return specErrorf("loss percent must be 0..100, got %d", l.Percent)
		}
	}
	for _, r := range s.Silent {
		if r < 1 || r > s.Routers {
			return specErrorf("silent router must be 1..%d, got %d", s.Routers, r)
		}
	}
	if s.Vantages < 0 || s.Vantages > MaxVantages {
		return specErrorf("vantages must be 0..%d, got %d", MaxVantages, s.Vantages)
	}
	if s.Vantages > 0 && s.Routers < 1 {
		return specErrorf("vantages attach to r1: they need at least 1 router")
	}
	if s.Delay < 0 {
		return specErrorf("delay must not be negative, got %s", s.Delay)
	}
	if s.Diamond && s.Routers < 3 {
		return specErrorf("a diamond doubles router 2 between r1 and r3: it needs at least 3 routers, got %d", s.Routers)
	}
	if s.Routers == 0 && len(s.Unreachable4)+len(s.Unreachable6) > 0 {
		return specErrorf("unreachable prefixes need at least one router")
	}
	if err := checkFamily(4, s.LocalPrefix4, s.Unreachable4...); err != nil {
		return err
	}
	if err := checkFamily(6, s.LocalPrefix6, s.Unreachable6...); err != nil {
		return err
	}
	return nil
}

func checkFamily(family int, local netip.Prefix, unreachable ...netip.Prefix) error {
	ps := unreachable
	if local.IsValid() {
		ps = append(slices.Clip(ps), local)
	}
	for _, p := range ps {
		if !p.IsValid() || p.Addr().Is4() != (family == 4) || p.Addr().Is4In6() {
			return specErrorf("prefix %s is not an IPv%d prefix", p, family)
		}
	}
	return nil
}

// checkBlackhole verifies that every blackholed address belongs to dst.
func (s *Spec) checkBlackhole(dst4, dst6 netip.Addr) error {
	for _, a := range s.Blackhole {
		owned := a == dst4 || a == dst6 ||
			(s.LocalPrefix4.IsValid() && s.LocalPrefix4.Contains(a)) ||
			(s.LocalPrefix6.IsValid() && s.LocalPrefix6.Contains(a))
		if !owned {
			return specErrorf("blackhole address %s is neither dst's address nor in its local prefixes", a)
		}
	}
	return nil
}

func specErrorf(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidSpec}, a...)...)
}
