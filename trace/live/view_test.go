package live

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rawnet/rawnet/trace"
)

var update = flag.Bool("update", false, "rewrite the golden frames in testdata/")

// recorded reads testdata/diamond-loss.jsonl: the --json-file of
//
//	rawnet mtr -n --flows 2 -c 40 -i 0.05 -W 0.3 --json-file F 198.18.4.2
//
// in a lab (rawnet lab up --routers 4 --diamond --loss 3:30): two flows
// over an ECMP diamond at TTL 2 and 3, 30% loss from TTL 4 on. Lab round
// trips are tens of microseconds; the recording's are multiplied by 1000
// here so that the frames show figures of every width. Three things the
// lab cannot make are added: from cycle 10, MPLS labels at TTL 3 on
// 198.18.102.2 and a TOS rewrite quoted at TTL 4; and TTL 1 drops its
// answers in every second cycle, as a router that rate-limits ICMP does.
func recorded(t *testing.T) []trace.Event {
	t.Helper()
	f, err := os.Open("testdata/diamond-loss.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []trace.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), `"cycle":`) {
			continue // the report at the end
		}
		var j struct {
			Type, Target string
			Cycle, TTL   int
			Reached      bool
			Hops         int
			Probes       []struct {
				Flow     int
				Timeout  bool
				Addr     string
				RTTMs    float64 `json:"rtt_ms"`
				Kind     string
				ICMPType uint8 `json:"icmp_type"`
				ICMPCode uint8 `json:"icmp_code"`
				Reached  bool
				Quoted   int `json:"quoted_ttl"`
			}
		}
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			t.Fatal(err)
		}
		switch j.Type {
		case "hop":
			h := &trace.Hop{TTL: j.TTL}
			for _, p := range j.Probes {
				pr := trace.Probe{Flow: p.Flow, Timeout: p.Timeout, QuotedTTL: -1}
				if !p.Timeout {
					pr.Addr = netip.MustParseAddr(p.Addr)
					pr.RTT = time.Duration(p.RTTMs * 1e9) // ms * 1000, in ns
					pr.Type, pr.Code, pr.Reached, pr.QuotedTTL = p.ICMPType, p.ICMPCode, p.Reached, p.Quoted
					pr.Kind = map[string]trace.Kind{"time-exceeded": trace.KindTimeExceeded, "unreachable": trace.KindUnreachable}[p.Kind]
				}
				switch {
				case j.TTL == 1 && j.Cycle%2 == 1:
					pr = trace.Probe{Flow: p.Flow, Timeout: true, QuotedTTL: -1}
				case j.Cycle >= 10 && j.TTL == 3 && p.Addr == "198.18.102.2":
					pr.Labels = []trace.MPLSLabel{{Label: 24001, TC: 0, S: false, TTL: 1}, {Label: 16, TC: 5, S: true, TTL: 1}}
				case j.Cycle >= 10 && j.TTL == 4 && !p.Timeout:
					pr.Changed = trace.Changes{TOS: true, SentTOS: 0, GotTOS: 0x20}
				}
				h.Probes = append(h.Probes, pr)
			}
			evs = append(evs, trace.Event{Kind: trace.EventHop, Cycle: j.Cycle, Hop: h})
		case "summary":
			evs = append(evs, trace.Event{Kind: trace.EventDone, Cycle: j.Cycle, Result: &trace.Result{Cycle: j.Cycle, Reached: j.Reached, Hops: j.Hops}})
		}
	}
	if len(evs) < 200 {
		t.Fatalf("%d events recorded, want the whole run", len(evs))
	}
	return evs
}

// fakeClock starts at a fixed time; the test moves it.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

type fakeNamer map[netip.Addr]string

func (n fakeNamer) Name(a netip.Addr) (string, bool) { s, ok := n[a]; return s, ok }

