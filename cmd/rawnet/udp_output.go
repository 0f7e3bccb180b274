package main

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"

	"github.com/rawnet/rawnet/internal/jsonl"
	"github.com/rawnet/rawnet/udp"
)

// probeOutput prints probe events and statistics as text (in the manner
// of ping) or JSON Lines.
type probeOutput struct {
	w      *bufio.Writer
	json   *jsonl.Writer
	quiet  bool
	remote netip.AddrPort
}

func newProbeOutput(w io.Writer, json, quiet bool) *probeOutput {
	out := &probeOutput{w: bufio.NewWriter(w), quiet: quiet}
	if json {
		out.json = jsonl.New(out.w)
	}
	return out
}

// JSON shapes of rawnet udp probe (documented in cmd/rawnet/doc/udp-probe.txt, the man page).
type (
	jsonProbeStart struct {
		Type       string  `json:"type"`
		Remote     string  `json:"remote"`
		Local      string  `json:"local"`
		Size       int     `json:"size"`
		Count      int     `json:"count"`
		RatePPS    float64 `json:"rate_pps"`
		IntervalMs float64 `json:"interval_ms"`
		TimeoutMs  float64 `json:"timeout_ms"`
	}
	jsonProbeEvent struct {
		Type     string   `json:"type"`
		Time     string   `json:"time"`
		Seq      uint64   `json:"seq"`
		Size     int      `json:"size,omitempty"`
		RTTMs    *float64 `json:"rtt_ms,omitempty"`
		Dup      *bool    `json:"dup,omitempty"`
		Reorder  *uint64  `json:"reorder,omitempty"`
		ServerMs *float64 `json:"server_ms,omitempty"`
		NetRTTMs *float64 `json:"net_rtt_ms,omitempty"`
		FwdMs    *float64 `json:"fwd_ms,omitempty"`
		RevMs    *float64 `json:"rev_ms,omitempty"`
		TSSource string   `json:"ts_source,omitempty"`
		From     string   `json:"from,omitempty"`
		ICMPType *uint8   `json:"icmp_type,omitempty"`
		ICMPCode *uint8   `json:"icmp_code,omitempty"`
		Error    string   `json:"error,omitempty"`
	}
	jsonInterval struct {
		Type     string  `json:"type"`
		StartMs  float64 `json:"start_ms"`
		EndMs    float64 `json:"end_ms"`
		Sent     int     `json:"sent"`
		Received int     `json:"received"`
		LossPct  float64 `json:"loss_pct"`
		jsonRTTRange
		JitterMs float64 `json:"jitter_ms"`
	}
	jsonBreach struct {
		Type  string `json:"type"`
		Flag  string `json:"flag"`
		Limit string `json:"limit"`
		Value string `json:"value"`
	}
)

func (o *probeOutput) emit(v any) {
	o.json.Emit(v) // a failed write sticks: writeError and flushOutput report it
}

func (o *probeOutput) start(local netip.AddrPort, cfg *udp.ProbeConfig) {
	o.remote = cfg.Remote
	if cfg.Timeout == 0 {
		cfg.Timeout = udp.DefaultTimeout
	}
	if cfg.Interval == 0 && cfg.Rate == 0 && !cfg.Unpaced {
		cfg.Interval = udp.DefaultInterval
	}
	if o.json != nil {
		j := jsonProbeStart{Type: "start", Remote: cfg.Remote.String(), Local: local.String(), Size: cfg.Size, Count: cfg.Count,
			RatePPS: cfg.Rate, IntervalMs: jsonl.Ms(cfg.Interval), TimeoutMs: jsonl.Ms(cfg.Timeout)}
		o.emit(j)
		return
	}
	pace := "1 every " + cfg.Interval.String()
	switch {
	case cfg.Unpaced:
		pace = fmt.Sprintf("unpaced, %d in flight", cfg.Window)
	case cfg.Rate > 0:
		pace = fmt.Sprintf("%g per second", cfg.Rate)
	}
	fmt.Fprintf(o.w, "UDP PROBE %s from %s: %d bytes, %s\n", cfg.Remote, local, cfg.Size, pace)
	o.w.Flush()
}

