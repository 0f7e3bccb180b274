package exporter

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Runner is one continuously running probe job built from the config: a
// targets: group of one protocol, or a traces: group. It owns its engine
// loop and counts into series it acquires from Env.Series.
type Runner interface {
	// Run probes until ctx ends, then stops everything it started
	// (goroutines, its share of a socket), releases its series and
	// returns. A host that does not resolve or answer is counted into its
	// series, never returned: Run returns an error only when it cannot go
	// on at all, and the exporter logs it.
	Run(ctx context.Context) error
}

// Env is what builders get from the exporter. Builders must not block:
// names are resolved by the runners, in Run.
type Env struct {
	File            string   // the config file, for errors
	Sockets         *Sockets // opened at start; sealed afterwards
	Series          *Store
	Resolver        Resolver
	ResolveInterval time.Duration
	Logger          *slog.Logger
}

// Resolver looks up a host name (net.DefaultResolver fits).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// TargetBuilder builds the runners of one targets: group whose protocol it
// was registered for. Errors should be ConfigErrors (g.Errorf).
type TargetBuilder func(env *Env, g *TargetGroup) ([]Runner, error)

// TraceBuilder builds the runners of one traces: group.
type TraceBuilder func(env *Env, g *TraceGroup) ([]Runner, error)

// ModuleProber runs one /probe request: m against target (as the query
// gave it), counting into series it registers with reg (a fresh registry
// per request). It reports whether the probe succeeded; an error is a bad
// target (HTTP 400), not a failed probe.
type ModuleProber func(ctx context.Context, env *Env, m *Module, target string, reg prometheus.Registerer) (success bool, err error)

// ModulePreparer readies what a module needs when the configuration is
// built (the sockets /probe will use, opened before capabilities are
// dropped). Errors should be ConfigErrors (m.Errorf).
type ModulePreparer func(env *Env, m *Module) error

var builders = struct {
	sync.Mutex
	targets  map[string]TargetBuilder
	trace    TraceBuilder
	modules  map[string]ModuleProber
	prepares map[string]ModulePreparer
}{targets: map[string]TargetBuilder{}, modules: map[string]ModuleProber{}, prepares: map[string]ModulePreparer{}}

// RegisterProtocol makes protocol (icmp, tcp, udp) usable in targets:
// groups; call it from an init function.
func RegisterProtocol(protocol string, b TargetBuilder) {
	builders.Lock()
	defer builders.Unlock()
	builders.targets[protocol] = b
}

// RegisterTraceBuilder makes traces: groups usable.
func RegisterTraceBuilder(b TraceBuilder) {
	builders.Lock()
	defer builders.Unlock()
	builders.trace = b
}

// RegisterModuleProber makes protocol usable in modules:.
func RegisterModuleProber(protocol string, p ModuleProber) {
	builders.Lock()
	defer builders.Unlock()
	builders.modules[protocol] = p
}

// RegisterModulePreparer sets what building a configuration does for each
// module of protocol (optional).
func RegisterModulePreparer(protocol string, p ModulePreparer) {
	builders.Lock()
	defer builders.Unlock()
	builders.prepares[protocol] = p
}

func modulePreparer(protocol string) ModulePreparer {
	builders.Lock()
	defer builders.Unlock()
	return builders.prepares[protocol]
}

func targetBuilder(protocol string) TargetBuilder {
	builders.Lock()
	defer builders.Unlock()
	return builders.targets[protocol]
}

func traceBuilder() TraceBuilder {
	builders.Lock()
	defer builders.Unlock()
	return builders.trace
}

func moduleProber(protocol string) ModuleProber {
	builders.Lock()
	defer builders.Unlock()
	return builders.modules[protocol]
}

// build makes every runner of cfg. It fails as a whole: on error the
// runners it made are dropped unstarted (they hold no resources before
// Run; sockets belong to the pool).
func build(env *Env, cfg *Config) ([]Runner, error) {
	var out []Runner
	for i := range cfg.Targets {
		g := &cfg.Targets[i]
		b := targetBuilder(g.Protocol)
		if b == nil {
			return nil, g.Errorf(cfg.File, "protocol", "%s targets are not built into this rawnet", g.Protocol)
		}
		rs, err := b(env, g)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	for i := range cfg.Traces {
		g := &cfg.Traces[i]
		b := traceBuilder()
		if b == nil {
			return nil, g.Errorf(cfg.File, "", "traces are not built into this rawnet")
		}
		rs, err := b(env, g)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	for _, name := range sortedModules(cfg) {
		m := cfg.Modules[name]
		if moduleProber(m.Protocol) == nil {
			return nil, m.Errorf(cfg.File, "protocol", "%s modules are not built into this rawnet", m.Protocol)
		}
		if prep := modulePreparer(m.Protocol); prep != nil {
			if err := prep(env, &m); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func sortedModules(cfg *Config) []string {
	names := make([]string, 0, len(cfg.Modules))
	for n := range cfg.Modules {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ProbeLabels are the labels of one target's series: group, host (as
// written), ip, protocol, then the group's labels.
func ProbeLabels(group, host string, ip netip.Addr, protocol string, extra Labels) prometheus.Labels {
	l := prometheus.Labels{"group": group, "host": host, "ip": "", "protocol": protocol}
	if ip.IsValid() {
		l["ip"] = ip.String()
	}
	for _, e := range extra {
		l[e.Name] = e.Value
	}
	return l
}

// SeriesKey identifies a set of series in the Store: what they are (kind,
// "probe" or "trace") and their labels.
func SeriesKey(kind string, l prometheus.Labels) string {
	names := make([]string, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	sort.Strings(names)
	s := kind
	for _, n := range names {
		s += fmt.Sprintf("\x00%s=%s", n, l[n])
	}
	return s
}