// recordedView is a view of the recording at its end, 83 seconds in.
func recordedView(t *testing.T, w, h int) *View {
	t.Helper()
	dst := netip.MustParseAddr("198.18.4.2")
	st := NewStats([]netip.Addr{dst}, 1)
	feed := NewFeed(1 << 16)
	clk := &fakeClock{now: time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC)}
	v := NewView(st, feed, Options{
		Targets: []Target{{Name: "dst.lab", Addr: dst}}, Probe: "udp to port 33434, 2 flows",
		Namer: fakeNamer{netip.MustParseAddr("198.18.0.2"): "r1.lab", dst: "dst.lab"}, Now: clk.Now,
	})
	for _, ev := range recorded(t) {
		feed.Put(ev)
	}
	clk.now = clk.now.Add(83 * time.Second)
	v.Update(feedMsg{})
	v.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return v
}

func keys(v *View, ks ...string) {
	for _, k := range ks {
		if k == "" {
			continue
		}
		var m tea.KeyPressMsg
		switch k {
		case "enter":
			m = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "esc":
			m = tea.KeyPressMsg{Code: tea.KeyEscape}
		case "down":
			m = tea.KeyPressMsg{Code: tea.KeyDown}
		case "up":
			m = tea.KeyPressMsg{Code: tea.KeyUp}
		case "tab":
			m = tea.KeyPressMsg{Code: tea.KeyTab}
		default:
			m = tea.KeyPressMsg{Code: rune(k[0]), Text: k}
		}
		v.Update(m)
	}
}

// checkGolden compares the frame, without its styles, with
// testdata/NAME.golden (go test -update rewrites it), and checks its
// size.
func checkGolden(t *testing.T, v *View, name string) {
	t.Helper()
	frame := v.Frame()
	lines := strings.Split(frame, "\n")
	if len(lines) != v.height {
		t.Errorf("%s: %d lines, want %d", name, len(lines), v.height)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > v.width {
			t.Errorf("%s: line %d is %d cells wide, over %d: %q", name, i+1, w, v.width, ansi.Strip(l))
		}
	}
	got := ansi.Strip(frame) + "\n"
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s: frame differs from %s (go test -update rewrites it):\n%s", name, path, got)
	}
}

func TestGoldenFrames(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		w, h := size[0], size[1]
		for _, tc := range []struct {
			name string
			keys []string
		}{
			{"table", nil},
			{"history", []string{"d"}},
			{"both", []string{"d", "d"}},
			{"detail-hop2", []string{"down", "enter"}},
			{"detail-hop4", []string{"down", "down", "down", "enter"}},
			{"flow1-names", []string{"f", "f", "n"}},
			{"help", []string{"?"}},
		} {
			t.Run(fmt.Sprintf("%dx%d-%s", w, h, tc.name), func(t *testing.T) {
				v := recordedView(t, w, h)
				keys(v, tc.keys...)
				checkGolden(t, v, fmt.Sprintf("%dx%d-%s", w, h, tc.name))
			})
		}
	}
}

// What the frames must show, checked apart from the goldens so that an
// update cannot bless a wrong frame: the hops in order, both branches of
// the diamond, the loss behind link 3, the rate-limit mark, MPLS and TOS.
func TestFrameContent(t *testing.T) {
	v := recordedView(t, 120, 40)
	frame := ansi.Strip(v.Frame())
	st := v.st.Targets[0]
	if st.Cycles != 40 {
		t.Fatalf("%d cycles, want the recording's 40", st.Cycles)
	}
	rows := st.All.Rows(st.Addr)
	want := []string{"198.18.0.2", "198.18.101.2", "198.18.102.2", "198.18.3.2", "198.18.4.2"}
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5:\n%s", len(rows), frame)
	}
	last := -1
	for i, a := range want {
		at := strings.Index(frame, fmt.Sprintf("%3d. %s", i+1, a))
		if at < 0 || at < last {
			t.Errorf("hop %d %s missing or out of order:\n%s", i+1, a, frame)
		}
		last = at
	}
	for _, s := range []string{"      198.18.1.2", "      198.18.2.2", "<MPLS:L=24001,E=0,S=0,T=1> <MPLS:L=16,E=5,S=1,T=1>",
		"[tos 0x00->0x20]", " 50.0%?", "cycles 40  elapsed 0:01:23  flow all 2", "(rate limited?)"} {
		if !strings.Contains(frame, s) {
			t.Errorf("frame lacks %q:\n%s", s, frame)
		}
	}
	if !rows[0].RateLimited || rows[3].RateLimited || rows[3].LossPct() < 15 {
		t.Errorf("hop 1 rate limited %v, hop 4 %v with %.1f%% loss; want hop 1 only, and hop 4 lossy", rows[0].RateLimited, rows[3].RateLimited, rows[3].LossPct())
	}
}

