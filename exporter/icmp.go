package exporter

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"slices"
	"time"

	"github.com/rawnet/rawnet/icmp"
	"github.com/rawnet/rawnet/internal/icmpmsg"
)

func init() {
	RegisterProtocol("icmp", buildICMP)
	RegisterModuleProber("icmp", probeICMP)
	RegisterModulePreparer("icmp", prepareICMPModule)
}

// icmpRecvBuf is the receive buffer of the shared ICMP sockets: replies of
// thousands of targets arrive in bursts.
const icmpRecvBuf = 8 << 20

// resolveTimeout bounds one name lookup, so that a dead DNS server delays
// only the hosts it should answer for.
const resolveTimeout = 10 * time.Second

// icmpSocket returns the pool's shared ICMP socket (a Demux) for a family
// and the group's tos, source and interface, opening it before Seal.
func icmpSocket(env *Env, v6 bool, tos int, src netip.Addr, iface string) (*icmp.Demux, error) {
	key := SocketKey{Kind: "icmp", V6: v6, TOS: tos, Source: src, Interface: iface}
	c, err := env.Sockets.Get(key, func() (io.Closer, error) {
		lc := icmp.ListenConfig{V6: v6, Mode: icmp.ModeAuto, TOS: tos, Source: src, Interface: iface, RecvBuf: icmpRecvBuf}
		conn, err := icmp.Listen(lc)
		if err != nil {
			return nil, err
		}
		d := icmp.NewDemux(conn)
		logSocketClock(env, key, conn.Datagram(), d)
		return d, nil
	})
	if err != nil {
		return nil, err
	}
	return c.(*icmp.Demux), nil
}

// logSocketClock says once, as a shared ICMP socket opens, which clock
// its RTTs start from: the kernel's transmit stamp of each request, or
// (where the kernel gives none) the clock read before sending, which makes
// every RTT longer than the wire's by the time from there to the driver
// (about 12µs on an idle machine, more under load). It is fixed for the
// socket's life, so a log line at start, not a metric, says it.
func logSocketClock(env *Env, key SocketKey, dgram bool, d *icmp.Demux) {
	family, kind := "ipv4", "raw"
	if key.V6 {
		family = "ipv6"
	}
	if dgram {
		kind = "datagram"
	}
	if on, err := d.TxStamps(); on {
		env.Logger.Info("ICMP socket open; RTTs start at the kernel's transmit stamp", "family", family, "socket", kind, "rtt_start", "kernel")
	} else {
		env.Logger.Warn("ICMP socket open without kernel transmit stamps; RTTs start at the clock read before sending", "family", family, "socket", kind, "rtt_start", "user", "reason", err)
	}
}

// families says which address families a list of hosts may need: literal
// addresses and prefixes say it, names may need both (unless the source
// address fixes one).
func families(hosts []string, src netip.Addr) (v4, v6 bool) {
	if src.IsValid() {
		return src.Is4(), !src.Is4()
	}
	for _, h := range hosts {
		a, err := netip.ParseAddr(h)
		if p, perr := netip.ParsePrefix(h); perr == nil {
			a, err = p.Addr(), nil
		}
		switch {
		case err != nil: // a name
			v4, v6 = true, true
		case a.Unmap().Is4():
			v4 = true
		default:
			v6 = true
		}
	}
	return v4, v6
}

// hasLiteral reports whether hosts has an address or prefix of a family.
func hasLiteral(hosts []string, v6 bool) bool {
	for _, h := range hosts {
		a, err := netip.ParseAddr(h)
		if p, perr := netip.ParsePrefix(h); perr == nil {
			a, err = p.Addr(), nil
		}
		if err == nil && a.Unmap().Is4() != v6 {
			return true
		}
	}
	return false
}

// familySockets opens the group's socket of each family its hosts need
// (families). A family whose socket cannot be opened is an error, at the
// field errField names, when a literal address needs it; when only names
// might, it is logged (what: the kind of socket) and their probes count
// send errors instead (a host without IPv6, say).
func familySockets[S any](env *Env, pos Pos, hosts []string, src netip.Addr, what string, open func(v6 bool) (S, error), errField func(error) string) (s4, s6 S, err error) {
	need4, need6 := families(hosts, src)
	one := func(v6 bool) (S, error) {
		s, err := open(v6)
		if err == nil || !hasLiteral(hosts, v6) && !errors.Is(err, ErrSocketNotOpen) {
			if err != nil {
				env.Logger.Warn("no "+what+" socket for names of this family", "group", pos.Path, "v6", v6, "err", err)
			}
			return s, nil
		}
		var none S
		return none, pos.Errorf(env.File, errField(err), "%v", err)
	}
	var none S
	if need4 {
		if s4, err = one(false); err != nil {
			return none, none, err
		}
	}
	if need6 {
		if s6, err = one(true); err != nil {
			return none, none, err
		}
	}
	return s4, s6, nil
}

