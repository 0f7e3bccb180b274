package craft

import (
	"context"
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rawnet/rawnet/internal/rawsock"
	"github.com/rawnet/rawnet/tap"
)

// runner is one run's sending and matching state. Everything but the
// receiver goroutine runs on the caller's goroutine.
type runner struct {
	p       *Plan
	tx      sender
	stamper rawsock.TxStamper // tx's transmit stamps; nil: answers are timed from user space
	fn      func(Answer) error
	sum     Summary

	slots   [MaxBatch][]byte
	views   [MaxBatch][]byte
	dsts    [MaxBatch]netip.Addr
	pending [MaxBatch]int32 // probe record of each frame, -1 for none
	n       int
	scratch []byte
	fixed   []byte // the one packet of a spec whose packets are all alike, built once
	start   time.Time
	timer   *time.Timer

	match  bool
	probes []probeRec
	heads  map[flowKey]int32
	tails  map[flowKey]int32
	rx     chan rxPacket
	rxConn receiver
	free   chan []byte // buffers rx packets travel in, recycled
	stop   atomic.Bool
	wg     sync.WaitGroup
}

type probeRec struct {
	key      flowKey
	sent     time.Time
	next     int32
	answered bool
	keyed    bool   // txKey numbers its kernel transmit stamp
	txKey    uint32 // see rawsock.TxStamper
}

type rxPacket struct {
	data   []byte
	ts     time.Time
	kernel bool // ts is the kernel's receive stamp
}

func newRunner(p *Plan, tx sender, fn func(Answer) error) *runner {
	r := &runner{p: p, tx: tx, fn: fn, match: p.cfg.Wait > 0}
	r.stamper, _ = tx.(rawsock.TxStamper)
	for i := range r.slots {
		r.slots[i] = make([]byte, 0, 256)
	}
	r.scratch = make([]byte, 0, 2048)
	r.fixed = fixedPacket(p)
	r.timer = time.NewTimer(time.Hour)
	r.timer.Stop()
	if r.match {
		hint := int(min(p.Total(), 1<<20))
		r.heads = make(map[flowKey]int32, hint)
		r.tails = make(map[flowKey]int32, hint)
		r.probes = make([]probeRec, 0, min(p.Total(), 1<<20))
	}
	return r
}

// sendAll sends Count rounds of the expansion, paced by Rate, bounded by
// Duration and ctx.
func (r *runner) sendAll(ctx context.Context) error {
	cfg := r.p.cfg
	total := r.p.spec.total
	reps := cfg.Count
	if reps == 0 {
		reps = 1
		if cfg.Duration > 0 {
			reps = ^uint64(0)
		}
	}
	r.start = time.Now()
	var stopAt time.Time
	if cfg.Duration > 0 {
		stopAt = r.start.Add(cfg.Duration)
	}
	var queued uint64
	for rep := uint64(0); rep < reps; rep++ {
		for i := uint64(0); i < total; i++ {
			if queued&63 == 0 && r.stopped(ctx, stopAt) {
				return r.flush()
			}
			if cfg.Rate > 0 {
				if !r.pace(ctx, queued) {
					return r.flush()
				}
				if !stopAt.IsZero() && time.Now().After(stopAt) {
					return r.flush()
				}
			}
			if err := r.add(i); err != nil {
				return err
			}
			queued++
		}
	}
	return r.flush()
}

func (r *runner) stopped(ctx context.Context, stopAt time.Time) bool {
	if ctx.Err() != nil {
		return true
	}
	return !stopAt.IsZero() && time.Now().After(stopAt)
}

// pace waits until packet number queued is due, sending what is batched
// before it sleeps. It returns false when ctx ends.
func (r *runner) pace(ctx context.Context, queued uint64) bool {
	rate := r.p.cfg.Rate
	for {
		elapsed := time.Since(r.start)
		if queued < uint64(elapsed.Seconds()*rate)+1 {
			return true
		}
		if r.flush() != nil {
			return false
		}
		next := time.Duration(float64(queued) / rate * float64(time.Second))
		r.timer.Reset(next - time.Since(r.start))
		select {
		case <-ctx.Done():
			r.timer.Stop()
			return false
		case <-r.timer.C:
		}
	}
}

