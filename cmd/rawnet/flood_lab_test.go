package main

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
	"github.com/rawnet/rawnet/internal/wirertt"
)

// floodSlack bounds how much longer than the wire's the median flood RTT
// may be: the way from the clock read before sendmsg to the capture tap,
// 2µs on an idle machine, with room for a loaded one.
const floodSlack = 50 * time.Microsecond

// TestFloodRTTAgainstTheWire: a flood (-f without -i) goes without
// kernel transmit stamps, as iputils' ping -f does (they cost it 15% of
// its round trips per second): every reply says ts_source "kernel_rx", and
// its RTT, from the clock read before sendmsg to the reply's receive
// stamp, is never shorter than the wire's (the clock read comes before
// the capture tap) and in the median at most floodSlack longer. A paced
// flood (-f -i) keeps the transmit stamps and checkWire's bounds.
func TestFloodRTTAgainstTheWire(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	const count = 500
	for _, dst := range []netip.Addr{l.Dst.Addr4, l.Dst.Addr6} {
		name := "v4"
		if dst.Is6() {
			name = "v6"
		}
		rows := func(file string) []wirertt.Row { return echoRows(t, file, dst.Is6()) }
		t.Run(name, func(t *testing.T) {
			errs, sources := wireErrors(t, l, 2*count, echoBPF, rows,
				"ping", "--json", "-f", "-c", strconv.Itoa(count), dst.String())
			t.Logf("RTT - wire: median %v, p90 %v; ts_source %v", median(errs), absQuantile(errs, 0.9), sources)
			if sources["kernel_rx"] != len(errs) {
				t.Errorf("ts_source %v: want kernel_rx for all %d replies", sources, len(errs))
			}
			for i, e := range errs {
				if e < -wireSlack {
					t.Errorf("reply %d: RTT %v shorter than the wire's, want at least -%v", i+1, e, wireSlack)
				}
			}
			if m := median(errs); m > floodSlack {
				t.Errorf("median RTT - wire %v, want at most %v", m, floodSlack)
			}
		})
		t.Run(name+"-paced", func(t *testing.T) {
			errs, sources := wireErrors(t, l, 2*20, echoBPF, rows,
				"ping", "--json", "-f", "-i", "0.002", "-c", "20", dst.String())
			checkWire(t, errs, sources)
		})
	}
}

// TestFloodTxStampsOn: RAWNET_TXSTAMPS=on gives a flood the kernel's
// transmit stamps back, with checkWire's bounds. Not parallel: it sets
// the environment rawnet inherits.
func TestFloodTxStampsOn(t *testing.T) {
	t.Setenv("RAWNET_TXSTAMPS", "on")
	l := labtest.Up(t, lab.Spec{Routers: 1})
	rows := func(file string) []wirertt.Row { return echoRows(t, file, false) }
	errs, sources := wireErrors(t, l, 2*200, echoBPF, rows, "ping", "--json", "-f", "-c", "200", l.Dst.Addr4.String())
	checkWire(t, errs, sources)
}
