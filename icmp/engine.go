package icmp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/rawsock"
	"github.com/rawnet/rawnet/stats"
	"github.com/rawnet/rawnet/tap"
)

// Defaults for a zero Config.
const (
	DefaultInterval = time.Second
	DefaultSize     = 56
	DefaultTimeout  = 2 * time.Second
	DefaultRate     = 20000 // probes per second over all targets, when there are several
	NoPayload       = -1    // Config.Size for echo messages without payload
	// FloodInterval is a flood's Interval when Config.Interval is zero: the
	// wait for a reply before the next probe goes anyway.
	FloodInterval = 10 * time.Millisecond
	maxRing       = 1 << 16
)

// Config says what to ping and how. The zero value of every field but
// Targets and Conns means a sensible default.
type Config struct {
	// Targets are the addresses to ping; events and statistics refer to
	// them by index.
	Targets []netip.Addr
	// Conns are the sockets to ping through (see Listen): one for each
	// address family the targets need, at most one per family.
	Conns []Conn
	// Count is the number of probes per target; 0 sends until ctx ends.
	Count int
	// Interval is the time between two probes to the same target
	// (default 1s; the minimum when Flood is set).
	Interval time.Duration
	// Rate caps probes per second over all targets (default DefaultRate
	// when there are several targets; unlimited for one).
	Rate float64
	// Flood sends each probe as soon as the previous one is answered, or
	// after Interval (10ms by default) when it is not.
	Flood bool
	// Size is the echo payload length in bytes (0 means DefaultSize, 56;
	// NoPayload means none). Payloads of 16 bytes or more carry the
	// per-run cookie, target index and 32-bit sequence that make matching
	// exact; shorter ones are matched by address and sequence.
	Size int
	// Pattern fills the payload after rawnet's 16 bytes (zeros if empty).
	Pattern []byte
	// Timeout is how long a probe waits for its reply before it counts as
	// lost (default 2s). A later reply is reported as late, not counted.
	Timeout time.Duration
	// Tap, if set, is given every packet sent and received.
	Tap tap.Func
	// ReportSent asks for an EventSent per probe (send failures are
	// always reported).
	ReportSent bool
	// UntilReplies makes Count the number of replies wanted from each
	// target rather than of probes to send: sending goes on until every
	// target has answered Count times (or ctx ends), as ping -c N -w D does.
	UntilReplies bool
	// Cookie identifies this run in every payload; 0 picks a random one.
	Cookie uint64
	// Kind is what a probe is and what answers it (see Kind); nil means
	// ICMP echo. Each Conn must be of the kind's protocol (Listen with
	// ListenConfig.Proto).
	Kind Kind
}

// EventKind says what happened.
type EventKind uint8

const (
	// EventSent: a probe was sent (Err set if the send failed).
	EventSent EventKind = iota
	// EventReply: the target answered one of our probes (an echo reply,
	// a TCP SYN-ACK or RST, a UDP answer or port unreachable).
	EventReply
	// EventError: an ICMP error message about one of our probes.
	EventError
	// EventTimeout: a probe got no reply within Config.Timeout.
	EventTimeout
	// EventLate: a reply came after its probe had timed out.
	EventLate
	// EventLocalError: the kernel refused the probe as too long for the
	// path MTU (-M do); Info is the MTU, Err the send error. As iputils
	// counts it: transmitted, and one of the target's Errors.
	EventLocalError
)

func (k EventKind) String() string {
	return [...]string{"sent", "reply", "icmp_error", "timeout", "late", "local_error"}[k]
}

