// Package target turns what a user typed (IP addresses, CIDR prefixes,
// host names) into the list of addresses a command probes.
package target

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"strings"
)

// Family restricts the addresses a name may resolve to.
type Family int

const (
	Any Family = 0
	V4  Family = 4
	V6  Family = 6
)

// Target is one address and the text it came from.
type Target struct {
	Name string // what the user wrote: the host name, address or prefix
	Addr netip.Addr
}

// ErrBad marks input that is not a usable target; its text is the prefix
// of every such error ("target: cannot resolve ...").
var ErrBad = errors.New("target")

// ErrTooMany marks arguments that expand to more than Options.Max targets.
var ErrTooMany = fmt.Errorf("%w: too many targets", ErrBad)

// Resolver looks up host names; *net.Resolver implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options tune Expand.
type Options struct {
	Family Family
	// Max is the most addresses all arguments may expand to (default 65536).
	Max      int
	Resolver Resolver // default net.DefaultResolver
}

// Expand turns arguments into targets: an address is itself, a prefix is
// every address in it (network and broadcast addresses included), and a
// host name is its first address of the wanted family.
func Expand(ctx context.Context, args []string, o Options) ([]Target, error) {
	if o.Max == 0 {
		o.Max = 65536
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	var out []Target
	for _, a := range args {
		ts, err := expandOne(ctx, a, o, o.Max-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no target given", ErrBad)
	}
	return out, nil
}

func expandOne(ctx context.Context, arg string, o Options, room int) ([]Target, error) {
	if arg == "" {
		return nil, fmt.Errorf("%w: empty target", ErrBad)
	}
	if strings.Contains(arg, "/") {
		return expandPrefix(arg, o.Family, room)
	}
	if room < 1 {
		return nil, fmt.Errorf("%w: more than %d", ErrTooMany, o.Max)
	}
	if a, err := netip.ParseAddr(arg); err == nil {
		if err := checkFamily(a, o.Family, arg); err != nil {
			return nil, err
		}
		return []Target{{Name: arg, Addr: a.Unmap()}}, nil
	}
	a, err := lookup(ctx, arg, o)
	if err != nil {
		return nil, err
	}
	return []Target{{Name: arg, Addr: a}}, nil
}

func checkFamily(a netip.Addr, f Family, arg string) error {
	a = a.Unmap()
	if f == V4 && !a.Is4() {
		return fmt.Errorf("%w: %s is not an IPv4 address (-4 given)", ErrBad, arg)
	}
	if f == V6 && a.Is4() {
		return fmt.Errorf("%w: %s is not an IPv6 address (-6 given)", ErrBad, arg)
	}
	return nil
}

func lookup(ctx context.Context, host string, o Options) (netip.Addr, error) {
	network := "ip"
	switch o.Family {
	case V4:
		network = "ip4"
	case V6:
		network = "ip6"
	}
	addrs, err := o.Resolver.LookupNetIP(ctx, network, host)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("%w: cannot resolve %q: %v", ErrBad, host, unwrapDNS(err))
	}
	// Prefer IPv4 when either will do, as ping does.
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	return addrs[0], nil
}

func unwrapDNS(err error) error {
	var de *net.DNSError
	if errors.As(err, &de) {
		if de.IsNotFound {
			return errors.New("no such host")
		}
		return errors.New(de.Err)
	}
	if err == nil {
		return errors.New("no address")
	}
	return err
}

func expandPrefix(arg string, f Family, room int) ([]Target, error) {
	p, err := netip.ParsePrefix(arg)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not a CIDR prefix", ErrBad, arg)
	}
	p = p.Masked()
	if err := checkFamily(p.Addr(), f, arg); err != nil {
		return nil, err
	}
	hostBits := p.Addr().BitLen() - p.Bits()
	size := new(big.Int).Lsh(big.NewInt(1), uint(hostBits))
	if room < 0 || size.Cmp(big.NewInt(int64(room))) > 0 {
		return nil, fmt.Errorf("%w: prefix %s has %s addresses, more than the %d allowed", ErrTooMany, arg, size, room)
	}
	n := int(size.Int64())
	out := make([]Target, 0, n)
	a := p.Addr()
	for i := 0; i < n; i++ {
		out = append(out, Target{Name: a.String(), Addr: a})
		a = a.Next()
	}
	return out, nil
}

// Dedup drops repeated addresses, keeping the first of each: a target
// given twice is pinged once.
func Dedup(ts []Target) []Target {
	seen := make(map[netip.Addr]bool, len(ts))
	out := ts[:0:0]
	for _, t := range ts {
		if !seen[t.Addr] {
			seen[t.Addr] = true
			out = append(out, t)
		}
	}
	return out
}
