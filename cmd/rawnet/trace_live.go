package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"
	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/internal/rdns"
	"github.com/rawnet/rawnet/internal/target"
	"github.com/rawnet/rawnet/pcap"
	"github.com/rawnet/rawnet/trace"
	"github.com/rawnet/rawnet/trace/live"
)

// The live view (rawnet trace --live, rawnet mtr) is drawn with
// charm.land/bubbletea/v2 rather than gdamore/tcell: it is the library
// DESIGN.md names first, its model/update/view split keeps the statistics
// apart from the drawing, and it diffs frames and handles resizes, the
// alternate screen and key decoding for us, in pure Go (no cgo).

// liveForever is -c's value with --live when -c is not given: cycles
// until the user quits.
const liveForever = math.MaxInt

// mtrCommand is rawnet mtr: rawnet trace --live under mtr's name.
func mtrCommand() *cli.Command {
	c := traceCommand()
	c.Name, c.Aliases = "mtr", nil
	c.Usage = "rawnet trace --live: the full-screen mtr view (q quits, ? lists the keys)"
	c.Description = "" // doc/mtr.txt
	return c
}

// liveFlags checks what --live needs: a terminal on standard output, and
// JSON Lines going to a file.
func liveFlags(c *cli.Context, on bool) error {
	if !on {
		return nil
	}
	if !isTerminal(c.App.Writer) {
		return usageErrorf("--live: standard output is not a terminal; use --report for a report that can be redirected")
	}
	if c.Bool("json") && c.String("json-file") == "" {
		return usageErrorf("--json: the screen shows the live view; give --json-file FILE for the JSON Lines")
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}

// openJSONFile opens --json-file, if given.
func openJSONFile(c *cli.Context) (*os.File, error) {
	name := c.String("json-file")
	if name == "" {
		return nil, nil
	}
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("--json-file: %w", err)
	}
	return f, nil
}

// liveRunner runs the engine for the view: again after each pause, with
// the cycles counted on, and never waiting for the view (events go
// through a live.Feed).
type liveRunner struct {
	cfg     trace.Config
	conns   []trace.Conn
	feed    *live.Feed
	json    *traceOutput // --json-file, or nil
	mu      sync.Mutex
	paused  bool
	cancel  context.CancelFunc
	resume  chan struct{}
	cur     context.Context // of the current run; read by sink, in the run's goroutine
	done    []int           // cycles ended per target, over every run
	base    []int           // done when the current run began
	reached []bool
}

func newLiveRunner(cfg trace.Config, conns []trace.Conn, feed *live.Feed) *liveRunner {
	n := len(cfg.Targets)
	return &liveRunner{cfg: cfg, conns: conns, feed: feed, resume: make(chan struct{}, 1),
		done: make([]int, n), base: make([]int, n), reached: make([]bool, n)}
}

// sink is the engine's sink: it numbers cycles on over runs, and hands
// the event to the feed and the JSON file. What a run cut short (pause,
// quit) reports after the cut is not given to the view: its waiting
// probes are reported timed out, but they were not lost.
func (r *liveRunner) sink(ev trace.Event) error {
	ev.Cycle += r.base[ev.Target]
	if ev.Kind == trace.EventDone && !ev.Result.Interrupted {
		r.done[ev.Target]++
		if ev.Result.Reached {
			r.reached[ev.Target] = true
		}
	}
	if r.cur.Err() == nil {
		r.feed.Put(ev)
	}
	if r.json != nil {
		return r.json.event(ev)
	}
	return nil
}

// run probes until ctx ends or every cycle has run; a pause ends the
// current run, a resume starts the next.
func (r *liveRunner) run(ctx context.Context) error {
	for {
		r.mu.Lock()
		if r.paused {
			r.mu.Unlock()
			select {
			case <-r.resume:
				continue
			case <-ctx.Done():
				return nil
			}
		}
		rctx, cancel := context.WithCancel(ctx)
		r.cancel = cancel
		r.mu.Unlock()
		r.cur = rctx
		copy(r.base, r.done)
		cfg := r.cfg
		if cfg.Cycles != liveForever {
			cfg.Cycles -= slices.Min(r.done)
		}
		var err error
		if cfg.Cycles > 0 {
			cfg.Conns = r.conns
			var tr *trace.Tracer
			if tr, err = trace.New(cfg); err == nil {
				_, err = tr.Run(rctx, r.sink)
			}
		}
		paused := rctx.Err() != nil
		cancel()
		if err != nil || ctx.Err() != nil || !paused {
			return err
		}
	}
}

// Pause stops probing: the cycle under way is cut short, and the feed
// drops its events so that it is not counted.
func (r *liveRunner) Pause() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.paused = true
	r.feed.SetDiscard(true)
	if r.cancel != nil {
		r.cancel()
	}
}

