package udp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/rawnet/rawnet/internal/rawsock"
	"github.com/rawnet/rawnet/stats"
)

// Probe measures a path to an echo or reflecting server with sequenced,
// timestamped datagrams. Create it with NewProbe and run it once.
//
// One goroutine does everything: it sends what is due (in batches), reads
// what has come (in batches, with kernel timestamps), expires datagrams
// whose timeout passed, and waits in the read for the next of those
// moments. Nothing is allocated per datagram.
type Probe struct {
	cfg    ProbeConfig
	conn   Conn
	cookie uint64
	gap    time.Duration // between two sends; 0 unpaced
	hdrOff int
	win    uint64 // sequence numbers kept back (ProbeConfig.SeqWindow)

	tx   []Message // send buffers, header templates written once
	rx   []Message
	sink func(ProbeEvent) error
	err  error // the sink's first error

	start    time.Time
	nextSend time.Time
	sent     uint64
	sentAt   []int64 // send time per sequence number (ring), 0 once resolved
	stamper  rawsock.TxStamper
	txKeys   []uint64 // per sequence number (ring): 1<<32 | transmit stamp number; 0: none
	expireAt uint64   // the lowest sequence number not yet resolved
	seq      seqTracker
	last     time.Time // the last packet sent or received
	sum      ProbeSummary
	tapBuf   []byte

	interval   IntervalStats
	nextReport time.Time
}

// NewProbe checks cfg, fills in the defaults of its zero fields and
// prepares a probe over cfg.Conn.
func NewProbe(cfg ProbeConfig) (*Probe, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	p := &Probe{cfg: cfg, conn: cfg.Conn, cookie: cfg.Cookie, hdrOff: len(cfg.Prefix), win: uint64(cfg.SeqWindow)}
	for p.cookie == 0 {
		// math/rand/v2's generator, seeded by the runtime from the
		// kernel's random bytes in every process: unpredictable to anyone
		// else, and without crypto/rand's first-use cost (60 us of a
		// start, see trace's random16).
		p.cookie = rand.Uint64()
	}
	if !cfg.Unpaced {
		p.gap = cfg.Interval
		if cfg.Rate > 0 {
			p.gap = time.Duration(float64(time.Second) / cfg.Rate)
		}
	}
	p.tx = make([]Message, MaxBatch)
	if p.gap >= singleSendGap {
		p.tx = make([]Message, 1) // one at a time (due)
	}
	for i := range p.tx {
		b := make([]byte, cfg.Size)
		copy(b, cfg.Prefix)
		Put(b[p.hdrOff:], &Header{Cookie: p.cookie})
		p.tx[i] = Message{Buf: b, N: cfg.Size}
	}
	p.rx = make([]Message, p.rxBatch())
	for i := range p.rx {
		p.rx[i] = Message{Buf: make([]byte, rxLen(cfg.Size))}
	}
	p.sentAt = make([]int64, p.win)
	if st, ok := cfg.Conn.(rawsock.TxStamper); ok {
		if _, on := st.TxKey(); on {
			p.stamper, p.txKeys = st, make([]uint64, p.win)
		}
	}
	p.seq = newSeqTracker(cfg.SeqWindow)
	if cfg.Samples >= 0 {
		p.sum.Samples = stats.NewSamples(cfg.Samples)
		p.sum.NetSamples = stats.NewSamples(cfg.Samples)
	}
	if cfg.Tap != nil {
		p.tapBuf = make([]byte, tapLen(rxLen(cfg.Size)))
	}
	return p, nil
}

// singleSendGap: paced at this gap or more, datagrams leave one by one.
const singleSendGap = 20 * time.Microsecond

// rxLen is the receive buffer for replies to datagrams of size bytes.
func rxLen(size int) int { return max(size+256, 2048) }

// rxBatch is how many datagrams one read takes at most: MaxBatch unpaced
// or above 64,000 a second, else the replies of a millisecond, 4 at least
// (a reply with its duplicates). Each takes a 2 KB buffer: at MaxBatch a
// probe held 128 KB, and an exporter probing 1,024 UDP targets once a
// second 119 MB, nearly all of it buffers a reply every second never
// reached (issue 12).
func (p *Probe) rxBatch() int {
	if p.gap == 0 {
		return MaxBatch
	}
	perMs := int(time.Millisecond / p.gap)
	return max(4, min(MaxBatch, perMs))
}

