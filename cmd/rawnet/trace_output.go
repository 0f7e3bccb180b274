package main

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rawnet/rawnet/internal/jsonl"
	"github.com/rawnet/rawnet/internal/rdns"
	"github.com/rawnet/rawnet/internal/target"
	"github.com/rawnet/rawnet/trace"
)

// traceOutput turns trace events into traceroute-like text, an mtr-like
// report or JSON Lines. Events are copied and printed by a goroutine of
// its own, so that slow name lookups never hold up the probing.
type traceOutput struct {
	w       *bufio.Writer
	json    *jsonl.Writer
	o       traceOptions
	targets []target.Target
	names   *rdns.Cache
	queue   chan traceItem
	done    chan struct{}
	blocks  []strings.Builder // per target, when several are traced at once
	reports []trace.Report
	failed  atomic.Pointer[error] // the first failed write, set by whoever prints
}

// traceItem is an event's content, copied out of the engine's storage.
type traceItem struct {
	kind   trace.EventKind
	target int
	cycle  int
	hop    trace.Hop
	result trace.Result
}

func newTraceOutput(w io.Writer, o traceOptions, targets []target.Target) *traceOutput {
	out := &traceOutput{w: bufio.NewWriter(w), o: o, targets: targets,
		queue: make(chan traceItem, 1024), done: make(chan struct{})}
	if o.json {
		out.json = jsonl.New(out.w)
	}
	if !o.numeric && !o.json {
		out.names = rdns.New(rdns.Config{Timeout: 2 * time.Second})
	}
	out.blocks = make([]strings.Builder, len(targets))
	out.reports = make([]trace.Report, len(targets))
	return out
}

func (out *traceOutput) start() {
	if !out.o.json && !out.o.report && len(out.targets) == 1 {
		out.header(&out.blocks[0], 0)
		out.flushBlock(0)
		out.flush()
	}
	if out.names != nil {
		go out.print()
	}
}

// event is the engine's sink. Without name lookups it prints at once;
// with them it copies the event and queues it for the printer, which
// waits for the names.
func (out *traceOutput) event(ev trace.Event) error {
	if err := out.writeFailed(); err != nil {
		return err // stop the trace: nothing more can be printed
	}
	it := traceItem{kind: ev.Kind, target: ev.Target, cycle: ev.Cycle}
	if ev.Hop != nil {
		it.hop = trace.Hop{TTL: ev.Hop.TTL, Probes: make([]trace.Probe, len(ev.Hop.Probes))}
		for i, p := range ev.Hop.Probes {
			p.Labels = append([]trace.MPLSLabel(nil), p.Labels...)
			it.hop.Probes[i] = p
			if out.names != nil && !p.Timeout {
				out.names.Prefetch(p.Addr)
			}
		}
	}
	if ev.Result != nil {
		it.result = *ev.Result
		it.result.Links = append([]trace.Link(nil), ev.Result.Links...)
	}
	if out.names == nil {
		out.handle(&it)
		return nil
	}
	out.queue <- it
	return nil
}

// finish prints what is queued and returns the first failed write.
func (out *traceOutput) finish() error {
	if out.names != nil {
		close(out.queue)
		<-out.done
	}
	out.flush()
	return out.writeFailed()
}

// flush writes out what is buffered and keeps the first failure.
func (out *traceOutput) flush() {
	if err := flushOutput(out.w); err != nil {
		out.failed.CompareAndSwap(nil, &err)
	}
}

// writeFailed returns the error of the first write that failed, or nil.
func (out *traceOutput) writeFailed() error {
	if p := out.failed.Load(); p != nil {
		return *p
	}
	return nil
}

func (out *traceOutput) print() {
	defer close(out.done)
	for it := range out.queue {
		out.handle(&it)
	}
}

func (out *traceOutput) handle(it *traceItem) {
	switch {
	case out.o.report:
		out.reportItem(it)
	case out.o.json:
		out.jsonItem(it)
	default:
		out.textItem(it)
	}
	out.flush()
}

func (out *traceOutput) v6(i int) bool { return !out.targets[i].Addr.Is4() }

