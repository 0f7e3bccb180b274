package trace

import (
	"net/netip"
	"time"

	"github.com/rawnet/rawnet/internal/inet"
	"github.com/rawnet/rawnet/internal/rawsock"
)

// probeRec is a probe as the engine keeps it.
type probeRec struct {
	Probe
	pending bool
	labels  [maxLabels]MPLSLabel
	nLabels uint8
}

// targetState is one target's trace: what was sent at each TTL and what
// came back.
type targetState struct {
	index      int
	addr, src  netip.Addr
	conn       Conn
	stamper    rawsock.TxStamper // conn's transmit stamps; nil: its probes are timed from user space
	fp         *flowParams
	cfg        *Config
	cycle      int
	cycleStart time.Time
	hops       [][]probeRec // by TTL
	pendingAt  []int        // probes awaiting an answer, by TTL
	hereRTT    []time.Duration
	laterRTT   []time.Duration
	horizon    int  // nearest TTL with a final answer, MaxTTL until one
	limit      int  // TTLs probed and reported this cycle
	sendLimit  int  // the first cycle probes up to MaxTTL, later ones up to the target
	final      bool // a final answer came
	phase0Done time.Time
	maxRTT     time.Duration
	nextEmit   int
	sent       int
	answered   int
	sendErr    error
	finished   bool
	flows      int // multipath: flows wanted at every TTL
}

func newTargetState(i int, addr, src netip.Addr, c Conn, fp *flowParams, cfg *Config) *targetState {
	n := cfg.MaxTTL + 1
	t := &targetState{
		index: i, addr: addr, src: src, conn: c, fp: fp, cfg: cfg, cycle: -1,
		hops: make([][]probeRec, n), pendingAt: make([]int, n),
		hereRTT: make([]time.Duration, n), laterRTT: make([]time.Duration, n),
		sendLimit: cfg.MaxTTL,
	}
	t.stamper, _ = c.(rawsock.TxStamper)
	per := cfg.Queries * cfg.Flows
	if cfg.Multipath {
		per = 16
	}
	for ttl := cfg.FirstTTL; ttl < n; ttl++ {
		t.hops[ttl] = make([]probeRec, 0, per)
	}
	return t
}

// startCycle resets the trace for its next cycle, which starts at `at`.
func (t *targetState) startCycle(at time.Time, mdaFirst int) {
	// A cycle that got its final answer bounds the next one at that TTL;
	// one that did not (the path grew, or the target stopped answering)
	// sends the next up to MaxTTL again, or a path that got longer would
	// never be seen whole again (a periodic trace, the exporter's, runs
	// for days).
	if t.cycle >= 0 {
		t.sendLimit = t.cfg.MaxTTL
		if t.final {
			t.sendLimit = t.horizon
		}
	}
	t.cycle++
	t.cycleStart = at
	for ttl := range t.hops {
		t.hops[ttl] = t.hops[ttl][:0]
		t.pendingAt[ttl] = 0
		t.hereRTT[ttl], t.laterRTT[ttl] = 0, 0
	}
	t.horizon, t.limit, t.final = t.cfg.MaxTTL, t.sendLimit, false
	t.phase0Done, t.maxRTT = time.Time{}, 0
	t.nextEmit = t.cfg.FirstTTL
	t.sent, t.answered, t.sendErr = 0, 0, nil
	t.flows = mdaFirst
}

// want is how many probes each TTL gets.
func (t *targetState) want() int {
	if t.cfg.Multipath {
		return t.flows
	}
	return t.cfg.Queries * t.cfg.Flows
}

// firstWave is how many probes every TTL gets before the target's
// distance is known.
func (t *targetState) firstWave() int {
	if t.cfg.Multipath {
		return 1
	}
	return t.cfg.Flows
}

// gap is how long the first wave waits for the target to answer before
// the rest goes out anyway: long enough for the answer of a path like the
// ones seen so far, short against the wait.
func (t *targetState) gap() time.Duration {
	g := t.cfg.Wait.Max / 10
	if t.maxRTT > 0 && 3*t.maxRTT < g {
		g = max(3*t.maxRTT, time.Millisecond)
	}
	return g
}

// next picks the next probe to send at now: its TTL and flow.
func (t *targetState) next(now time.Time) (ttl, flow int, ok bool) {
	if t.finished || now.Before(t.cycleStart) {
		return 0, 0, false
	}
	first := t.firstWave()
	if t.phase0Done.IsZero() {
		for ttl := t.cfg.FirstTTL; ttl <= t.limit; ttl++ {
			if n := len(t.hops[ttl]); n < first {
				return ttl, t.flowOf(n), true
			}
		}
		t.phase0Done = now
	}
	if !t.final && now.Before(t.phase0Done.Add(t.gap())) {
		return 0, 0, false
	}
	want, best, fewest := t.want(), 0, int(^uint(0)>>1)
	for ttl := t.cfg.FirstTTL; ttl <= t.limit; ttl++ {
		if n := len(t.hops[ttl]); n < want && n < fewest {
			best, fewest = ttl, n
		}
	}
	if best == 0 {
		return 0, 0, false
	}
	return best, t.flowOf(fewest), true
}

func (t *targetState) flowOf(n int) int {
	if t.cfg.Multipath {
		return n
	}
	return n % t.cfg.Flows
}

