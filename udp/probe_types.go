package udp

import (
	"net/netip"
	"time"

	"github.com/rawnet/rawnet/stats"
	"github.com/rawnet/rawnet/tap"
)

// Probe defaults for a zero ProbeConfig.
const (
	DefaultInterval = time.Second
	DefaultSize     = 64
	DefaultTimeout  = time.Second
	DefaultWindow   = 64
	// probeSeqWindow is the default ProbeConfig.SeqWindow.
	probeSeqWindow = 1 << 16
)

// ProbeConfig says what to send. The zero value sends a 64-byte datagram
// every second until ctx ends.
type ProbeConfig struct {
	// Remote is the server's address (the Conn is connected to it); it
	// is reported in the summary and written into the pcap records.
	Remote netip.AddrPort
	// Count is the number of datagrams to send; 0 sends until Duration
	// passes or ctx ends.
	Count int
	// Duration stops sending after this long (0: no limit).
	Duration time.Duration
	// Interval between two datagrams (default 1s). Rate, when set, wins.
	Interval time.Duration
	// Rate in datagrams per second.
	Rate float64
	// Unpaced sends as fast as replies come back, keeping Window
	// datagrams in flight (a closed-loop load, as rawnet udp probe
	// --rate 0).
	Unpaced bool
	Window  int
	// Size is the UDP payload in bytes (default 64; at least HeaderLen
	// plus the prefix).
	Size int
	// Timeout: a datagram without a reply this long after it was sent is
	// lost (default 1s); a later reply is late and not counted.
	Timeout time.Duration
	// ReportEvery, when set, makes an EventInterval with the figures of
	// each such interval.
	ReportEvery time.Duration
	// Cookie identifies this run in every datagram; 0 picks a random one.
	Cookie uint64
	// Prefix is written before the probe header in every datagram and
	// not checked in replies (for servers that want a header of their
	// own, such as sockperf's).
	Prefix []byte
	// SeqWindow is how many sequence numbers back the probe keeps send
	// times and tells duplicates and late replies apart (default 65536, at
	// least 64); it bounds the datagrams in flight. A long-running probe
	// at a low rate (the exporter's) needs far fewer, in far less memory
	// (16 bytes each).
	SeqWindow int
	// Samples is how many round trips the summary keeps for percentiles
	// (Summary.Samples, NetSamples; 0: stats.DefaultSampleCapacity,
	// 100,000, 1.6 MB each); negative keeps none (both nil).
	Samples int
	// Tap, if set, is given every datagram sent and received, as IP packets.
	Tap tap.Func
	// Conn is the socket to probe through, connected to the server (see
	// Dial).
	Conn Conn
}

// ProbeEventKind says what happened.
type ProbeEventKind uint8

const (
	// EventReply: a reply to one of our datagrams (Dup, Reorder tell more).
	EventReply ProbeEventKind = iota
	// EventLost: no reply within the timeout.
	EventLost
	// EventLate: a reply that came after its datagram was counted lost.
	EventLate
	// EventUnreachable: an ICMP error about our datagrams (port
	// unreachable: nothing listens).
	EventUnreachable
	// EventSendError: the kernel refused a datagram.
	EventSendError
	// EventInterval: the figures of one ReportEvery interval.
	EventInterval
)

func (k ProbeEventKind) String() string {
	return [...]string{"reply", "lost", "late", "unreachable", "send_error", "interval"}[k]
}

// ProbeEvent is one thing that happened. It is a value: the engine keeps
// no reference to it.
type ProbeEvent struct {
	Kind        ProbeEventKind
	Seq         uint64
	Time        time.Time // received (or sent, for EventLost and EventSendError)
	KernelStamp bool
	// KernelTxStamp: RTT runs from the kernel's transmit stamp of the
	// datagram, not the send time it carries.
	KernelTxStamp bool
	Size          int
	RTT           time.Duration
	Dup           bool
	// Reorder is how many sequence numbers below the highest one already
	// received this reply's is (0: in order).
	Reorder uint64
	// With a reflecting server: its own time (send - receive), the round
	// trip without it, and the one-way times as the two clocks say
	// (exact only when the clocks agree).
	Reflected          bool
	ServerTime, NetRTT time.Duration
	Forward, Reverse   time.Duration
	// EventUnreachable: the ICMP type and code and who sent it.
	ICMPType, ICMPCode uint8
	From               netip.Addr
	Err                error
	// EventInterval: the interval's figures.
	Interval IntervalStats
}

// IntervalStats are the figures of one reporting interval.
type IntervalStats struct {
	Start, End time.Duration // since the run started
	Sent       int
	Received   int
	RTT        stats.RTT
	Jitter     time.Duration // the running RFC 3550 estimate at its end
}

// LossPct is the share of the interval's datagrams not answered in it.
func (s *IntervalStats) LossPct() float64 { return stats.LossPct(s.Sent, s.Received) }

// ProbeSummary is what a probe run returns.
type ProbeSummary struct {
	Remote      netip.AddrPort
	Local       netip.AddrPort
	Start       time.Time
	Elapsed     time.Duration // first send to last packet
	Sent        int
	Received    int // distinct datagrams answered in time
	Duplicates  int
	Reordered   int
	MaxReorder  uint64
	Late        int
	Unreachable int // ICMP errors about our datagrams
	SendErrors  int
	Foreign     int // datagrams that were not replies to this run
	RTT         stats.RTT
	Samples     *stats.Samples // RTT percentiles
	Jitter      stats.Jitter   // RFC 3550, on the round trip

	// With a reflecting server (Reflected replies carried its stamps):
	Reflected        int
	ServerTime       stats.RTT // the server's own time per datagram
	NetRTT           stats.RTT // round trip minus server time
	NetSamples       *stats.Samples
	Forward, Reverse stats.RTT    // one-way times, clock offset included
	FwdJitter        stats.Jitter // RFC 3550 per direction
	RevJitter        stats.Jitter
	ServerReceived   uint32 // the highest count of our datagrams the server reported
}

// LossPct is the share of datagrams sent that got no reply in time.
func (s *ProbeSummary) LossPct() float64 { return stats.LossPct(s.Sent, s.Received) }

// Percentile of the round-trip times (p in percent), 0 without replies.
func (s *ProbeSummary) Percentile(p float64) time.Duration {
	if s.Samples == nil {
		return 0
	}
	return s.Samples.Percentile(p)
}

// ForwardLost and ReverseLost split the loss by direction with a
// reflecting server, from the count of our datagrams it reported: the
// ones it never got were lost on the way there, the others on the way
// back. Datagrams whose replies were all lost after the last count was
// reported are counted on the way there: the split is exact when the last
// replies came back.
func (s *ProbeSummary) ForwardLost() int { return max(0, s.Sent-int(s.ServerReceived)) }

// ReverseLost: see ForwardLost.
func (s *ProbeSummary) ReverseLost() int { return max(0, int(s.ServerReceived)-s.Received) }

// ClockOffset estimates how far the server's clock is ahead of the
// client's, assuming the fastest datagram took as long each way (as NTP
// does): half the difference of the minimum one-way times.
func (s *ProbeSummary) ClockOffset() time.Duration {
	if s.Forward.Count() == 0 {
		return 0
	}
	return (s.Forward.Min() - s.Reverse.Min()) / 2
}
