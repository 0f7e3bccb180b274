package udp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/rawnet/rawnet/tap"
)

// Server answers (or swallows) datagrams from any number of clients at
// once. Create it with NewServer, run it once with Run.
//
// One goroutine reads batches of datagrams (recvmmsg), answers them in
// place from the same buffers and writes the answers in one batch
// (sendmmsg): nothing is copied or allocated per datagram. Per-client
// state lives in a table of at most MaxClients entries, so memory is
// bounded whatever clients send.
type Server struct {
	cfg     ServerConfig
	conn    Conn
	in, out []Message
	owners  []*client // the client of each out message
	clients map[netip.AddrPort]*client
	others  client // clients beyond MaxClients, counted together
	global  bucket
	active  int
	totals  ServerTotals
	start   time.Time
	report  []ClientStats
	tapBuf  []byte
	local   netip.AddrPort

	sink func(ServerEvent) error
	err  error

	nextReport, nextSweep time.Time
}

type client struct {
	ClientStats
	bucket bucket
	seq    seqTracker
}

// tick is how often the server looks at its clients (active count, idle
// ones, reports) when nothing else wakes it.
const tick = 100 * time.Millisecond

// NewServer checks cfg, fills in the defaults of its zero fields and
// prepares a server over cfg.Conn.
func NewServer(cfg ServerConfig) (*Server, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, conn: cfg.Conn, clients: make(map[netip.AddrPort]*client), local: cfg.Conn.LocalAddr()}
	s.in = make([]Message, MaxBatch)
	s.out = make([]Message, MaxBatch)
	s.owners = make([]*client, MaxBatch)
	for i := range s.in {
		s.in[i].Buf = make([]byte, cfg.BufSize)
	}
	if cfg.Tap != nil {
		s.tapBuf = make([]byte, tapLen(cfg.BufSize))
	}
	return s, nil
}

