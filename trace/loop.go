package trace

import (
	"time"

	"github.com/rawnet/rawnet/internal/rawsock"
	"github.com/rawnet/rawnet/tap"
)

// firstFlows is how many flows multipath discovery starts with: enough to
// rule out a second interface behind the first one seen.
func (e *engine) firstFlows() int {
	if e.mdaN == nil {
		return 0
	}
	return e.mdaN[1]
}

// send sends every probe that is due, round robin over the targets,
// within the in-flight cap.
func (e *engine) send(now time.Time) {
	limit := e.inFlightCap()
	for progress := true; progress; {
		progress = false
		for _, t := range e.targets {
			if len(e.busy) >= limit {
				return
			}
			ttl, flow, ok := t.next(now)
			if !ok {
				continue
			}
			e.sendProbe(t, ttl, flow)
			// On a short path the target's answer may be back already:
			// taking it now spares probes beyond the target.
			e.takeQueued()
			progress = true
		}
	}
}

func (e *engine) sendProbe(t *targetState, ttl, flow int) {
	id := e.takeID()
	idx := len(t.hops[ttl])
	t.hops[ttl] = append(t.hops[ttl], probeRec{Probe: Probe{Flow: flow, QuotedTTL: -1}, pending: true})
	rec := &t.hops[ttl][idx]
	pkt := t.fp.build(e.pkt, t.src, t.addr, uint8(ttl), id, uint16(flow))
	t.sent++
	e.sum.Sent++
	var key uint32
	var keyed bool
	var err error
	if ks, ok := t.conn.(KeyedSender); ok {
		rec.Sent, key, keyed, err = ks.SendKeyed(pkt, t.addr)
	} else {
		if t.stamper != nil {
			key, keyed = t.stamper.TxKey()
		}
		rec.Sent = time.Now()
		err = t.conn.Send(pkt, t.addr)
	}
	if e.cfg.Tap != nil {
		e.cfg.Tap(tap.Out, rec.Sent, pkt)
	}
	if err != nil {
		// The kernel refused it (no route, neighbour unreachable, a full
		// queue): the probe is lost, as if on the wire.
		if t.sendErr == nil {
			t.sendErr = err
		}
		rec.pending, rec.Timeout = false, true
		return
	}
	t.pendingAt[ttl]++
	s := &e.slots[id&(slotCount-1)]
	*s = slot{busy: true, id: id, flow: uint16(flow), ttl: uint8(ttl), target: int32(t.index), index: int32(idx), sent: rec.Sent, pos: int32(len(e.busy)),
		key: key, keyed: keyed}
	e.busy = append(e.busy, int32(id&(slotCount-1)))
}

// inFlightCap is the most probes awaiting answers at once.
func (e *engine) inFlightCap() int {
	limit := min(slotCount, int(e.idHi-e.idLo)+1)
	if e.cfg.InFlight > 0 {
		return min(limit, e.cfg.InFlight)
	}
	return limit
}

// takeID returns the next probe identity whose slot is free. The caller
// keeps fewer than slotCount probes in flight, so one is.
func (e *engine) takeID() uint16 {
	for {
		id := e.nextID
		e.nextID++
		if e.nextID > e.idHi || e.nextID < e.idLo {
			e.nextID = e.idLo
		}
		if !e.slots[id&(slotCount-1)].busy {
			return id
		}
	}
}

// release frees slot i, taking it out of the busy list in constant time.
func (e *engine) release(i int32) {
	s := &e.slots[i]
	s.busy = false
	last := len(e.busy) - 1
	moved := e.busy[last]
	e.busy[s.pos] = moved
	e.slots[moved].pos = s.pos
	e.busy = e.busy[:last]
}

// answer takes one answer from a reader.
func (e *engine) answer(r *reply) {
	i := int32(r.id & (slotCount - 1))
	s := &e.slots[i]
	if !s.busy || s.id != r.id || (r.hasFlow && r.flow != s.flow) {
		return // late (already timed out), duplicated, or not ours
	}
	t := e.targets[s.target]
	if r.target != t.addr.WithZone("") { // a link-local target's zone is not on the wire
		return
	}
	e.release(i)
	sent, kernelTx := s.sent, false
	if s.keyed {
		// The send socket has no reader but this loop: it takes the stamps.
		var ns int64
		if ns, kernelTx = rawsock.SendTime(t.stamper, s.key, s.sent.UnixNano()); kernelTx {
			sent = time.Unix(0, ns)
		}
	}
	t.record(int(s.ttl), int(s.index), r, sent)
	t.hops[s.ttl][s.index].KernelTxStamp = kernelTx
	e.sum.Answered++
	if e.cfg.Multipath {
		t.updateFlows(e.mdaN)
	}
}

