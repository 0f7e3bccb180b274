// Package trace probes the path to one or many targets, traceroute style:
// probes with rising TTLs (ICMP echo, UDP or TCP SYN) draw Time Exceeded
// errors from the routers on the way and an answer from the target.
//
// Every probe of a flow keeps the header fields that load balancers hash
// constant and carries its identity where they do not look (Paris
// traceroute), so one flow follows one path; several flows, or multipath
// discovery with the MDA stopping rule, show the paths a balancer spreads
// traffic over. All TTLs are probed at once, and a trace ends as soon as
// the target has answered and every nearer hop has answered or timed out.
//
// The engine sends whole IP packets through a Conn and reads what answers
// through its Readers; Listen opens the Linux raw sockets, and tests
// supply fakes.
//
// For traces that run for days (the exporter's), Cycles and Interval
// repeat them, Shared lets Tracers that start and stop on their own use
// one set of sockets (with disjoint Config.IDBlocks), and PathTracker says
// when the path to a target changed from one trace to the next.
package trace

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/rawnet/rawnet/tap"
)

// Wait says how long to wait for an answer, as traceroute's -w
// MAX,HERE,NEAR: at most Max, but no more than Here times the round trip
// of an answer from the same hop, nor Near times that of an answer from a
// farther hop (a zero factor turns its rule off).
type Wait struct {
	Max  time.Duration
	Here float64
	Near float64
}

// Config says what to trace and how. The zero value (with Targets) is a
// UDP Paris trace like traceroute's defaults.
type Config struct {
	Targets []netip.Addr
	// Conns are the sockets to trace through (see Listen): one for each
	// address family the targets need.
	Conns    []Conn
	Method   Method
	FirstTTL int // default 1
	MaxTTL   int // default 30
	Queries  int // probes per hop and flow; default 3
	Port     int // UDP: 33434, TCP: 80 by default
	SrcPort  int // first source port (UDP, TCP); 0 picks one at random
	Wait     Wait
	// MinWait is the least Here and Near may shorten a wait to (default
	// 50ms): an answer that a busy machine has not read yet is not lost.
	MinWait time.Duration
	// InFlight caps the probes awaiting an answer, over all targets; 0
	// allows every probe of a trace at once.
	InFlight int
	Size     int // whole IP packet; default 60 (IPv4) or 80 (IPv6)
	TOS      int
	DF       bool // IPv4 don't fragment
	// Flows > 1 traces that many flows (consecutive source ports; ICMP
	// checksums), each probed Queries times per hop.
	Flows int
	// Multipath enumerates every interface at every TTL with the Multipath
	// Detection Algorithm's stopping rule at Confidence (default 0.95),
	// using at most MaxFlows flows (default 128). Queries and Flows are
	// ignored.
	Multipath  bool
	Confidence float64
	MaxFlows   int
	// Cycles > 1 repeats the trace (report mode); a cycle starts Interval
	// after the one before it began, and not before it ended.
	Cycles   int
	Interval time.Duration
	// Tap, when set, is given every probe sent and every answer received.
	Tap tap.Func
	// IDBlock, 1..IDBlocks, confines the probe identities to the block's
	// share of the 16-bit space, so that Tracers that share sockets
	// (Shared) never take each other's answers for their own, not even
	// those a NAT left only the IP identification of; it also caps the
	// probes in flight at the block's size. 0 uses the whole space from a
	// random start.
	IDBlock int
}

// IDBlocks is how many disjoint blocks of probe identities there are
// (Config.IDBlock): one per slot table's worth.
const IDBlocks = (maxID + 1) / slotCount

// ErrConfig marks a Config the engine cannot run: a value out of range.
var ErrConfig = errors.New("trace: bad configuration")

