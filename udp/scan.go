package udp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rawnet/rawnet/tap"
)

// Scanner scans the UDP ports of one host. Create it with NewScanner and
// run it once.
//
// A port that answers with a datagram is open, one that brings ICMP port
// unreachable is closed, another ICMP unreachable makes it filtered, and
// silence makes it open|filtered, but only after retries, and only once
// the silence is known not to be the target's ICMP rate limit at work
// (Linux answers one closed port per second per client by default, after
// a burst of six). For that, every retry of a silent port goes out right
// before a "canary", a datagram to a port already known to be closed: if
// the target's limit had a token for the silent port's error, it had one
// for the canary, so a canary answered behind a silent probe proves the
// silence. A canary left unanswered too means the limit is spent: the try
// is inconclusive and the scan halves its pace (once per wait, as TCP
// halves its window once per round trip); conclusive tries speed it up
// again by a tenth, up to the starting rate. The scan so settles at the
// rate of ICMP errors the target sends, like nmap's, and closed ports are
// not mistaken for open|filtered however low that rate is.
type Scanner struct {
	cfg   ScanConfig
	conn  Conn
	ports []portState
	index map[uint16]int
	queue []int // ports waiting for a try, in order

	canary   int // index of a closed port, -1 until one is known
	tags     map[uint32]int
	nextTag  uint32
	rate     float64
	pace     bucket
	slowedAt time.Time // sends before this were at a pace since halved
	limited  bool
	srtt     time.Duration
	wait     time.Duration

	tx, rx []Message
	sent   int
	final  int
	start  time.Time
	tapBuf []byte
	sink   func(ScanEvent) error
	err    error
}

type portState struct {
	PortResult
	final    bool
	inFlight bool
	sentAt   time.Time
	credible int    // silent tries known not to be the rate limit
	tag      uint32 // the canary sent with the try in flight; 0 none
	canaryOK bool
}

// hardMaxTries stops a port's inconclusive retries (a target whose
// limit never lets an error through).
const hardMaxTries = 3 * MaxTries

// canaryMagic starts every canary's payload.
const canaryMagic = "rawnet-canary"

// NewScanner checks cfg, fills in the defaults of its zero fields and
// prepares a scan over cfg.Conn (unconnected, with ICMP errors reported:
// ListenErrors).
func NewScanner(cfg ScanConfig) (*Scanner, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &Scanner{cfg: cfg, conn: cfg.Conn, index: map[uint16]int{}, canary: -1, tags: map[uint32]int{},
		rate: cfg.Rate, wait: cfg.Wait}
	for i, p := range cfg.Ports {
		if _, dup := s.index[p]; dup || p == 0 {
			return nil, fmt.Errorf("udp: port %d given twice or zero", p)
		}
		s.index[p] = i
		s.ports = append(s.ports, portState{PortResult: PortResult{Port: p, Reason: "no-response"}})
		s.queue = append(s.queue, i)
	}
	s.tx = make([]Message, MaxBatch)
	s.rx = make([]Message, MaxBatch)
	for i := range s.rx {
		s.rx[i].Buf = make([]byte, 2048)
	}
	if cfg.Tap != nil {
		s.tapBuf = make([]byte, tapLen(2048))
	}
	return s, nil
}

