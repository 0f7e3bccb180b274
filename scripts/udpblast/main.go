// Command udpblast sends UDP datagrams at a fixed rate with sendmmsg(2)
// batches: the traffic source of scripts/bench-capture.sh. It sends only
// to lab addresses (198.18.0.0/15, fd00::/8) and stops after -n datagrams
// or -t, whichever comes first.
//
//	udpblast -n 900000 -rate 300000 -size 64 198.18.0.2:9
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
)

func main() {
	count := flag.Int("n", 100000, "datagrams to send")
	rate := flag.Float64("rate", 300000, "datagrams per second")
	size := flag.Int("size", 64, "UDP payload bytes")
	limit := flag.Duration("t", 10*time.Second, "stop after this long in any case")
	batch := flag.Int("batch", 64, "datagrams per sendmmsg")
	flag.Parse()
	if flag.NArg() != 1 {
		fail("usage: udpblast [-n N] [-rate PPS] [-size BYTES] [-t DURATION] HOST:PORT")
	}
	dst, err := netip.ParseAddrPort(flag.Arg(0))
	if err != nil {
		fail(err.Error())
	}
	lab4, lab6 := netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("fd00::/8")
	if !lab4.Contains(dst.Addr()) && !lab6.Contains(dst.Addr()) {
		fail(fmt.Sprintf("%s is not a lab address (198.18.0.0/15, fd00::/8)", dst.Addr()))
	}
	if *count < 1 || *rate <= 0 || *size < 8 || *size > 1472 || *batch < 1 || *batch > 1024 {
		fail("bad -n, -rate, -size or -batch")
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		fail(err.Error())
	}
	c.SetWriteBuffer(8 << 20)
	sent, elapsed, err := blast(ipv4.NewPacketConn(c), *count, *rate, *size, *batch, *limit)
	fmt.Printf("sent %d datagrams in %.3f s (%.0f/s)\n", sent, elapsed.Seconds(), float64(sent)/elapsed.Seconds())
	if err != nil {
		fail(err.Error())
	}
}

// blast sends count datagrams, paced to rate per second, batch at a time.
// Each payload starts with its sequence number.
func blast(pc *ipv4.PacketConn, count int, rate float64, size, batch int, limit time.Duration) (int, time.Duration, error) {
	msgs := make([]ipv4.Message, batch)
	bufs := make([][]byte, batch)
	for i := range msgs {
		bufs[i] = make([]byte, size)
		msgs[i].Buffers = [][]byte{bufs[i]}
	}
	start := time.Now()
	sent := 0
	for sent < count {
		now := time.Since(start)
		if now > limit {
			return sent, now, fmt.Errorf("time limit %s reached", limit)
		}
		due := int(now.Seconds() * rate)
		if sent >= due {
			time.Sleep(time.Duration(float64(sent-due+batch) / rate * float64(time.Second)))
			continue
		}
		n := min(batch, count-sent)
		for i := range n {
			seq := uint32(sent + i)
			bufs[i][0], bufs[i][1], bufs[i][2], bufs[i][3] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
		}
		k, err := pc.WriteBatch(msgs[:n], 0)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue // an ICMP error from an earlier datagram
			}
			return sent, time.Since(start), err
		}
		sent += k
	}
	return sent, time.Since(start), nil
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "udpblast:", msg)
	os.Exit(2)
}
