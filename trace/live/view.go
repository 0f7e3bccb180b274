package live

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// Target is a traced target as the header names it.
type Target struct {
	Name string // as given (a host name or the address)
	Addr netip.Addr
}

// Namer gives reverse DNS names without waiting: Name starts a lookup
// when there is none yet and reports ok only when one has ended.
type Namer interface {
	Name(a netip.Addr) (name string, ok bool)
}

// Control is what the view asks of the prober.
type Control interface {
	Pause()  // stop probing (the cycle under way is not counted)
	Resume() // probe again
}

// Options sets up a View.
type Options struct {
	Targets []Target
	Probe   string // how probes are sent, for the header ("udp to port 33434, paris")
	Names   bool   // show names at the start (not -n)
	Namer   Namer  // nil: names cannot be shown
	Color   bool   // false with NO_COLOR
	Control Control
	Now     func() time.Time // a fake clock for tests; time.Now by default
	// MinFrame is the least time between two takes from the feed (50ms by
	// default): events in between are drawn together.
	MinFrame time.Duration
}

// Mode is what the main screen shows.
type Mode int

const (
	ModeTable   Mode = iota // the statistics table
	ModeHistory             // a round-trip history chart per hop
	ModeBoth                // the table above the chart
	modeCount
)

func (m Mode) String() string { return [...]string{"table", "history", "both"}[m] }

// View is the bubbletea model of the live trace.
type View struct {
	o       Options
	st      *Stats
	feed    *Feed
	spare   []Item
	dropped uint64
	start   time.Time
	width   int
	height  int
	mode    Mode
	names   bool
	paused  bool
	target  int
	flow    int // AllFlows or an index into the target's Flows
	sel     int // selected row
	detail  bool
	help    bool
	done    bool // the prober has ended (-c cycles, or an error)
	quit    bool
}

// NewView returns a view of st fed by feed (nil: nothing is fed, for
// tests that apply events themselves).
func NewView(st *Stats, feed *Feed, o Options) *View {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MinFrame == 0 {
		o.MinFrame = 50 * time.Millisecond
	}
	return &View{o: o, st: st, feed: feed, start: o.Now(), width: 80, height: 24, names: o.Names && o.Namer != nil, flow: AllFlows}
}

// Messages.
type (
	feedMsg struct{}
	tickMsg struct{}
	// DoneMsg tells the view that the prober has ended (its caller has
	// the error, if any).
	DoneMsg struct{}
)

// Init starts waiting for events and the clock.
func (v *View) Init() tea.Cmd { return tea.Batch(v.wait(), tick()) }

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return tickMsg{} })
}

// wait returns a command that waits for the feed, at most one take per
// MinFrame, so that a burst of events costs one frame.
func (v *View) wait() tea.Cmd {
	if v.feed == nil {
		return nil
	}
	f, gap := v.feed, v.o.MinFrame
	return func() tea.Msg {
		time.Sleep(gap)
		<-f.Ready()
		return feedMsg{}
	}
}

// Update handles a message.
func (v *View) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case feedMsg:
		v.take()
		return v, v.wait()
	case tickMsg:
		return v, tick()
	case DoneMsg:
		v.take()
		v.done, v.quit = true, true
		return v, tea.Quit
	case tea.WindowSizeMsg:
		v.width, v.height = max(msg.Width, 20), max(msg.Height, 5)
	case tea.KeyPressMsg:
		return v, v.key(msg.String())
	}
	return v, nil
}

// take applies what the feed holds.
func (v *View) take() {
	if v.feed == nil {
		return
	}
	var items []Item
	items, v.dropped = v.feed.Take(v.spare)
	for i := range items {
		v.st.Apply(&items[i])
	}
	v.spare = items
}