// Event is one thing that happened to one probe. Events are values; the
// engine keeps no reference to them.
type Event struct {
	Kind        EventKind
	Target      int // index into Config.Targets
	Seq         uint32
	From        netip.Addr
	TTL         int // of the reply; -1 unknown
	Size        int // ICMP bytes received
	RTT         time.Duration
	Dup         bool
	Time        time.Time // when the packet was received (or the probe sent)
	KernelStamp bool      // Time is the kernel's receive timestamp
	// KernelTxStamp: RTT runs from the kernel's transmit stamp of the
	// probe (SO_TIMESTAMPING), not the time read before sending it.
	KernelTxStamp bool
	ICMPType      uint8
	ICMPCode      uint8
	Info          uint32 // of an ICMP error (an MTU, a pointer, a gateway); the MTU of a local error
	Err           error  // send failure
	// Flags are the TCP flags of a TCP answer (TCPSA: open, TCPRA: closed).
	Flags uint8
	// Closed: a TCP or UDP answer says the port is closed (RST, ICMP port
	// unreachable).
	Closed bool
	// MAC is the link-layer address that answered (ARP, NDP kinds).
	MAC [6]byte

	done     bool // the last pending probe was resolved after sending finished
	resolved bool // this packet settled a probe that was waiting
}

// TargetStats are the figures for one target.
type TargetStats struct {
	Addr        netip.Addr
	Transmitted int
	Received    int
	Duplicates  int
	Errors      int // ICMP error messages about our probes, and local errors (message too long)
	Late        int
	SendErrors  int
	RTT         stats.RTT
}

// LossPct is the fraction of probes, in percent, that got no reply.
func (s *TargetStats) LossPct() float64 { return stats.LossPct(s.Transmitted, s.Received) }

// Summary is what Run returns.
type Summary struct {
	Targets []TargetStats
	Start   time.Time
	// Elapsed runs from the first probe to the last packet sent or
	// received, as ping's "time" does; waiting for replies that never came
	// is not in it.
	Elapsed time.Duration
	// Wall is the whole run, waits included.
	Wall time.Duration
}

// Received is the number of replies over all targets.
func (s *Summary) Received() int { return s.Totals().Received }

// Pinger runs one ping job. Create it with New, run it once with Run.
//
// Three goroutines share the work: the sender paces probes, one receiver
// per socket matches replies (and, when flooding, sends the next probe at
// once, with no hand-off), and Run's own goroutine expires probes whose
// timeout passed. The sink is called under a mutex, so by one goroutine at
// a time, straight from whichever goroutine saw the event.
type Pinger struct {
	cfg     Config
	conns   [2]Conn // IPv4, IPv6
	cookie  uint64
	gap     time.Duration // between two sends over all targets
	period  time.Duration // between two rounds
	timeout int64
	total   int // probes to send over all targets; 0 = no limit

	sendMu   sync.Mutex // serializes sends: tmpl, tapOut, next
	next     int        // index of the next probe to send
	lastSend atomic.Int64
	stopped  atomic.Bool   // no more sends (ctx ended)
	allSent  chan struct{} // closed when the last probe has been sent
	kind     Kind
	// echo is kind when it is ICMP echo, called directly rather than
	// through the interface on the hot path (the difference is within the
	// benchmarks' noise on the 2-core development VM; see the commit).
	echo    *Echo
	probe   Probe      // what the kind builds a probe from, under sendMu (a pointer to a local would escape)
	sbuf    []byte     // the probe the kind builds, under sendMu
	matches [2]Match   // per socket (IPv4, IPv6), for its one reader
	tapMu   sync.Mutex // a probe is recorded before its reply
	tapOut  []byte

	mu           sync.Mutex // probe state and statistics
	targets      []target
	byAddr       map[netip.Addr]uint32
	fifo         fifo // pending probes in send order (deadlines are monotonic)
	pending      int
	lastRecv     int64 // unix nanoseconds of the last matched packet
	satisfied    int   // targets with Count replies (UntilReplies)
	armed        bool  // the expiry timer is running
	sendFinished bool

	sinkMu  sync.Mutex
	sink    func(Event) error
	sinkErr error

	wake     chan struct{} // tells Run to look at the state again
	stopping chan struct{}
}

