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
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

type row struct {
	ns       int64
	req      bool
	seq, ttl int
}

func main() {
	pcap := flag.String("pcap", "", "the capture (nanosecond stamps)")
	tool := flag.String("tool", "ping", "ping, iputils, send, udp or trace")
	out := flag.String("out", "", "the tool's output")
	v6 := flag.Bool("v6", false, "IPv6 echo")
	port := flag.Int("port", 7007, "udp: the server's port")
	flag.Parse()
	if *pcap == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "rtterr: -pcap and -out are required")
		os.Exit(2)
	}
	var rows []row
	switch *tool {
	case "udp":
		rows = udpRows(*pcap, *port)
	case "tcp", "hping3":
		rows = tcpRows(*pcap, *port, *tool == "hping3")
	default:
		rows = echoRows(*pcap, *v6)
	}
	wire, ttlOf := pair(rows)
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
				fmt.Printf("%d %v\n", int64(m["rtt_ms"].(float64)*1e6)-w, m["ts_source"])
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
				fmt.Printf("%d -\n", int64(ms*1e6)-w)
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
		byTTL := map[int][]int64{}
		for seq, w := range wire {
			byTTL[ttlOf[seq]] = append(byTTL[ttlOf[seq]], w)
		}
		for ttl, g := range got {
			w := byTTL[ttl]
			if len(w) != len(g) {
				fmt.Fprintf(os.Stderr, "rtterr: TTL %d: %d answers reported, %d on the wire\n", ttl, len(g), len(w))
				continue
			}
			slices.Sort(g)
			slices.Sort(w)
			for i := range g {
				fmt.Printf("%d %s\n", g[i]-w[i], src[ttl][i])
			}
		}
	default:
		fmt.Fprintf(os.Stderr, "rtterr: -tool %q is not one of ping, iputils, send, udp, tcp, hping3, trace\n", *tool)
		os.Exit(2)
	}
}

// pair returns the wire RTT of each sequence number (first request, first
// answer) and the TTL its request was sent with.
func pair(rows []row) (map[int]int64, map[int]int) {
	sent, ttl, rtt := map[int]int64{}, map[int]int{}, map[int]int64{}
	for _, r := range rows {
		if r.req {
			if _, dup := sent[r.seq]; !dup {
				sent[r.seq], ttl[r.seq] = r.ns, r.ttl
			}
		} else if at, ok := sent[r.seq]; ok {
			if _, dup := rtt[r.seq]; !dup {
				rtt[r.seq] = r.ns - at
			}
		}
	}
	return rtt, ttl
}

func echoRows(file string, v6 bool) []row {
	filter, typ, seq, ttl, req := "icmp.type == 8 or icmp.type == 0", "icmp.type", "icmp.seq", "ip.ttl", "8"
	if v6 {
		filter, typ, seq, ttl, req = "icmpv6.type == 128 or icmpv6.type == 129", "icmpv6.type", "icmpv6.echo.sequence_number", "ipv6.hlim", "128"
	}
	var rows []row
	// An ICMP error quoting a request matches too: its type field holds
	// two values ("11,8"), its sequence number is the quoted request's.
	for _, f := range tshark(file, filter, "frame.time_epoch", typ, seq, ttl) {
		r := row{ns: epochNanos(f[0]), req: f[1] == req}
		r.seq, _ = strconv.Atoi(f[2])
		if r.req {
			r.ttl, _ = strconv.Atoi(f[3])
		}
		rows = append(rows, r)
	}
	return rows
}

// udpRows: the probe header's sequence number is bytes 16-23.
func udpRows(file string, port int) []row {
	var rows []row
	for _, f := range tshark(file, "udp", "frame.time_epoch", "udp.dstport", "udp.payload") {
		hex := strings.ReplaceAll(f[2], ":", "")
		if len(hex) < 48 {
			continue
		}
		s, err := strconv.ParseInt(hex[32:48], 16, 64)
		if err != nil {
			continue
		}
		rows = append(rows, row{ns: epochNanos(f[0]), req: f[1] == strconv.Itoa(port), seq: int(s)})
	}
	return rows
}

// tcpRows: SYNs to port and the SYN-ACKs and RSTs from it, keyed by the
// low 16 bits of the SYN's sequence number (rawnet) or by the source port
// less the first SYN's (hping3, which counts its probes in the port).
func tcpRows(file string, port int, bySport bool) []row {
	var rows []row
	base := -1
	for _, f := range tshark(file, "tcp.port == "+strconv.Itoa(port), "frame.time_epoch", "tcp.srcport", "tcp.dstport",
		"tcp.seq_raw", "tcp.ack_raw", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.reset") {
		sport, _ := strconv.Atoi(f[1])
		dport, _ := strconv.Atoi(f[2])
		seq, _ := strconv.ParseUint(f[3], 10, 32)
		ack, _ := strconv.ParseUint(f[4], 10, 32)
		syn, isAck, rst := f[5] == "1", f[6] == "1", f[7] == "1"
		r := row{ns: epochNanos(f[0])}
		switch {
		case dport == port && syn && !isAck: // a probe
			r.req = true
			if base < 0 || sport < base {
				base = sport
			}
			r.seq = int(seq & 0xffff)
			if bySport {
				r.seq = sport - base
			}
		case sport == port && isAck && (syn || rst): // its answer
			r.seq = int((ack - 1) & 0xffff)
			if bySport {
				r.seq = dport - base
			}
		default: // the kernel's RST closing a half-open connection
			continue
		}
		rows = append(rows, r)
	}
	return rows
}

func tshark(file, filter string, fields ...string) [][]string {
	args := []string{"-r", file, "-Y", filter, "-T", "fields", "-E", "separator=|"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	check(err)
	var rows [][]string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if f := strings.Split(sc.Text(), "|"); len(f) == len(fields) {
			rows = append(rows, f)
		}
	}
	return rows
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

// epochNanos parses "1700000000.123456789" exactly.
func epochNanos(s string) int64 {
	sec, frac, _ := strings.Cut(s, ".")
	frac = (frac + "000000000")[:9]
	a, _ := strconv.ParseInt(sec, 10, 64)
	b, _ := strconv.ParseInt(frac, 10, 64)
	return a*1e9 + b
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtterr:", err)
		os.Exit(1)
	}
}