func (o *probeOutput) event(ev udp.ProbeEvent) error {
	if ev.Kind == udp.EventInterval {
		o.interval(&ev.Interval)
		return writeError(o.w)
	}
	if o.quiet && ev.Kind != udp.EventSendError {
		return nil
	}
	if o.json != nil {
		o.jsonEvent(&ev)
		return writeError(o.w)
	}
	switch ev.Kind {
	case udp.EventReply, udp.EventLate:
		fmt.Fprintf(o.w, "%d bytes from %s: seq=%d time=%s ms", ev.Size, o.remote, ev.Seq, formatRTT(ev.RTT))
		if ev.Reflected {
			fmt.Fprintf(o.w, " (net %s ms, server %s ms)", formatRTT(ev.NetRTT), formatRTT(ev.ServerTime))
		}
		if ev.Dup {
			o.w.WriteString(" (DUP!)")
		}
		if ev.Reorder > 0 {
			fmt.Fprintf(o.w, " (reordered by %d)", ev.Reorder)
		}
		if ev.Kind == udp.EventLate {
			o.w.WriteString(" (late: counted as lost)")
		}
		o.w.WriteByte('\n')
	case udp.EventUnreachable:
		fmt.Fprintf(o.w, "From %s: ICMP unreachable (type %d, code %d): nothing listens on %s?\n", ev.From, ev.ICMPType, ev.ICMPCode, o.remote)
	case udp.EventSendError:
		fmt.Fprintf(o.w, "send seq=%d: %v\n", ev.Seq, ev.Err)
	default:
		return nil
	}
	return flushOutput(o.w)
}

func (o *probeOutput) jsonEvent(ev *udp.ProbeEvent) {
	j := jsonProbeEvent{Type: ev.Kind.String(), Time: jsonl.Time(ev.Time), Seq: ev.Seq}
	switch ev.Kind {
	case udp.EventReply, udp.EventLate:
		rtt, dup, reorder := jsonl.Ms(ev.RTT), ev.Dup, ev.Reorder
		j.Size, j.RTTMs, j.Dup, j.Reorder, j.TSSource = ev.Size, &rtt, &dup, &reorder, rttSource(ev.KernelStamp, ev.KernelTxStamp)
		if ev.Reflected {
			srv, net, fwd, rev := jsonl.Ms(ev.ServerTime), jsonl.Ms(ev.NetRTT), jsonl.Ms(ev.Forward), jsonl.Ms(ev.Reverse)
			j.ServerMs, j.NetRTTMs, j.FwdMs, j.RevMs = &srv, &net, &fwd, &rev
		}
	case udp.EventUnreachable:
		j.From, j.ICMPType, j.ICMPCode = ev.From.String(), &ev.ICMPType, &ev.ICMPCode
	case udp.EventSendError:
		j.Error = ev.Err.Error()
	}
	o.emit(j)
}

func (o *probeOutput) interval(s *udp.IntervalStats) {
	defer o.w.Flush()
	if o.json != nil {
		j := jsonInterval{Type: "interval", StartMs: jsonl.Ms(s.Start), EndMs: jsonl.Ms(s.End), Sent: s.Sent, Received: s.Received,
			LossPct: s.LossPct(), JitterMs: jsonl.Ms(s.Jitter)}
		j.jsonRTTRange = newJSONRTTRange(&s.RTT)
		o.emit(j)
		return
	}
	fmt.Fprintf(o.w, "[%6.2f-%6.2f s] sent %d, received %d, loss %g%%", s.Start.Seconds(), s.End.Seconds(), s.Sent, s.Received, roundLoss(s.LossPct()))
	if s.RTT.Count() > 0 {
		fmt.Fprintf(o.w, ", rtt min/avg/max %s/%s/%s ms", ms3(s.RTT.Min()), ms3(s.RTT.Avg()), ms3(s.RTT.Max()))
	}
	fmt.Fprintf(o.w, ", jitter %s ms\n", ms3(s.Jitter))
}