func (v *View) key(k string) tea.Cmd {
	if v.help {
		switch k {
		case "q", "ctrl+c":
			v.quit = true
			return tea.Quit
		case "?", "esc", "enter":
			v.help = false
		}
		return nil
	}
	switch k {
	case "q", "ctrl+c":
		v.quit = true
		return tea.Quit
	case "?":
		v.help = true
	case "esc":
		v.detail = false
	case "enter":
		v.detail = len(v.rows()) > 0
	case "p", " ":
		v.togglePause()
	case "r":
		v.st.Reset()
		v.flow, v.sel = AllFlows, 0
	case "d":
		v.mode = (v.mode + 1) % modeCount
	case "n":
		v.names = !v.names && v.o.Namer != nil
	case "f":
		fl := v.st.Targets[v.target].Flows
		switch {
		case len(fl) < 2:
			v.flow = AllFlows
		case v.flow+1 >= len(fl):
			v.flow = AllFlows
		default:
			v.flow++
		}
	case "up", "k":
		v.sel = max(v.sel-1, 0)
	case "down", "j":
		v.sel = min(v.sel+1, max(len(v.rows())-1, 0))
	case "tab":
		v.switchTarget(1)
	case "shift+tab":
		v.switchTarget(-1)
	}
	return nil
}

func (v *View) togglePause() {
	v.paused = !v.paused
	if v.o.Control == nil {
		return
	}
	if v.paused {
		v.o.Control.Pause()
	} else {
		v.o.Control.Resume()
	}
}

func (v *View) switchTarget(d int) {
	n := len(v.st.Targets)
	v.target = ((v.target+d)%n + n) % n
	v.flow, v.sel, v.detail = AllFlows, 0, false
}

// Quit reports whether the user asked to quit (not the prober ending).
func (v *View) Quit() bool { return v.quit && !v.done }

// NamesOn reports whether names are shown (the final report follows it).
func (v *View) NamesOn() bool { return v.names }

// flowStats is the statistics the screen shows: the selected target and
// flow.
func (v *View) flowStats() (*TargetStats, *FlowStats, string) {
	t := v.st.Targets[v.target]
	if v.flow == AllFlows || v.flow >= len(t.Flows) {
		if len(t.Flows) > 1 {
			return t, t.All, fmt.Sprintf("all %d", len(t.Flows))
		}
		return t, t.All, ""
	}
	f := t.Flows[v.flow]
	return t, t.Flow(f), fmt.Sprintf("%d (%d of %d)", f, v.flow+1, len(t.Flows))
}

func (v *View) rows() []Row {
	t, f, _ := v.flowStats()
	return f.Rows(t.Addr)
}

// View draws the screen.
func (v *View) View() tea.View {
	tv := tea.NewView(v.Frame())
	tv.AltScreen = true
	tv.WindowTitle = "rawnet mtr " + v.o.Targets[v.target].Name
	return tv
}

// Frame is the screen as text: exactly height lines, none wider than
// width (with ANSI styles unless colour is off).
func (v *View) Frame() string {
	var lines []string
	lines = append(lines, v.header()...)
	rows := v.rows()
	v.sel = min(v.sel, max(len(rows)-1, 0))
	var body, footer []string
	switch {
	case v.help:
		body = v.helpLines()
	case v.detail && len(rows) > 0:
		body = v.detailLines(rows[v.sel])
		footer = []string{v.dim("Esc back  ↑↓ other hop  q quit  ? help")}
	default:
		footer = v.footer(rows)
		avail := v.height - len(lines) - len(footer)
		var selAt int
		body, selAt = v.mainLines(rows, avail)
		if v.mode != ModeBoth {
			body = scroll(body, selAt, avail)
		}
	}
	avail := v.height - len(lines) - len(footer)
	if len(body) > avail {
		body = body[:max(avail, 0)]
	}
	lines = append(lines, body...)
	for len(lines) < v.height-len(footer) {
		lines = append(lines, "")
	}
	lines = append(lines, footer...)
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, v.width, "")
	}
	return strings.Join(lines[:min(len(lines), v.height)], "\n")
}

// scroll keeps line selAt in a window of n lines.
func scroll(lines []string, selAt, n int) []string {
	if n <= 0 || len(lines) <= n {
		return lines
	}
	// The column heads (first line) stay.
	head, rest := lines[:1], lines[1:]
	n--
	off := 0
	if selAt-1 >= n {
		off = selAt - 1 - n + 1
	}
	off = min(off, max(len(rest)-n, 0))
	return append(append([]string{}, head...), rest[off:off+min(n, len(rest)-off)]...)
}