// fixedPacket returns the packet when every packet of the plan is the same
// (no lists, no rand, no default that changes per packet, such as the ICMP
// sequence number or an ICMP timestamp's clock), so that it is built once and sent again and again; nil
// otherwise. Two builds are compared: the defaults decide.
func fixedPacket(p *Plan) []byte {
	s := p.spec
	if p.cfg.Fragment > 0 || len(s.multi) > 0 || len(s.rands) > 0 || p.b.clocked() {
		return nil
	}
	probe := *p.b // a copy: the real builder's state stays as it is
	a := probe.Build(nil, 0)
	b := probe.Build(nil, 1)
	if string(a) != string(b) {
		return nil
	}
	return a
}

// add builds packet i (and its fragments) into the batch.
func (r *runner) add(i uint64) error {
	p := r.p
	r.sum.Packets++
	if p.cfg.Fragment <= 0 {
		if r.n == MaxBatch {
			if err := r.flush(); err != nil {
				return err
			}
		}
		if r.fixed != nil {
			r.queue(r.fixed, r.record(r.fixed))
			return nil
		}
		pkt := p.b.Build(r.slots[r.n], i)
		r.slots[r.n] = pkt[:0]
		r.queue(pkt, r.record(pkt))
		return nil
	}
	pkt := p.b.Build(r.scratch, i)
	r.scratch = pkt[:0]
	fp, err := planFragments(pkt[p.linkLen:], p.cfg.Fragment)
	if err != nil {
		return err
	}
	rec := r.record(pkt)
	id := p.fragmentID(pkt)
	for k := 0; k < fp.count; k++ {
		if r.n == MaxBatch {
			if err := r.flush(); err != nil {
				return err
			}
		}
		frag := writeFragment(r.slots[r.n], pkt[:p.linkLen], pkt[p.linkLen:], fp, k, id)
		r.slots[r.n] = frag[:0]
		r.queue(frag, rec)
		rec = -1
	}
	return nil
}

func (r *runner) queue(frame []byte, rec int32) {
	r.views[r.n] = frame
	r.pending[r.n] = rec
	if !r.p.l2 {
		r.dsts[r.n] = ipDestination(frame)
	}
	r.n++
}

// record notes a sent packet for matching; -2 means there is nothing to
// note (no --wait), -1 a packet no answer can be told for.
func (r *runner) record(pkt []byte) int32 {
	if !r.match {
		return -2
	}
	k, ok := sentKey(pkt[r.p.linkLen:])
	idx := int32(len(r.probes))
	r.probes = append(r.probes, probeRec{key: k, next: -1})
	if !ok {
		return idx
	}
	if t, found := r.tails[k]; found {
		r.probes[t].next = idx
		if h := r.heads[k]; r.probes[h].answered && r.probes[h].next == idx {
			r.heads[k] = idx
		}
	} else {
		r.heads[k] = idx
	}
	r.tails[k] = idx
	return idx
}

// ipDestination is the destination of the IP packet frame.
func ipDestination(ip []byte) netip.Addr {
	if len(ip) >= 40 && ip[0]>>4 == 6 {
		return netip.AddrFrom16([16]byte(ip[24:40]))
	}
	if len(ip) >= 20 {
		return netip.AddrFrom4([4]byte(ip[16:20]))
	}
	return netip.IPv4Unspecified()
}

// flush sends the batch. A batch the kernel refuses entirely ends the run.
func (r *runner) flush() error {
	if r.n == 0 {
		return nil
	}
	var base uint32
	var keyed bool
	if r.stamper != nil && r.match {
		base, keyed = r.stamper.TxKey()
	}
	now := time.Now()
	for i, rec := range r.pending[:r.n] {
		if rec >= 0 {
			r.probes[rec].sent = now
			r.probes[rec].txKey, r.probes[rec].keyed = base+uint32(i), keyed
		}
	}
	ok, failed, err := r.tx.send(r.views[:r.n], r.dsts[:r.n])
	if failed > 0 {
		// A refused packet shifts the numbers after it: time this batch
		// from the clock read.
		for _, rec := range r.pending[:r.n] {
			if rec >= 0 {
				r.probes[rec].keyed = false
			}
		}
	}
	r.sum.Sent += uint64(ok)
	r.sum.Failed += uint64(failed)
	for _, v := range r.views[:r.n] {
		r.sum.Bytes += uint64(len(v))
	}
	if rec := r.p.cfg.Tap; rec != nil {
		for _, v := range r.views[:r.n] {
			rec(tap.Out, now, v)
		}
	}
	if err != nil && r.sum.FirstError == nil {
		r.sum.FirstError = sendError(err, r.p.l2)
	}
	r.sum.Elapsed = time.Since(r.start)
	r.n = 0
	if ok == 0 && failed > 0 {
		return r.sum.FirstError
	}
	if r.match {
		return r.drain()
	}
	return nil
}