func (o *probeOutput) summary(s *udp.ProbeSummary, breaches []breach) {
	defer o.w.Flush()
	if o.json != nil {
		o.emit(probeSummaryJSON(s))
		for _, b := range breaches {
			o.emit(jsonBreach{Type: "threshold", Flag: b.Flag, Limit: b.Limit, Value: b.Value})
		}
		return
	}
	fmt.Fprintf(o.w, "\n--- %s udp probe statistics ---\n", s.Remote)
	fmt.Fprintf(o.w, "%d datagrams sent, %d received, %g%% loss, %d duplicates, %d reordered", s.Sent, s.Received, roundLoss(s.LossPct()), s.Duplicates, s.Reordered)
	if s.Reordered > 0 {
		fmt.Fprintf(o.w, " (by up to %d)", s.MaxReorder)
	}
	if s.Late > 0 {
		fmt.Fprintf(o.w, ", %d late", s.Late)
	}
	if s.Unreachable > 0 {
		fmt.Fprintf(o.w, ", %d ICMP unreachable", s.Unreachable)
	}
	fmt.Fprintf(o.w, ", time %dms\n", s.Elapsed.Milliseconds())
	if s.RTT.Count() > 0 {
		fmt.Fprintf(o.w, "rtt min/avg/max/mdev = %s/%s/%s/%s ms\n", ms3(s.RTT.Min()), ms3(s.RTT.Avg()), ms3(s.RTT.Max()), ms3(s.RTT.Mdev()))
		fmt.Fprintf(o.w, "rtt p50/p90/p99/p99.9 = %s/%s/%s/%s ms, jitter %s ms (RFC 3550)\n",
			ms3(s.Percentile(50)), ms3(s.Percentile(90)), ms3(s.Percentile(99)), ms3(s.Percentile(99.9)), ms3(s.Jitter.Value()))
	}
	if s.Reflected > 0 {
		o.reflectSummary(s)
	}
	for _, b := range breaches {
		fmt.Fprintf(o.w, "threshold broken: %s %s (measured %s)\n", b.Flag, b.Limit, b.Value)
	}
}

func (o *probeOutput) reflectSummary(s *udp.ProbeSummary) {
	fmt.Fprintf(o.w, "server time min/avg/max = %s/%s/%s ms; rtt without it min/avg/max = %s/%s/%s ms, p50/p99 = %s/%s ms\n",
		ms3(s.ServerTime.Min()), ms3(s.ServerTime.Avg()), ms3(s.ServerTime.Max()),
		ms3(s.NetRTT.Min()), ms3(s.NetRTT.Avg()), ms3(s.NetRTT.Max()), ms3(s.NetSamples.Percentile(50)), ms3(s.NetSamples.Percentile(99)))
	fmt.Fprintf(o.w, "one way (clock offset included) forward min/avg = %s/%s ms, jitter %s ms; reverse min/avg = %s/%s ms, jitter %s ms; clock offset estimate %s ms\n",
		ms3(s.Forward.Min()), ms3(s.Forward.Avg()), ms3(s.FwdJitter.Value()), ms3(s.Reverse.Min()), ms3(s.Reverse.Avg()), ms3(s.RevJitter.Value()), ms3(s.ClockOffset()))
	fmt.Fprintf(o.w, "lost on the way there %d, on the way back %d (the server got %d)\n", s.ForwardLost(), s.ReverseLost(), s.ServerReceived)
}

