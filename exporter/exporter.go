package exporter

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Options configure an Exporter. Only ConfigFile is required.
type Options struct {
	ConfigFile string
	Logger     *slog.Logger // default: discard
	Resolver   Resolver     // default: net.DefaultResolver
	Version    string       // build_info's version label
	Revision   string       // build_info's revision label
	// NoProcessMetrics leaves out the Go and process collectors (tests
	// that start several exporters in one process).
	NoProcessMetrics bool
	// Grace overrides DefaultGrace for the series store.
	Grace time.Duration
}

// Exporter runs the probe groups of a configuration file and reloads it.
//
// Start reads the file and builds its runners, opening the sockets they
// need; the caller then drops its capabilities and calls Run. Reload
// builds runners from the file again over the same sockets, and only when
// that succeeds stops the old ones and starts the new.
type Exporter struct {
	opts     Options
	env      Env
	registry *prometheus.Registry

	reloadOK prometheus.Gauge
	reloadTS prometheus.Gauge

	reloadMu sync.Mutex // one Start or Reload at a time
	mu       sync.Mutex // cfg, pending, gen, ctx
	cfg      *Config
	pending  []Runner // built, not started yet (before Run)
	gen      *generation
	ctx      context.Context
	ready    bool

	collecting atomic.Bool // a collection after a scrape is running (collectAfter)
}

// generation is one set of running runners.
type generation struct {
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// New makes an exporter; nothing is read or opened before Start.
func New(opts Options) *Exporter {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	e := &Exporter{opts: opts, registry: prometheus.NewRegistry()}
	e.env = Env{File: opts.ConfigFile, Sockets: NewSockets(), Series: NewStore(), Resolver: opts.Resolver, Logger: opts.Logger}
	if opts.Grace > 0 {
		e.env.Series.Grace = opts.Grace
	}
	e.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rawnet_exporter_config_last_reload_successful",
		Help: "Whether the last configuration reload attempt was successful.",
	})
	e.reloadTS = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rawnet_exporter_config_last_reload_success_timestamp_seconds",
		Help: "Timestamp of the last successful configuration reload.",
	})
	e.registry.MustRegister(e.reloadOK, e.reloadTS, e.env.Series, buildInfo(opts), dropsCollector{e.env.Sockets})
	if !opts.NoProcessMetrics {
		e.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return e
}

func buildInfo(opts Options) prometheus.Collector {
	v, r := opts.Version, opts.Revision
	if v == "" {
		v = "unknown"
	}
	if r == "" {
		r = "unknown"
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "rawnet_exporter_build_info",
		Help:        "A metric with a constant '1' value labeled by version, revision and goversion from which rawnet was built.",
		ConstLabels: prometheus.Labels{"version": v, "revision": r, "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

// Registry is where the exporter's metrics are; /metrics serves it.
func (e *Exporter) Registry() *prometheus.Registry { return e.registry }

// Env is what the builders see (sockets, series, resolver).
func (e *Exporter) Env() *Env { return &e.env }

// Config is the configuration running now.
func (e *Exporter) Config() *Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg
}

// Ready reports whether Run has started the runners.
func (e *Exporter) Ready() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ready
}

// Start reads the file and builds its runners, opening every socket they
// need. A bad file is a *ConfigError.
func (e *Exporter) Start() error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	cfg, runners, err := e.load()
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.cfg, e.pending = cfg, runners
	e.mu.Unlock()
	e.markReload(true)
	return nil
}

// Run seals the socket pool, starts the runners Start built and returns
// at once; they stop when ctx ends (Wait waits for that).
func (e *Exporter) Run(ctx context.Context) {
	e.env.Sockets.Seal()
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ctx = ctx
	e.gen = e.startLocked(e.pending)
	e.pending = nil
	e.ready = true
}

// Reload reads the file again. When it is good, the new runners replace
// the old ones; when not, the old ones go on and the reload gauge says 0.
func (e *Exporter) Reload() error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	cfg, runners, err := e.load()
	if err != nil {
		e.markReload(false)
		e.opts.Logger.Error("reload failed; the previous configuration goes on", "err", err)
		return err
	}
	e.mu.Lock()
	old := e.gen
	e.cfg = cfg
	e.mu.Unlock()
	if old != nil {
		old.cancel()
		old.done.Wait()
	}
	e.mu.Lock()
	if e.ctx != nil {
		e.gen = e.startLocked(runners)
	} else {
		e.pending = runners
	}
	e.mu.Unlock()
	e.markReload(true)
	e.opts.Logger.Info("configuration reloaded", "file", e.opts.ConfigFile, "runners", len(runners))
	return nil
}

// Wait stops nothing: it waits until the runners have stopped after the
// context given to Run ended, then closes the sockets.
func (e *Exporter) Wait() {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	e.mu.Lock()
	g := e.gen
	e.mu.Unlock()
	if g != nil {
		g.done.Wait()
	}
	_ = e.env.Sockets.Close()
}

func (e *Exporter) load() (*Config, []Runner, error) {
	cfg, err := LoadConfig(e.opts.ConfigFile)
	if err != nil {
		return nil, nil, err
	}
	env := e.env
	env.ResolveInterval = cfg.ResolveInterval
	runners, err := build(&env, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, runners, nil
}

func (e *Exporter) startLocked(runners []Runner) *generation {
	ctx, cancel := context.WithCancel(e.ctx)
	g := &generation{cancel: cancel}
	for _, r := range runners {
		g.done.Add(1)
		go func() {
			defer g.done.Done()
			if err := r.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				e.opts.Logger.Error("runner stopped", "err", err)
			}
		}()
	}
	return g
}

func (e *Exporter) markReload(ok bool) {
	if ok {
		e.reloadOK.Set(1)
		e.reloadTS.SetToCurrentTime()
		return
	}
	e.reloadOK.Set(0)
}