func TestKeys(t *testing.T) {
	v := recordedView(t, 80, 24)
	ctl := &fakeControl{}
	v.o.Control = ctl
	keys(v, "p")
	if !v.paused || ctl.pauses != 1 || !strings.Contains(v.Frame(), "[paused]") {
		t.Errorf("p: paused %v, pauses %d", v.paused, ctl.pauses)
	}
	keys(v, "p")
	if v.paused || ctl.resumes != 1 {
		t.Errorf("p again: paused %v, resumes %d", v.paused, ctl.resumes)
	}
	keys(v, "down", "down", "down", "down", "down", "down", "down")
	if v.sel != 4 {
		t.Errorf("down past the last hop: selected %d, want 4", v.sel)
	}
	keys(v, "up")
	if v.sel != 3 {
		t.Errorf("up: selected %d, want 3", v.sel)
	}
	keys(v, "f")
	if _, _, fl := v.flowStats(); fl != "0 (1 of 2)" {
		t.Errorf("f: flow %q, want 0 (1 of 2)", fl)
	}
	keys(v, "f", "f")
	if v.flow != AllFlows {
		t.Errorf("f past the last flow: %d, want all", v.flow)
	}
	keys(v, "r")
	if st := v.st.Targets[0]; st.Cycles != 0 || len(st.All.Rows(st.Addr)) != 0 || !strings.Contains(v.Frame(), "cycles 0") {
		t.Errorf("r: %d cycles left", st.Cycles)
	}
	if _, cmd := v.Update(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}); cmd == nil || !v.Quit() {
		t.Error("ctrl+c does not quit")
	}
	v2 := recordedView(t, 80, 24)
	if _, cmd := v2.Update(tea.KeyPressMsg{Code: 'q', Text: "q"}); cmd == nil || !v2.Quit() {
		t.Error("q does not quit")
	}
	v3 := recordedView(t, 80, 24)
	if _, cmd := v3.Update(DoneMsg{}); cmd == nil || v3.Quit() {
		t.Error("the prober's end does not end the view, or counts as the user quitting")
	}
}

type fakeControl struct{ pauses, resumes int }

func (c *fakeControl) Pause()  { c.pauses++ }
func (c *fakeControl) Resume() { c.resumes++ }

// Several targets: Tab goes round them and the header says which.
func TestTabSwitchesTargets(t *testing.T) {
	a, b := netip.MustParseAddr("198.18.4.2"), netip.MustParseAddr("fd00:0:0:4::2")
	st := NewStats([]netip.Addr{a, b}, 1)
	feedEvents(st, hopEv(1, 0, 1, te(netip.MustParseAddr("fd00::2"), ms, 0)))
	v := NewView(st, nil, Options{Targets: []Target{{Name: "a", Addr: a}, {Name: "b", Addr: b}}})
	keys(v, "tab")
	if f := v.Frame(); v.target != 1 || !strings.Contains(f, "rawnet mtr to b (fd00:0:0:4::2)") || !strings.Contains(f, "target 2 of 2") || !strings.Contains(f, "fd00::2") {
		t.Errorf("after Tab:\n%s", f)
	}
	keys(v, "tab")
	if v.target != 0 {
		t.Errorf("Tab from the last target: %d, want 0", v.target)
	}
}

// Colour only when asked; NO_COLOR leaves bold and reverse video, which
// are not colours.
func TestNoColor(t *testing.T) {
	v := recordedView(t, 120, 40)
	if f := v.Frame(); strings.Contains(f, "\x1b[31m") || strings.Contains(f, "\x1b[33m") || !strings.Contains(f, "\x1b[7m") {
		t.Errorf("colour off: the frame has colours, or no reverse video for the selection")
	}
	v.o.Color = true
	if f := v.Frame(); !strings.Contains(f, "\x1b[31m") || !strings.Contains(f, "\x1b[33m") {
		t.Errorf("colour on: no red loss or yellow annotations")
	}
}

