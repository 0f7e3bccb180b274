package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rawnet/rawnet/icmp"
	"github.com/rawnet/rawnet/internal/target"
	"github.com/rawnet/rawnet/udp"
)

func init() {
	RegisterModuleProber("udp", probeUDP)
	RegisterModulePreparer("udp", prepareUDPModule)
	RegisterModuleProber("tcp", probeTCP)
	RegisterModulePreparer("tcp", prepareTCPModule)
}

// resolveProbeTarget resolves a /probe target of a udp or tcp module: one
// address or host name. ok is false when a name does not resolve (a
// failed probe, as in blackbox_exporter; the series count it).
func resolveProbeTarget(ctx context.Context, env *Env, tgt string) (addr netip.Addr, ok bool, err error) {
	if strings.Contains(tgt, "/") {
		return addr, false, fmt.Errorf("%w %q: give one address or host name, not a prefix", errBadTarget, tgt)
	}
	if _, err := netip.ParseAddr(tgt); err != nil && !validHostName(tgt) {
		return addr, false, fmt.Errorf("%w %q: not an address or host name", errBadTarget, tgt)
	}
	lctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	ts, err := target.Expand(lctx, []string{tgt}, target.Options{Resolver: env.Resolver})
	if err != nil {
		return addr, false, nil
	}
	return ts[0].Addr, true, nil
}

func prepareUDPModule(env *Env, m *Module) error {
	if m.Size != 0 && m.Size < udp.HeaderLen {
		return m.Errorf(env.File, "size", "%d bytes cannot hold rawnet's UDP probe header: at least %d for protocol udp", m.Size, udp.HeaderLen)
	}
	return nil
}

// probeUDP sends m.Count datagrams, m.Interval apart, to target's m.Port
// (rawnet udp serve) and waits up to m.Timeout for each reply.
func probeUDP(ctx context.Context, env *Env, m *Module, tgt string, reg prometheus.Registerer) (bool, error) {
	addr, ok, err := resolveProbeTarget(ctx, env, tgt)
	if err != nil {
		return false, err
	}
	l := ProbeLabels(m.Name, tgt, addr, "udp", nil)
	t := &udpTarget{series: NewProbeSeries(l), udp: NewUDPSeries(l), addr: addr}
	reg.MustRegister(t.series, t.udp)
	if !ok {
		t.series.Error("resolve")
		return false, nil
	}
	remote := netip.AddrPortFrom(addr, uint16(m.Port))
	c, err := udp.Dial(udp.ListenConfig{Remote: remote, TOS: m.TOS, TxStamps: true})
	if err != nil {
		t.series.Requests.Inc()
		t.series.Error("send")
		return false, nil
	}
	defer c.Close()
	p, err := udp.NewProbe(udp.ProbeConfig{Remote: remote, Count: m.Count, Interval: m.Interval, Timeout: m.Timeout, Size: m.Size, Conn: c,
		SeqWindow: max(256, 2*m.Count), Samples: -1})
	if err != nil {
		return false, err
	}
	var j udpJitter
	sum, err := p.Run(ctx, func(ev udp.ProbeEvent) error {
		countUDP(t, &j, &ev)
		return nil
	})
	return sum.Received > 0, err
}

// tcpModuleSocket is a tcp module's raw TCP socket of one family, opened
// at start, and the lock that gives it to one /probe request at a time
// (the ping engine reads a TCP conn alone).
type tcpModuleSocket struct {
	mu sync.Mutex
	c  icmp.Conn
}

func (s *tcpModuleSocket) Close() error { return s.c.Close() }

func tcpModuleSocketFor(env *Env, m *Module, v6 bool) (*tcpModuleSocket, error) {
	c, err := env.Sockets.Get(SocketKey{Kind: "tcp-module/" + m.Name, V6: v6, TOS: m.TOS}, func() (io.Closer, error) {
		c, err := icmp.Listen(icmp.ListenConfig{V6: v6, Proto: icmp.ProtoTCP, TOS: m.TOS})
		if err != nil {
			return nil, err
		}
		return &tcpModuleSocket{c: c}, nil
	})
	if err != nil {
		return nil, err
	}
	return c.(*tcpModuleSocket), nil
}

func prepareTCPModule(env *Env, m *Module) error {
	for _, v6 := range []bool{false, true} {
		if _, err := tcpModuleSocketFor(env, m, v6); err != nil {
			if errors.Is(err, ErrSocketNotOpen) {
				return m.Errorf(env.File, "protocol", "%v", err)
			}
			env.Logger.Warn("no TCP socket for /probe", "module", m.Name, "v6", v6, "err", err)
		}
	}
	return nil
}

// probeTCP sends m.Count SYNs, m.Interval apart, to target's m.Port; a
// SYN-ACK and an RST both answer. Requests to one module take its socket
// in turn.
func probeTCP(ctx context.Context, env *Env, m *Module, tgt string, reg prometheus.Registerer) (bool, error) {
	addr, ok, err := resolveProbeTarget(ctx, env, tgt)
	if err != nil {
		return false, err
	}
	l := ProbeLabels(m.Name, tgt, addr, "tcp", nil)
	series, tcp := NewProbeSeries(l), NewTCPSeries(l)
	reg.MustRegister(series, tcp)
	if !ok {
		series.Error("resolve")
		return false, nil
	}
	s, err := tcpModuleSocketFor(env, m, addr.Is6())
	if err != nil {
		series.Error("send")
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.c.SetReadDeadline(time.Time{}) // the last request stopped its reads with one in the past
	size := m.Size
	if size == 0 {
		size = icmp.NoPayload
	}
	p, err := icmp.New(icmp.Config{Targets: []netip.Addr{addr}, Conns: []icmp.Conn{s.c}, Count: m.Count,
		Interval: m.Interval, Timeout: m.Timeout, Size: size, Cookie: newCookie(), Kind: icmp.NewTCPProbe(uint16(m.Port))})
	if err != nil {
		return false, err
	}
	replies := 0
	_, err = p.Run(ctx, func(ev icmp.Event) error {
		countEvent(series, ev, addr.Is6())
		if ev.Kind == icmp.EventReply && !ev.Dup {
			tcp.count(ev.Flags)
			replies++
		}
		return nil
	})
	return replies > 0, err
}