func (v *View) header() []string {
	t, _, flow := v.flowStats()
	tg := v.o.Targets[v.target]
	title := "rawnet mtr to " + tg.Name
	if tg.Name != tg.Addr.String() {
		title += " (" + tg.Addr.String() + ")"
	}
	title += "  " + v.o.Probe
	el := v.o.Now().Sub(v.start).Truncate(time.Second)
	status := fmt.Sprintf("cycles %d  elapsed %s", t.Cycles, clock(el))
	if flow != "" {
		status += "  flow " + flow
	}
	if n := len(v.o.Targets); n > 1 {
		status += fmt.Sprintf("  target %d of %d (Tab)", v.target+1, n)
	}
	if v.dropped > 0 {
		status += fmt.Sprintf("  %d events dropped", v.dropped)
	}
	switch {
	case v.paused:
		status += "  " + v.style("7", "[paused]")
	case v.done:
		status += "  [done]"
	}
	return []string{v.style("1", title), status}
}

func clock(d time.Duration) string {
	s := int(d / time.Second)
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}

func (v *View) footer(rows []Row) []string {
	var f []string
	for _, r := range rows {
		if r.RateLimited {
			f = append(f, v.dim("Loss%? (rate limited?): farther hops do not show it; ICMP errors limited"))
			break
		}
	}
	keys := "q quit  p pause  r reset  d mode  n names"
	if len(v.st.Targets[v.target].Flows) > 1 {
		keys += "  f flow"
	}
	if len(v.o.Targets) > 1 {
		keys += "  Tab target"
	}
	keys += "  ↑↓ Enter hop  ? help"
	return append(f, v.dim(keys))
}

// style wraps s in an SGR attribute (bold 1, reverse 7, faint 2), and
// colour (31 red, 33 yellow) only when colour is on.
func (v *View) style(sgr, s string) string {
	return "\x1b[" + sgr + "m" + s + "\x1b[m"
}

func (v *View) color(c, s string) string {
	if !v.o.Color {
		return s
	}
	return v.style(c, s)
}

func (v *View) dim(s string) string { return v.style("2", s) }

// host is an address as shown: "name (addr)" with names on and a name
// found.
func (v *View) host(a netip.Addr) string {
	if v.names {
		if n, ok := v.o.Namer.Name(a); ok && n != "" {
			return n + " (" + a.String() + ")"
		}
	}
	return a.String()
}

// Column layout of the table: "> 12. host ... Loss%? Snt Last Avg Best Wrst StDev Jttr".
const (
	prefixW  = 6               // marker and "%3d. "
	figuresW = 7 + 1 + 6 + 6*7 // loss, rate-limit mark, Snt, six times
)

func (v *View) hostW() int { return max(v.width-prefixW-figuresW, 12) }

// mainLines draws the table, the chart or both, and says on which line
// the selected hop starts.
func (v *View) mainLines(rows []Row, avail int) ([]string, int) {
	switch v.mode {
	case ModeHistory:
		return v.chartLines(rows)
	case ModeBoth:
		table, selAt := v.tableLines(rows)
		chart, chartAt := v.chartLines(rows)
		if len(table)+1+len(chart) > avail && avail > 0 {
			// Not room for both: each gets its share, scrolled to the
			// selected hop; the chart needs a line a hop, the table more.
			n := max(avail-1-len(chart), avail/2)
			table = scroll(table, selAt, n)
			chart = scroll(chart, chartAt, avail-1-len(table))
			selAt = min(selAt, n-1)
		}
		return append(append(table, ""), chart...), selAt
	}
	return v.tableLines(rows)
}

func (v *View) tableLines(rows []Row) ([]string, int) {
	hw := v.hostW()
	head := fmt.Sprintf("%*s%-*s %6s  %5s %6s %6s %6s %6s %6s %6s", prefixW, "", hw, "Host", "Loss%", "Snt", "Last", "Avg", "Best", "Wrst", "StDev", "Jttr")
	lines := []string{v.style("1", head)}
	selAt := 0
	for i, r := range rows {
		if i == v.sel {
			selAt = len(lines)
		}
		lines = append(lines, v.hopLines(r, i == v.sel, hw)...)
	}
	return lines, selAt
}

