package icmp

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/rawsock"
	"github.com/rawnet/rawnet/tap"
)

// handle matches one received packet to the probe it answers or reports
// on. It returns false for packets that are not about this run's probes
// (other processes' pings, stray errors). It allocates nothing.
func (p *Pinger) handle(c Conn, pkt *Packet, ev *Event) bool {
	if pkt.QueuedError {
		return p.handleQueued(c, pkt, ev)
	}
	b := pkt.Data
	if len(b) < echoHeaderLen {
		return false
	}
	v6 := c.V6()
	switch icmpmsg.Classify(v6, b[0]) {
	case icmpmsg.ClassEchoReply:
		return p.handleReply(c, pkt, ev)
	case icmpmsg.ClassError, icmpmsg.ClassUnassignedError:
		if v6 {
			q, err := icmpmsg.ParseError6(b)
			return err == nil && q.Proto == protoICMP6 && p.handleError(c, pkt, q, icmpmsg.TypeEchoRequest6, ev)
		}
		q, err := icmpmsg.ParseError4(b)
		return err == nil && q.Proto == protoICMP4 && p.handleError(c, pkt, q, icmpmsg.TypeEchoRequest4, ev)
	}
	return false
}

func (p *Pinger) handleReply(c Conn, pkt *Packet, ev *Event) bool {
	e, pr, hasProbe, err := icmpmsg.ParseEcho(pkt.Data)
	if err != nil {
		return false
	}
	*ev = Event{Kind: EventReply, From: pkt.From, TTL: pkt.TTL, Size: len(pkt.Data), Time: pkt.Received, KernelStamp: pkt.KernelStamp}
	return p.resolve(c, e, pr, hasProbe, pkt.From, ev)
}

// handleError matches an ICMP error by the echo request it quotes.
func (p *Pinger) handleError(c Conn, pkt *Packet, q icmpmsg.Quote, reqType uint8, ev *Event) bool {
	e, pr, hasProbe, err := icmpmsg.ParseEcho(q.Payload)
	if err != nil || e.Type != reqType {
		return false
	}
	*ev = Event{Kind: EventError, From: pkt.From, TTL: pkt.TTL, Size: len(pkt.Data), Time: pkt.Received,
		KernelStamp: pkt.KernelStamp, ICMPType: q.Type, ICMPCode: q.Code, Info: q.Info}
	return p.resolve(c, e, pr, hasProbe, q.Dst, ev)
}

// handleQueued matches an error that a datagram socket reported through
// its error queue: pkt.Data is our echo request as it was sent.
func (p *Pinger) handleQueued(c Conn, pkt *Packet, ev *Event) bool {
	e, pr, hasProbe, err := icmpmsg.ParseEcho(pkt.Data)
	if err != nil {
		return false
	}
	*ev = Event{Kind: EventError, From: pkt.From, TTL: pkt.TTL, Size: len(pkt.Data), Time: pkt.Received,
		KernelStamp: pkt.KernelStamp, ICMPType: pkt.ErrType, ICMPCode: pkt.ErrCode, Info: pkt.ErrInfo}
	return p.resolve(c, e, pr, hasProbe, pkt.OrigDst, ev)
}

// resolve finds the probe (target, sequence) an echo header belongs to and
// updates its state and the target's statistics. peer is the target's
// address as the packet names it (reply source or quoted destination),
// used when the payload is too short to carry the probe fields.
func (p *Pinger) resolve(c Conn, e icmpmsg.Echo, pr icmpmsg.Probe, hasProbe bool, peer netip.Addr, ev *Event) bool {
	if e.ID != c.ID() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ti, ok := p.targetOf(pr, hasProbe, peer)
	if !ok {
		return false
	}
	t := &p.targets[ti]
	if t.conn != c {
		return false
	}
	seq := pr.Seq
	if !hasProbe {
		seq = extendSeq(t.seq, e.Seq)
	} else if uint16(seq) != e.Seq {
		return false
	}
	s := &t.ring[seq&t.mask]
	if s.seq != seq || s.state == slotEmpty {
		return false
	}
	ev.Target, ev.Seq = int(ti), seq
	ev.RTT = time.Duration(max(ev.Time.UnixNano()-p.sendTime(t, s, ev), 0))
	p.apply(t, s, ev)
	p.lastRecv = max(p.lastRecv, ev.Time.UnixNano())
	ev.done = ev.done || p.sendFinished && p.pending == 0
	return true
}