func (out *traceOutput) header(b *strings.Builder, i int) {
	t := out.targets[i]
	cfg := &out.o.cfg
	size := cfg.Size
	if size == 0 {
		size = trace.DefaultSize(!t.Addr.Is4())
		if cfg.Method == trace.TCP {
			size = trace.MinSize(trace.TCP, !t.Addr.Is4()) + 20
		}
	}
	how := "udp to port " + fmt.Sprint(cfg.Port)
	switch cfg.Method {
	case trace.ICMP:
		how = "icmp echo"
	case trace.TCP:
		how = "tcp syn to port " + fmt.Sprint(cfg.Port)
	}
	mode := "paris"
	if cfg.Multipath {
		mode = "multipath"
	} else if cfg.Flows > 1 {
		mode = fmt.Sprintf("%d flows", cfg.Flows)
	}
	fmt.Fprintf(b, "trace to %s (%s), %d hops max, %d byte packets, %s, %s\n", t.Name, t.Addr, cfg.MaxTTL, size, how, mode)
}

func (out *traceOutput) flushBlock(i int) {
	out.w.WriteString(out.blocks[i].String())
	out.blocks[i].Reset()
}

func (out *traceOutput) textItem(it *traceItem) {
	single := len(out.targets) == 1
	b := &out.blocks[it.target]
	if !single && b.Len() == 0 {
		out.header(b, it.target)
	}
	switch it.kind {
	case trace.EventHop:
		if out.o.cfg.Multipath {
			out.multipathHop(b, it)
		} else {
			out.hopLine(b, it)
		}
	case trace.EventDone:
		out.doneText(b, it)
		if !single && b.Len() > 0 {
			out.flushBlock(it.target)
			return
		}
	}
	if single {
		out.flushBlock(0)
	}
}

// hopLine writes one traceroute line: the TTL, then each probe's answerer
// (when it differs from the one before), round trip and annotation.
func (out *traceOutput) hopLine(b *strings.Builder, it *traceItem) {
	v6 := out.v6(it.target)
	fmt.Fprintf(b, "%2d", it.hop.TTL)
	var last netip.Addr
	for i := range it.hop.Probes {
		p := &it.hop.Probes[i]
		if p.Timeout {
			b.WriteString("  *")
			continue
		}
		if p.Addr != last {
			b.WriteString("  " + out.hostText(p.Addr))
			for _, l := range p.Labels {
				fmt.Fprintf(b, " <MPLS:L=%d,E=%d,S=%d,T=%d>", l.Label, l.TC, b2i(l.S), l.TTL)
			}
			if p.Changed.Any() {
				fmt.Fprintf(b, " [%s]", p.Changed)
			}
			last = p.Addr
		}
		fmt.Fprintf(b, "  %s ms", fmtMs(p.RTT))
		if a := p.Annotation(v6); a != "" {
			b.WriteString(" " + a)
		}
	}
	b.WriteByte('\n')
}

// multipathHop lists every interface found at a TTL with the flows that
// reached it.
func (out *traceOutput) multipathHop(b *strings.Builder, it *traceItem) {
	fmt.Fprintf(b, "%2d", it.hop.TTL)
	type seen struct {
		addr  netip.Addr
		flows int
		best  time.Duration
	}
	var ss []seen
	lost := 0
	for _, p := range it.hop.Probes {
		if p.Timeout {
			lost++
			continue
		}
		k := -1
		for i := range ss {
			if ss[i].addr == p.Addr {
				k = i
			}
		}
		if k < 0 {
			ss = append(ss, seen{addr: p.Addr, best: p.RTT})
			k = len(ss) - 1
		}
		ss[k].flows++
		ss[k].best = min(ss[k].best, p.RTT)
	}
	for _, s := range ss {
		fmt.Fprintf(b, "  %s (%d flows, %s ms)", out.hostText(s.addr), s.flows, fmtMs(s.best))
	}
	if lost > 0 {
		fmt.Fprintf(b, "  %d *", lost)
	}
	b.WriteByte('\n')
}

func (out *traceOutput) doneText(b *strings.Builder, it *traceItem) {
	r := &it.result
	if r.SendError != "" {
		fmt.Fprintf(b, "rawnet: %s\n", r.SendError)
	}
	if out.o.cfg.Multipath && len(r.Links) > 0 {
		b.WriteString("links:\n")
		for _, l := range r.Links {
			fmt.Fprintf(b, "%2d  %s -> %s\n", l.TTL, l.From, l.To)
		}
	}
}

func (out *traceOutput) hostText(a netip.Addr) string {
	if out.names == nil {
		return a.String()
	}
	if n := out.names.Name(a); n != "" {
		return n + " (" + a.String() + ")"
	}
	return a.String()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func fmtMs(d time.Duration) string {
	return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond))
}

// emit writes one JSON event; a failure stops the trace (writeFailed).
func (out *traceOutput) emit(v any) {
	if err := out.json.Emit(v); err != nil {
		err = jsonError(err)
		out.failed.CompareAndSwap(nil, &err)
	}
}
