package udp

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/rawnet/rawnet/stats"
	"github.com/rawnet/rawnet/tap"
)

// Mode is what a Server does with a datagram.
type Mode uint8

const (
	// ModeEcho returns every datagram as it came (RFC 862).
	ModeEcho Mode = iota
	// ModeSink counts and discards.
	ModeSink
	// ModeReflect returns rawnet probe datagrams with the server's receive
	// and send times and its count of the session's datagrams filled in
	// (STAMP / TWAMP-light style); other datagrams are counted (as plain,
	// or as malformed when they claim to be probes) and dropped.
	ModeReflect
)

func (m Mode) String() string { return [...]string{"echo", "sink", "reflect"}[m] }

// ParseMode reads "echo", "sink" or "reflect".
func ParseMode(s string) (Mode, error) {
	for m := ModeEcho; m <= ModeReflect; m++ {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("udp: mode %q is not echo, sink or reflect", s)
}

// Server defaults for a zero ServerConfig.
const (
	DefaultMaxClients  = 4096
	DefaultIdleTimeout = time.Minute
	// DefaultBufSize holds any UDP datagram, so an echo is always whole.
	DefaultBufSize  = 65535
	serverSeqWindow = 1024
	activeWindow    = time.Second // a client heard from this recently is active
)

// ServerConfig says how to serve. The zero value echoes, unlimited, for up
// to DefaultMaxClients clients at a time.
type ServerConfig struct {
	Mode Mode
	// MaxRate caps replies per second over all clients (0: no cap).
	MaxRate float64
	// ClientRate caps replies per second to one client. When 0 and
	// MaxRate is set, each active client gets an equal share of MaxRate,
	// so that one client cannot starve the others.
	ClientRate float64
	// MaxClients bounds the clients tracked one by one (default 4096);
	// datagrams from more are counted together, and still served.
	MaxClients int
	// IdleTimeout forgets a client not heard from this long, after
	// reporting it (default 1 minute).
	IdleTimeout time.Duration
	// ReportEvery, when set, makes a ServerReport event this often.
	ReportEvery time.Duration
	// BufSize is the largest datagram taken whole (default 65535).
	BufSize int
	// Delay holds every reply this long after its datagram arrived, one
	// at a time: a slow server, for tests of the reflector's stamps.
	Delay time.Duration
	// Tap, if set, is given every datagram received and sent.
	Tap tap.Func
	// Conn is the socket to serve on (see Listen).
	Conn Conn
}

// ServerEventKind says what a ServerEvent reports.
type ServerEventKind uint8

const (
	// ServerReport: the periodic report (every client tracked, totals).
	ServerReport ServerEventKind = iota
	// ClientGone: a client idle for IdleTimeout, with its final figures.
	ClientGone
)

func (k ServerEventKind) String() string { return [...]string{"report", "client_gone"}[k] }

// ServerEvent is one report. Clients is only valid during the sink call.
type ServerEvent struct {
	Kind    ServerEventKind
	Time    time.Time
	Clients []ClientStats
	Totals  ServerTotals
}

// ClientStats are the figures of one client (address and port).
type ClientStats struct {
	Addr        netip.AddrPort
	First, Last time.Time
	Received    uint64 // datagrams
	Bytes       uint64
	Replied     uint64
	RateLimited uint64 // not answered: over MaxRate or the client's share
	// Plain datagrams are not rawnet probes (an ordinary echo client's);
	// malformed ones start with the probe magic but do not parse. Echo
	// mode returns both, reflect mode neither.
	Plain     uint64
	Malformed uint64
	// Of rawnet probe datagrams, the session (probe run) last seen, and
	// what its sequence numbers say about the way here:
	Session    uint64
	Probes     uint64 // distinct probe datagrams of the session
	Duplicates uint64
	Reordered  uint64
	HighestSeq uint64
}

// Lost is how many of the session's datagrams up to the highest sequence
// number seen never arrived (the loss on the way to the server).
func (c *ClientStats) Lost() uint64 {
	if c.Probes == 0 || c.HighestSeq+1 < c.Probes {
		return 0
	}
	return c.HighestSeq + 1 - c.Probes
}

// LossPct is the share of the session's probes that did not arrive (the
// sequence numbers missing below the highest seen), in percent.
func (c *ClientStats) LossPct() float64 { return stats.LossPct(c.Lost()+c.Probes, c.Probes) }

// ServerTotals are the figures over all clients since the start.
type ServerTotals struct {
	Received    uint64
	Bytes       uint64
	Replied     uint64
	RateLimited uint64
	Plain       uint64 // datagrams that are not rawnet probes
	Malformed   uint64 // datagrams with the probe magic that do not parse
	SendErrors  uint64
	Clients     uint64 // distinct clients tracked since the start
	Untracked   uint64 // datagrams from clients beyond MaxClients
}

// ServerSummary is what Run returns: the clients still tracked and the totals.
type ServerSummary struct {
	Local   netip.AddrPort
	Start   time.Time
	Elapsed time.Duration
	Clients []ClientStats
	Totals  ServerTotals
}
