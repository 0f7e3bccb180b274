package udp

import (
	"net/netip"
	"time"

	"github.com/rawnet/rawnet/tap"
)

// Scan defaults for a zero ScanConfig.
const (
	DefaultRetries  = 2
	DefaultScanRate = 1000 // probes per second to start with
	DefaultMinRate  = 0.5
	DefaultScanWait = time.Second
	// MaxTries bounds the datagrams one port gets, retries after
	// inconclusive tries included (nmap's ceiling too).
	MaxTries = 10
)

// ScanConfig says what to scan. Target and Ports are needed; the zero
// value of every other field means a sensible default.
type ScanConfig struct {
	Target netip.Addr
	Ports  []uint16
	// Retries: a silent port is open|filtered after 1+Retries tries of
	// which at least one was conclusive (see Scan).
	Retries int
	// Rate is the probes per second to start with (default 1000); the
	// scan slows down to what the target's ICMP rate limit lets through.
	Rate float64
	// MinRate is the slowest the scan goes (default 0.5/s).
	MinRate float64
	// Wait is the longest a probe waits for an answer (default 1s); once
	// answers come, the wait follows their round-trip times below it.
	Wait time.Duration
	// Payload gives the datagram for a port (default Payload).
	Payload func(port uint16, id uint16) []byte
	// Tap, if set, is given every datagram sent and every answer.
	Tap tap.Func
	// Conn is the socket to scan through, one that also receives ICMP
	// errors (see ListenErrors).
	Conn Conn
}

// PortState is what a scan found out about a port.
type PortState uint8

const (
	// OpenFiltered: no answer, after retries (open and quiet, or a
	// firewall drops the probes).
	OpenFiltered PortState = iota
	// Open: the port answered with a datagram.
	Open
	// Closed: ICMP port unreachable came back.
	Closed
	// Filtered: another ICMP unreachable came back (administratively
	// prohibited, host or net unreachable).
	Filtered
)

func (s PortState) String() string {
	return [...]string{"open|filtered", "open", "closed", "filtered"}[s]
}

// PortResult is the verdict on one port.
type PortResult struct {
	Port  uint16
	State PortState
	// Reason: "udp-response", "port-unreach", an ICMP unreachable's name,
	// or "no-response".
	Reason string
	Tries  int
	RTT    time.Duration // of the answer; 0 without one
	From   netip.Addr    // who answered (a router for a filtered port)
	Size   int           // bytes of a UDP answer
}

// ScanEvent reports one port's verdict as soon as it is final.
type ScanEvent struct {
	Port PortResult
	// Rate is the scan's pace, in probes per second, when it was made.
	Rate float64
}

// ScanSummary is what a scan returns: every port in the order given.
type ScanSummary struct {
	Target  netip.Addr
	Ports   []PortResult
	Sent    int // datagrams sent, retries and canaries included
	Elapsed time.Duration
	// Rate is the pace the scan ended at, and Limited whether the target
	// was seen to rate-limit its ICMP errors (an inconclusive try).
	Rate    float64
	Limited bool
}

// Count returns how many ports ended in state s.
func (s *ScanSummary) Count(st PortState) int {
	n := 0
	for i := range s.Ports {
		if s.Ports[i].State == st {
			n++
		}
	}
	return n
}
