package main

import (
	"bufio"
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/rawnet/rawnet/capture"
	"github.com/rawnet/rawnet/internal/stats"
)

// statsReport is what rawnet read --stats prints, and its JSON form.
type statsReport struct {
	Type      string         `json:"type"` // "stats", as every JSON Lines event starts with its type
	Packets   int            `json:"packets"`
	Bytes     int            `json:"bytes"`
	First     *time.Time     `json:"first,omitempty"`
	Last      *time.Time     `json:"last,omitempty"`
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
	Src        string  `json:"src"`
	Dst        string  `json:"dst"`
	Requests   int     `json:"requests"`
	Replies    int     `json:"replies"`
	Duplicates int     `json:"unmatched_replies"`
	LossPct    float64 `json:"loss_pct"`
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

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func newRTTReport(r *stats.RTT) *RTTStats {
	if r.Count() == 0 {
		return nil
	}
	return &RTTStats{ms(r.Min()), ms(r.Avg()), ms(r.Max()), ms(r.Mdev())}
}

func protoName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmp6"
	}
	return fmt.Sprintf("ip-proto-%d", p)
}

func (s *readStats) report() *statsReport {
	r := &statsReport{Packets: s.packets, Bytes: s.bytes, Protocols: s.protos, Unmatched: s.unmatched,
		Talkers: []talkerReport{}, ICMPTypes: []icmpReport{}, Pings: []pingReport{}, Traces: []hopReport{}}
	if s.packets > 0 {
		r.First, r.Last = &s.first, &s.last
	}
	for a, t := range s.talkers {
		r.Talkers = append(r.Talkers, talkerReport{a.String(), t.packets, t.bytes})
	}
	slices.SortFunc(r.Talkers, func(a, b talkerReport) int {
		return cmp.Or(cmp.Compare(b.Packets, a.Packets), cmp.Compare(a.Addr, b.Addr))
	})
	r.Talkers = r.Talkers[:min(len(r.Talkers), s.top)]
	for k, n := range s.icmpTypes {
		fam := "icmp"
		if k.network == 6 {
			fam = "icmp6"
		}
		r.ICMPTypes = append(r.ICMPTypes, icmpReport{fam, k.typ, k.code, capture.ICMPTypeName(k.network, k.typ), n})
	}
	slices.SortFunc(r.ICMPTypes, func(a, b icmpReport) int {
		return cmp.Or(cmp.Compare(a.Family, b.Family), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Code, b.Code))
	})
	for k, p := range s.pings {
		if p.requests == 0 && p.replies == 0 {
			continue // only traceroute probes
		}
		loss := 0.0
		if p.requests > 0 {
			loss = 100 * float64(p.requests-p.replies) / float64(p.requests)
		}
		r.Pings = append(r.Pings, pingReport{k.src.String(), k.dst.String(), p.requests, p.replies, p.duplicates, loss, newRTTReport(&p.rtt)})
	}
	slices.SortFunc(r.Pings, func(a, b pingReport) int { return cmp.Or(cmp.Compare(a.Src, b.Src), cmp.Compare(a.Dst, b.Dst)) })
	for k, h := range s.hops {
		net := 4
		if k.src.Is6() && !k.src.Is4In6() {
			net = 6
		}
		r.Traces = append(r.Traces, hopReport{k.src.String(), k.dst.String(), protoName(k.proto), k.ttl, k.responder.String(),
			k.typ, k.code, capture.ICMPTypeName(net, k.typ), h.replies, newRTTReport(&h.rtt)})
	}
	slices.SortFunc(r.Traces, func(a, b hopReport) int {
		return cmp.Or(cmp.Compare(a.Src, b.Src), cmp.Compare(a.Dst, b.Dst), cmp.Compare(a.Proto, b.Proto),
			cmp.Compare(a.TTL, b.TTL), cmp.Compare(a.Responder, b.Responder))
	})
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
			if pg.Duplicates > 0 {
				fmt.Fprintf(w, ", %d unmatched replies", pg.Duplicates)
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
