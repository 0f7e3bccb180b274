package exporter

import (
	"context"
	"io"
	"net/netip"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rawnet/rawnet/icmp"
)

func init() { RegisterProtocol("tcp", buildTCP) }

// tcpSocket returns the group's raw TCP socket of a family, opened before
// Seal. Each group has its own: the ping engine reads a TCP conn alone,
// and the conn holds the local port its SYNs leave from. So a tcp group
// added by a reload needs a restart (ErrSocketNotOpen), while a group
// kept by name reuses its socket, whatever its port.
func tcpSocket(env *Env, g *TargetGroup, v6 bool) (icmp.Conn, error) {
	key := SocketKey{Kind: "tcp/" + g.Name, V6: v6, TOS: g.TOS, Source: g.Source, Interface: g.Interface}
	c, err := env.Sockets.Get(key, func() (io.Closer, error) {
		return icmp.Listen(icmp.ListenConfig{V6: v6, Proto: icmp.ProtoTCP, TOS: g.TOS, Source: g.Source, Interface: g.Interface})
	})
	if err != nil {
		return nil, err
	}
	return c.(icmp.Conn), nil
}

func buildTCP(env *Env, g *TargetGroup) ([]Runner, error) {
	r := &tcpRunner{env: *env, g: *g}
	var err error
	r.c4, r.c6, err = familySockets(env, g.Pos, g.Hosts, g.Source, "TCP", func(v6 bool) (icmp.Conn, error) {
		return tcpSocket(env, g, v6)
	}, socketField(g))
	if err != nil {
		return nil, err
	}
	return []Runner{r}, nil
}

// tcpRunner probes one tcp group: a SYN per probe (ping's TCPProbe kind,
// half-open: the kernel resets the connection a SYN-ACK opens), one
// Pinger for all the group's addresses, rebuilt when a name moves.
type tcpRunner struct {
	env    Env
	g      TargetGroup
	c4, c6 icmp.Conn
}

// tcpTarget is one address the group probes and its series.
type tcpTarget struct {
	hostAddr
	series  *ProbeSeries
	tcp     *TCPSeries
	release func()
}

func (r *tcpRunner) Run(ctx context.Context) error {
	var cur []tcpTarget
	var job pingJob
	resolved := map[string]netip.Addr{}
	defer func() {
		job.stop()
		releaseTCP(cur)
	}()
	everyResolve(ctx, r.env.ResolveInterval, r.g.Hosts, false, func(bool) {
		var next []tcpTarget
		for _, h := range expandHosts(ctx, &r.env, r.g.Name, r.g.Hosts, r.g.Source, false, resolved, func(h string, err error) {
			s, release := AcquireProbeSeries(r.env.Series, r.labels(h, netip.Addr{}))
			s.Error("resolve")
			release()
		}) {
			next = append(next, tcpTarget{hostAddr: h})
		}
		if ctx.Err() != nil || slices.EqualFunc(cur, next, func(a, b tcpTarget) bool { return a.hostAddr == b.hostAddr }) {
			return
		}
		cur = swapTargets(ctx, &job, cur, next, r.acquire, releaseTCP, r.ping)
	})
	return nil
}

func (r *tcpRunner) labels(host string, ip netip.Addr) prometheus.Labels {
	return ProbeLabels(r.g.Name, host, ip, "tcp", r.g.Labels)
}

func (r *tcpRunner) acquire(ts []tcpTarget) []tcpTarget {
	for i := range ts {
		l := r.labels(ts[i].host, ts[i].addr)
		var relP, relT func()
		ts[i].series, relP = AcquireProbeSeries(r.env.Series, l)
		ts[i].tcp, relT = AcquireTCPSeries(r.env.Series, l)
		ts[i].release = func() { relP(); relT() }
	}
	return ts
}

func releaseTCP(ts []tcpTarget) {
	for _, t := range ts {
		if t.release != nil {
			t.release()
		}
	}
}

// ping runs one Pinger with the TCP SYN kind over ts until ctx ends.
func (r *tcpRunner) ping(ctx context.Context, ts []tcpTarget) {
	var conns []icmp.Conn
	for _, c := range []icmp.Conn{r.c4, r.c6} {
		if c != nil {
			// The last Pinger on this socket stopped its reads with a
			// deadline in the past.
			_ = c.SetReadDeadline(time.Time{})
			conns = append(conns, c)
		}
	}
	addrs := make([]netip.Addr, len(ts))
	for i, t := range ts {
		addrs[i] = t.addr
	}
	size := r.g.Size
	if size == 0 {
		size = icmp.NoPayload // a SYN carries no data unless asked
	}
	cfg := icmp.Config{Conns: conns, Interval: r.g.Interval, Size: size, Cookie: newCookie(), Kind: icmp.NewTCPProbe(uint16(r.g.Port))}
	runPinger(ctx, &r.env, r.g.Name, cfg, addrs, r.c4 != nil, r.c6 != nil, func(i int) *ProbeSeries { return ts[i].series },
		func(i int, ev icmp.Event) {
			t := &ts[i]
			countEvent(t.series, ev, t.addr.Is6())
			if ev.Kind == icmp.EventReply && !ev.Dup {
				t.tcp.count(ev.Flags)
			}
		})
}

// TCPSeries are the series a tcp target has beside its ProbeSeries: its
// replies by TCP flags, SA (SYN-ACK: the port is open) and RA (RST: it is
// closed).
type TCPSeries struct {
	replies *prometheus.CounterVec
	sa, ra  prometheus.Counter
}

// NewTCPSeries makes them with labels l (ProbeLabels).
func NewTCPSeries(l prometheus.Labels) *TCPSeries {
	s := &TCPSeries{replies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rawnet_probe_tcp_replies_total", ConstLabels: l,
		Help: "Replies to TCP SYN probes by their flags: SA (SYN-ACK, the port is open) or RA (RST, closed); rawnet_probe_replies_total counts both."}, []string{"flags"})}
	s.sa = s.replies.WithLabelValues("SA")
	s.ra = s.replies.WithLabelValues("RA")
	return s
}

func (s *TCPSeries) count(flags uint8) {
	switch {
	case flags&icmp.TCPRst != 0:
		s.ra.Inc()
	case flags&icmp.TCPSA == icmp.TCPSA:
		s.sa.Inc()
	}
}

// Describe sends the descriptors of the series.
func (s *TCPSeries) Describe(ch chan<- *prometheus.Desc) { s.replies.Describe(ch) }

// Collect sends the series.
func (s *TCPSeries) Collect(ch chan<- prometheus.Metric) { s.replies.Collect(ch) }

// AcquireTCPSeries returns the tcp series of the target with labels l from
// the store, with the function that releases them.
func AcquireTCPSeries(st *Store, l prometheus.Labels) (*TCPSeries, func()) {
	key := SeriesKey("tcp", l)
	s := st.Acquire(key, func() prometheus.Collector { return NewTCPSeries(l) }).(*TCPSeries)
	return s, func() { st.Release(key) }
}