// Run serves until ctx ends, reporting to sink, and returns the figures.
func (s *Server) Run(ctx context.Context, sink func(ServerEvent) error) (ServerSummary, error) {
	s.sink = sink
	stop := context.AfterFunc(ctx, func() { s.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	s.start = time.Now()
	s.nextReport = s.start.Add(s.cfg.ReportEvery)
	s.nextSweep = s.start.Add(tick)
	s.conn.SetReadDeadline(s.nextSweep)
	for ctx.Err() == nil && s.err == nil {
		n, err := s.conn.ReadBatch(s.in)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if ctx.Err() == nil {
				s.tick(time.Now())
			}
			continue
		}
		if err != nil {
			return s.summary(), err
		}
		s.serve(s.in[:n])
	}
	return s.summary(), s.err
}

// serve handles one batch: count, check, limit, answer.
func (s *Server) serve(batch []Message) {
	now := time.Now()
	ns := now.UnixNano()
	k := 0
	for i := range batch {
		m := &batch[i]
		if m.Kind != MsgData {
			continue
		}
		c := s.client(m.Addr, now)
		s.count(c, m)
		if !s.answers(c, m) {
			continue
		}
		if !s.allow(c, ns) {
			c.RateLimited++
			s.totals.RateLimited++
			continue
		}
		s.out[k] = Message{Buf: m.Buf, N: m.N, Addr: m.Addr, Local: m.Local, Time: m.Time}
		s.owners[k] = c
		k++
	}
	if k > 0 {
		s.reply(k)
	}
	if now.After(s.nextSweep) {
		s.tick(now)
	}
}

func (s *Server) count(c *client, m *Message) {
	if c.Received == 0 {
		c.First = m.Time // the same clock as Last: the kernel's stamp
	}
	c.Received++
	c.Bytes += uint64(m.N)
	c.Last = m.Time
	s.totals.Received++
	s.totals.Bytes += uint64(m.N)
	tapUDP(s.cfg.Tap, s.tapBuf, tap.In, m.Time, m.Addr, s.localFor(m), m.Data())
	h, err := Parse(m.Data())
	if err != nil {
		// An ordinary client's datagram (an echo client, nping, a script)
		// is plain; one with rawnet's magic that does not parse is
		// malformed. Echo mode returns both; reflect mode neither.
		if ClaimsProbe(m.Data()) {
			c.Malformed++
			s.totals.Malformed++
		} else {
			c.Plain++
			s.totals.Plain++
		}
		m.Kind = msgNotProbe
		return
	}
	c.track(&h)
	if s.cfg.Mode == ModeReflect {
		Reflect(m.Buf, m.Time, m.Time, uint32(c.Probes))
	}
}

// msgNotProbe marks, within the server, a datagram Parse refused (plain or
// malformed).
const msgNotProbe MsgKind = 255

// answers reports whether the mode answers m at all.
func (s *Server) answers(c *client, m *Message) bool {
	switch s.cfg.Mode {
	case ModeSink:
		return false
	case ModeReflect:
		return m.Kind != msgNotProbe
	}
	return true
}

// allow applies the global cap and the client's limit (its own rate, or
// its share of the global cap).
func (s *Server) allow(c *client, ns int64) bool {
	rate := s.cfg.ClientRate
	if rate == 0 && s.cfg.MaxRate > 0 {
		rate = s.cfg.MaxRate / float64(max(1, s.active))
	}
	if !c.bucket.take(ns, rate, burstFor(rate)) {
		return false
	}
	return s.global.take(ns, s.cfg.MaxRate, burstFor(s.cfg.MaxRate))
}

// reply sends the first k out messages.
func (s *Server) reply(k int) {
	if s.cfg.Delay > 0 {
		for i := range k {
			time.Sleep(time.Until(s.out[i].Time.Add(s.cfg.Delay)))
			s.write(i, i+1)
		}
		return
	}
	s.write(0, k)
}

// write sends out messages from..to-1, stamped with the send time.
func (s *Server) write(from, to int) {
	out := s.out[from:to]
	tx := time.Now()
	if s.cfg.Mode == ModeReflect {
		for i := range out {
			StampTx(out[i].Buf, tx)
		}
	}
	n, err := s.conn.WriteBatch(out)
	if err != nil {
		s.totals.SendErrors++
	}
	for i := range n {
		s.owners[from+i].Replied++
		tapUDP(s.cfg.Tap, s.tapBuf, tap.Out, tx, s.localFor(&out[i]), out[i].Addr, out[i].Data())
	}
	s.totals.Replied += uint64(n)
}

func (s *Server) localFor(m *Message) netip.AddrPort {
	if m.Local.IsValid() {
		return netip.AddrPortFrom(m.Local, s.local.Port())
	}
	return s.local
}

// client finds (or makes) the state of the client at addr.
func (s *Server) client(addr netip.AddrPort, now time.Time) *client {
	if c, ok := s.clients[addr]; ok {
		return c
	}
	if len(s.clients) >= s.cfg.MaxClients {
		s.totals.Untracked++
		return &s.others
	}
	c := &client{ClientStats: ClientStats{Addr: addr, First: now}, seq: newSeqTracker(serverSeqWindow)}
	s.clients[addr] = c
	s.totals.Clients++
	s.active++
	return c
}

// track follows the sequence numbers of a client's probe session.
func (c *client) track(h *Header) {
	if h.Cookie != c.Session || c.Probes == 0 {
		c.Session, c.Probes, c.Duplicates, c.Reordered, c.HighestSeq = h.Cookie, 0, 0, 0, 0
		c.seq.reset()
	}
	switch class, _ := c.seq.add(h.Seq); class {
	case seqNew:
		c.Probes++
		c.HighestSeq = h.Seq
	case seqReordered:
		c.Probes++
		c.Reordered++
	case seqDuplicate:
		c.Duplicates++
	}
}

// tick counts active clients, forgets idle ones and reports when due.
func (s *Server) tick(now time.Time) {
	s.active = 0
	for addr, c := range s.clients {
		idle := now.Sub(c.Last)
		if idle > s.cfg.IdleTimeout {
			s.emit(ServerEvent{Kind: ClientGone, Time: now, Clients: []ClientStats{c.ClientStats}, Totals: s.totals})
			delete(s.clients, addr)
			continue
		}
		if idle < activeWindow {
			s.active++
		}
	}
	if s.cfg.ReportEvery > 0 && !now.Before(s.nextReport) {
		s.emit(ServerEvent{Kind: ServerReport, Time: now, Clients: s.snapshot(), Totals: s.totals})
		for !s.nextReport.After(now) {
			s.nextReport = s.nextReport.Add(s.cfg.ReportEvery)
		}
	}
	s.nextSweep = now.Add(tick)
	s.conn.SetReadDeadline(s.nextSweep)
}

// snapshot lists the tracked clients in the order they came.
func (s *Server) snapshot() []ClientStats {
	s.report = s.report[:0]
	for _, c := range s.clients {
		s.report = append(s.report, c.ClientStats)
	}
	if s.others.Received > 0 {
		s.report = append(s.report, s.others.ClientStats)
	}
	slices.SortFunc(s.report, func(a, b ClientStats) int { return a.First.Compare(b.First) })
	return s.report
}

func (s *Server) emit(ev ServerEvent) {
	if s.err == nil && s.sink != nil {
		s.err = s.sink(ev)
	}
}

func (s *Server) summary() ServerSummary {
	return ServerSummary{Local: s.local, Start: s.start, Elapsed: time.Since(s.start),
		Clients: slices.Clone(s.snapshot()), Totals: s.totals}
}

// defaults fills in the zero fields of c and checks the others.
func (c *ServerConfig) defaults() error {
	if c.Conn == nil {
		return errNoConn
	}
	if c.MaxClients <= 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.BufSize <= 0 {
		c.BufSize = DefaultBufSize
	}
	if c.MaxRate < 0 || c.ClientRate < 0 {
		return fmt.Errorf("udp: rates must not be negative")
	}
	return nil
}
