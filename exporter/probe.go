package exporter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rawnet/rawnet/icmp"
	"github.com/rawnet/rawnet/internal/target"
)

// errBadTarget marks a /probe target that cannot be probed (HTTP 400).
var errBadTarget = errors.New("bad target")

// ProbeHandler answers /probe?target=X&module=M as blackbox_exporter
// does: it runs the module's count probes against X and returns only that
// probe's metrics (probe_success, probe_duration_seconds and the
// rawnet_probe_* series of X), from a fresh registry per request. A
// missing or bad target, or an unknown module, is HTTP 400 with a
// one-line reason.
func (e *Exporter) ProbeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		tgt, name := q.Get("target"), q.Get("module")
		cfg := e.Config()
		switch {
		case tgt == "":
			http.Error(w, "target parameter is missing", http.StatusBadRequest)
			return
		case name == "":
			http.Error(w, "module parameter is missing", http.StatusBadRequest)
			return
		case cfg == nil:
			http.Error(w, "no configuration loaded", http.StatusServiceUnavailable)
			return
		}
		m, ok := cfg.Modules[name]
		if !ok {
			http.Error(w, fmt.Sprintf("unknown module %q", name), http.StatusBadRequest)
			return
		}
		ctx := r.Context()
		if s := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); s != "" {
			if secs, err := strconv.ParseFloat(s, 64); err == nil && secs > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Duration(secs*float64(time.Second)))
				defer cancel()
			}
		}
		reg := prometheus.NewRegistry()
		success := prometheus.NewGauge(prometheus.GaugeOpts{Name: "probe_success", Help: "Whether the probe succeeded (at least one reply)."})
		duration := prometheus.NewGauge(prometheus.GaugeOpts{Name: "probe_duration_seconds", Help: "How long the probe took, in seconds."})
		reg.MustRegister(success, duration)
		start := time.Now()
		ok, err := moduleProber(m.Protocol)(ctx, e.Env(), &m, tgt, reg)
		if err != nil {
			http.Error(w, strings.ReplaceAll(err.Error(), "\n", " "), http.StatusBadRequest)
			return
		}
		duration.Set(time.Since(start).Seconds())
		if ok {
			success.Set(1)
		}
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	})
}

func prepareICMPModule(env *Env, m *Module) error {
	for _, v6 := range []bool{false, true} {
		if _, err := icmpSocket(env, v6, m.TOS, netip.Addr{}, ""); err != nil {
			if errors.Is(err, ErrSocketNotOpen) {
				return m.Errorf(env.File, "tos", "%v", err)
			}
			env.Logger.Warn("no ICMP socket for /probe", "module", m.Name, "v6", v6, "err", err)
		}
	}
	return nil
}

// probeICMP pings target m.Count times, m.Interval apart, and waits up to
// m.Timeout for the last reply.
func probeICMP(ctx context.Context, env *Env, m *Module, tgt string, reg prometheus.Registerer) (bool, error) {
	if strings.Contains(tgt, "/") {
		return false, fmt.Errorf("%w %q: give one address or host name, not a prefix", errBadTarget, tgt)
	}
	if _, err := netip.ParseAddr(tgt); err != nil && !validHostName(tgt) {
		return false, fmt.Errorf("%w %q: not an address or host name", errBadTarget, tgt)
	}
	series := NewProbeSeries(ProbeLabels(m.Name, tgt, netip.Addr{}, "icmp", nil))
	lctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	ts, err := target.Expand(lctx, []string{tgt}, target.Options{Resolver: env.Resolver})
	cancel()
	if err != nil {
		series.Error("resolve")
		reg.MustRegister(series)
		return false, nil // a name that does not resolve is a failed probe, as in blackbox_exporter
	}
	addr := ts[0].Addr
	series = NewProbeSeries(ProbeLabels(m.Name, tgt, addr, "icmp", nil))
	reg.MustRegister(series)
	d, err := icmpSocket(env, addr.Is6(), m.TOS, netip.Addr{}, "")
	if err != nil {
		series.Error("send")
		return false, nil
	}
	cookie := newCookie()
	c, err := d.Conn(cookie)
	if err != nil {
		return false, err
	}
	defer c.Close()
	p, err := icmp.New(icmp.Config{Targets: []netip.Addr{addr}, Conns: []icmp.Conn{c}, Count: m.Count,
		Interval: m.Interval, Timeout: m.Timeout, Size: sizeOr(m.Size), Cookie: cookie})
	if err != nil {
		return false, err
	}
	replies := 0
	_, err = p.Run(ctx, func(ev icmp.Event) error {
		countEvent(series, ev, addr.Is6())
		if ev.Kind == icmp.EventReply && !ev.Dup {
			replies++
		}
		return nil
	})
	return replies > 0, err
}