// socketField is the field a group's socket error is reported at: the
// source or interface it asks for, else its hosts.
func socketField(g *TargetGroup) func(error) string {
	field := "hosts"
	if g.Source.IsValid() {
		field = "source"
	} else if g.Interface != "" {
		field = "interface"
	}
	return func(error) string { return field }
}

func buildICMP(env *Env, g *TargetGroup) ([]Runner, error) {
	d4, d6, err := familySockets(env, g.Pos, g.Hosts, g.Source, "ICMP", func(v6 bool) (*icmp.Demux, error) {
		return icmpSocket(env, v6, g.TOS, g.Source, g.Interface)
	}, socketField(g))
	if err != nil {
		return nil, err
	}
	gc := *g
	return []Runner{&icmpRunner{env: *env, g: gc, d4: d4, d6: d6}}, nil
}

// icmpRunner probes one targets: group over ICMP: one Pinger for all its
// addresses, rebuilt when a name resolves to another address.
type icmpRunner struct {
	env    Env
	g      TargetGroup
	d4, d6 *icmp.Demux
}

// probeTarget is one address the group probes and its series.
type probeTarget struct {
	host    string
	addr    netip.Addr
	series  *ProbeSeries
	release func()
}

func (r *icmpRunner) Run(ctx context.Context) error {
	var cur []probeTarget
	var job pingJob
	resolved := map[string]netip.Addr{} // the last good address of each name
	defer func() {
		job.stop()
		releaseAll(cur)
	}()
	// The first round probes the addresses and prefixes at once; names
	// join when they have resolved, without waiting for the ticker.
	everyResolve(ctx, r.env.ResolveInterval, r.g.Hosts, true, func(literal bool) {
		next := r.expand(ctx, resolved, literal)
		if ctx.Err() != nil || sameTargets(cur, next) {
			return
		}
		cur = swapTargets(ctx, &job, cur, next, r.acquire, releaseAll, r.ping)
	})
	return nil
}

