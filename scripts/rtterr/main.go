// Command rtterr compares the RTTs a tool reported with the RTTs a
// capture on the sender's link shows, probe by probe: the measurement
// of scripts/bench-rtt.sh. It reads the capture with tshark and prints
// one line per answered probe: reported RTT minus wire RTT, in
// nanoseconds, and the probe's ts_source ("-" for tools without one).
//
//	rtterr -pcap wire.pcap -tool ping -out ping.json [-v6]
//
// Tools (what -out holds):
//
//	ping    rawnet ping --json (seq, rtt_ms)
//	iputils iputils ping output (icmp_seq=N ... time=X ms)
//	send    rawnet send --json --wait, echo requests with seq=1..N (probe p is seq p+1)
//	udp     rawnet udp probe --json (seq; -port the server's port)
//	tcp     rawnet ping -P tcp --json (seq; -port the probed port): a SYN's
//	        sequence number ends in the probe's 16 bits, its answer
//	        acknowledges that plus one
//	hping3  hping3 -S output (seq=N ... rtt=X ms; -port the probed port):
//	        probe N leaves from hping3's first source port plus N
//	trace   rawnet trace --json -P icmp: JSON names no probe, so each TTL's
//	        sorted RTTs are paired with the sorted wire RTTs of that TTL
//	        (order statistics keep the bounds of every pairing)
//	arping  Thomas Habets' arping output (index=N time=X usec), with -arp
//
// With -arp the capture holds ARP: requests carry no sequence number, so
// the k-th request on the wire is probe k (from 1) and a reply belongs to
// the request before it (probes are paced far apart: a reply comes
// microseconds after its request). rawnet ping -P arp --json's seq is k,
// arping's index is k-1.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rawnet/rawnet/internal/wirertt"
)

func main() {
	pcap := flag.String("pcap", "", "the capture (nanosecond stamps)")
	tool := flag.String("tool", "ping", "ping, iputils, send, udp or trace")
	out := flag.String("out", "", "the tool's output")
	v6 := flag.Bool("v6", false, "IPv6 echo")
	port := flag.Int("port", 7007, "udp: the server's port")
	arpWire := flag.Bool("arp", false, "the capture holds ARP requests and replies")
	flag.Parse()
	if *pcap == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "rtterr: -pcap and -out are required")
		os.Exit(2)
	}
	var rows []wirertt.Row
	var err error
	switch {
	case *arpWire:
		rows, err = wirertt.ARPRows(*pcap)
	case *tool == "udp":
		rows, err = wirertt.UDPProbeRows(*pcap, *port)
	case *tool == "tcp", *tool == "hping3":
		rows, err = wirertt.TCPRows(*pcap, *port, *tool == "hping3")
	default:
		rows, err = wirertt.EchoRows(*pcap, *v6)
	}
	check(err)
	wire, ttlOf := wirertt.Pair(rows)
	text, err := os.ReadFile(*out)
	check(err)
	switch *tool {
	case "ping", "udp", "send", "tcp":
		for _, m := range jsonLines(text) {
			if m["type"] != "reply" && m["type"] != "answer" {
				continue
			}
			var seq int
			if *tool == "send" {
				seq = int(m["probe"].(float64)) + 1
			} else {
				seq = int(m["seq"].(float64))
			}
			if w, ok := wire[seq]; ok {
				fmt.Printf("%d %v\n", int64(m["rtt_ms"].(float64)*1e6)-int64(w), m["ts_source"])
			}
		}
	case "iputils", "hping3":
		re := regexp.MustCompile(`icmp_seq=(\d+) .*time=([0-9.]+) ms`)
		if *tool == "hping3" {
			re = regexp.MustCompile(`seq=(\d+) .*rtt=([0-9.]+) ms`)
		}
		for _, m := range re.FindAllStringSubmatch(string(text), -1) {
			seq, _ := strconv.Atoi(m[1])
			ms, _ := strconv.ParseFloat(m[2], 64)
			if w, ok := wire[seq]; ok {
				fmt.Printf("%d -\n", int64(ms*1e6)-int64(w))
			}
		}
	case "arping":
		re := regexp.MustCompile(`index=(\d+) time=([0-9.]+) (usec|msec|sec)`)
		unit := map[string]float64{"usec": 1e3, "msec": 1e6, "sec": 1e9}
		for _, m := range re.FindAllStringSubmatch(string(text), -1) {
			index, _ := strconv.Atoi(m[1])
			v, _ := strconv.ParseFloat(m[2], 64)
			if w, ok := wire[index+1]; ok {
				fmt.Printf("%d -\n", int64(v*unit[m[3]])-int64(w))
			}
		}
	case "trace":
		got := map[int][]int64{}
		src := map[int][]string{}
		for _, m := range jsonLines(text) {
			if m["type"] != "hop" {
				continue
			}
			ttl := int(m["ttl"].(float64))
			for _, p := range m["probes"].([]any) {
				p := p.(map[string]any)
				if p["timeout"] == true {
					continue
				}
				got[ttl] = append(got[ttl], int64(p["rtt_ms"].(float64)*1e6))
				src[ttl] = append(src[ttl], fmt.Sprint(p["ts_source"]))
			}
		}
		byTTL := wirertt.ByTTL(wire, ttlOf)
		for ttl, g := range got {
			w := byTTL[ttl]
			if len(w) != len(g) {
				fmt.Fprintf(os.Stderr, "rtterr: TTL %d: %d answers reported, %d on the wire\n", ttl, len(g), len(w))
				continue
			}
			slices.Sort(g)
			for i := range g {
				fmt.Printf("%d %s\n", g[i]-int64(w[i]), src[ttl][i])
			}
		}
	default:
		fmt.Fprintf(os.Stderr, "rtterr: -tool %q is not one of ping, iputils, send, udp, tcp, hping3, trace, arping\n", *tool)
		os.Exit(2)
	}
}

func jsonLines(b []byte) []map[string]any {
	var ms []map[string]any
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			ms = append(ms, m)
		}
	}
	return ms
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtterr:", err)
		os.Exit(1)
	}
}