// expire times out the probes whose wait has passed.
func (e *engine) expire(now time.Time) {
	for k := len(e.busy) - 1; k >= 0; k-- {
		i := e.busy[k]
		s := &e.slots[i]
		t := e.targets[s.target]
		if now.Before(s.sent.Add(t.wait(int(s.ttl)))) {
			continue
		}
		e.release(i)
		rec := &t.hops[s.ttl][s.index]
		rec.pending, rec.Timeout = false, true
		t.pendingAt[s.ttl]--
		if e.cfg.Multipath {
			t.updateFlows(e.mdaN)
		}
	}
}

// report passes finished hops and traces to the sink and starts the next
// cycles.
func (e *engine) report(now time.Time) error {
	for _, t := range e.targets {
		if t.finished {
			continue
		}
		if !e.cfg.Multipath {
			for t.nextEmit <= t.limit && t.hopComplete(t.nextEmit) {
				if err := e.emitHop(t, t.nextEmit); err != nil {
					return err
				}
				t.nextEmit++
			}
		}
		if !t.complete() {
			continue
		}
		if err := e.endCycle(t, false, now); err != nil {
			return err
		}
	}
	return nil
}

// endCycle reports what is left of a trace and how it ended, then starts
// the next cycle or retires the target.
func (e *engine) endCycle(t *targetState, interrupted bool, now time.Time) error {
	last := t.limit
	if interrupted {
		last = t.lastAnswered()
	}
	for ; t.nextEmit <= last; t.nextEmit++ {
		if len(t.hops[t.nextEmit]) == 0 {
			continue
		}
		if err := e.emitHop(t, t.nextEmit); err != nil {
			return err
		}
	}
	// Probes beyond the target (the first wave went to every TTL) may
	// still be out; their answers are of no use now.
	for k := len(e.busy) - 1; k >= 0; k-- {
		if i := e.busy[k]; e.slots[i].target == int32(t.index) {
			s := &e.slots[i]
			t.hops[s.ttl][s.index].pending = false
			t.hops[s.ttl][s.index].Timeout = true
			t.pendingAt[s.ttl]--
			e.release(i)
		}
	}
	e.res = Result{
		Target: t.addr, Source: t.src, Cycle: t.cycle, Hops: last,
		Sent: t.sent, Answered: t.answered, Interrupted: interrupted,
		Start: t.cycleStart, Duration: now.Sub(t.cycleStart), Links: e.res.Links[:0],
	}
	res := &e.res
	if t.sendErr != nil {
		res.SendError = t.sendErr.Error()
	}
	res.Reached = t.reached(last)
	if e.cfg.Multipath {
		res.Links = t.links(last, res.Links)
	}
	if res.Reached && t.cycle == 0 {
		e.sum.Reached++
	}
	e.event = Event{Kind: EventDone, Target: t.index, Addr: t.addr, Cycle: t.cycle, Result: res}
	if err := e.sink(e.event); err != nil {
		return err
	}
	if interrupted || t.cycle+1 >= e.cfg.Cycles {
		t.finished = true
		return nil
	}
	// The next cycle starts Interval after this one began, and not
	// before this one ended.
	next := t.cycleStart.Add(e.cfg.Interval)
	if next.Before(now) {
		next = now
	}
	t.startCycle(next, e.firstFlows())
	return nil
}

// reached reports whether the target answered at TTL last.
func (t *targetState) reached(last int) bool {
	if last < t.cfg.FirstTTL || last >= len(t.hops) {
		return false
	}
	for i := range t.hops[last] {
		if t.hops[last][i].Reached {
			return true
		}
	}
	return false
}

// lastAnswered is the farthest TTL with an answer, for an interrupted
// trace.
func (t *targetState) lastAnswered() int {
	last := t.nextEmit - 1
	for ttl := t.cfg.FirstTTL; ttl <= t.limit; ttl++ {
		for i := range t.hops[ttl] {
			if !t.hops[ttl][i].Timeout && !t.hops[ttl][i].pending {
				last = ttl
			}
		}
	}
	return last
}

func (e *engine) emitHop(t *targetState, ttl int) error {
	e.hop.TTL = ttl
	e.hop.Probes = e.hop.Probes[:0]
	for i := range t.hops[ttl] {
		rec := &t.hops[ttl][i]
		p := rec.Probe
		if rec.pending {
			p.Timeout = true
		}
		p.Labels = rec.labels[:rec.nLabels]
		e.hop.Probes = append(e.hop.Probes, p)
	}
	e.event = Event{Kind: EventHop, Target: t.index, Addr: t.addr, Cycle: t.cycle, Hop: &e.hop}
	return e.sink(e.event)
}

// interrupt ends every unfinished trace with what it has.
func (e *engine) interrupt() error {
	for _, t := range e.targets {
		if t.finished {
			continue
		}
		if err := e.endCycle(t, true, time.Now()); err != nil {
			return err
		}
	}
	return nil
}
