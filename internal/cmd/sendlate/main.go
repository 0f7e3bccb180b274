// Command sendlate says how late rawnet's ICMP echo requests left against
// their schedule, from a capture of them (pcap or pcapng, nanosecond
// stamps best). It is scripts/bench-exporter.sh's measure of "every probe
// on time" (CAPTURE=1).
//
// The icmp engine sends probe k of a run at start + (k/n)·period +
// (k%n)·gap (Pinger.sendLoop): the probe with sequence s to target i at
// S + (s-1)·period + i·gap. Every request carries its run's cookie, the
// target index and the 32-bit sequence in its payload, so each probe's
// scheduled time is known up to S, which sendlate takes from the earliest
// probe of each run: a lateness is measured from the schedule that probe
// was on, never below 0.
//
//	sendlate -period 1s -gap 50us sent.pcap
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rawnet/rawnet/pcap"
)

func main() {
	period := flag.Duration("period", time.Second, "the targets' interval")
	gap := flag.Duration("gap", 50*time.Microsecond, "the time between two targets' probes in a round (1/rate)")
	from := flag.Float64("from", 0, "only requests sent at or after this time (unix seconds)")
	to := flag.Float64("to", 0, "only requests sent before this time (unix seconds; 0: no end)")
	flag.Parse()
	if flag.NArg() != 1 || *period <= 0 || *gap < 0 {
		fmt.Fprintln(os.Stderr, "sendlate: want -period > 0, -gap >= 0 and one capture file")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sendlate:", err)
		os.Exit(2)
	}
	defer f.Close()
	sent, err := readSent(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sendlate:", err)
		os.Exit(2)
	}
	r := analyze(sent, *period, *gap, within(*from, *to))
	fmt.Print(r.String())
}

// readSent reads the echo requests with rawnet's probe fields from a
// capture.
func readSent(r io.Reader) ([]probe, error) {
	pr, err := pcap.NewReader(r)
	if err != nil {
		return nil, err
	}
	var out []probe
	for {
		pkt, err := pr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if p, ok := parseRequest(pkt.LinkType, pkt.Data); ok {
			p.at = pkt.Timestamp.UnixNano()
			out = append(out, p)
		}
	}
}

// within reports whether a request was sent in [from, to) (unix seconds;
// to 0: no end).
func within(from, to float64) func(probe) bool {
	return func(p probe) bool {
		t := float64(p.at) / 1e9
		return t >= from && (to == 0 || t < to)
	}
}
