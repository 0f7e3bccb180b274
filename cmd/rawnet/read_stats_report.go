package main

import (
	"bufio"
	"fmt"
	"time"

	"github.com/rawnet/rawnet/capture"
	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/jsonl"
	"github.com/rawnet/rawnet/stats"
)

// statsReport is what rawnet read --stats prints, and its JSON form.
type statsReport struct {
	Type    string `json:"type"` // "stats", as every JSON Lines event starts with its type
	Packets int    `json:"packets"`
	Bytes   int    `json:"bytes"`
	// First and Last are nil for a file without packets. They are not
	// encoded here: jsonStats writes them as every JSON timestamp is
	// written (jsonl.Time), after the other fields.
	First     *time.Time     `json:"-"`
	Last      *time.Time     `json:"-"`
	Protocols protoCounts    `json:"protocols"`
	Talkers   []talkerReport `json:"top_talkers"`
	ICMPTypes []icmpReport   `json:"icmp_types"`
	Pings     []pingReport   `json:"pings"`
	Traces    []hopReport    `json:"traces"`
	Unmatched int            `json:"unmatched_icmp_errors"`
}

type talkerReport struct {
	Addr    string `json:"addr"`
	Packets int    `json:"packets"`
	Bytes   int    `json:"bytes"`
}

type icmpReport struct {
	Family string `json:"family"`
	Type   uint8  `json:"type"`
	Code   uint8  `json:"code"`
	Name   string `json:"name,omitempty"`
	Count  int    `json:"count"`
}

type RTTStats struct {
	Min  float64 `json:"rtt_min_ms"`
	Avg  float64 `json:"rtt_avg_ms"`
	Max  float64 `json:"rtt_max_ms"`
	Mdev float64 `json:"rtt_mdev_ms"`
}

type pingReport struct {
	Src              string  `json:"src"`
	Dst              string  `json:"dst"`
	Requests         int     `json:"requests"`
	Replies          int     `json:"replies"`
	UnmatchedReplies int     `json:"unmatched_replies"`
	LossPct          float64 `json:"loss_pct"`
	*RTTStats
}

type hopReport struct {
	Src       string `json:"src"`
	Dst       string `json:"dst"`
	Proto     string `json:"proto"`
	TTL       uint8  `json:"ttl"`
	Responder string `json:"responder"`
	Type      uint8  `json:"type"`
	Code      uint8  `json:"code"`
	Name      string `json:"name,omitempty"`
	Replies   int    `json:"replies"`
	*RTTStats
}

func newRTTReport(r *stats.RTT) *RTTStats {
	if r.Count() == 0 {
		return nil
	}
	return &RTTStats{jsonl.Ms(r.Min()), jsonl.Ms(r.Avg()), jsonl.Ms(r.Max()), jsonl.Ms(r.Mdev())}
}

// protoCounts is capture.ProtocolCounts with the names of its JSON form.
type protoCounts struct {
	IPv4      int `json:"ipv4"`
	IPv6      int `json:"ipv6"`
	ARP       int `json:"arp"`
	OtherLink int `json:"other_link"`
	ICMP      int `json:"icmp"`
	ICMPv6    int `json:"icmp6"`
	UDP       int `json:"udp"`
	TCP       int `json:"tcp"`
	Fragments int `json:"later_fragments"`
	OtherIP   int `json:"other_ip"`
}

func icmpFamily(network int) string {
	if network == 6 {
		return "icmp6"
	}
	return "icmp"
}

