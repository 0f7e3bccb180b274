package main

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/pcap"
)

// probe is one echo request seen on the wire.
type probe struct {
	at     int64 // capture stamp, unix nanoseconds
	cookie uint64
	target uint32
	seq    uint32
}

// parseRequest finds an IPv4 or IPv6 echo request with rawnet's probe
// fields in a captured frame.
func parseRequest(link pcap.LinkType, b []byte) (probe, bool) {
	switch link {
	case pcap.Ethernet:
		if len(b) < 14 {
			return probe{}, false
		}
		b = b[14:]
	case pcap.Raw, pcap.IPv4, pcap.IPv6:
	default:
		return probe{}, false
	}
	var msg []byte
	var request uint8
	switch {
	case len(b) >= 20 && b[0]>>4 == 4 && b[9] == 1 && binary.BigEndian.Uint16(b[6:])&0x3fff == 0:
		ihl := int(b[0]&15) * 4
		if len(b) < ihl {
			return probe{}, false
		}
		msg, request = b[ihl:], 8
	case len(b) >= 40 && b[0]>>4 == 6 && b[6] == 58:
		msg, request = b[40:], 128
	default:
		return probe{}, false
	}
	if len(msg) < 1 || msg[0] != request {
		return probe{}, false
	}
	_, p, ok, err := icmpmsg.ParseEcho(msg)
	if !ok || err != nil {
		return probe{}, false
	}
	return probe{cookie: p.Cookie, target: p.Target, seq: p.Seq}, true
}

// report is what analyze found.
type report struct {
	probes, runs, targets int
	late                  []time.Duration // sorted
	gapDev                []time.Duration // per target, between probes: the time minus the periods, sorted
}

// analyze measures the lateness of each probe that keep accepts: its
// stamp minus its scheduled time, S + (seq-1)·period + target·gap, with
// each run's S (cookie) taken from its earliest probe of all.
func analyze(ps []probe, period, gap time.Duration, keep func(probe) bool) report {
	type key struct {
		cookie uint64
		target uint32
	}
	start := map[uint64]int64{}
	offset := func(p probe) int64 {
		return p.at - int64(p.seq-1)*int64(period) - int64(p.target)*int64(gap)
	}
	for _, p := range ps {
		if s, ok := start[p.cookie]; !ok || offset(p) < s {
			start[p.cookie] = offset(p)
		}
	}
	r := report{runs: len(start)}
	last := map[key]probe{}
	for _, p := range ps {
		if !keep(p) {
			continue
		}
		r.probes++
		r.late = append(r.late, time.Duration(offset(p)-start[p.cookie]))
		k := key{p.cookie, p.target}
		if q, ok := last[k]; ok && p.seq > q.seq {
			r.gapDev = append(r.gapDev, time.Duration(p.at-q.at-int64(p.seq-q.seq)*int64(period)))
		}
		last[k] = p
	}
	r.targets = len(last)
	slices.Sort(r.late)
	slices.Sort(r.gapDev)
	return r
}

// quantile is the q-quantile of sorted v (nearest rank).
func quantile(v []time.Duration, q float64) time.Duration {
	if len(v) == 0 {
		return 0
	}
	return v[min(len(v)-1, int(q*float64(len(v))))]
}

// over counts the values of sorted v above d.
func over(v []time.Duration, d time.Duration) int {
	i, _ := slices.BinarySearch(v, d+1)
	return len(v) - i
}

func (r report) String() string {
	if r.probes == 0 {
		return "no echo requests with rawnet's probe fields\n"
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests to %d targets (runs: %d) late against their schedule: median %s, p99 %s, p99.9 %s, max %s;",
		r.probes, r.targets, r.runs, ms(quantile(r.late, 0.5)), ms(quantile(r.late, 0.99)), ms(quantile(r.late, 0.999)), ms(quantile(r.late, 1)))
	fmt.Fprintf(&b, " later than 10 ms: %d, 100 ms: %d, 1 s: %d\n", over(r.late, 10*time.Millisecond), over(r.late, 100*time.Millisecond), over(r.late, time.Second))
	if len(r.gapDev) > 0 {
		fmt.Fprintf(&b, "a target's probe to the next, minus the interval: min %s, median %s, p99 %s, max %s\n",
			ms(r.gapDev[0]), ms(quantile(r.gapDev, 0.5)), ms(quantile(r.gapDev, 0.99)), ms(r.gapDev[len(r.gapDev)-1]))
	}
	return b.String()
}
