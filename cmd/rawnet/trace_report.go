package main

import (
	"fmt"
	"strings"

	"github.com/rawnet/rawnet/internal/jsonl"
	"github.com/rawnet/rawnet/trace"
)

// reportItem accumulates cycles; the report is printed when a target's
// last cycle ends.
func (out *traceOutput) reportItem(it *traceItem) {
	r := &out.reports[it.target]
	switch it.kind {
	case trace.EventHop:
		r.Add(&it.hop)
	case trace.EventDone:
		r.AddResult(&it.result)
		if it.result.Interrupted || it.cycle+1 >= out.o.cfg.Cycles {
			r.Target = out.targets[it.target].Addr
			r.Finish()
			out.printReport(it.target, r)
		}
	}
}

func (out *traceOutput) printReport(i int, r *trace.Report) {
	if out.o.json {
		out.jsonReport(r)
		return
	}
	b := &strings.Builder{}
	fmt.Fprintf(b, "report for %s (%s), %d cycles, %s probes, times in ms\n", out.targets[i].Name, r.Target, r.Cycles, out.o.cfg.Method)
	fmt.Fprintf(b, "%-4s %-32s %6s %5s %8s %8s %8s %8s %8s %8s\n", "", "Host", "Loss%", "Snt", "Last", "Avg", "Best", "Wrst", "StDev", "Jttr")
	limited := false
	for k := range r.Hops {
		h := &r.Hops[k]
		host := "???"
		if len(h.Addrs) > 0 {
			host = out.hostText(h.Addrs[0])
		}
		mark := ""
		if h.RateLimited {
			mark, limited = " (rate limited?)", true
		}
		fmt.Fprintf(b, "%3d. %-32s %5.1f%% %5d %8s %8s %8s %8s %8s %8s%s\n", h.TTL, host, h.LossPct(), h.Sent,
			ms2(h.Last, h.Received), ms2(h.RTT.Avg(), h.Received), ms2(h.RTT.Min(), h.Received), ms2(h.RTT.Max(), h.Received),
			ms2(h.RTT.Mdev(), h.Received), ms2(h.Jitter, h.Received), mark)
		for _, a := range h.Addrs[min(1, len(h.Addrs)):] {
			fmt.Fprintf(b, "     %s\n", out.hostText(a))
		}
	}
	if limited {
		b.WriteString("(rate limited?): loss at this hop that farther hops do not show; the router limits the ICMP errors it sends, packets are not lost\n")
	}
	out.w.WriteString(b.String())
}

func ms2[T ~int64](d T, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", float64(d)/1e6)
}

type jsonReportHop struct {
	Type        string   `json:"type"`
	Target      string   `json:"target"`
	TTL         int      `json:"ttl"`
	Addrs       []string `json:"addrs"`
	Sent        int      `json:"sent"`
	Received    int      `json:"received"`
	LossPct     float64  `json:"loss_pct"`
	LastMs      float64  `json:"last_ms"`
	AvgMs       float64  `json:"avg_ms"`
	BestMs      float64  `json:"best_ms"`
	WorstMs     float64  `json:"worst_ms"`
	StdDevMs    float64  `json:"stddev_ms"`
	JitterMs    float64  `json:"jitter_ms"`
	RateLimited bool     `json:"rate_limited"`
}

type jsonReportSummary struct {
	Type    string `json:"type"`
	Target  string `json:"target"`
	Cycles  int    `json:"cycles"`
	Reached int    `json:"reached"`
	Hops    int    `json:"hops"`
}

func (out *traceOutput) jsonReport(r *trace.Report) {
	tgt := r.Target.String()
	for k := range r.Hops {
		h := &r.Hops[k]
		j := jsonReportHop{Type: "report", Target: tgt, TTL: h.TTL, Addrs: []string{}, Sent: h.Sent, Received: h.Received,
			LossPct: h.LossPct(), LastMs: jsonl.Ms(h.Last), AvgMs: jsonl.Ms(h.RTT.Avg()), BestMs: jsonl.Ms(h.RTT.Min()),
			WorstMs: jsonl.Ms(h.RTT.Max()), StdDevMs: jsonl.Ms(h.RTT.Mdev()), JitterMs: jsonl.Ms(h.Jitter), RateLimited: h.RateLimited}
		for _, a := range h.Addrs {
			j.Addrs = append(j.Addrs, a.String())
		}
		out.emit(j)
	}
	out.emit(jsonReportSummary{Type: "summary", Target: tgt, Cycles: r.Cycles, Reached: r.Reached, Hops: len(r.Hops)})
}