// hopLines is one hop: its figures on the line of its first address, then
// one line per further address, and its MPLS labels, quoted-header
// changes and annotations under the address they belong to.
func (v *View) hopLines(r Row, sel bool, hw int) []string {
	mark := " "
	if sel {
		mark = ">"
	}
	host := "???"
	if len(r.Addrs) > 0 {
		host = v.host(r.Addrs[0])
	}
	rl := " "
	if r.RateLimited {
		rl = "?"
		// The report's words where they fit; "?" after Loss% always.
		if mark := " (rate limited?)"; ansi.StringWidth(host+mark) <= hw {
			host += mark
		}
	}
	loss := fmt.Sprintf("%5.1f%%", r.LossPct())
	if r.Sent > r.Received && !r.RateLimited {
		loss = v.color("31", loss)
	}
	line := fmt.Sprintf("%s%3d. %-*s %s%s %5d %6s %6s %6s %6s %6s %6s", mark, r.TTL, hw, cut(host, hw), loss, rl, r.Sent,
		fms(r.Last, r.Received), fms(r.RTT.Avg(), r.Received), fms(r.RTT.Min(), r.Received), fms(r.RTT.Max(), r.Received),
		fms(r.RTT.Mdev(), r.Received), fms(r.Jitter, r.Received))
	if sel {
		line = v.style("7", line)
	}
	lines := []string{line}
	for i, a := range r.Info.Addrs {
		if i > 0 {
			lines = append(lines, "      "+v.host(a.Addr)+annotationMark(a))
		} else if m := annotationMark(a); m != "" {
			lines[0] += m
		}
		for _, n := range notes(a) {
			lines = append(lines, "        "+v.color("33", n))
		}
	}
	return lines
}

func annotationMark(a *AddrInfo) string {
	if a.Annotation == "" {
		return ""
	}
	return " " + a.Annotation
}