// sendTime is when the probe in slot s left (rawsock.SendTime);
// ev.KernelTxStamp says whether the kernel stamped it.
func (p *Pinger) sendTime(t *target, s *slot, ev *Event) int64 {
	if !s.keyed {
		return s.sent
	}
	ns, kernel := rawsock.SendTime(t.stamper, s.key, s.sent)
	ev.KernelTxStamp = ev.KernelTxStamp || kernel
	return ns
}

// apply records what ev says about the probe in slot s of target t.
// Called with mu held.
func (p *Pinger) apply(t *target, s *slot, ev *Event) {
	ev.resolved, ev.done = false, false
	if ev.Kind == EventError {
		if advisory(t.conn.V6(), ev.ICMPType) {
			return // a redirect or source quench: the reply may still come
		}
		t.st.Errors++
		if s.state == slotPending {
			s.state = slotAnswered // an error answers the probe: stop waiting for it
			p.pending--
			p.forgetResolved()
			ev.resolved = true
		}
		return
	}
	switch s.state {
	case slotPending:
		s.state = slotAnswered
		p.pending--
		p.forgetResolved()
		ev.resolved = true
		t.st.Received++
		t.st.RTT.Add(ev.RTT)
		if p.cfg.UntilReplies && t.st.Received == p.cfg.Count {
			p.satisfied++
			ev.done = true // wake Run: it may be finished
		}
	case slotAnswered:
		ev.Dup = true
		t.st.Duplicates++
	case slotExpired:
		ev.Kind = EventLate
		t.st.Late++
	}
}

// advisory reports ICMPv4 errors that do not mean the datagram was lost:
// a redirect (the router forwarded it) and a source quench. ping prints
// them but keeps waiting for the reply.
func advisory(v6 bool, typ uint8) bool {
	return !v6 && (typ == icmpmsg.TypeRedirect4 || typ == icmpmsg.TypeSourceQuench4)
}

func (p *Pinger) targetOf(pr icmpmsg.Probe, hasProbe bool, peer netip.Addr) (uint32, bool) {
	if hasProbe {
		if pr.Cookie != p.cookie || int(pr.Target) >= len(p.targets) {
			return 0, false
		}
		return pr.Target, true
	}
	ti, ok := p.byAddr[peer.WithZone("")]
	return ti, ok
}

// extendSeq turns a 16-bit wire sequence into the latest 32-bit sequence
// sent that ends in those 16 bits.
func extendSeq(last uint32, wire uint16) uint32 {
	seq := last&^0xffff | uint32(wire)
	if seq > last {
		seq -= 1 << 16
	}
	return seq
}

// tapReceived gives the tap the received packet as a whole IP packet,
// rebuilding the IP header when the socket did not deliver it.
func (p *Pinger) tapReceived(c Conn, pkt *Packet, ev *Event, scratch []byte) {
	if pkt.IP != nil {
		p.cfg.Tap(tap.In, pkt.Received, pkt.IP)
		return
	}
	t := &p.targets[ev.Target]
	local := pkt.To
	if !local.IsValid() {
		local = t.src
	}
	w := Wire{TTL: max(pkt.TTL, 0), TOS: max(pkt.TOS, 0)}
	if !pkt.QueuedError {
		p.cfg.Tap(tap.In, pkt.Received, wrapIP(scratch, pkt.From, local, w, pkt.Data))
		return
	}
	// A datagram socket reports errors without the error packet: rebuild
	// it around the request it quotes, as the router would have sent it.
	hdr := 8
	inner := wrapIP(scratch[hdr:], t.src, t.Addr, c.Wire(), pkt.Data)
	msg := scratch[:hdr+len(inner)]
	msg[0], msg[1] = ev.ICMPType, ev.ICMPCode
	msg[2], msg[3] = 0, 0
	binary.BigEndian.PutUint32(msg[4:], ev.Info)
	if c.V6() {
		binary.BigEndian.PutUint16(msg[2:], icmpmsg.Checksum6(msg, pkt.From, local))
	} else {
		binary.BigEndian.PutUint16(msg[2:], icmpmsg.Checksum(msg, 0))
	}
	out := scratch[len(msg):]
	w.TTL = 64 // what the router's error had is not known: a common default
	p.cfg.Tap(tap.In, pkt.Received, wrapIP(out, pkt.From, local, w, msg))
}