// nextSend is when the trace next has something to send that waits for
// time alone: the start of its cycle, or the end of the first wave's gap.
// The caller does not ask while the in-flight cap holds probes back:
// answers and expiries wake the loop then.
func (t *targetState) nextSend(now time.Time) (time.Time, bool) {
	if t.finished {
		return time.Time{}, false
	}
	if now.Before(t.cycleStart) {
		return t.cycleStart, true
	}
	if t.phase0Done.IsZero() {
		return now, true // a new cycle's first wave
	}
	if t.final || !t.unsent() {
		return time.Time{}, false
	}
	if g := t.phase0Done.Add(t.gap()); now.Before(g) {
		return g, true
	}
	return time.Time{}, false
}

// unsent reports whether some TTL up to the limit still has probes to get.
func (t *targetState) unsent() bool {
	for ttl := t.cfg.FirstTTL; ttl <= t.limit; ttl++ {
		if len(t.hops[ttl]) < t.want() {
			return true
		}
	}
	return false
}

// wait is how long a probe at ttl may wait for its answer.
func (t *targetState) wait(ttl int) time.Duration {
	w := t.cfg.Wait
	d := w.Max
	if r := t.hereRTT[ttl]; r > 0 && w.Here > 0 {
		d = min(d, time.Duration(w.Here*float64(r)))
	}
	if r := t.laterRTT[ttl]; r > 0 && w.Near > 0 {
		d = min(d, time.Duration(w.Near*float64(r)))
	}
	if d < t.cfg.MinWait {
		d = min(t.cfg.MinWait, w.Max)
	}
	return d
}

// record fills the probe an answer belongs to.
func (t *targetState) record(ttl int, index int, r *reply, sent time.Time) {
	rec := &t.hops[ttl][index]
	rec.pending = false
	t.pendingAt[ttl]--
	t.answered++
	rtt := max(r.received.Sub(sent), 0)
	rec.Addr, rec.RTT, rec.Kind, rec.Type, rec.Code = r.from, rtt, r.kind, r.typ, r.code
	rec.KernelStamp = r.kernelStamp
	rec.MTU = mtu(r, t.fp.v6)
	rec.Reached = r.from == t.addr.WithZone("") && r.kind != KindTimeExceeded
	rec.QuotedTTL = -1
	if r.quoted {
		rec.QuotedTTL = int(r.qTTL)
		rec.Changed = t.changes(r, uint16(rec.Flow))
	}
	rec.nLabels = r.nLabels
	rec.labels = r.labels
	t.hereRTT[ttl] = max(t.hereRTT[ttl], rtt)
	for tt := t.cfg.FirstTTL; tt < ttl; tt++ {
		t.laterRTT[tt] = max(t.laterRTT[tt], rtt)
	}
	t.maxRTT = max(t.maxRTT, rtt)
	if rec.Final() {
		t.final = true
		t.horizon = min(t.horizon, ttl)
		t.limit = min(t.limit, ttl)
	}
}

// mtu is the next-hop MTU an answer reports: "fragmentation needed"
// (IPv4) and "packet too big" (IPv6) carry one; in other errors the field
// holds other things (the RFC 4884 length, a pointer).
func mtu(r *reply, v6 bool) uint32 {
	switch {
	case !v6 && r.kind == KindUnreachable && r.code == 4:
		return r.info & 0xffff
	case v6 && r.typ == 2: // packet too big
		return r.info
	}
	return 0
}

// changes compares the quoted probe with what was sent.
func (t *targetState) changes(r *reply, flow uint16) Changes {
	fp := t.fp
	c := Changes{SentTOS: fp.tos, GotTOS: r.qTOS, SentDF: fp.df, GotDF: r.qDF}
	c.TOS = r.qTOS != fp.tos
	c.DF = !fp.v6 && r.qDF != fp.df
	if fp.method != ICMP {
		c.SentSport, c.SentDport, c.Sport, c.Dport = fp.sport+flow, fp.dport, r.qSport, r.qDport
		c.Ports = c.Sport != c.SentSport || c.Dport != c.SentDport
	}
	return c
}

// complete reports whether every TTL up to the limit has all its probes
// sent and resolved.
func (t *targetState) complete() bool {
	if t.phase0Done.IsZero() {
		return false
	}
	for ttl := t.cfg.FirstTTL; ttl <= t.limit; ttl++ {
		if !t.hopComplete(ttl) {
			return false
		}
	}
	return true
}

func (t *targetState) hopComplete(ttl int) bool {
	return len(t.hops[ttl]) >= t.want() && t.pendingAt[ttl] == 0
}

// wholePacket returns a received packet as a whole IP packet for the tap:
// raw IPv4 sockets deliver the header, IPv6 ones do not, so one is made.
func wholePacket(b []byte, p *Packet, v6 bool) []byte {
	if p.IP != nil {
		return p.IP
	}
	hop := p.TTL
	if hop < 0 {
		hop = 64
	}
	hl := inet.IPv4HeaderLen
	if v6 {
		to := p.To
		if !to.IsValid() {
			to = netip.IPv6Unspecified()
		}
		hl = inet.IPv6HeaderLen
		inet.WriteIPv6(b, inet.IPv6{HopLimit: uint8(hop), Next: p.Proto, Src: p.From, Dst: to}, len(p.Data))
	} else {
		to := p.To
		if !to.IsValid() {
			to = netip.IPv4Unspecified()
		}
		inet.WriteIPv4(b, inet.IPv4{TTL: uint8(hop), Proto: p.Proto, Src: p.From, Dst: to}, len(p.Data))
	}
	n := copy(b[hl:], p.Data)
	return b[:hl+n]
}
