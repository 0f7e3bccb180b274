// Package tap is the small hook through which the engines (icmp, trace,
// udp, craft) report every packet they send or receive, so that callers can
// record them (rawnet writes them to a pcap file with pcap.File.Tap)
// without the engines knowing about files or formats. It is public so that
// programs using the engines can write their own: any function of type
// Func will do.
package tap

import "time"

// Dir says whether a packet was sent or received.
type Dir uint8

const (
	// Out is a packet this process sent.
	Out Dir = iota
	// In is a packet this process received.
	In
)

func (d Dir) String() string {
	if d == Out {
		return "out"
	}
	return "in"
}

// Func receives one packet. data is a whole IPv4 or IPv6 packet, header
// included; it is only valid during the call (engines reuse their buffers),
// so an implementation that keeps it must copy it. ts is the best timestamp
// the engine has: the kernel's receive time where there is one.
//
// Engines may call a Func from several goroutines; implementations must be
// safe for concurrent use.
type Func func(dir Dir, ts time.Time, data []byte)