// everyResolve runs round at once, then every interval while hosts has
// names (addresses and prefixes need one round), until ctx ends. With
// literalFirst and names among hosts, the first round is told to leave
// the names out (literal) and a second follows at once with them, so that
// addresses are probed without waiting for lookups.
func everyResolve(ctx context.Context, interval time.Duration, hosts []string, literalFirst bool, round func(literal bool)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	names := hasNames(hosts)
	literal := literalFirst && names
	for {
		round(literal)
		if ctx.Err() != nil {
			return
		}
		if !names {
			<-ctx.Done()
			return
		}
		if literal {
			literal = false
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// pingJob is one running engine (Pinger or Tracer) of a group.
type pingJob struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startJob runs run in a goroutine until the job is stopped or ctx ends.
func startJob(ctx context.Context, run func(context.Context)) pingJob {
	jctx, cancel := context.WithCancel(ctx)
	j := pingJob{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(j.done)
		run(jctx)
	}()
	return j
}

// swapTargets moves a runner from its targets cur to next: it stops job,
// lets next take their series before cur gives theirs back (so that the
// series both have go on), and starts run over next in job unless next is
// empty. It returns next as acquire returned it.
func swapTargets[T any](ctx context.Context, job *pingJob, cur, next []T, acquire func([]T) []T, release func([]T), run func(context.Context, []T)) []T {
	job.stop()
	next = acquire(next)
	release(cur)
	if len(next) > 0 {
		*job = startJob(ctx, func(ctx context.Context) { run(ctx, next) })
	}
	return next
}

// stop ends the job and waits for it; a zero job is a no-op.
func (j *pingJob) stop() {
	if j.cancel != nil {
		j.cancel()
		<-j.done
		*j = pingJob{}
	}
}

func checkAddrOrPrefix(h string) error {
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	_, err := netip.ParsePrefix(h)
	return err
}

// expand turns the group's hosts into addresses (expandHosts; with
// literal, its names are left out). A name that never resolved counts a
// resolve error into a series without ip and is not probed.
func (r *icmpRunner) expand(ctx context.Context, resolved map[string]netip.Addr, literal bool) []probeTarget {
	var out []probeTarget
	for _, h := range expandHosts(ctx, &r.env, r.g.Name, r.g.Hosts, r.g.Source, literal, resolved, func(h string, err error) {
		s, release := AcquireProbeSeries(r.env.Series, r.labels(h, netip.Addr{}))
		s.Error("resolve")
		release()
		r.env.Logger.Warn("name does not resolve", "group", r.g.Name, "host", h, "err", err)
	}) {
		out = append(out, probeTarget{host: h.host, addr: h.addr})
	}
	return out
}

func (r *icmpRunner) labels(host string, ip netip.Addr) map[string]string {
	return ProbeLabels(r.g.Name, host, ip, "icmp", r.g.Labels)
}

func (r *icmpRunner) acquire(ts []probeTarget) []probeTarget {
	for i := range ts {
		ts[i].series, ts[i].release = AcquireProbeSeries(r.env.Series, r.labels(ts[i].host, ts[i].addr))
	}
	return ts
}

func releaseAll(ts []probeTarget) {
	for _, t := range ts {
		if t.release != nil {
			t.release()
		}
	}
}

func sameTargets(a, b []probeTarget) bool {
	return slices.EqualFunc(a, b, func(x, y probeTarget) bool { return x.host == y.host && x.addr == y.addr })
}

// ping runs one Pinger over ts until ctx ends, counting into their series.
// Targets of a family without a socket count send errors.
func (r *icmpRunner) ping(ctx context.Context, ts []probeTarget) {
	var conns []icmp.Conn
	cookie := newCookie()
	queue := demuxQueue(float64(len(ts)) / r.g.Interval.Seconds()) // replies a second
	for _, d := range []*icmp.Demux{r.d4, r.d6} {
		if d == nil {
			continue
		}
		c, err := d.ConnQueue(cookie, queue)
		if err != nil {
			r.env.Logger.Error("no share of the ICMP socket", "group", r.g.Name, "err", err)
			return
		}
		defer c.Close()
		conns = append(conns, c)
	}
	addrs := make([]netip.Addr, len(ts))
	for i, t := range ts {
		addrs[i] = t.addr
	}
	cfg := icmp.Config{Conns: conns, Interval: r.g.Interval, Size: sizeOr(r.g.Size), Cookie: cookie}
	runPinger(ctx, &r.env, r.g.Name, cfg, addrs, r.d4 != nil, r.d6 != nil, func(i int) *ProbeSeries { return ts[i].series },
		func(i int, ev icmp.Event) { countEvent(ts[i].series, ev, ts[i].addr.Is6()) })
}

// runPinger runs one Pinger of a group (cfg, without its targets and
// rate) over the addresses whose family has a socket (has4, has6) until
// ctx ends. An address without a socket of its family, and every one when
// the engine does not start, counts a send error into its series(i), once
// per start; count gets each event with the index i of its address.
func runPinger(ctx context.Context, env *Env, group string, cfg icmp.Config, addrs []netip.Addr, has4, has6 bool, series func(i int) *ProbeSeries, count func(i int, ev icmp.Event)) {
	var live []int
	for i, a := range addrs {
		if a.Is4() && !has4 || !a.Is4() && !has6 {
			series(i).Error("send")
			continue
		}
		cfg.Targets = append(cfg.Targets, a)
		live = append(live, i)
	}
	if len(live) == 0 {
		<-ctx.Done()
		return
	}
	cfg.Rate = groupRate(len(live), cfg.Interval)
	p, err := icmp.New(cfg)
	if err != nil {
		env.Logger.Error("cannot probe group", "group", group, "err", err)
		for _, i := range live {
			series(i).Error("send")
		}
		<-ctx.Done()
		return
	}
	_, err = p.Run(ctx, func(ev icmp.Event) error {
		count(live[ev.Target], ev)
		return nil
	})
	if err != nil && ctx.Err() == nil {
		env.Logger.Error("probing stopped", "group", group, "err", err)
	}
}

func sizeOr(n int) int {
	if n == 0 {
		return DefaultSize
	}
	return n
}

// countEvent counts one engine event into a target's series. A probe is
// counted as a request once its fate is known (reply, ICMP error, send
// failure, timeout), so that stopping a Pinger (a reload, a name that
// moved) leaves no probe counted as sent and never answered.
func countEvent(s *ProbeSeries, ev icmp.Event, v6 bool) {
	switch ev.Kind {
	case icmp.EventReply:
		if ev.Dup {
			s.Duplicates.Inc()
			return
		}
		s.Requests.Inc()
		s.Replies.Inc()
		s.RTT.Observe(ev.RTT.Seconds())
	case icmp.EventTimeout:
		s.Requests.Inc()
	case icmp.EventLate:
		s.Late.Inc()
	case icmp.EventSent: // only failed sends are reported
		s.Requests.Inc()
		s.Error("send")
	case icmp.EventLocalError: // too long for the path MTU
		s.Requests.Inc()
		s.Error("fragmentation_needed")
	case icmp.EventError:
		kind := icmpmsg.ErrorKind(v6, ev.ICMPType, ev.ICMPCode)
		s.Error(kind)
		if kind != "redirect" && kind != "source_quench" { // advisory: the probe still waits
			s.Requests.Inc()
		}
	}
}

// newCookie picks a random nonzero cookie for one Pinger on a Demux.
func newCookie() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if c := binary.BigEndian.Uint64(b[:]); c != 0 {
			return c
		}
	}
}