func (c *Config) defaults() error {
	if len(c.Targets) == 0 {
		return fmt.Errorf("%w: no target", ErrConfig)
	}
	set := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	set(&c.FirstTTL, 1)
	set(&c.MaxTTL, 30)
	set(&c.Queries, 3)
	set(&c.Flows, 1)
	set(&c.Cycles, 1)
	set(&c.MaxFlows, 128)
	if c.Port == 0 {
		c.Port = 33434
		if c.Method == TCP {
			c.Port = 80
		}
	}
	if c.Wait.Max <= 0 {
		c.Wait = Wait{Max: 5 * time.Second, Here: 3, Near: 10}
	}
	if c.MinWait <= 0 {
		c.MinWait = 50 * time.Millisecond
	}
	if c.Confidence <= 0 {
		c.Confidence = 0.95
	}
	switch {
	case c.FirstTTL < 1 || c.FirstTTL > 255:
		return fmt.Errorf("%w: first TTL %d is not 1..255", ErrConfig, c.FirstTTL)
	case c.MaxTTL < c.FirstTTL || c.MaxTTL > 255:
		return fmt.Errorf("%w: max TTL %d is not %d..255", ErrConfig, c.MaxTTL, c.FirstTTL)
	case c.Queries < 1 || c.Queries > 10:
		return fmt.Errorf("%w: %d queries per hop is not 1..10", ErrConfig, c.Queries)
	case c.Flows < 1 || c.Flows > 256, c.MaxFlows < 1 || c.MaxFlows > 1024:
		return fmt.Errorf("%w: flows must be 1..256 (multipath 1..1024)", ErrConfig)
	case c.Port < 1 || c.Port > 65535:
		return fmt.Errorf("%w: port %d is not 1..65535", ErrConfig, c.Port)
	case c.SrcPort < 0 || c.SrcPort+c.flowCount() > 65536:
		return fmt.Errorf("%w: source port %d leaves no room for %d flows", ErrConfig, c.SrcPort, c.flowCount())
	case c.TOS < 0 || c.TOS > 255:
		return fmt.Errorf("%w: TOS %d is not 0..255", ErrConfig, c.TOS)
	case c.Confidence >= 1:
		return fmt.Errorf("%w: confidence %g must be below 1", ErrConfig, c.Confidence)
	case c.IDBlock < 0 || c.IDBlock > IDBlocks:
		return fmt.Errorf("%w: identity block %d is not 0..%d", ErrConfig, c.IDBlock, IDBlocks)
	case c.InFlight < 0:
		return fmt.Errorf("%w: probes in flight must not be negative", ErrConfig)
	}
	return nil
}

func (c *Config) flowCount() int {
	if c.Multipath {
		return c.MaxFlows
	}
	return c.Flows
}

// Tracer traces the targets of one Config.
type Tracer struct{ e *engine }

// New checks cfg, fills in the defaults of its zero fields and prepares a
// Tracer over cfg.Conns. A value out of range is an error wrapping
// ErrConfig.
func New(cfg Config) (*Tracer, error) {
	e, err := newEngine(cfg, cfg.Conns)
	if err != nil {
		return nil, err
	}
	return &Tracer{e: e}, nil
}

// Run traces every target and reports each hop and each finished trace to
// sink. It returns when every trace has ended, the context is cancelled
// (the traces so far are reported as interrupted) or sink returns an
// error. A Tracer runs once.
func (t *Tracer) Run(ctx context.Context, sink func(Event) error) (Summary, error) {
	return t.e.run(ctx, sink)
}

// slotCount is the size of the table of probes awaiting an answer (a
// power of two): the most probes in flight at once.
const slotCount = 4096

// slot is a probe awaiting its answer.
type slot struct {
	busy   bool
	id     uint16
	flow   uint16
	ttl    uint8
	target int32
	index  int32  // into targetState.hops[ttl]
	pos    int32  // in engine.busy
	keyed  bool   // key numbers the probe's kernel transmit stamp
	key    uint32 // see rawsock.TxStamper
	sent   time.Time
}

