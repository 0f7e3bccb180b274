package exporter

import (
	"context"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/stats"
	"github.com/rawnet/rawnet/udp"
)

func init() { RegisterProtocol("udp", buildUDP) }

// buildUDP: a udp group probes `rawnet udp serve` (echo or reflect mode)
// with rawnet's sequenced, timestamped datagrams, one connected UDP socket
// per target. UDP sockets need no privilege, so the runner opens them
// when it starts probing a target (after the capability drop, and again
// when a name moves); a reflector's stamps give the one-way delays.
func buildUDP(env *Env, g *TargetGroup) ([]Runner, error) {
	if g.Interface != "" {
		return nil, g.Errorf(env.File, "interface", "not supported for protocol udp (its sockets are opened after the capabilities are dropped): use source")
	}
	if g.Size != 0 && g.Size < udp.HeaderLen {
		return nil, g.Errorf(env.File, "size", "%d bytes cannot hold rawnet's UDP probe header: at least %d for protocol udp", g.Size, udp.HeaderLen)
	}
	return []Runner{&udpRunner{env: *env, g: *g}}, nil
}

type udpRunner struct {
	env Env
	g   TargetGroup
}

// udpTarget is one address the group probes, its series and its probe.
type udpTarget struct {
	host    string
	addr    netip.Addr
	series  *ProbeSeries
	udp     *UDPSeries
	release func()
	stop    context.CancelFunc
	done    chan struct{}
}

func (r *udpRunner) Run(ctx context.Context) error {
	cur := map[udpKey]*udpTarget{}
	resolved := map[string]netip.Addr{}
	defer func() {
		for k, t := range cur {
			r.stopTarget(t)
			delete(cur, k)
		}
	}()
	everyResolve(ctx, r.env.ResolveInterval, r.g.Hosts, false, func(bool) {
		next := r.expand(ctx, resolved)
		if ctx.Err() != nil {
			return
		}
		// A target that moved stops; only new ones start: the others
		// keep their sockets and sequence.
		for k, t := range cur {
			if !next[k] {
				r.stopTarget(t)
				delete(cur, k)
			}
		}
		for k := range next {
			if cur[k] == nil {
				cur[k] = r.startTarget(ctx, k)
			}
		}
	})
	return nil
}

type udpKey hostAddr

func (r *udpRunner) expand(ctx context.Context, resolved map[string]netip.Addr) map[udpKey]bool {
	out := map[udpKey]bool{}
	for _, h := range expandHosts(ctx, &r.env, r.g.Name, r.g.Hosts, r.g.Source, false, resolved, func(h string, err error) {
		s, release := AcquireProbeSeries(r.env.Series, ProbeLabels(r.g.Name, h, netip.Addr{}, "udp", r.g.Labels))
		s.Error("resolve")
		release()
	}) {
		out[udpKey(h)] = true
	}
	return out
}

func (r *udpRunner) startTarget(ctx context.Context, k udpKey) *udpTarget {
	l := ProbeLabels(r.g.Name, k.host, k.addr, "udp", r.g.Labels)
	t := &udpTarget{host: k.host, addr: k.addr, done: make(chan struct{})}
	var relP, relU func()
	t.series, relP = AcquireProbeSeries(r.env.Series, l)
	t.udp, relU = AcquireUDPSeries(r.env.Series, l)
	t.release = func() { relP(); relU() }
	pctx, cancel := context.WithCancel(ctx)
	t.stop = cancel
	go func() {
		defer close(t.done)
		r.probe(pctx, t)
	}()
	return t
}

func (r *udpRunner) stopTarget(t *udpTarget) {
	t.stop()
	<-t.done
	t.release()
}

// probe runs one continuous udp.Probe against the target until ctx ends.
// A socket that cannot be opened (no route, no source address) counts a
// send error and is tried again after an interval.
func (r *udpRunner) probe(ctx context.Context, t *udpTarget) {
	remote := netip.AddrPortFrom(t.addr, uint16(r.g.Port))
	var local netip.AddrPort
	if r.g.Source.IsValid() {
		local = netip.AddrPortFrom(r.g.Source, 0)
	}
	for ctx.Err() == nil {
		// A datagram an interval: a few a call and a window's stamps, not
		// the 128 KB of buffers and stamps a fast probe's socket holds.
		c, err := udp.Dial(udp.ListenConfig{Addr: local, Remote: remote, TOS: r.g.TOS, TxStamps: true,
			Batch: udpBatch, InFlight: udpSeqWindow(r.g.Interval)})
		if err != nil {
			r.env.Logger.Warn("cannot open UDP socket", "group", r.g.Name, "host", t.host, "ip", t.addr, "err", err)
			t.series.Requests.Inc()
			t.series.Error("send")
			select {
			case <-ctx.Done():
			case <-time.After(r.g.Interval):
			}
			continue
		}
		cfg := udp.ProbeConfig{Remote: remote, Interval: r.g.Interval, Size: r.g.Size, Timeout: udpTimeout(r.g.Interval), Conn: c,
			SeqWindow: udpSeqWindow(r.g.Interval), Samples: -1}
		p, err := udp.NewProbe(cfg)
		if err != nil {
			c.Close()
			r.env.Logger.Error("cannot probe", "group", r.g.Name, "host", t.host, "err", err)
			<-ctx.Done()
			return
		}
		var j udpJitter
		_, err = p.Run(ctx, func(ev udp.ProbeEvent) error {
			countUDP(t, &j, &ev)
			return nil
		})
		c.Close()
		if err != nil && ctx.Err() == nil {
			r.env.Logger.Error("UDP probing stopped; starting again", "group", r.g.Name, "host", t.host, "err", err)
		}
	}
}