// Resume starts probing again.
func (r *liveRunner) Resume() {
	r.mu.Lock()
	r.paused = false
	r.feed.SetDiscard(false)
	r.mu.Unlock()
	select {
	case r.resume <- struct{}{}:
	default:
	}
}

// traceWriter is where trace output goes: standard output, or
// --json-file (closed by the caller).
func traceWriter(c *cli.Context) (io.Writer, *os.File, error) {
	f, err := openJSONFile(c)
	if err != nil || f == nil {
		return c.App.Writer, nil, err
	}
	return f, f, nil
}

// liveNamer gives the view names without ever making it wait.
type liveNamer struct{ c *rdns.Cache }

func (n liveNamer) Name(a netip.Addr) (string, bool) { return n.c.TryName(a) }

// runTraceLive runs the full-screen view; jf is the --json-file, or nil.
func runTraceLive(c *cli.Context, o traceOptions, targets []target.Target, conns []trace.Conn, pf *pcap.File, jf *os.File) error {
	ctx := c.Context
	var jsonOut *traceOutput
	if jf != nil {
		jo := o
		jo.json = true
		jsonOut = newTraceOutput(jf, jo, targets)
	}
	feed := live.NewFeed(1 << 16)
	runner := newLiveRunner(o.cfg, conns, feed)
	runner.json = jsonOut
	addrs := make([]netip.Addr, len(targets))
	vt := make([]live.Target, len(targets))
	for i, t := range targets {
		addrs[i] = t.Addr
		vt[i] = live.Target{Name: t.Name, Addr: t.Addr}
	}
	stats := live.NewStats(addrs, o.cfg.FirstTTL)
	names := rdns.New(rdns.Config{Timeout: 2 * time.Second})
	view := live.NewView(stats, feed, live.Options{
		Targets: vt, Probe: liveProbeText(o.cfg), Names: !o.numeric, Namer: liveNamer{names},
		Color: os.Getenv("NO_COLOR") == "", Control: runner,
	})
	// 10 frames a second at most: bubbletea's renderer wakes at its frame rate
	// even when nothing changed, and at its default 60 it cost the idle view
	// 0.5% of a core, thirty times the prober's share at -i 1.
	prog := tea.NewProgram(view, tea.WithContext(ctx), tea.WithOutput(c.App.Writer), tea.WithFPS(10))

	rctx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() {
		err := runner.run(rctx)
		runErr <- err
		prog.Send(live.DoneMsg{})
	}()
	_, teaErr := prog.Run()
	stop()
	err := <-runErr
	// What came in after the view's last frame still counts.
	items, _ := feed.Take(nil)
	for i := range items {
		stats.Apply(&items[i])
	}
	if teaErr != nil && !errors.Is(teaErr, tea.ErrProgramKilled) && !errors.Is(teaErr, tea.ErrInterrupted) && !errors.Is(teaErr, context.Canceled) {
		return fmt.Errorf("live view: %w", teaErr)
	}
	if err != nil {
		if errors.Is(err, trace.ErrConfig) {
			return usageErrorf("%s", strings.TrimPrefix(err.Error(), "trace: bad configuration: "))
		}
		return err
	}
	// The report stays on the normal screen, as mtr -r prints it.
	ro := o
	ro.json, ro.report, ro.numeric = false, true, !view.NamesOn()
	rep := newTraceOutput(c.App.Writer, ro, targets)
	for i, t := range stats.Targets {
		r := t.All.Report(t.Addr)
		rep.printReport(i, &r)
		if jsonOut != nil {
			jsonOut.jsonReport(&r)
		}
	}
	if err := flushOutput(rep.w); err != nil {
		return err
	}
	if jsonOut != nil {
		if err := jsonOut.finish(); err != nil {
			jf.Close()
			return err
		}
		if err := jf.Close(); err != nil {
			return fmt.Errorf("--json-file: %w", err)
		}
	}
	if err := closePcap(pf); err != nil {
		return err
	}
	if slices.Contains(runner.reached, false) {
		return exitError(1)
	}
	return nil
}

// liveProbeText says how probes are sent, for the view's header.
func liveProbeText(cfg trace.Config) string {
	how := fmt.Sprintf("udp to port %d", cfg.Port)
	switch cfg.Method {
	case trace.ICMP:
		how = "icmp echo"
	case trace.TCP:
		how = fmt.Sprintf("tcp syn to port %d", cfg.Port)
	}
	switch {
	case cfg.Multipath:
		return how + ", multipath"
	case cfg.Flows > 1:
		return fmt.Sprintf("%s, %d flows", how, cfg.Flows)
	}
	return how + ", paris"
}

func closeFile(f *os.File) {
	if f != nil {
		f.Close()
	}
}