// newStatsReport maps what the analysis found to the report, with the
// top busiest talkers.
func newStatsReport(a *capture.AnalysisResult, top int) *statsReport {
	r := &statsReport{Packets: a.Packets, Bytes: a.Bytes, Protocols: protoCounts(a.Protocols), Unmatched: a.Unmatched,
		Talkers: []talkerReport{}, ICMPTypes: []icmpReport{}, Pings: []pingReport{}, Traces: []hopReport{}}
	if a.Packets > 0 {
		r.First, r.Last = &a.First, &a.Last
	}
	for _, t := range a.Talkers[:min(len(a.Talkers), top)] {
		r.Talkers = append(r.Talkers, talkerReport{t.Addr.String(), t.Packets, t.Bytes})
	}
	for _, t := range a.ICMPTypes {
		r.ICMPTypes = append(r.ICMPTypes, icmpReport{icmpFamily(t.Network), t.Type, t.Code, icmpmsg.Name(t.Network == 6, t.Type), t.Count})
	}
	for i := range a.Pings {
		p := &a.Pings[i]
		r.Pings = append(r.Pings, pingReport{p.Src.String(), p.Dst.String(), p.Requests, p.Replies, p.UnmatchedReplies, p.LossPct(), newRTTReport(&p.RTT)})
	}
	for i := range a.Hops {
		h := &a.Hops[i]
		v6 := h.Src.Is6() && !h.Src.Is4In6()
		r.Traces = append(r.Traces, hopReport{h.Src.String(), h.Dst.String(), capture.ProtoKeyword(h.Proto), h.TTL, h.Responder.String(),
			h.Type, h.Code, icmpmsg.Name(v6, h.Type), h.Replies, newRTTReport(&h.RTT)})
	}
	return r
}

func (r *statsReport) print(w *bufio.Writer) {
	fmt.Fprintf(w, "%d packets, %d bytes", r.Packets, r.Bytes)
	if r.First != nil {
		fmt.Fprintf(w, ", %s to %s (%.6f s)", r.First.Local().Format("15:04:05.000000"), r.Last.Local().Format("15:04:05.000000"), r.Last.Sub(*r.First).Seconds())
	}
	p := r.Protocols
	fmt.Fprintf(w, "\nprotocols: ipv4 %d, ipv6 %d, arp %d, other link %d; icmp %d, icmp6 %d, udp %d, tcp %d, later fragments %d, other ip %d\n",
		p.IPv4, p.IPv6, p.ARP, p.OtherLink, p.ICMP, p.ICMPv6, p.UDP, p.TCP, p.Fragments, p.OtherIP)
	if len(r.Talkers) > 0 {
		fmt.Fprintf(w, "top talkers (packets sent):\n")
		for _, t := range r.Talkers {
			fmt.Fprintf(w, "  %-39s %8d packets %10d bytes\n", t.Addr, t.Packets, t.Bytes)
		}
	}
	if len(r.ICMPTypes) > 0 {
		fmt.Fprintf(w, "icmp types:\n")
		for _, t := range r.ICMPTypes {
			fmt.Fprintf(w, "  %-5s type %3d code %2d %-24s %8d\n", t.Family, t.Type, t.Code, t.Name, t.Count)
		}
	}
	if len(r.Pings) > 0 {
		fmt.Fprintf(w, "pings (echo requests and their replies):\n")
		for _, pg := range r.Pings {
			fmt.Fprintf(w, "  %s > %s: %d requests, %d replies, %.1f%% loss", pg.Src, pg.Dst, pg.Requests, pg.Replies, pg.LossPct)
			if pg.UnmatchedReplies > 0 {
				fmt.Fprintf(w, ", %d unmatched replies", pg.UnmatchedReplies)
			}
			if pg.RTTStats != nil {
				fmt.Fprintf(w, ", rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms", pg.Min, pg.Avg, pg.Max, pg.Mdev)
			}
			w.WriteByte('\n')
		}
	}
	if len(r.Traces) > 0 {
		fmt.Fprintf(w, "traces (probes answered by ICMP errors):\n")
		for _, h := range r.Traces {
			fmt.Fprintf(w, "  %s > %s %s ttl %d: %s %s (code %d), %d replies", h.Src, h.Dst, h.Proto, h.TTL, h.Responder, h.Name, h.Code, h.Replies)
			if h.RTTStats != nil {
				fmt.Fprintf(w, ", rtt min/avg/max = %.3f/%.3f/%.3f ms", h.Min, h.Avg, h.Max)
			}
			w.WriteByte('\n')
		}
	}
	if r.Unmatched > 0 {
		fmt.Fprintf(w, "%d ICMP errors quote no packet of the file\n", r.Unmatched)
	}
}