type target struct {
	Addr    netip.Addr
	conn    Conn
	id      uint16            // the conn's identifier
	stamper rawsock.TxStamper // the conn's transmit stamps; nil: none
	src     netip.Addr
	seq     uint32 // last sequence sent
	ring    []slot
	mask    uint32
	st      TargetStats
}

const (
	slotEmpty uint8 = iota
	slotPending
	slotAnswered
	slotExpired
)

type slot struct {
	seq   uint32
	state uint8
	keyed bool   // key is the probe's transmit stamp number on its conn
	key   uint32 // see rawsock.TxStamper
	sent  int64  // unix nanoseconds, read before sending
}

// New checks cfg, fills in the defaults of its zero fields and prepares a
// Pinger over cfg.Conns.
func New(cfg Config) (*Pinger, error) {
	if len(cfg.Targets) == 0 {
		return nil, errors.New("icmp: no targets")
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	p := &Pinger{cfg: cfg, cookie: cfg.Cookie}
	for _, c := range cfg.Conns {
		fam := 0
		if c.V6() {
			fam = 1
		}
		if p.conns[fam] != nil {
			return nil, errors.New("icmp: two sockets of one address family")
		}
		p.conns[fam] = c
	}
	for p.cookie == 0 {
		p.cookie = rand.Uint64() // see randomness in conn_linux.go
	}
	p.initPacing()
	if err := p.initTargets(); err != nil {
		return nil, err
	}
	p.timeout = int64(cfg.Timeout)
	p.kind = cfg.Kind
	if p.kind == nil {
		p.kind = NewEcho()
	}
	p.echo, _ = p.kind.(*Echo)
	p.probe.Cookie = p.cookie
	p.sbuf = make([]byte, p.kind.Len(cfg.Size))
	p.kind.Prepare(p.sbuf, cfg.Size, cfg.Pattern)
	if cfg.Tap != nil {
		p.tapOut = make([]byte, ipv6HeaderLen+len(p.sbuf))
	}
	p.total = cfg.Count * len(cfg.Targets)
	if cfg.UntilReplies {
		p.total = 0 // until every target has Count replies
	}
	p.wake = make(chan struct{}, 1)
	p.allSent = make(chan struct{})
	p.stopping = make(chan struct{})
	return p, nil
}

// defaults fills in the zero fields of c and checks the others.
func (c *Config) defaults() error {
	if c.Count < 0 {
		return fmt.Errorf("icmp: count %d is negative", c.Count)
	}
	if c.Interval < 0 || c.Timeout < 0 || c.Rate < 0 {
		return errors.New("icmp: interval, timeout and rate must not be negative")
	}
	switch c.Size {
	case 0:
		c.Size = DefaultSize
	case NoPayload:
		c.Size = 0
	}
	if c.Size < 0 || c.Size > maxPayload4 {
		return fmt.Errorf("icmp: payload size %d is outside 0..%d", c.Size, maxPayload4)
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
		if c.Flood {
			c.Interval = FloodInterval
		}
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Rate == 0 && len(c.Targets) > 1 {
		c.Rate = DefaultRate
	}
	return nil
}

func (p *Pinger) initTargets() error {
	n := len(p.cfg.Targets)
	p.targets = make([]target, n)
	p.byAddr = make(map[netip.Addr]uint32, n)
	ringSize := p.ringSize()
	for i, t := range p.cfg.Targets {
		fam := 0
		if !t.Is4() {
			fam = 1
		}
		c := p.conns[fam]
		if c == nil {
			return fmt.Errorf("icmp: no socket for %s", t)
		}
		// A target the kernel will not route to (a broadcast address, say)
		// fails when its probes are sent, as send errors, not the run.
		src, err := c.Source(t)
		if rawsock.IsZoneError(err) { // fe80::1 without %IFACE or -I: a mistake in the target
			return err
		}
		p.targets[i] = target{Addr: t, conn: c, src: src, ring: make([]slot, ringSize), mask: uint32(ringSize - 1), id: c.ID()}
		if st, ok := c.(rawsock.TxStamper); ok {
			if _, on := st.TxKey(); on {
				p.targets[i].stamper = st
			}
		}
		p.targets[i].st.Addr = t
		p.byAddr[t.WithZone("")] = uint32(i)
	}
	return nil
}

// ringSize is how many recent probes per target are remembered: enough for
// every probe that can still be waiting for its reply.
func (p *Pinger) ringSize() int {
	want := int(p.cfg.Timeout/max(p.period, 1)) + 2
	if p.cfg.Flood {
		want = max(want, 4096)
	}
	if p.cfg.Count > 0 && !p.cfg.UntilReplies { // (UntilReplies sends more than Count)
		want = min(want, p.cfg.Count)
	}
	want = min(max(want, 1), maxRing)
	return 1 << bits.Len(uint(want-1))
}

func (p *Pinger) initPacing() {
	n := len(p.cfg.Targets)
	if p.cfg.Rate > 0 {
		p.gap = time.Duration(float64(time.Second) / p.cfg.Rate)
	}
	p.period = max(p.cfg.Interval, time.Duration(n)*p.gap)
}

// Run sends the probes, matches replies, passes every event to sink (one
// call at a time) and returns the statistics. It returns when every probe
// is answered or timed out, or when ctx ends (Ctrl-C, deadline): then the
// statistics cover what was sent until then. A sink error stops the run.
func (p *Pinger) Run(ctx context.Context, sink func(Event) error) (Summary, error) {
	p.sink = sink
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sendDone := make(chan struct{})
	go func() {
		defer close(sendDone)
		p.sendLoop(ctx, start)
		p.mu.Lock()
		p.sendFinished = true
		p.mu.Unlock()
		p.poke()
	}()
	var recv sync.WaitGroup
	for _, c := range p.conns {
		if c != nil {
			recv.Add(1)
			go func(c Conn) { defer recv.Done(); p.recvLoop(c) }(c)
		}
	}
	p.coordinate(ctx)
	p.stopped.Store(true)
	cancel()
	<-sendDone
	close(p.stopping)
	for _, c := range p.conns {
		if c != nil {
			_ = c.SetReadDeadline(time.Unix(1, 0))
		}
	}
	recv.Wait()
	p.sinkMu.Lock()
	err := p.sinkErr
	p.sinkMu.Unlock()
	return p.summary(start), err
}

// coordinate expires probes until all are resolved, ctx ends, or the sink
// fails. Its timer runs while probes may be waiting: the sender pokes it
// only when it is not running (armed false), which in a steady run is once
// per timeout period, not once per probe.
func (p *Pinger) coordinate(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	running := false
	for {
		select {
		case <-timer.C:
			running = false
			p.expire(time.Now())
		case <-p.wake:
		case <-ctx.Done():
			return
		}
		if p.finished() {
			return
		}
		p.mu.Lock()
		switch {
		case running:
		case p.fifo.len() > 0:
			timer.Reset(time.Until(time.Unix(0, p.fifo.peek().deadline)))
			running = true
		case !p.armed:
			// Nothing waits and nothing was sent since the timer stopped.
		default:
			// Probes were sent and already answered: look again a timeout
			// from now rather than be woken for every probe.
			timer.Reset(time.Duration(p.timeout))
			running = true
		}
		p.armed = running
		p.mu.Unlock()
	}
}

// poke wakes coordinate without blocking.
func (p *Pinger) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// finished reports whether the run is over: everything sent and resolved,
// or the sink failed.
func (p *Pinger) finished() bool {
	p.sinkMu.Lock()
	failed := p.sinkErr != nil
	p.sinkMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	return failed || (p.sendFinished && p.pending == 0) ||
		(p.cfg.UntilReplies && p.satisfied == len(p.targets))
}

// forgetResolved drops answered probes from the head of the fifo, so that
// it holds only what may still time out. Called with mu held.
func (p *Pinger) forgetResolved() {
	for p.fifo.len() > 0 {
		e := p.fifo.peek()
		t := &p.targets[e.target]
		if s := &t.ring[e.seq&t.mask]; s.seq == e.seq && s.state == slotPending {
			return
		}
		p.fifo.pop()
	}
}

// expire turns probes whose deadline has passed into timeouts.
func (p *Pinger) expire(now time.Time) {
	limit := now.UnixNano()
	for {
		p.mu.Lock()
		p.forgetResolved()
		if p.fifo.len() == 0 || p.fifo.peek().deadline > limit {
			p.mu.Unlock()
			return
		}
		e := p.fifo.pop()
		p.targets[e.target].ring[e.seq&p.targets[e.target].mask].state = slotExpired
		p.pending--
		p.mu.Unlock()
		p.deliver(Event{Kind: EventTimeout, Target: int(e.target), Seq: e.seq, TTL: -1, Time: now})
	}
}

// deliver hands one event to the sink, one call at a time; after the sink
// has failed, events are dropped.
func (p *Pinger) deliver(ev Event) {
	p.sinkMu.Lock()
	if p.sinkErr == nil {
		p.sinkErr = p.sink(ev)
		if p.sinkErr != nil {
			p.poke()
		}
	}
	p.sinkMu.Unlock()
}

func (p *Pinger) summary(start time.Time) Summary {
	p.mu.Lock()
	defer p.mu.Unlock()
	last := max(p.lastSend.Load(), p.lastRecv)
	s := Summary{Start: start, Wall: time.Since(start), Targets: make([]TargetStats, len(p.targets))}
	if last > 0 {
		s.Elapsed = max(time.Unix(0, last).Sub(start), 0)
	}
	for i := range p.targets {
		s.Targets[i] = p.targets[i].st
	}
	return s
}

// sendLoop sends Count probes to every target, round by round, paced by
// the gap between sends and the period between rounds. Flooding, it only
// steps in when a reply is overdue: the receiver sends on each reply.
func (p *Pinger) sendLoop(ctx context.Context, start time.Time) {
	if p.cfg.Flood {
		p.floodStart(ctx)
		return
	}
	n := len(p.targets)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for k := 0; !p.sentAll(); k++ {
		at := start.Add(time.Duration(k/n)*p.period + time.Duration(k%n)*p.gap)
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		if ctx.Err() != nil || !p.sendNext() {
			return
		}
	}
}

// floodStart sends the first probe of a flood and waits until the last
// has been sent: the receivers send every other probe, on each reply or
// when a reply is overdue, as ping -f's single loop does.
func (p *Pinger) floodStart(ctx context.Context) {
	p.sendNext()
	select {
	case <-p.allSent:
	case <-ctx.Done():
	}
}

// answeredEnough reports whether target ti has its Count replies; when
// every target has, sending stops.
func (p *Pinger) answeredEnough(ti int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.satisfied == len(p.targets) {
		p.stopped.Store(true)
	}
	return p.targets[ti].st.Received >= p.cfg.Count
}

// overdue reports whether a flood has waited the interval since its last
// probe.
func (p *Pinger) overdue() bool {
	last := p.lastSend.Load()
	return last != 0 && time.Now().UnixNano() >= last+int64(p.cfg.Interval)
}

// sentAll reports whether every probe has been sent (or sending stopped).
func (p *Pinger) sentAll() bool {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	return p.stopped.Load() || (p.total > 0 && p.next >= p.total)
}

// sendNext sends the next probe, if any is left; false when all are sent.
func (p *Pinger) sendNext() bool {
	p.sendMu.Lock()
	sent := p.sendNextLocked()
	p.sendMu.Unlock()
	return sent
}

func (p *Pinger) sendNextLocked() bool {
	if p.stopped.Load() || (p.total > 0 && p.next >= p.total) {
		return false
	}
	ti := p.next % len(p.targets)
	p.next++
	if p.next == p.total {
		// Only once the last probe is registered may Run see sending as
		// finished, or it could end before that probe's reply. Mark it
		// here, not in the sender goroutine: a flood's reader must see it
		// when the last reply comes, and the sender may not get to run
		// before then (one P, the reader never blocking).
		defer func() {
			p.mu.Lock()
			p.sendFinished = true
			p.mu.Unlock()
			close(p.allSent)
		}()
	}
	if p.cfg.UntilReplies && p.answeredEnough(ti) {
		return !p.stopped.Load() // this target is done; its turn passes
	}
	p.send(ti)
	return true
}

// send sends the next probe to target ti. Called with sendMu held.
func (p *Pinger) send(ti int) {
	p.mu.Lock()
	t := &p.targets[ti]
	t.seq++
	seq := t.seq
	pr := &p.probe
	pr.Target, pr.Seq, pr.ID, pr.V6, pr.Src, pr.Dst = uint32(ti), seq, t.id, !t.Addr.Is4(), t.src, t.Addr
	var msg []byte
	if p.echo != nil {
		msg = p.echo.Build(p.sbuf, pr) // ICMP echo, called directly: see Pinger.echo
	} else {
		msg = p.kind.Build(p.sbuf, pr)
	}
	now := time.Now()
	s := &t.ring[seq&t.mask]
	wrapped, lost := s.seq, s.state == slotPending // a probe the ring wrapped over, still waiting: it times out now
	if lost {
		// Its timeout has passed unless the ring is at maxRing, but the
		// coordinator has not got to it (a loaded machine): it is lost,
		// and says so as every other lost probe does.
		p.pending--
	}
	*s = slot{seq: seq, state: slotPending, sent: now.UnixNano()}
	if t.stamper != nil {
		s.key, s.keyed = t.stamper.TxKey() // sendMu: no other send in between
	}
	p.pending++
	p.fifo.push(pending{target: uint32(ti), seq: seq, deadline: now.UnixNano() + p.timeout})
	wake := !p.armed
	p.armed = true
	t.st.Transmitted++
	p.mu.Unlock()
	if lost {
		p.deliver(Event{Kind: EventTimeout, Target: ti, Seq: wrapped, TTL: -1, Time: now})
	}
	if wake {
		p.poke()
	}
	p.lastSend.Store(now.UnixNano())

	if p.cfg.Tap != nil {
		p.tapMu.Lock() // the receiver may not record the reply before the request
	}
	err := t.conn.WriteTo(msg, t.Addr)
	if err == nil && p.cfg.Tap != nil {
		p.tapSent(t, msg, now)
	}
	if p.cfg.Tap != nil {
		p.tapMu.Unlock()
	}
	ev := Event{Kind: EventSent, Target: ti, Seq: seq, Time: now, TTL: -1, Err: err}
	if err != nil {
		t.resetTxKey(err)
		local := errors.Is(err, syscall.EMSGSIZE)
		p.mu.Lock()
		if local {
			t.st.Errors++
		} else {
			t.st.SendErrors++
		}
		if s.seq == seq && s.state == slotPending {
			s.state = slotExpired
			p.pending--
		}
		p.mu.Unlock()
		if local {
			ev.Kind = EventLocalError
			if mtu, err := t.pathMTU(); err == nil {
				ev.Info = uint32(mtu)
			}
		}
	}
	if err != nil || p.cfg.ReportSent {
		p.deliver(ev)
	}
}

// resetTxKey restarts the kernel's packet numbering (OPT_ID) of t's
// socket after a send that failed past the route lookup: the kernel may
// have numbered the packet (a netfilter drop on the way out, EPERM, does)
// while the socket did not count it, and every later probe would then look
// up the number of the one before it and fall back to the user-space send
// time for the rest of the run. A Demux's virtual Conns keep their own
// numbering (demuxTx.end) and have no ResetTxKey. Called with sendMu held.
func (t *target) resetTxKey(err error) {
	if t.stamper == nil || rawsock.Unrouted(err) {
		return
	}
	if r, ok := t.stamper.(interface{ ResetTxKey() error }); ok {
		_ = r.ResetTxKey() // if it fails, the run falls back as before
	}
}

// pathMTU finds the MTU a too-long probe was refused for (a variable, so
// that engine tests over fake sockets need not ask the kernel).
var pathMTU = PathMTU

// pathMTU is the MTU a too-long probe to t was refused for: asked of its
// conn's route lookup socket when it has one (no socket opened per failed
// probe; called with sendMu held, which serializes it), else of pathMTU.
func (t *target) pathMTU() (int, error) {
	if r, ok := t.conn.(interface{ PathMTU(netip.Addr) (int, error) }); ok {
		return r.PathMTU(t.Addr)
	}
	return pathMTU(t.Addr)
}

func (p *Pinger) tapSent(t *target, msg []byte, now time.Time) {
	proto := p.kind.Proto(t.conn.V6())
	if proto == 0 { // a link-layer kind's whole frame
		p.cfg.Tap(tap.Out, now, msg)
		return
	}
	if proto == protoICMP6 {
		// The kernel computes ICMPv6 checksums; record the one it sends.
		defer func() { msg[2], msg[3] = 0, 0 }()
		binary.BigEndian.PutUint16(msg[2:], icmpmsg.Checksum6(msg, t.src, t.Addr))
	}
	p.cfg.Tap(tap.Out, now, wrapIP(p.tapOut, t.src, t.Addr, t.conn.Wire(), proto, msg))
}

// recvLoop reads one socket until the run stops.
func (p *Pinger) recvLoop(c Conn) {
	if p.cfg.Flood {
		// The flood loop (read, match, send the next probe) keeps one OS
		// thread to itself, as ping -f's single thread does.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	buf := make([]byte, 1<<16+ipv6HeaderLen)
	var scratch []byte
	if p.cfg.Tap != nil {
		scratch = make([]byte, 2*len(buf))
	}
	var pkt Packet
	var ev Event
	for {
		if p.cfg.Flood {
			// A reply overdue by the interval: the next probe leaves anyway.
			// Once the run stops, Run's deadline in the past must stand.
			if p.stopped.Load() {
				_ = c.SetReadDeadline(time.Unix(1, 0))
			} else if last := p.lastSend.Load(); last != 0 {
				_ = c.SetReadDeadline(time.Unix(0, last+int64(p.cfg.Interval)))
			} else { // the first probe is on its way
				_ = c.SetReadDeadline(time.Now().Add(p.cfg.Interval))
			}
		}
		err := c.ReadPacket(buf, &pkt)
		if err != nil {
			select {
			case <-p.stopping:
				return
			default:
			}
			if errors.Is(err, os.ErrClosed) {
				return
			}
			if p.cfg.Flood && errors.Is(err, os.ErrDeadlineExceeded) && p.overdue() {
				p.sendNext()
			}
			continue // a deadline or transient receive error (ENOBUFS): keep reading
		}
		if !p.handle(c, &pkt, &ev) {
			if p.cfg.Flood && p.overdue() {
				p.sendNext() // other ICMP traffic keeps coming, our reply does not
			}
			continue
		}
		if p.cfg.Tap != nil {
			p.tapMu.Lock()
			p.tapReceived(c, &pkt, &ev, scratch)
			p.tapMu.Unlock()
		}
		if p.cfg.Flood && (ev.Kind == EventReply && !ev.Dup || ev.Kind == EventError && ev.resolved) {
			p.sendNext()
		}
		p.deliver(ev)
		if ev.done {
			p.poke()
			if p.finished() {
				return // nothing more to read; Run need not wake this reader
			}
		}
	}
}
