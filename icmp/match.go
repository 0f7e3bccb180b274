package icmp

import (
	"encoding/binary"
	"time"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/rawsock"
	"github.com/rawnet/rawnet/tap"
)

// handle matches one received packet to the probe it answers or reports
// on, through the run's Kind. It returns false for packets that are not
// about this run's probes (other processes' pings, stray errors). It
// allocates nothing.
func (p *Pinger) handle(c Conn, pkt *Packet, ev *Event) bool {
	// Each socket has one reader: its Match lives in the Pinger, for a
	// pointer passed through the Kind interface would escape.
	m := &p.matches[0]
	if c.V6() {
		m = &p.matches[1]
	}
	var ok bool
	if p.echo != nil {
		ok = p.echo.Match(c, pkt, p.cookie, m)
	} else {
		ok = p.kind.Match(c, pkt, p.cookie, m)
	}
	if !ok {
		return false
	}
	*ev = Event{Kind: m.Kind, From: pkt.From, TTL: pkt.TTL, Size: len(pkt.Data), Time: pkt.Received,
		KernelStamp: pkt.KernelStamp, ICMPType: m.ICMPType, ICMPCode: m.ICMPCode, Info: m.Info,
		Flags: m.Flags, Closed: m.Closed, MAC: m.MAC}
	return p.resolve(c, m, ev)
}

// resolve finds the probe (target, sequence) m names and updates its
// state and the target's statistics.
func (p *Pinger) resolve(c Conn, m *Match, ev *Event) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ti := m.Target
	if m.By == ByProbe {
		if int(ti) >= len(p.targets) {
			return false
		}
	} else {
		var ok bool
		if ti, ok = p.byAddr[m.Peer.WithZone("")]; !ok {
			return false
		}
	}
	t := &p.targets[ti]
	if t.conn != c {
		return false
	}
	seq := m.Seq
	switch m.By {
	case BySeq16:
		seq = extendSeq(t.seq, uint16(seq))
	case ByLatest:
		seq = t.seq
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
	if kernel && ns > ev.Time.UnixNano() {
		// Later than the answer: not this probe's stamp (a numbering
		// that slipped), whatever its number says.
		return s.sent
	}
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
	proto := p.kind.Proto(c.V6())
	if !pkt.QueuedError {
		p.cfg.Tap(tap.In, pkt.Received, wrapIP(scratch, pkt.From, local, w, proto, pkt.Data))
		return
	}
	// A datagram socket reports errors without the error packet: rebuild
	// it around the request it quotes, as the router would have sent it.
	hdr := 8
	inner := wrapIP(scratch[hdr:], t.src, t.Addr, c.Wire(), proto, pkt.Data)
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
	p.cfg.Tap(tap.In, pkt.Received, wrapIP(out, pkt.From, local, w, icmpProto(c.V6()), msg))
}