// udpBatch is how many datagrams a target's socket moves a call: a reply
// and its duplicates.
const udpBatch = 4

// udpTimeout is how long a datagram may wait for its reply: the engine's
// default second, or the interval when that is longer (as ping's -W).
func udpTimeout(interval time.Duration) time.Duration {
	return max(udp.DefaultTimeout, interval)
}

// udpSeqWindow is the sequence window of a target's probe: room for the
// datagrams in flight (a timeout's worth) four times over, at least 256.
// The histograms take the round trips, so the probe keeps no samples:
// about 10 KB per target instead of 4 MB.
func udpSeqWindow(interval time.Duration) int {
	return max(256, 4*int(udpTimeout(interval)/interval))
}

// udpJitter holds the RFC 3550 estimates of one probe run.
type udpJitter struct{ rtt, fwd, rev stats.Jitter }

// countUDP counts one probe event. A datagram is counted as a request once
// its fate is known: answered or lost (a send error or an ICMP error is
// followed by its loss), so that stopping a probe counts nothing twice.
func countUDP(t *udpTarget, j *udpJitter, ev *udp.ProbeEvent) {
	s, u := t.series, t.udp
	switch ev.Kind {
	case udp.EventReply:
		if ev.Dup {
			s.Duplicates.Inc()
			return
		}
		s.Requests.Inc()
		s.Replies.Inc()
		s.RTT.Observe(ev.RTT.Seconds())
		j.rtt.AddTransit(ev.RTT)
		u.jitterRTT.Set(j.rtt.Value().Seconds())
		if ev.Reflected {
			u.once.Do(u.reflected)
			u.forward.Load().Observe(ev.Forward.Seconds())
			u.reverse.Load().Observe(ev.Reverse.Seconds())
			j.fwd.AddTransit(ev.Forward)
			j.rev.AddTransit(ev.Reverse)
			u.jitterFwd.Set(j.fwd.Value().Seconds())
			u.jitterRev.Set(j.rev.Value().Seconds())
		}
	case udp.EventLost:
		s.Requests.Inc()
	case udp.EventLate:
		s.Late.Inc()
	case udp.EventSendError:
		s.Error("send")
	case udp.EventUnreachable:
		s.Error(icmpmsg.ErrorKind(t.addr.Is6(), ev.ICMPType, ev.ICMPCode))
	}
}

// UDPSeries are the series a udp target has beside its ProbeSeries:
// against a reflector the one-way delays (clock offset between the two
// hosts included) and the RFC 3550 interarrival jitter of each direction,
// and against any server the jitter of the round trip.
//
// UDPSeries is an unchecked collector (Describe sends nothing), as
// ProbeSeries: the delay histograms share one descriptor with every
// target's, their labels being variable ones.
type UDPSeries struct {
	names, values                   []string // the target's labels, sorted by name
	jitter                          *prometheus.GaugeVec
	forward, reverse                atomic.Pointer[Histogram]
	jitterFwd, jitterRev, jitterRTT prometheus.Gauge
	once                            sync.Once
}

const onewayName, onewayHelp = "rawnet_probe_oneway_delay_seconds",
	"One-way delay of answered datagrams as the reflector's stamps give it (direction forward: to it, reverse: back); includes the offset between the two clocks."

// NewUDPSeries makes them with labels l (ProbeLabels).
func NewUDPSeries(l prometheus.Labels) *UDPSeries {
	u := &UDPSeries{
		jitter: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rawnet_probe_jitter_seconds", ConstLabels: l,
			Help: "RFC 3550 interarrival jitter of the current probe run: forward and reverse from a reflector's stamps, round_trip from the round trips."}, []string{"direction"}),
	}
	for name := range l {
		u.names = append(u.names, name)
	}
	u.names = append(u.names, "direction")
	sort.Strings(u.names)
	for _, name := range u.names {
		u.values = append(u.values, l[name])
	}
	u.jitterRTT = u.jitter.WithLabelValues("round_trip")
	return u
}

// reflected creates the per-direction series on the first reflected reply,
// so that an echo server's target has none. (Called by the target's one
// probe goroutine.)
func (u *UDPSeries) reflected() {
	u.reverse.Store(u.oneway("reverse"))
	u.forward.Store(u.oneway("forward")) // last: Collect takes forward for both
	u.jitterFwd = u.jitter.WithLabelValues("forward")
	u.jitterRev = u.jitter.WithLabelValues("reverse")
}

// oneway makes the delay histogram of direction.
func (u *UDPSeries) oneway(direction string) *Histogram {
	values := slices.Clone(u.values)
	values[slices.Index(u.names, "direction")] = direction
	d := sharedDesc(onewayName, onewayHelp, u.names)
	return NewHistogram(d, prometheus.MakeLabelPairs(d, values))
}

// Describe sends nothing: UDPSeries is an unchecked collector.
func (u *UDPSeries) Describe(chan<- *prometheus.Desc) {}

// Collect sends the series.
func (u *UDPSeries) Collect(ch chan<- prometheus.Metric) {
	if h := u.forward.Load(); h != nil {
		ch <- h
		ch <- u.reverse.Load()
	}
	u.jitter.Collect(ch)
}

// AcquireUDPSeries returns the udp series of the target with labels l from
// the store, with the function that releases them.
func AcquireUDPSeries(st *Store, l prometheus.Labels) (*UDPSeries, func()) {
	key := SeriesKey("udp", l)
	u := st.Acquire(key, func() prometheus.Collector { return NewUDPSeries(l) }).(*UDPSeries)
	return u, func() { st.Release(key) }
}