// notes are an address's MPLS labels and quoted-header changes.
func notes(a *AddrInfo) []string {
	var n []string
	if len(a.Labels) > 0 {
		var b strings.Builder
		for i, l := range a.Labels {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "<MPLS:L=%d,E=%d,S=%d,T=%d>", l.Label, l.TC, b2i(l.S), l.TTL)
		}
		n = append(n, b.String())
	}
	if a.Changed.Any() {
		n = append(n, "["+a.Changed.String()+"]")
	}
	return n
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cut shortens s to w cells, marking the cut with "…".
func cut(s string, w int) string {
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// fms is a round trip in milliseconds in at most 6 cells: two decimals
// below 10ms (the lab's round trips are tenths of a millisecond), one
// below a second, none above.
func fms(d time.Duration, n int) string {
	if n == 0 {
		return "-"
	}
	x := float64(d) / float64(time.Millisecond)
	switch {
	case x < 10:
		return fmt.Sprintf("%.2f", x)
	case x < 10000:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.0f", x)
}

// Sparkline levels, low to high; a lost cycle is drawn as "x".
var levels = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the samples, scaled from the least to the greatest
// round trip among them.
func sparkline(ss []Sample) string {
	lo, hi, any := time.Duration(0), time.Duration(0), false
	for _, s := range ss {
		if s.Lost {
			continue
		}
		if !any || s.RTT < lo {
			lo = s.RTT
		}
		if !any || s.RTT > hi {
			hi = s.RTT
		}
		any = true
	}
	var b strings.Builder
	for _, s := range ss {
		switch {
		case s.Lost:
			b.WriteByte('x')
		case hi == lo:
			b.WriteRune(levels[0])
		default:
			b.WriteRune(levels[int(float64(s.RTT-lo)/float64(hi-lo)*float64(len(levels)-1)+0.5)])
		}
	}
	return b.String()
}

func (v *View) chartW() (hostW, chartW int) {
	hostW = min(max(v.width/4, 15), 40)
	return hostW, max(v.width-prefixW-hostW-2, 1)
}

func (v *View) chartLines(rows []Row) ([]string, int) {
	hw, cw := v.chartW()
	head := fmt.Sprintf("%*s%-*s  %s", prefixW, "", hw, "Host", "History: newest right, ▁..█ round trip low..high, x lost")
	lines := []string{v.style("1", head)}
	selAt := 0
	for i, r := range rows {
		mark := " "
		if i == v.sel {
			mark, selAt = ">", len(lines)
		}
		host := "???"
		if len(r.Addrs) > 0 {
			host = v.host(r.Addrs[0])
		}
		spark := sparkline(r.Info.History(cw))
		line := fmt.Sprintf("%s%3d. %-*s  %s", mark, r.TTL, hw, cut(host, hw), spark)
		if i == v.sel {
			line = v.style("7", line)
		}
		lines = append(lines, line)
	}
	return lines, selAt
}

// detailLines is the detail of one hop: its figures, then every address
// with its own figures, answer, flows, MPLS labels and quoted-header
// changes, then its history.
func (v *View) detailLines(r Row) []string {
	t, _, flow := v.flowStats()
	what := fmt.Sprintf("hop %d of %s", r.TTL, v.o.Targets[v.target].Name)
	if flow != "" {
		what += ", flow " + flow
	}
	lines := []string{v.style("1", what)}
	rl := ""
	if r.RateLimited {
		rl = "  (rate limited?)"
	}
	lines = append(lines, fmt.Sprintf("Loss %.1f%%  Snt %d  Rcv %d%s", r.LossPct(), r.Sent, r.Received, rl),
		fmt.Sprintf("Last %s  Avg %s  Best %s  Wrst %s  StDev %s  Jttr %s  (ms)",
			fms(r.Last, r.Received), fms(r.RTT.Avg(), r.Received), fms(r.RTT.Min(), r.Received),
			fms(r.RTT.Max(), r.Received), fms(r.RTT.Mdev(), r.Received), fms(r.Jitter, r.Received)))
	if r.RateLimited {
		lines = append(lines, v.dim("(rate limited?): farther hops do not show this loss; the router limits"),
			v.dim("the ICMP errors it sends, packets are not lost"))
	}
	lines = append(lines, "")
	hw := max(v.width-4-5-7-6*7, 12)
	lines = append(lines, v.style("1", fmt.Sprintf("  %-*s %5s %6s %6s %6s %6s %6s %6s %6s", hw, "Address", "Rcv", "Share", "Last", "Avg", "Best", "Wrst", "StDev", "Jttr")))
	for _, a := range r.Info.Addrs {
		f := a.Figures()
		share := 0.0
		if r.Received > 0 {
			share = 100 * float64(f.Received) / float64(r.Received)
		}
		lines = append(lines, fmt.Sprintf("  %-*s %5d %5.1f%% %6s %6s %6s %6s %6s %6s", hw, cut(v.host(a.Addr), hw), f.Received, share,
			fms(f.Last, f.Received), fms(f.RTT.Avg(), f.Received), fms(f.RTT.Min(), f.Received), fms(f.RTT.Max(), f.Received),
			fms(f.RTT.Mdev(), f.Received), fms(f.Jitter, f.Received)))
		answer := "    answer: " + a.Answer
		if a.Annotation != "" {
			answer += " " + a.Annotation
		}
		if len(t.Flows) > 1 {
			answer += "  flows: " + flowList(a.FlowList)
		}
		lines = append(lines, answer)
		for _, n := range notes(a) {
			lines = append(lines, "    "+v.color("33", n))
		}
	}
	if len(r.Info.Addrs) == 0 {
		lines = append(lines, "  no answer yet")
	}
	cw := max(v.width-4, 1)
	lines = append(lines, "", v.style("1", fmt.Sprintf("History: best round trip of the last %d cycles (x lost)", min(cw, r.Info.n))),
		"  "+sparkline(r.Info.History(cw)))
	return lines
}

func flowList(fl []int) string {
	var b strings.Builder
	for i, f := range fl {
		if i == 12 {
			fmt.Fprintf(&b, " ... (%d)", len(fl))
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, f)
	}
	return b.String()
}

func (v *View) helpLines() []string {
	return []string{
		v.style("1", "Keys"),
		"  q, Ctrl-C   quit; the report stays printed on the normal screen",
		"  p, Space    pause and resume probing (the cycle under way is not counted)",
		"  r           reset the statistics",
		"  d           display: table, history chart, both",
		"  n           names on and off (reverse DNS)",
		"  f           next flow (with --flows or --multipath), then all flows",
		"  ↑ ↓, k j    select a hop",
		"  Enter       the selected hop in detail: every address with its own figures",
		"  Esc         back",
		"  Tab         next target (several targets)",
		"  ?           this help (any of ? Esc Enter closes it)",
		"",
		v.style("1", "Columns"),
		"  Loss%  probes unanswered; ? after it: (rate limited?), loss that farther",
		"         hops do not show: the router limits ICMP errors, packets are not lost",
		"  Snt    probes sent        Last, Avg, Best, Wrst  round trips in ms",
		"  StDev  standard deviation  Jttr  mean difference of consecutive round trips",
		"  <MPLS:...>  label stack of the answer; [tos ...] what the quoted header",
		"         says a middlebox changed; !H !N !P !X ...  unreachable marks",
	}
}
