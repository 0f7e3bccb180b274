package main

import (
	"slices"

	"github.com/rawnet/rawnet/internal/jsonl"
	"github.com/rawnet/rawnet/trace"
)

type jsonTraceHop struct {
	Type   string           `json:"type"`
	Target string           `json:"target"`
	Cycle  *int             `json:"cycle,omitempty"`
	TTL    int              `json:"ttl"`
	Probes []jsonTraceProbe `json:"probes"`
	Addrs  []string         `json:"addrs,omitempty"`
}

type jsonTraceProbe struct {
	Flow       int          `json:"flow"`
	Timeout    bool         `json:"timeout,omitempty"`
	Addr       string       `json:"addr,omitempty"`
	RTTMs      *float64     `json:"rtt_ms,omitempty"`
	Kind       string       `json:"kind,omitempty"`
	ICMPType   *uint8       `json:"icmp_type,omitempty"`
	ICMPCode   *uint8       `json:"icmp_code,omitempty"`
	Reached    bool         `json:"reached,omitempty"`
	Annotation string       `json:"annotation,omitempty"`
	QuotedTTL  *int         `json:"quoted_ttl,omitempty"`
	Changed    *jsonChanges `json:"changed,omitempty"`
	MPLS       []jsonMPLS   `json:"mpls,omitempty"`
	MTU        uint32       `json:"mtu,omitempty"`
	TSSource   string       `json:"ts_source,omitempty"`
}

type jsonChanges struct {
	TOS   []int    `json:"tos,omitempty"`   // [sent, quoted] (not []uint8: that encodes as base64)
	DF    []bool   `json:"df,omitempty"`    // [sent, quoted]
	Ports []uint16 `json:"ports,omitempty"` // [sport, dport, quoted sport, quoted dport]
}

type jsonMPLS struct {
	Label uint32 `json:"label"`
	TC    uint8  `json:"tc"`
	S     bool   `json:"s"`
	TTL   uint8  `json:"ttl"`
}

type jsonTraceSummary struct {
	Type        string          `json:"type"`
	Target      string          `json:"target"`
	Source      string          `json:"source"`
	Cycle       *int            `json:"cycle,omitempty"`
	Reached     bool            `json:"reached"`
	Hops        int             `json:"hops"`
	Sent        int             `json:"sent"`
	Answered    int             `json:"answered"`
	Interrupted bool            `json:"interrupted,omitempty"`
	SendError   string          `json:"send_error,omitempty"`
	TimeMs      float64         `json:"time_ms"`
	Links       []jsonTraceLink `json:"links,omitempty"`
}

type jsonTraceLink struct {
	TTL  int    `json:"ttl"`
	From string `json:"from"`
	To   string `json:"to"`
}

func (out *traceOutput) jsonItem(it *traceItem) {
	var cycle *int
	if out.o.report || out.o.live {
		cycle = &it.cycle
	}
	tgt := out.targets[it.target].Addr.String()
	switch it.kind {
	case trace.EventHop:
		j := jsonTraceHop{Type: "hop", Target: tgt, Cycle: cycle, TTL: it.hop.TTL, Probes: []jsonTraceProbe{}}
		v6 := out.v6(it.target)
		for i := range it.hop.Probes {
			j.Probes = append(j.Probes, jsonProbeOf(&it.hop.Probes[i], v6))
			if p := &it.hop.Probes[i]; out.o.cfg.Multipath && !p.Timeout && !slices.Contains(j.Addrs, p.Addr.String()) {
				j.Addrs = append(j.Addrs, p.Addr.String())
			}
		}
		out.emit(j)
	case trace.EventDone:
		r := &it.result
		j := jsonTraceSummary{Type: "summary", Target: tgt, Source: r.Source.String(), Cycle: cycle, Reached: r.Reached,
			Hops: r.Hops, Sent: r.Sent, Answered: r.Answered, Interrupted: r.Interrupted, SendError: r.SendError,
			TimeMs: jsonl.Ms(r.Duration)}
		for _, l := range r.Links {
			j.Links = append(j.Links, jsonTraceLink{TTL: l.TTL, From: l.From.String(), To: l.To.String()})
		}
		out.emit(j)
	}
}

func jsonProbeOf(p *trace.Probe, v6 bool) jsonTraceProbe {
	j := jsonTraceProbe{Flow: p.Flow, Timeout: p.Timeout}
	if p.Timeout {
		return j
	}
	rtt := jsonl.Ms(p.RTT)
	j.Addr, j.RTTMs, j.Kind, j.Reached = p.Addr.String(), &rtt, p.Kind.String(), p.Reached
	j.Annotation, j.MTU = p.Annotation(v6), p.MTU
	j.TSSource = rttSource(p.KernelStamp, p.KernelTxStamp)
	switch p.Kind {
	case trace.KindTimeExceeded, trace.KindUnreachable, trace.KindOther:
		t, c := p.Type, p.Code
		j.ICMPType, j.ICMPCode = &t, &c
	}
	if p.QuotedTTL >= 0 {
		q := p.QuotedTTL
		j.QuotedTTL = &q
	}
	if ch := p.Changed; ch.Any() {
		j.Changed = &jsonChanges{}
		if ch.TOS {
			j.Changed.TOS = []int{int(ch.SentTOS), int(ch.GotTOS)}
		}
		if ch.DF {
			j.Changed.DF = []bool{ch.SentDF, ch.GotDF}
		}
		if ch.Ports {
			j.Changed.Ports = []uint16{ch.SentSport, ch.SentDport, ch.Sport, ch.Dport}
		}
	}
	for _, l := range p.Labels {
		j.MPLS = append(j.MPLS, jsonMPLS{Label: l.Label, TC: l.TC, S: l.S, TTL: l.TTL})
	}
	return j
}