// jsonProbeSummary is the probe's closing line (documented in
// cmd/rawnet/doc/udp-probe.txt).
type jsonProbeSummary struct {
	Type        string  `json:"type"`
	Remote      string  `json:"remote"`
	Sent        int     `json:"sent"`
	Received    int     `json:"received"`
	LossPct     float64 `json:"loss_pct"`
	Duplicates  int     `json:"duplicates"`
	Reordered   int     `json:"reordered"`
	ReorderMax  uint64  `json:"reorder_max"`
	Late        int     `json:"late"`
	Unreachable int     `json:"unreachable"`
	SendErrors  int     `json:"send_errors"`
	Foreign     int     `json:"foreign"`
	jsonRTT
	RTTP50Ms       *float64 `json:"rtt_p50_ms"`
	RTTP90Ms       *float64 `json:"rtt_p90_ms"`
	RTTP99Ms       *float64 `json:"rtt_p99_ms"`
	RTTP999Ms      *float64 `json:"rtt_p999_ms"`
	JitterMs       *float64 `json:"jitter_ms"`
	TimeMs         float64  `json:"time_ms"`
	Reflected      int      `json:"reflected,omitempty"`
	ServerAvgMs    *float64 `json:"server_time_avg_ms,omitempty"`
	NetRTTMinMs    *float64 `json:"net_rtt_min_ms,omitempty"`
	NetRTTAvgMs    *float64 `json:"net_rtt_avg_ms,omitempty"`
	NetRTTMaxMs    *float64 `json:"net_rtt_max_ms,omitempty"`
	NetRTTP50Ms    *float64 `json:"net_rtt_p50_ms,omitempty"`
	NetRTTP99Ms    *float64 `json:"net_rtt_p99_ms,omitempty"`
	FwdMinMs       *float64 `json:"fwd_min_ms,omitempty"`
	FwdAvgMs       *float64 `json:"fwd_avg_ms,omitempty"`
	RevMinMs       *float64 `json:"rev_min_ms,omitempty"`
	RevAvgMs       *float64 `json:"rev_avg_ms,omitempty"`
	FwdJitterMs    *float64 `json:"fwd_jitter_ms,omitempty"`
	RevJitterMs    *float64 `json:"rev_jitter_ms,omitempty"`
	ClockOffsetMs  *float64 `json:"clock_offset_ms,omitempty"`
	ServerReceived *uint32  `json:"server_received,omitempty"`
	FwdLost        *int     `json:"fwd_lost,omitempty"`
	RevLost        *int     `json:"rev_lost,omitempty"`
}

func probeSummaryJSON(s *udp.ProbeSummary) jsonProbeSummary {
	j := jsonProbeSummary{Type: "summary", Remote: s.Remote.String(), Sent: s.Sent, Received: s.Received, LossPct: s.LossPct(),
		Duplicates: s.Duplicates, Reordered: s.Reordered, ReorderMax: s.MaxReorder, Late: s.Late, Unreachable: s.Unreachable,
		SendErrors: s.SendErrors, Foreign: s.Foreign, TimeMs: jsonl.Ms(s.Elapsed)}
	if s.RTT.Count() > 0 {
		j.jsonRTT = newJSONRTT(&s.RTT)
		j.RTTP50Ms, j.RTTP90Ms, j.RTTP99Ms, j.RTTP999Ms = msp(s.Percentile(50)), msp(s.Percentile(90)), msp(s.Percentile(99)), msp(s.Percentile(99.9))
		j.JitterMs = msp(s.Jitter.Value())
	}
	if s.Reflected > 0 {
		j.Reflected = s.Reflected
		j.ServerAvgMs = msp(s.ServerTime.Avg())
		j.NetRTTMinMs, j.NetRTTAvgMs, j.NetRTTMaxMs = msp(s.NetRTT.Min()), msp(s.NetRTT.Avg()), msp(s.NetRTT.Max())
		j.NetRTTP50Ms, j.NetRTTP99Ms = msp(s.NetSamples.Percentile(50)), msp(s.NetSamples.Percentile(99))
		j.FwdMinMs, j.FwdAvgMs, j.RevMinMs, j.RevAvgMs = msp(s.Forward.Min()), msp(s.Forward.Avg()), msp(s.Reverse.Min()), msp(s.Reverse.Avg())
		j.FwdJitterMs, j.RevJitterMs, j.ClockOffsetMs = msp(s.FwdJitter.Value()), msp(s.RevJitter.Value()), msp(s.ClockOffset())
		fl, rl, n := s.ForwardLost(), s.ReverseLost(), s.ServerReceived
		j.ServerReceived, j.FwdLost, j.RevLost = &n, &fl, &rl
	}
	return j
}