// rxBuffers is how many received packets may wait for the matcher; more
// are dropped rather than left to block the socket.
const rxBuffers = 256

// startReceiver reads answers on a goroutine until stopReceiver. Packets
// travel to the matcher in recycled buffers, so receiving allocates
// nothing per packet once the buffers have grown to the packets' size.
func (r *runner) startReceiver(ctx context.Context, rx receiver) {
	r.rx, r.rxConn = make(chan rxPacket, rxBuffers), rx
	r.free = make(chan []byte, rxBuffers)
	for i := 0; i < rxBuffers; i++ {
		r.free <- nil
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for !r.stop.Load() && ctx.Err() == nil {
			data, ts, kernel, err := rx.read()
			if err == errTimeout {
				continue
			}
			if err != nil {
				return
			}
			select {
			case buf := <-r.free:
				r.rx <- rxPacket{data: append(buf[:0], data...), ts: ts, kernel: kernel}
			default: // the matcher is far behind
			}
		}
	}()
}

func (r *runner) stopReceiver() {
	if r.rx == nil {
		return
	}
	r.stop.Store(true)
	r.rxConn.interrupt()
	r.wg.Wait()
}

// drain matches the answers received so far.
func (r *runner) drain() error {
	for {
		select {
		case pk := <-r.rx:
			if err := r.answer(pk); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// awaitAnswers takes answers for Wait after the last send, or until every
// sent packet has one.
func (r *runner) awaitAnswers(ctx context.Context) error {
	r.sum.Waited = true
	r.timer.Reset(r.p.cfg.Wait)
	defer r.timer.Stop()
	for r.sum.Answered < uint64(len(r.probes)) {
		select {
		case pk := <-r.rx:
			if err := r.answer(pk); err != nil {
				return err
			}
		case <-r.timer.C:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// answer matches one received packet against the sent ones and gives its
// buffer back.
func (r *runner) answer(pk rxPacket) error {
	defer func() { r.free <- pk.data }()
	ip := pk.data
	if r.p.l2 {
		ip = stripEthernet(ip)
	}
	k, isErr, ok := answerKey(ip)
	if !ok {
		return nil
	}
	idx, found := r.heads[k]
	if !found {
		return nil
	}
	rec := &r.probes[idx]
	if !rec.answered {
		rec.answered = true
		r.sum.Answered++
		if rec.next >= 0 {
			r.heads[k] = rec.next
		}
	}
	r.sum.Answers++
	if f := r.p.cfg.Tap; f != nil {
		f(tap.In, pk.ts, pk.data)
	}
	if r.fn == nil {
		return nil
	}
	a := Answer{Probe: uint64(idx), Time: pk.ts, Error: isErr, Frame: pk.data, KernelStamp: pk.kernel}
	a.RTT = pk.ts.Sub(r.sendTime(rec, &a))
	return r.fn(a)
}

// sendTime is when the packet of rec left (rawsock.SendTime);
// a.KernelTxStamp says whether the kernel stamped it.
func (r *runner) sendTime(rec *probeRec, a *Answer) time.Time {
	if !rec.keyed {
		return rec.sent
	}
	ns, kernel := rawsock.SendTime(r.stamper, rec.txKey, rec.sent.UnixNano())
	if !kernel {
		return rec.sent // keeps its monotonic reading
	}
	a.KernelTxStamp = true
	return time.Unix(0, ns)
}

// stripEthernet returns the IP packet inside an Ethernet frame (skipping
// 802.1Q tags), or nil.
func stripEthernet(f []byte) []byte {
	if len(f) < 14 {
		return nil
	}
	t, b := binary.BigEndian.Uint16(f[12:]), f[14:]
	for (t == 0x8100 || t == 0x88a8) && len(b) >= 4 {
		t, b = binary.BigEndian.Uint16(b[2:]), b[4:]
	}
	if t != 0x0800 && t != 0x86dd {
		return nil
	}
	return b
}