type engine struct {
	cfg     Config
	conns   []Conn
	params  [2]*flowParams // by family: 0 IPv4, 1 IPv6
	targets []*targetState
	slots   [slotCount]slot
	busy    []int32 // indices of busy slots
	nextID  uint16
	idLo    uint16 // the identities this engine uses: idLo..idHi
	idHi    uint16
	pkt     []byte
	replies chan reply
	start   time.Time
	sum     Summary
	sink    func(Event) error
	event   Event
	hop     Hop
	res     Result
	timer   *time.Timer
	mdaN    []int // MDA: probes needed to rule out k+1 interfaces after seeing k
}

func newEngine(cfg Config, conns []Conn) (*engine, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	e := &engine{cfg: cfg, conns: conns, replies: make(chan reply, 256)}
	e.idRange()
	if cfg.Multipath {
		e.mdaN = mdaTable(cfg.Confidence, cfg.MaxFlows)
	}
	sport := cfg.SrcPort
	if sport == 0 {
		sport = 33000 + int(random16()%20000)
	}
	for fam := range e.params {
		v6 := fam == 1
		size := cfg.Size
		if size == 0 {
			size = DefaultSize(v6)
			if cfg.Method == TCP {
				size = MinSize(TCP, v6) + tcpOptionsLen
			}
		}
		if size < MinSize(cfg.Method, v6) || size > 65000 {
			return nil, fmt.Errorf("%w: packet size %d is not %d..65000 for %s over IPv%d", ErrConfig, size, MinSize(cfg.Method, v6), cfg.Method, 4+2*fam)
		}
		e.params[fam] = &flowParams{
			method: cfg.Method, v6: v6, size: size, tos: uint8(cfg.TOS), df: cfg.DF,
			dport: uint16(cfg.Port), sport: uint16(sport), flows: uint16(cfg.flowCount()), icmpID: random16(), csum: random16(),
			cookie: random16(), label: uint32(random16())<<4 | 1,
		}
		if len(e.pkt) < size {
			e.pkt = make([]byte, size)
		}
	}
	for i, a := range cfg.Targets {
		c := e.connFor(a)
		if c == nil {
			return nil, fmt.Errorf("%w: no IPv%d socket for %s", ErrConfig, family(a), a)
		}
		src, err := c.Source(a)
		if err != nil {
			return nil, err
		}
		e.targets = append(e.targets, newTargetState(i, a, src, c, e.params[familyIndex(a)], &e.cfg))
	}
	return e, nil
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

func familyIndex(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

func (e *engine) connFor(a netip.Addr) Conn {
	for _, c := range e.conns {
		if c.V6() == !a.Is4() {
			return c
		}
	}
	return nil
}

// random16 draws the per-run numbers (source port, ICMP id, checksum
// fixer, cookie, first probe id) from math/rand/v2's generator, which the
// runtime seeds from the kernel's random bytes in every process: what
// keeps two rawnet runs from matching each other's answers. Sixteen bits
// need nothing stronger, and crypto/rand's first use (its DRBG and the
// vDSO getrandom state) took 60 us of every trace's start (issue 15).
func random16() uint16 {
	return uint16(rand.Uint32())
}

func (e *engine) run(ctx context.Context, sink func(Event) error) (Summary, error) {
	e.sink = sink
	e.start = time.Now()
	e.sum.Targets = len(e.targets)
	for _, t := range e.targets {
		t.startCycle(e.start, e.firstFlows())
	}
	rctx, stopReaders := context.WithCancel(ctx)
	var wg sync.WaitGroup
	e.startReaders(rctx, &wg)
	defer func() {
		stopReaders()
		wg.Wait()
	}()
	e.timer = time.NewTimer(time.Hour)
	defer e.timer.Stop()
	err := e.loop(ctx)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		err = e.interrupt()
	}
	e.sum.Duration = time.Since(e.start)
	return e.sum, err
}

// loop is the engine's one goroutine that owns all state: it sends what is
// due, takes answers from the readers, expires probes and reports.
func (e *engine) loop(ctx context.Context) error {
	for {
		now := time.Now()
		e.expire(now)
		e.send(now)
		if err := e.report(now); err != nil {
			return err
		}
		if e.finished() {
			return nil
		}
		e.timer.Reset(e.nextWake(now).Sub(now))
		select {
		case r := <-e.replies:
			e.answer(&r)
			e.takeQueued()
		case <-e.timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !e.timer.Stop() {
			select {
			case <-e.timer.C:
			default:
			}
		}
	}
}

// takeQueued handles the answers already waiting, so that none is
// expired while it sits in the queue.
func (e *engine) takeQueued() {
	for {
		select {
		case r := <-e.replies:
			e.answer(&r)
		default:
			return
		}
	}
}

func (e *engine) finished() bool {
	for _, t := range e.targets {
		if !t.finished {
			return false
		}
	}
	return true
}

// nextWake is when something is next due: a probe's wait ending, the next
// probes of a trace, the next cycle.
func (e *engine) nextWake(now time.Time) time.Time {
	next := now.Add(time.Hour)
	for _, i := range e.busy {
		s := &e.slots[i]
		if d := s.sent.Add(e.targets[s.target].wait(int(s.ttl))); d.Before(next) {
			next = d
		}
	}
	if len(e.busy) < e.inFlightCap() {
		for _, t := range e.targets {
			if d, ok := t.nextSend(now); ok && d.Before(next) {
				next = d
			}
		}
	}
	if next.Before(now) {
		next = now
	}
	return next
}

func (e *engine) startReaders(ctx context.Context, wg *sync.WaitGroup) {
	for _, c := range e.conns {
		fp := e.params[0]
		if c.V6() {
			fp = e.params[1]
		}
		for _, r := range c.Readers() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.read(ctx, r, fp)
			}()
		}
	}
}