// defaults fills in the zero fields of c and checks the others.
func (c *ProbeConfig) defaults() error {
	if c.Conn == nil {
		return errNoConn
	}
	if c.Size == 0 {
		c.Size = max(DefaultSize, HeaderLen+len(c.Prefix))
	}
	if c.Size < HeaderLen+len(c.Prefix) || c.Size > 65507 {
		return fmt.Errorf("udp: datagram size %d: want %d..65507", c.Size, HeaderLen+len(c.Prefix))
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		return fmt.Errorf("udp: rate %g is not a number of datagrams per second", c.Rate)
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.SeqWindow <= 0 {
		c.SeqWindow = probeSeqWindow
	}
	c.SeqWindow = (max(c.SeqWindow, 64) + 63) / 64 * 64
	c.Window = min(c.Window, c.SeqWindow/2)
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Count < 0 {
		return fmt.Errorf("udp: count %d is negative", c.Count)
	}
	return nil
}

// Run sends and receives until Count datagrams are sent and answered or
// timed out, Duration passes, or ctx ends; it reports events to sink (from
// this goroutine) and returns the figures. Interrupting a run is not an
// error: the summary covers what was sent.
func (p *Probe) Run(ctx context.Context, sink func(ProbeEvent) error) (ProbeSummary, error) {
	p.sink = sink
	stop := context.AfterFunc(ctx, func() { p.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	p.start = time.Now()
	p.sum.Start, p.sum.Local, p.sum.Remote = p.start, p.conn.LocalAddr(), p.cfg.Remote
	p.nextSend, p.last = p.start, p.start
	p.nextReport = p.start.Add(p.cfg.ReportEvery)
	var deadline time.Time
	for ctx.Err() == nil && p.err == nil {
		now := time.Now()
		if p.sending(now) {
			if err := p.send(now); err != nil {
				return p.finish(), err
			}
			now = time.Now()
		}
		p.expire(now)
		p.report(now)
		if !p.sending(now) && p.inFlight() == 0 {
			break
		}
		if d := p.wakeAt(now); !d.Equal(deadline) {
			deadline = d
			p.conn.SetReadDeadline(d)
		}
		if err := p.receive(); err != nil {
			return p.finish(), err
		}
	}
	return p.finish(), p.err
}

// sending reports whether datagrams remain to be sent.
func (p *Probe) sending(now time.Time) bool {
	if p.cfg.Count > 0 && p.sent >= uint64(p.cfg.Count) {
		return false
	}
	return p.cfg.Duration <= 0 || now.Sub(p.start) < p.cfg.Duration
}

func (p *Probe) inFlight() uint64 { return p.sent - p.expireAt }

// due is how many datagrams to send now.
func (p *Probe) due(now time.Time) int {
	n := len(p.tx)
	if p.cfg.Count > 0 {
		n = min(n, int(uint64(p.cfg.Count)-p.sent))
	}
	if p.gap == 0 {
		return min(n, max(0, p.cfg.Window-int(p.inFlight())))
	}
	if now.Before(p.nextSend) {
		return 0
	}
	if p.gap >= singleSendGap {
		// Below 50,000 datagrams a second, one at a time: a batch would
		// queue its datagrams behind each other at the server and add
		// that wait to their round trips.
		return min(n, 1)
	}
	return min(n, 1+int(now.Sub(p.nextSend)/p.gap))
}

func (p *Probe) send(now time.Time) error {
	n := p.due(now)
	if n == 0 {
		return nil
	}
	stamp := now.UnixNano()
	for i := range n {
		seq := p.sent + uint64(i)
		p.retire(seq)
		PutSeq(p.tx[i].Buf[p.hdrOff:], seq, stamp)
		p.sentAt[seq%p.win] = stamp
	}
	p.keyBatch(n, false)
	sent, err := p.conn.WriteBatch(p.tx[:n])
	if err != nil {
		p.keyBatch(n, true) // a refused datagram shifts the numbers after it
	}
	if err != nil && sent < n {
		// The kernel refused one (e.g. an ICMP error still pending on
		// the socket): it counts as sent and lost, and the run goes on.
		sent++
		p.emit(ProbeEvent{Kind: EventSendError, Seq: p.sent + uint64(sent) - 1, Time: now, Err: err})
		p.sum.SendErrors++
	}
	if isClosed(err) {
		return err
	}
	for i := range sent {
		p.tapOut(&p.tx[i], now)
	}
	p.sent += uint64(sent)
	p.sum.Sent = int(p.sent)
	p.interval.Sent += sent
	p.last = now
	if p.gap > 0 {
		p.nextSend = p.nextSend.Add(time.Duration(sent) * p.gap)
		if now.Sub(p.nextSend) > 100*p.gap {
			p.nextSend = now // far behind (a stalled machine): do not burst to catch up
		}
	}
	return nil
}

// keyBatch records the transmit stamp numbers of the n datagrams about to
// be sent (the next sequence numbers), or forgets them.
func (p *Probe) keyBatch(n int, forget bool) {
	if p.stamper == nil {
		return
	}
	base, _ := p.stamper.TxKey()
	for i := range n {
		k := uint64(1)<<32 | uint64(base+uint32(i))
		if forget {
			k = 0
		}
		p.txKeys[(p.sent+uint64(i))%p.win] = k
	}
}

// sendTime is when datagram seq left: the kernel's transmit stamp when
// there is one (ev.KernelTxStamp), else the time it carries
// (rawsock.SendTime).
func (p *Probe) sendTime(seq uint64, carried int64, ev *ProbeEvent) int64 {
	if p.stamper == nil || p.sent-seq > p.win {
		return carried
	}
	k := p.txKeys[seq%p.win]
	if k == 0 {
		return carried
	}
	ns, kernel := rawsock.SendTime(p.stamper, uint32(k), carried)
	ev.KernelTxStamp = ev.KernelTxStamp || kernel
	return ns
}

// retire makes room in the send-time ring for seq: the datagram that had
// its slot counts as lost if it is still waiting.
func (p *Probe) retire(seq uint64) {
	for p.expireAt+p.win <= seq {
		p.lose(p.expireAt, time.Now())
	}
}

// expire counts as lost every datagram sent more than Timeout ago
// without a reply.
func (p *Probe) expire(now time.Time) {
	limit := now.Add(-p.cfg.Timeout).UnixNano()
	for p.expireAt < p.sent {
		at := p.sentAt[p.expireAt%p.win]
		if at != 0 && at > limit {
			return
		}
		p.lose(p.expireAt, now)
	}
}

func (p *Probe) lose(seq uint64, now time.Time) {
	slot := &p.sentAt[seq%p.win]
	if *slot != 0 {
		p.emit(ProbeEvent{Kind: EventLost, Seq: seq, Time: now})
		*slot = 0
	}
	p.expireAt++
}

// wakeAt is when the loop must look again although nothing arrives: the
// next send, the oldest datagram's timeout, or the next report.
func (p *Probe) wakeAt(now time.Time) time.Time {
	w := now.Add(time.Hour)
	if p.sending(now) && p.gap > 0 {
		w = p.nextSend
	}
	if p.expireAt < p.sent {
		if at := p.sentAt[p.expireAt%p.win]; at != 0 {
			w = earliest(w, time.Unix(0, at).Add(p.cfg.Timeout))
		}
	}
	if p.cfg.Duration > 0 && p.sending(now) {
		w = earliest(w, p.start.Add(p.cfg.Duration))
	}
	if p.cfg.ReportEvery > 0 {
		w = earliest(w, p.nextReport)
	}
	return w
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (p *Probe) receive() error {
	n, err := p.conn.ReadBatch(p.rx)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	if err != nil {
		return err
	}
	for i := range n {
		m := &p.rx[i]
		if m.Kind == MsgICMP {
			p.unreachable(m)
			continue
		}
		p.reply(m)
	}
	return nil
}

func (p *Probe) unreachable(m *Message) {
	p.sum.Unreachable++
	p.tapICMP(m)
	ev := ProbeEvent{Kind: EventUnreachable, Time: m.Time, KernelStamp: m.KernelStamp, ICMPType: m.ICMPType, ICMPCode: m.ICMPCode, From: m.Offender}
	if h, err := Parse(m.Data()[min(p.hdrOff, m.N):]); err == nil && h.Cookie == p.cookie {
		ev.Seq = h.Seq
	}
	p.emit(ev)
}

func (p *Probe) reply(m *Message) {
	data := m.Data()
	if len(data) < p.hdrOff {
		p.sum.Foreign++
		return
	}
	h, err := Parse(data[p.hdrOff:])
	if err != nil || h.Cookie != p.cookie || h.Seq >= p.sent {
		p.sum.Foreign++
		return
	}
	p.tapIn(m)
	p.last = m.Time
	ev := ProbeEvent{Kind: EventReply, Seq: h.Seq, Time: m.Time, KernelStamp: m.KernelStamp, Size: m.N}
	ev.RTT = time.Duration(m.Time.UnixNano() - p.sendTime(h.Seq, h.Sent, &ev))
	if p.expireAt > h.Seq && p.sentAt[h.Seq%p.win] == 0 && !p.seqSeen(h.Seq) {
		ev.Kind = EventLate // counted lost already
		p.sum.Late++
		p.emit(ev)
		return
	}
	class, dist := p.seq.add(h.Seq)
	switch class {
	case seqTooOld:
		p.sum.Late++
		ev.Kind = EventLate
		p.emit(ev)
		return
	case seqDuplicate:
		ev.Dup = true
		p.sum.Duplicates++
		p.emit(ev)
		return
	case seqReordered:
		ev.Reorder = dist
		p.sum.Reordered++
		p.sum.MaxReorder = max(p.sum.MaxReorder, dist)
	}
	p.resolve(h.Seq)
	p.account(&ev, &h)
	p.emit(ev)
}

// seqSeen reports whether a reply for seq has arrived before.
func (p *Probe) seqSeen(seq uint64) bool {
	return p.seq.any && p.seq.highest-seq < p.seq.window && p.seq.has(seq) && seq <= p.seq.highest
}

// resolve marks seq answered; the expiry cursor moves past answered
// datagrams at the bottom of the window.
func (p *Probe) resolve(seq uint64) {
	p.sentAt[seq%p.win] = 0
	for p.expireAt < p.sent && p.sentAt[p.expireAt%p.win] == 0 {
		p.expireAt++
	}
}

func (p *Probe) account(ev *ProbeEvent, h *Header) {
	s := &p.sum
	s.Received++
	s.RTT.Add(ev.RTT)
	if s.Samples != nil {
		s.Samples.Add(ev.RTT)
	}
	s.Jitter.AddTransit(ev.RTT)
	p.interval.Received++
	p.interval.RTT.Add(ev.RTT)
	if !h.Reflected {
		return
	}
	ev.Reflected = true
	ev.ServerTime = time.Duration(h.ServerTx - h.ServerRx)
	ev.NetRTT = ev.RTT - ev.ServerTime
	ev.Forward = time.Duration(h.ServerRx - h.Sent)
	ev.Reverse = time.Duration(ev.Time.UnixNano() - h.ServerTx)
	s.Reflected++
	s.ServerTime.Add(ev.ServerTime)
	s.NetRTT.Add(ev.NetRTT)
	if s.NetSamples != nil {
		s.NetSamples.Add(ev.NetRTT)
	}
	s.Forward.Add(ev.Forward)
	s.Reverse.Add(ev.Reverse)
	s.FwdJitter.AddTransit(ev.Forward)
	s.RevJitter.AddTransit(ev.Reverse)
	s.ServerReceived = max(s.ServerReceived, h.ServerN)
}

func (p *Probe) report(now time.Time) {
	if p.cfg.ReportEvery <= 0 || now.Before(p.nextReport) {
		return
	}
	p.interval.Start = p.interval.End
	p.interval.End = now.Sub(p.start)
	p.interval.Jitter = p.sum.Jitter.Value()
	p.emit(ProbeEvent{Kind: EventInterval, Time: now, Interval: p.interval})
	p.interval = IntervalStats{End: p.interval.End}
	for !p.nextReport.After(now) {
		p.nextReport = p.nextReport.Add(p.cfg.ReportEvery)
	}
}

func (p *Probe) emit(ev ProbeEvent) {
	if p.err == nil && p.sink != nil {
		p.err = p.sink(ev)
	}
}

func (p *Probe) finish() ProbeSummary {
	// What is still in flight at the end (an interrupted run) is lost.
	now := time.Now()
	for p.expireAt < p.sent {
		p.lose(p.expireAt, now)
	}
	p.sum.Elapsed = p.last.Sub(p.start)
	return p.sum
}

func isClosed(err error) bool { return err != nil && errors.Is(err, os.ErrClosed) }
