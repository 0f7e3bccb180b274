// Package wirertt reads the probes and answers in a capture (through
// tshark, with nanosecond stamps) and pairs them into the wire's round
// trip times: the ground truth that the RTT lab tests of cmd/rawnet and
// scripts/rtterr (bench-rtt.sh, bench-tcpping.sh, bench-arp.sh) compare
// the tools' RTTs with.
package wirertt

import (
	"bufio"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Row is one captured probe (Req) or answer, keyed by the probe's
// sequence number.
type Row struct {
	NS  int64 // capture stamp, Unix nanoseconds
	Req bool
	Seq int
	TTL int // of a probe: its IP TTL or hop limit
}

// Pair returns, by sequence number, the wire RTT from the first probe to
// the first answer, and the TTL that probe was sent with.
func Pair(rows []Row) (rtt map[int]time.Duration, ttl map[int]int) {
	sent := map[int]int64{}
	rtt, ttl = map[int]time.Duration{}, map[int]int{}
	for _, r := range rows {
		if r.Req {
			if _, dup := sent[r.Seq]; !dup {
				sent[r.Seq], ttl[r.Seq] = r.NS, r.TTL
			}
		} else if at, ok := sent[r.Seq]; ok {
			if _, dup := rtt[r.Seq]; !dup {
				rtt[r.Seq] = time.Duration(r.NS - at)
			}
		}
	}
	return rtt, ttl
}

// ByTTL groups the RTTs of Pair by the TTL of their probes, each group
// sorted: for tools that report answers by TTL but name no probe (rawnet
// trace --json), whose sorted RTTs pair with these (order statistics keep
// the bounds of every pairing).
func ByTTL(rtt map[int]time.Duration, ttl map[int]int) map[int][]time.Duration {
	by := map[int][]time.Duration{}
	for seq, d := range rtt {
		by[ttl[seq]] = append(by[ttl[seq]], d)
	}
	for _, ds := range by {
		slices.Sort(ds)
	}
	return by
}

// EchoRows reads the echo requests and replies of a capture.
func EchoRows(file string, v6 bool) ([]Row, error) {
	filter, typ, seq, ttl, req := "icmp.type == 8 or icmp.type == 0", "icmp.type", "icmp.seq", "ip.ttl", "8"
	if v6 {
		filter, typ, seq, ttl, req = "icmpv6.type == 128 or icmpv6.type == 129", "icmpv6.type", "icmpv6.echo.sequence_number", "ipv6.hlim", "128"
	}
	// An ICMP error quoting a request matches the filter too: its type
	// field holds two values ("11,8") and its sequence number is the
	// quoted request's.
	return rows(file, filter, []string{"frame.time_epoch", typ, seq, ttl}, func(f []string) (Row, bool, error) {
		r := Row{Req: f[1] == req}
		var err error
		if r.Seq, err = strconv.Atoi(f[2]); err != nil {
			return r, false, err
		}
		if r.Req {
			r.TTL, err = strconv.Atoi(f[3])
		}
		return r, true, err
	})
}

// UDPProbeRows reads the datagrams of rawnet udp probe to and from port
// (the server's): the sequence number is bytes 16-23 of the probe header.
func UDPProbeRows(file string, port int) ([]Row, error) {
	return rows(file, "udp", []string{"frame.time_epoch", "udp.dstport", "udp.payload"}, func(f []string) (Row, bool, error) {
		hex := strings.ReplaceAll(f[2], ":", "")
		if len(hex) < 48 {
			return Row{}, false, fmt.Errorf("%d payload bytes, not a probe header", len(hex)/2)
		}
		s, err := strconv.ParseInt(hex[32:48], 16, 64)
		return Row{Req: f[1] == strconv.Itoa(port), Seq: int(s)}, true, err
	})
}

// ARPRows numbers the ARP requests of a capture in order (from 1); each
// reply takes the number of the request before it.
func ARPRows(file string) ([]Row, error) {
	k := 0
	return rows(file, "arp", []string{"frame.time_epoch", "arp.opcode"}, func(f []string) (Row, bool, error) {
		r := Row{Req: f[1] == "1"}
		if r.Req {
			k++
		}
		r.Seq = k
		return r, true, nil
	})
}

// TCPRows reads the SYNs to port and the SYN-ACKs and RSTs from it, keyed
// by the low 16 bits of the SYN's sequence number (rawnet ping -P tcp)
// or, with bySport, by the source port less the first SYN's (hping3,
// which counts its probes in the port).
func TCPRows(file string, port int, bySport bool) ([]Row, error) {
	base := -1
	fields := []string{"frame.time_epoch", "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.reset"}
	return rows(file, "tcp.port == "+strconv.Itoa(port), fields, func(f []string) (Row, bool, error) {
		sport, err1 := strconv.Atoi(f[1])
		dport, err2 := strconv.Atoi(f[2])
		seq, err3 := strconv.ParseUint(f[3], 10, 32)
		ack, err4 := strconv.ParseUint(f[4], 10, 32)
		if err := firstError(err1, err2, err3, err4); err != nil {
			return Row{}, false, err
		}
		syn, isAck, rst := f[5] == "1", f[6] == "1", f[7] == "1"
		var r Row
		switch {
		case dport == port && syn && !isAck: // a probe
			r.Req = true
			if base < 0 || sport < base {
				base = sport
			}
			r.Seq = int(seq & 0xffff)
			if bySport {
				r.Seq = sport - base
			}
		case sport == port && isAck && (syn || rst): // its answer
			r.Seq = int((ack - 1) & 0xffff)
			if bySport {
				r.Seq = dport - base
			}
		default: // the kernel's RST closing a half-open connection
			return r, false, nil
		}
		return r, true, nil
	})
}

// rows runs tshark over file with filter and turns each packet's fields
// (the first is always frame.time_epoch) into a Row with parse, which
// may skip it.
func rows(file, filter string, fields []string, parse func(f []string) (Row, bool, error)) ([]Row, error) {
	args := []string{"-r", file, "-Y", filter, "-T", "fields", "-E", "separator=|"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("tshark %v: %w", args, err)
	}
	var rs []Row
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) != len(fields) {
			return nil, fmt.Errorf("tshark row %q: %d fields, want %d", sc.Text(), len(f), len(fields))
		}
		ns, err := EpochNanos(f[0])
		if err != nil {
			return nil, fmt.Errorf("tshark row %q: %w", sc.Text(), err)
		}
		r, keep, err := parse(f)
		if err != nil {
			return nil, fmt.Errorf("tshark row %q: %w", sc.Text(), err)
		}
		if keep {
			r.NS = ns
			rs = append(rs, r)
		}
	}
	return rs, nil
}

// EpochNanos parses a capture stamp, "1700000000.123456789", exactly.
func EpochNanos(s string) (int64, error) {
	sec, frac, _ := strings.Cut(s, ".")
	if sec == "" || strings.Trim(sec+frac, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a time stamp (seconds.fraction)", s)
	}
	frac = (frac + "000000000")[:9]
	a, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, err
	}
	b, err := strconv.ParseInt(frac, 10, 64)
	return a*1e9 + b, err
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