// read runs in a goroutine per socket: it parses what arrives and passes
// what belongs to this run to the loop.
func (e *engine) read(ctx context.Context, rd Reader, fp *flowParams) {
	// A Conn may serve run after run: clear the deadline the last one
	// left to stop its readers.
	_ = rd.SetReadDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { _ = rd.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	// ICMP errors quote at most 576 (IPv4) or 1280 (IPv6) bytes, and
	// answers to probes are no bigger.
	buf := make([]byte, 16384)
	var wrapBuf []byte
	if e.cfg.Tap != nil {
		wrapBuf = make([]byte, len(buf)+64)
	}
	var p Packet
	var r reply
	failures := 0
	for ctx.Err() == nil {
		if err := rd.Read(buf, &p); err != nil {
			if ctx.Err() != nil {
				return
			}
			// A socket that keeps failing (closed under us) is given up
			// rather than spun on; the trace goes on with the others, and
			// its probes time out.
			if failures++; failures > 100 {
				return
			}
			continue
		}
		failures = 0
		var ok bool
		if p.Proto == 6 {
			ok = fp.parseTCP(p.Data, p.From, &r)
		} else {
			ok = fp.parseICMP(p.Data, p.From, &r)
		}
		if !ok {
			continue
		}
		r.received, r.kernelStamp = p.Received, p.KernelStamp
		if e.cfg.Tap != nil {
			e.cfg.Tap(tap.In, p.Received, wholePacket(wrapBuf, &p, fp.v6))
		}
		select {
		case e.replies <- r:
		case <-ctx.Done():
			return
		}
	}
}

// idRange sets the identities the engine takes (Config.IDBlock) and where
// it starts: at random in the whole space, so that two processes tracing
// one target rarely use the same identities at once, or at the start of
// its block.
func (e *engine) idRange() {
	e.idLo, e.idHi = 1, maxID
	e.nextID = 1 + random16()%maxID
	if b := e.cfg.IDBlock; b > 0 {
		lo, hi := (b-1)*slotCount, b*slotCount-1
		e.idLo, e.idHi = uint16(max(lo, 1)), uint16(min(hi, maxID))
		e.nextID = e.idLo
	}
}