// Any size, however small, gives a frame of exactly that size.
func TestResize(t *testing.T) {
	v := recordedView(t, 80, 24)
	for _, s := range [][2]int{{20, 5}, {33, 7}, {200, 60}, {80, 10}} {
		for _, mode := range []string{"", "d", "d", "enter", "esc", "?"} {
			keys(v, mode)
			v.Update(tea.WindowSizeMsg{Width: s[0], Height: s[1]})
			f := v.Frame()
			lines := strings.Split(f, "\n")
			if len(lines) != s[1] {
				t.Errorf("%dx%d: %d lines", s[0], s[1], len(lines))
			}
			for _, l := range lines {
				if ansi.StringWidth(l) > s[0] {
					t.Errorf("%dx%d: line wider than the screen: %q", s[0], s[1], ansi.Strip(l))
				}
			}
			keys(v, "?")
		}
	}
}

func TestSparkline(t *testing.T) {
	got := sparkline([]Sample{{RTT: 1 * ms}, {Lost: true}, {RTT: 8 * ms}, {RTT: 4500 * time.Microsecond}})
	if got != "▁x█▅" {
		t.Errorf("sparkline %q, want ▁x█▅", got)
	}
	if s := sparkline([]Sample{{RTT: ms}, {RTT: ms}}); s != "▁▁" {
		t.Errorf("flat sparkline %q", s)
	}
}

// The model and the view keep what a live run needs and no more: the heap
// after 6000 cycles (each one drawn) is what it was after 1000.
func TestMemoryFlat(t *testing.T) {
	hops := []netip.Addr{r1, r2a, r2b, dst}
	st := NewStats([]netip.Addr{dst}, 1)
	feed := NewFeed(1 << 16)
	v := NewView(st, feed, Options{Targets: []Target{{Name: "dst", Addr: dst}}, Probe: "udp"})
	v.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	var heap [2]uint64
	for c := range 6000 {
		for i, a := range hops {
			p := te(a, time.Duration(c%7+1)*ms, c%2)
			if c%3 == 0 && i == 3 {
				p = lostProbe(c % 2)
			}
			feed.Put(hopEv(0, c, i+1, p))
		}
		feed.Put(doneEv(0, c, 4, true, false))
		v.Update(feedMsg{})
		_ = v.View()
		if c == 999 || c == 5999 {
			var m runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m)
			heap[c/5999] = m.HeapAlloc
		}
	}
	if heap[1] > heap[0]+128<<10 {
		t.Errorf("heap %d KB after 1000 cycles, %d KB after 6000: it grows", heap[0]>>10, heap[1]>>10)
	}
}

// A path longer than the screen: the table and the chart each scroll to
// the selected hop.
func TestScrollToSelection(t *testing.T) {
	far := netip.MustParseAddr("198.19.0.1")
	st := NewStats([]netip.Addr{far}, 1)
	var evs []trace.Event
	for ttl := 1; ttl <= 30; ttl++ {
		evs = append(evs, hopEv(0, 0, ttl, te(netip.AddrFrom4([4]byte{198, 18, byte(ttl), 2}), ms, 0)))
	}
	feedEvents(st, evs...)
	v := NewView(st, nil, Options{Targets: []Target{{Name: "far", Addr: far}}, Probe: "udp"})
	v.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	for range 19 {
		keys(v, "down")
	}
	for _, mode := range []string{"table", "history", "both"} {
		f := ansi.Strip(v.Frame())
		var sel []string
		for _, l := range strings.Split(f, "\n") {
			if strings.HasPrefix(l, ">") {
				sel = append(sel, l)
			}
		}
		want := 1
		if mode == "both" {
			want = 2
		}
		if len(sel) != want || !strings.HasPrefix(sel[0], "> 20. 198.18.20.2") || strings.Count(f, "\n") != 23 {
			t.Errorf("%s: selected lines %q, want %d showing hop 20:\n%s", mode, sel, want, f)
		}
		keys(v, "d")
	}
}