// Run scans until every port has a verdict or ctx ends, reporting each
// verdict to sink as it is made. Ports without one when ctx ends stay
// open|filtered in the summary.
func (s *Scanner) Run(ctx context.Context, sink func(ScanEvent) error) (ScanSummary, error) {
	s.sink = sink
	stop := context.AfterFunc(ctx, func() { s.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	s.start = time.Now()
	for s.final < len(s.ports) && ctx.Err() == nil && s.err == nil {
		now := time.Now()
		if err := s.send(now); err != nil {
			return s.summary(), err
		}
		s.expire(now)
		s.conn.SetReadDeadline(s.wakeAt(now))
		if err := s.receive(); err != nil {
			return s.summary(), err
		}
	}
	return s.summary(), s.err
}

// send sends the tries that the pace allows now.
func (s *Scanner) send(now time.Time) error {
	n := 0
	for len(s.queue) > 0 && n+2 <= len(s.tx) && s.pace.take(now.UnixNano(), s.rate, max(1, s.rate/100)) {
		i := s.queue[0]
		s.queue = s.queue[1:]
		p := &s.ports[i]
		if p.final {
			continue
		}
		p.Tries++
		p.inFlight, p.sentAt, p.tag, p.canaryOK = true, now, 0, false
		s.tx[n] = s.message(p.Port, s.cfg.Payload(p.Port, uint16(s.sent)))
		n++
		if p.Tries > 1 && s.canary >= 0 {
			s.nextTag++
			p.tag = s.nextTag
			s.tags[p.tag] = i
			s.tx[n] = s.message(s.ports[s.canary].Port, canaryPayload(p.tag))
			n++
		}
	}
	if n == 0 {
		return nil
	}
	sent, err := s.conn.WriteBatch(s.tx[:n])
	s.sent += sent
	for i := range s.tx[:sent] {
		tapUDP(s.cfg.Tap, s.tapBuf, tap.Out, now, s.conn.LocalAddr(), s.tx[i].Addr, s.tx[i].Data())
	}
	if err != nil && errors.Is(err, os.ErrClosed) {
		return err
	}
	return nil // a refused datagram is a silent try; the retries cover it
}

func (s *Scanner) message(port uint16, payload []byte) Message {
	if len(payload) == 0 {
		payload = make([]byte, 0, 1)
	}
	return Message{Buf: payload[:cap(payload)], N: len(payload), Addr: netipAddrPort(s.cfg.Target, port)}
}

func canaryPayload(tag uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte(canaryMagic), tag)
}

// expire ends the tries whose wait is over.
func (s *Scanner) expire(now time.Time) {
	for i := range s.ports {
		p := &s.ports[i]
		if p.inFlight && now.Sub(p.sentAt) >= s.wait {
			s.silent(i, p)
		}
	}
}

// silent handles a try that got no answer.
func (s *Scanner) silent(i int, p *portState) {
	p.inFlight = false
	delete(s.tags, p.tag)
	switch {
	case p.tag != 0 && p.canaryOK:
		p.credible++
		s.faster()
	case p.tag != 0:
		s.limited = true
		s.slower(p.sentAt)
	case s.canary < 0:
		p.credible++ // no ICMP error seen at all: nothing to rate-limit
	}
	if (p.Tries >= 1+s.cfg.Retries && p.credible > 0) || p.Tries >= hardMaxTries {
		s.finish(p, OpenFiltered, "no-response")
		return
	}
	s.queue = append(s.queue, i)
}

func (s *Scanner) slower(sentAt time.Time) {
	if sentAt.Before(s.slowedAt) {
		return // sent at a pace already halved since
	}
	s.rate = max(s.cfg.MinRate, s.rate/2)
	s.slowedAt = time.Now()
}

func (s *Scanner) faster() { s.rate = min(s.cfg.Rate, s.rate*1.1) }

// wakeAt is the next moment something is due: a send the pace allows, or
// a try's wait ending.
func (s *Scanner) wakeAt(now time.Time) time.Time {
	w := now.Add(s.cfg.Wait)
	if len(s.queue) > 0 {
		w = now.Add(s.pace.wait(now.UnixNano(), s.rate))
	}
	for i := range s.ports {
		if p := &s.ports[i]; p.inFlight {
			w = earliest(w, p.sentAt.Add(s.wait))
		}
	}
	return w
}

func (s *Scanner) receive() error {
	n, err := s.conn.ReadBatch(s.rx)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	if err != nil {
		return err
	}
	for i := range n {
		m := &s.rx[i]
		if m.Addr.Addr() != s.cfg.Target {
			continue
		}
		if m.Kind == MsgICMP {
			s.icmp(m)
			continue
		}
		if j, ok := s.index[m.Addr.Port()]; ok {
			tapUDP(s.cfg.Tap, s.tapBuf, tap.In, m.Time, m.Addr, s.conn.LocalAddr(), m.Data())
			s.answer(j, m, Open, "udp-response")
		}
	}
	return nil
}

func (s *Scanner) icmp(m *Message) {
	tapError(s.cfg.Tap, s.tapBuf, s.conn.LocalAddr(), m)
	if tag, ok := parseCanary(m.Data()); ok {
		if i, ok := s.tags[tag]; ok {
			s.ports[i].canaryOK = true
		}
		return
	}
	j, ok := s.index[m.Addr.Port()]
	if !ok {
		return
	}
	state, reason, ok := classify(s.cfg.Target.Is4(), m.ICMPType, m.ICMPCode)
	if !ok {
		return
	}
	if state == Closed && s.canary < 0 {
		s.canary = j
	}
	s.answer(j, m, state, reason)
}

func parseCanary(b []byte) (uint32, bool) {
	if len(b) != len(canaryMagic)+4 || string(b[:len(canaryMagic)]) != canaryMagic {
		return 0, false
	}
	return binary.BigEndian.Uint32(b[len(canaryMagic):]), true
}

// answer settles port j with what came back.
func (s *Scanner) answer(j int, m *Message, st PortState, reason string) {
	p := &s.ports[j]
	if p.final {
		return
	}
	if p.Tries > 1 {
		s.faster()
	}
	p.RTT = m.Time.Sub(p.sentAt)
	if p.RTT > 0 && p.inFlight {
		s.learnRTT(p.RTT)
	}
	p.inFlight = false
	delete(s.tags, p.tag)
	p.From = m.Offender
	if m.Kind == MsgData {
		p.From, p.Size = m.Addr.Addr(), m.N
	}
	s.finish(p, st, reason)
}

// learnRTT smooths the answers' round-trip times (as TCP does) and
// waits twenty of them, at least 100ms and at most Wait.
func (s *Scanner) learnRTT(rtt time.Duration) {
	if s.srtt == 0 {
		s.srtt = rtt
	} else {
		s.srtt += (rtt - s.srtt) / 8
	}
	s.wait = min(s.cfg.Wait, max(100*time.Millisecond, 20*s.srtt))
}

func (s *Scanner) finish(p *portState, st PortState, reason string) {
	p.final = true
	p.State, p.Reason = st, reason
	s.final++
	if s.err == nil && s.sink != nil {
		s.err = s.sink(ScanEvent{Port: p.PortResult, Rate: s.rate})
	}
}

func (s *Scanner) summary() ScanSummary {
	sum := ScanSummary{Target: s.cfg.Target, Sent: s.sent, Elapsed: time.Since(s.start), Rate: s.rate, Limited: s.limited}
	for i := range s.ports {
		sum.Ports = append(sum.Ports, s.ports[i].PortResult)
	}
	return sum
}

// defaults fills in the zero fields of c and checks the others.
func (c *ScanConfig) defaults() error {
	if c.Conn == nil {
		return errNoConn
	}
	if !c.Target.IsValid() || len(c.Ports) == 0 {
		return fmt.Errorf("udp: a scan needs a target and ports")
	}
	c.Target = c.Target.Unmap()
	if c.Retries < 0 {
		c.Retries = 0
	} else if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	if c.Rate <= 0 {
		c.Rate = DefaultScanRate
	}
	if c.MinRate <= 0 {
		c.MinRate = DefaultMinRate
	}
	c.MinRate = min(c.MinRate, c.Rate)
	if c.Wait <= 0 {
		c.Wait = DefaultScanWait
	}
	if c.Payload == nil {
		c.Payload = Payload
	}
	return nil
}
