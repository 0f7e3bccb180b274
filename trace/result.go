package trace

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/rawnet/rawnet/internal/icmpmsg"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventHop: every probe of one TTL has been answered or has timed out.
	EventHop EventKind = iota
	// EventDone: one trace (one target, one cycle) has ended.
	EventDone
)

// Event is what the engine reports to its sink. Hop and Result point into
// the engine's storage and are valid only during the call.
type Event struct {
	Kind   EventKind
	Target int // index into Config.Targets
	Addr   netip.Addr
	Cycle  int // 0-based; report mode runs several
	Hop    *Hop
	Result *Result
}

// Hop is what one TTL brought back.
type Hop struct {
	TTL    int
	Probes []Probe // in the order they were sent
}

// Probe is one probe and what answered it.
type Probe struct {
	Flow    int
	Sent    time.Time
	Timeout bool       // nothing answered in time
	Addr    netip.Addr // who answered
	RTT     time.Duration
	Kind    Kind
	Type    uint8 // ICMP type and code of the answer (ICMP answers)
	Code    uint8
	MTU     uint32 // next-hop MTU of "frag needed" / "packet too big"
	// Reached: the target itself answered; the trace ends at this TTL.
	Reached bool
	// QuotedTTL is the TTL the quoted probe had left when the router
	// quoted it (1 for a normal Time Exceeded); -1 without a quote.
	QuotedTTL int
	// Changed lists what the quoted probe says a middlebox changed.
	Changed Changes
	Labels  []MPLSLabel // RFC 4950 MPLS label stack of the answer
	// KernelStamp: RTT ends at the kernel's receive stamp of the answer;
	// KernelTxStamp: it starts at the kernel's transmit stamp of the probe
	// (else at the time read before sending it).
	KernelStamp, KernelTxStamp bool
}

// Changes is what the header an ICMP error quotes differs in from the
// probe that was sent: the work of a middlebox on the path.
type Changes struct {
	TOS              bool
	SentTOS, GotTOS  uint8
	DF               bool // the don't-fragment bit (IPv4)
	SentDF, GotDF    bool
	Ports            bool // source or destination port (NAT)
	SentSport, Sport uint16
	SentDport, Dport uint16
}

// Any reports whether anything changed.
func (c Changes) Any() bool { return c.TOS || c.DF || c.Ports }

// String describes the changes in a few words ("tos 0x00->0x28").
func (c Changes) String() string {
	s := ""
	add := func(f string, a ...any) {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf(f, a...)
	}
	if c.TOS {
		add("tos 0x%02x->0x%02x", c.SentTOS, c.GotTOS)
	}
	if c.DF {
		add("df %s->%s", onOff(c.SentDF), onOff(c.GotDF))
	}
	if c.Ports {
		add("ports %d:%d->%d:%d", c.SentSport, c.SentDport, c.Sport, c.Dport)
	}
	return s
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// Final reports whether the answer ends the trace: the target answered, or
// someone said it cannot be reached.
func (p *Probe) Final() bool {
	return p.Reached || p.Kind == KindUnreachable
}

// Annotation is traceroute's mark for an answer that is not a plain Time
// Exceeded or the target's normal answer: !H host, !N network, !P protocol
// unreachable, !X administratively prohibited, !F fragmentation needed
// (!F-MTU), !S source route failed, !<code> otherwise. It is "" for the
// rest.
func (p *Probe) Annotation(v6 bool) string {
	if p.Timeout || p.Kind != KindUnreachable {
		return ""
	}
	if v6 {
		switch p.Code {
		case 4: // port unreachable
			if p.Reached {
				return ""
			}
			return "!P"
		case 0, 5, 6:
			return "!N"
		case 1:
			return "!X"
		case 3:
			return "!H"
		}
		return fmt.Sprintf("!<%d>", p.Code)
	}
	switch p.Code {
	case 3:
		if p.Reached {
			return ""
		}
		return "!P"
	case 0, 6, 9, 11:
		return "!N"
	case 1, 7, 10, 12:
		return "!H"
	case 2:
		return "!P"
	case 4:
		return fmt.Sprintf("!F-%d", p.MTU&0xffff)
	case 5:
		return "!S"
	case 13:
		return "!X"
	case 14:
		return "!V"
	case 15:
		return "!C"
	}
	return fmt.Sprintf("!<%d>", p.Code)
}

// Describe is the answer in words, as ping says it ("Time to live
// exceeded").
func (p *Probe) Describe(v6 bool) string {
	switch p.Kind {
	case KindNone:
		return "timeout"
	case KindEchoReply, KindSynAck, KindRST:
		return p.Kind.String()
	}
	return icmpmsg.Describe(v6, p.Type, p.Code, p.MTU)
}

// Link is an edge between two interfaces at consecutive TTLs that one flow
// crossed (multipath discovery).
type Link struct {
	TTL      int // of From; To answered at TTL+1
	From, To netip.Addr
}

// Result is how one trace (target, cycle) ended.
type Result struct {
	Target      netip.Addr
	Source      netip.Addr
	Cycle       int
	Reached     bool   // the target answered
	Hops        int    // TTL of the last hop reported
	Sent        int    // probes sent
	Answered    int    // probes answered
	Interrupted bool   // stopped by the caller before it ended
	SendError   string // the first error the kernel gave sending a probe
	Start       time.Time
	Duration    time.Duration
	// Links lists the edges between the interfaces of consecutive TTLs
	// (multipath discovery only).
	Links []Link
}

// Summary sums up a Run.
type Summary struct {
	Targets  int
	Reached  int
	Sent     int
	Answered int
	Duration time.Duration
}
