package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// Lab tests: rawnet lab up|down|list run as users run them, checked against
// what ip netns, iputils ping and /proc say about the machine. Every lab is
// named by its test and removed when the test ends, even when it fails.

// labStateDir is where rawnet keeps a lab's state (and its responder's pid).
const labStateDir = "/run/rawnet/lab"

// newLabName returns a lab name (11 of a-z0-9) that no other test, in this
// process or another, uses at the same time.
func newLabName(t *testing.T) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	return "cli" + hex.EncodeToString(b[:])
}

// removeLabAtEnd runs rawnet lab down name when the test ends, whatever
// happened to the lab in between, and checks that nothing is left of it.
// Whoever builds the lab stores its detached responder in the returned
// labProc, so that one that lab down failed to stop is found too.
func removeLabAtEnd(t *testing.T, name string) *labProc {
	t.Helper()
	resp := new(labProc)
	t.Cleanup(func() {
		if p, err := readResponder(name); err == nil {
			*resp = p
		}
		r := rawnet(t, "lab", "down", name)
		if r.code != 0 && !strings.Contains(r.stderr, "no such lab") {
			t.Errorf("cleanup: rawnet lab down %s: exit %d: %s", name, r.code, r.stderr)
		}
		assertLabGone(t, name)
		// The responder is this test's own process: stop it, so that a
		// failing test leaves nothing behind.
		if resp.pid > 1 && resp.running() {
			t.Errorf("cleanup: responder pid %d of lab %s still running after lab down; killing it", resp.pid, name)
			if p, err := os.FindProcess(resp.pid); err == nil {
				p.Kill() // SIGKILL; portable, so GOOS=windows go vet passes
			}
		}
	})
	return resp
}

// upLab runs rawnet lab up --name name args... and fails the test unless
// it succeeds; the lab is removed when the test ends.
func upLab(t *testing.T, name string, args ...string) result {
	t.Helper()
	labtest.RequireRoot(t)
	resp := removeLabAtEnd(t, name)
	r := rawnet(t, append([]string{"lab", "up", "--name", name}, args...)...)
	if p, err := readResponder(name); err == nil {
		*resp = p
	}
	if r.code != 0 {
		t.Fatalf("rawnet lab up --name %s %s: exit %d:\n%s%s", name, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// netnsOf returns the namespaces of lab name as ip netns list shows them.
func netnsOf(t *testing.T, name string) []string {
	t.Helper()
	r := rawnetCmd(t, exec.Command("ip", "netns", "list"))
	if r.code != 0 {
		t.Fatalf("ip netns list: exit %d: %s", r.code, r.stderr)
	}
	var nss []string
	for line := range strings.Lines(r.stdout) {
		// A line is "NAME" or "NAME (id: N)".
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "rn-"+name+"-") {
			nss = append(nss, f[0])
		}
	}
	slices.Sort(nss)
	return nss
}

// labNamespaces returns the namespaces lab name must have for nodes.
func labNamespaces(name string, nodes ...string) []string {
	var nss []string
	for _, n := range nodes {
		nss = append(nss, "rn-"+name+"-"+n)
	}
	slices.Sort(nss)
	return nss
}

// listedLabs returns what rawnet lab list prints, one name per entry.
func listedLabs(t *testing.T) []string {
	t.Helper()
	r := rawnet(t, "lab", "list")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("rawnet lab list: exit %d: %s", r.code, r.stderr)
	}
	return strings.Fields(r.stdout)
}

// assertLabGone checks that lab name left no namespace and no state
// behind, and reports whether it did not.
func assertLabGone(t *testing.T, name string) bool {
	t.Helper()
	gone := true
	if nss := netnsOf(t, name); len(nss) > 0 {
		t.Errorf("lab %s: namespaces left behind: %v", name, nss)
		gone = false
	}
	if _, err := os.Stat(filepath.Join(labStateDir, name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lab %s: state left behind in %s (%v)", name, labStateDir, err)
		gone = false
	}
	return gone
}

// pingFrom runs iputils ping in namespace ns: the independent observer of
// what a lab does. A ping without replies is not an error here.
func pingFrom(t *testing.T, ns string, args ...string) result {
	t.Helper()
	return rawnetCmd(t, (&lab.Node{NS: ns}).Command(context.Background(), "ping", args...))
}

var pingStatsRE = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// pingReceived returns how many replies an iputils ping got of how many.
func pingReceived(out string) (sent, got int) {
	m := pingStatsRE.FindStringSubmatch(out)
	if m == nil {
		return -1, -1
	}
	sent, _ = strconv.Atoi(m[1])
	got, _ = strconv.Atoi(m[2])
	return sent, got
}

var pingRTTRE = regexp.MustCompile(`rtt min/avg/max/mdev = ([0-9.]+)/`)

// pingMinRTT returns the minimum RTT (ms) of an iputils ping, or -1.
func pingMinRTT(out string) float64 {
	m := pingRTTRE.FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

// A labProc is a process as /proc shows it.
type labProc struct {
	pid   int
	start uint64 // clock ticks since boot: tells a pid's owners apart
}

// responderOf reads the pid file of lab name's detached responder.
func responderOf(t *testing.T, name string) labProc {
	t.Helper()
	p, err := readResponder(name)
	if err != nil {
		t.Fatalf("lab %s: %v", name, err)
	}
	return p
}

// readResponder reads the pid file that lab up writes for the detached
// responder: "PID STARTTIME".
func readResponder(name string) (labProc, error) {
	file := filepath.Join(labStateDir, name, "responder.pid")
	b, err := os.ReadFile(file)
	if err != nil {
		return labProc{}, err
	}
	var p labProc
	if _, err := fmt.Sscan(string(b), &p.pid, &p.start); err != nil || p.pid <= 1 {
		return labProc{}, fmt.Errorf("%s holds %q: want \"PID STARTTIME\"", file, b)
	}
	return p, nil
}

// running tells whether p still runs: its pid exists, is not a zombie (an
// exited responder, reparented to a pid 1 that may not reap it) and still
// belongs to the same process.
func (p labProc) running() bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return false
	}
	// The command name (field 2) may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(b[i+1:])) // from field 3, the state
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return false
	}
	start, err := strconv.ParseUint(f[19], 10, 64) // field 22
	return err == nil && start == p.start
}

// cmdline returns p's command line, arguments joined by spaces.
func (p labProc) cmdline() string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// topologyRow is one interface line of the table lab up prints.
type topologyRow struct{ node, ns, iface, peer, addr4, addr6 string }

// parseTopology reads the NODE/NAMESPACE/INTERFACE/IPv4/IPv6 table that lab
// up prints; rows that continue a node (more interfaces) get its name.
func parseTopology(t *testing.T, out string) []topologyRow {
	t.Helper()
	var rows []topologyRow
	in := false
	var node, ns string
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "NODE":
			in = true
			continue
		case !in:
			continue
		case len(f) == 0:
			return rows
		case len(f) == 7 && f[3] == "->":
			node, ns, f = f[0], f[1], f[2:]
		case len(f) == 5 && f[1] == "->" && node != "":
		default:
			t.Fatalf("topology line %q: want NODE NAMESPACE IFACE -> PEER IPv4 IPv6", line)
		}
		rows = append(rows, topologyRow{node, ns, f[0], f[2], f[3], f[4]})
	}
	t.Fatalf("no topology table in lab up output:\n%s", out)
	return nil
}

// TestLabUpPingDown builds a lab with the CLI, checks what it printed and
// what it built against ip, iputils ping and /proc, and removes it again.
func TestLabUpPingDown(t *testing.T) {
	t.Parallel()
	name := newLabName(t)
	up := upLab(t, name, "--routers", "2", "--delay", "20ms", "--loss", "1:0")
	nodes := []string{"src", "r1", "r2", "dst", "slow"}
	want := labNamespaces(name, nodes...)

	// What lab up printed.
	for _, s := range []string{
		"lab " + name + " is up: src, 2 router(s), dst, slow (answers after 20ms)\n",
		"hops from src:   198.18.0.2 198.18.1.2 198.18.2.2\n",
		"loss:            0% toward dst on link 1 (r1 -> r2)\n",
		"ip netns exec rn-" + name + "-src ping -c 3 198.18.100.2\n",
		"rawnet lab down " + name + "\n",
	} {
		if !strings.Contains(up.stdout, s) {
			t.Errorf("lab up output lacks %q:\n%s", s, up.stdout)
		}
	}
	if up.stderr != "" {
		t.Errorf("lab up wrote to stderr: %s", up.stderr)
	}
	// The table is true: each interface exists in its namespace with the
	// addresses printed for it.
	rows := parseTopology(t, up.stdout)
	var printed []string
	for _, row := range rows {
		if row.ns != "rn-"+name+"-"+row.node {
			t.Errorf("node %s printed in namespace %s", row.node, row.ns)
		}
		if !slices.Contains(printed, row.ns) {
			printed = append(printed, row.ns)
		}
		p4, err4 := netip.ParsePrefix(row.addr4)
		p6, err6 := netip.ParsePrefix(row.addr6)
		if err4 != nil || err6 != nil || !p4.Addr().Is4() || !p6.Addr().Is6() || !lab.LabNet4.Contains(p4.Addr()) || !lab.LabNet6.Contains(p6.Addr()) {
			t.Errorf("%s %s: printed IPv4 %q and IPv6 %q: want lab prefixes of each family", row.ns, row.iface, row.addr4, row.addr6)
		}
		r := rawnetCmd(t, exec.Command("ip", "-n", row.ns, "-br", "addr", "show", "dev", row.iface))
		for _, a := range []string{row.addr4, row.addr6} {
			if r.code != 0 || !slices.Contains(strings.Fields(r.stdout), a) {
				t.Errorf("%s %s: printed %s, ip addr shows: %s%s", row.ns, row.iface, a, r.stdout, r.stderr)
			}
		}
	}
	slices.Sort(printed)
	if !slices.Equal(printed, want) {
		t.Errorf("lab up printed namespaces %v, want %v", printed, want)
	}

	// What the machine holds.
	if !slices.Contains(listedLabs(t), name) {
		t.Errorf("rawnet lab list lacks %s", name)
	}
	if got := netnsOf(t, name); !slices.Equal(got, want) {
		t.Fatalf("ip netns list shows %v, want %v", got, want)
	}

	// Traffic through the lab, as iputils sees it.
	src := "rn-" + name + "-src"
	for _, dst := range []string{"198.18.2.2", "fd00:0:0:2::2", "198.19.0.1"} {
		r := pingFrom(t, src, "-c", "1", "-W", "1", dst)
		if _, got := pingReceived(r.stdout); r.code != 0 || got != 1 || !strings.Contains(r.stdout, "bytes from "+dst+":") {
			t.Errorf("ping %s from src: exit %d, want a reply:\n%s%s", dst, r.code, r.stdout, r.stderr)
		}
	}
	// Never below the delay, and the delay applied once: a reply held
	// twice, or a responder behind on its queue, shows as 40 ms and more
	// on every probe; a loaded machine only on some, so the best of up
	// to 3 rounds of 5 must be below 40 ms.
	best := math.Inf(1)
	for round := 0; round < 3 && best >= 40; round++ {
		r := pingFrom(t, src, "-c", "5", "-i", "0.05", "-W", "2", "198.18.100.2")
		if _, got := pingReceived(r.stdout); r.code != 0 || got != 5 {
			t.Fatalf("ping of the delayed host 198.18.100.2: exit %d, want 5 replies:\n%s%s", r.code, r.stdout, r.stderr)
		}
		rtt := pingMinRTT(r.stdout)
		if rtt < 20 {
			t.Fatalf("delayed host 198.18.100.2: min rtt %.3f ms, before the 20 ms delay:\n%s", rtt, r.stdout)
		}
		best = min(best, rtt)
	}
	if best >= 40 {
		t.Errorf("delayed host 198.18.100.2: best rtt of 3 rounds %.3f ms, want below 40 ms for --delay 20ms", best)
	}

	// The detached responder runs, in the slow namespace.
	resp := responderOf(t, name)
	if !resp.running() {
		t.Errorf("responder pid %d (from its pid file) is not running", resp.pid)
	}
	if cl := resp.cmdline(); !strings.Contains(cl, "lab responder") || !strings.Contains(cl, "rn-"+name+"-slow") {
		t.Errorf("responder pid %d runs %q, want rawnet lab responder in rn-%s-slow", resp.pid, cl, name)
	}

	// Down removes everything and stops the responder before it returns.
	down := rawnet(t, "lab", "down", name)
	if down.code != 0 || down.stdout != "removed lab "+name+"\n" || down.stderr != "" {
		t.Fatalf("rawnet lab down %s: exit %d: %q %q", name, down.code, down.stdout, down.stderr)
	}
	assertLabGone(t, name)
	if resp.running() {
		t.Errorf("responder pid %d still running after lab down", resp.pid)
	}
	if slices.Contains(listedLabs(t), name) {
		t.Errorf("rawnet lab list still shows %s after lab down", name)
	}

	// A second down has nothing to remove, and says so.
	again := rawnet(t, "lab", "down", name)
	line := strings.TrimSpace(again.stderr)
	if again.code == 0 || strings.Contains(line, "\n") || !strings.Contains(line, "no such lab: "+name) || again.stdout != "" {
		t.Errorf("second lab down %s: exit %d, stdout %q, stderr %q: want non-zero and one line saying there is no such lab",
			name, again.code, again.stdout, again.stderr)
	}
}

// TestLabBadInputExitsTwoWithOneLine: bad flags and names are refused
// before anything is built, in one line that names what is wrong.
func TestLabBadInputExitsTwoWithOneLine(t *testing.T) {
	t.Parallel()
	labtest.RequireRoot(t)
	name := newLabName(t) // used by every case of lab up: none may create it
	removeLabAtEnd(t, name)
	up := func(args ...string) []string {
		return append([]string{"lab", "up", "--name", name}, args...)
	}
	for _, tc := range []struct {
		args []string
		want []string // what the error must name
		lab  string   // the lab that must not exist afterwards
	}{
		{up("--routers", "-1"), []string{"--routers", "-1"}, name},
		{up("--routers", "51"), []string{"--routers", "51"}, name},
		{up("--routers", "x"), []string{"routers", "x"}, name},
		{up("--routers", "2", "--loss", "9:10"), []string{"--loss", "9"}, name},
		{up("--loss", "1:101"), []string{"--loss", "101"}, name},
		{up("--loss", "-1:5"), []string{"--loss", "-1"}, name},
		{up("--loss", "x"), []string{"--loss", `"x"`}, name},
		{up("--silent", "0"), []string{"--silent", "got 0"}, name},
		{up("--routers", "2", "--silent", "3"), []string{"--silent", "got 3"}, name},
		{up("--delay", "-1s"), []string{"--delay", "-1s"}, name},
		{up("--vantages", "9"), []string{"--vantages", "got 9"}, name},
		{up("--routers", "0", "--vantages", "1"), []string{"--vantages", "--routers >= 1"}, name},
		{up("--diamond", "--routers", "2"), []string{"--diamond", "--routers >= 3", "got 2"}, name},
		{up("--prefix4", "10.0.0.0/8"), []string{"10.0.0.0/8"}, name},
		{up("--prefix4", "fd00::/64"), []string{"--prefix4", "fd00::/64"}, name},
		{up("--prefix6", "2001:db8::/64"), []string{"2001:db8::/64"}, name},
		{up("--unreachable", "10.1.0.0/16"), []string{"10.1.0.0/16"}, name},
		{up("--blackhole", "198.18.9.9"), []string{"198.18.9.9"}, name},
		{up("extra"), []string{"extra"}, name},
		{up("--bogus"), []string{"bogus"}, name},
		{[]string{"lab", "up", "--name", "Bad_Name"}, []string{"--name", `"Bad_Name"`}, "Bad_Name"},
		{[]string{"lab", "up", "--name", "abcdefghijklm"}, []string{"--name", "abcdefghijklm"}, "abcdefghijklm"},
		{[]string{"lab", "up", "--name", ""}, []string{"--name", `""`}, ""},
		{[]string{"lab", "down"}, []string{"lab down", "name"}, ""},
		{[]string{"lab", "down", "Bad_Name"}, []string{`"Bad_Name"`}, "Bad_Name"},
	} {
		r := rawnet(t, tc.args...)
		line := strings.TrimSpace(r.stderr)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (stdout %q, stderr %q)", tc.args, r.code, r.stdout, r.stderr)
		}
		if line == "" || strings.Contains(line, "\n") {
			t.Errorf("%v: stderr %q: want one line", tc.args, r.stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(line, w) {
				t.Errorf("%v: stderr %q does not name %q", tc.args, line, w)
			}
		}
		if strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "panic") || r.stdout != "" {
			t.Errorf("%v: stdout %q, stderr %q: want no output but the error", tc.args, r.stdout, r.stderr)
		}
		if tc.lab != "" && !assertLabGone(t, tc.lab) && lab.ValidName(tc.lab) {
			rawnet(t, "lab", "down", tc.lab) // so that the next case starts clean
		}
	}
}

// TestLabNameCollision: a second lab up under a name in use fails and
// leaves the first lab, its namespaces and its responder as they were.
func TestLabNameCollision(t *testing.T) {
	t.Parallel()
	name := newLabName(t)
	upLab(t, name, "--routers", "1", "--delay", "20ms")
	want := labNamespaces(name, "src", "r1", "dst", "slow")
	resp := responderOf(t, name)

	for _, args := range [][]string{
		{"--routers", "1", "--delay", "20ms"},
		{"--routers", "3"}, // a different lab under the same name
	} {
		r := rawnet(t, append([]string{"lab", "up", "--name", name}, args...)...)
		line := strings.TrimSpace(r.stderr)
		if r.code == 0 || strings.Contains(line, "\n") || !strings.Contains(line, "exists: "+name) ||
			!strings.Contains(line, "rawnet lab down "+name) || r.stdout != "" {
			t.Errorf("second lab up --name %s %v: exit %d, stdout %q, stderr %q: want non-zero and one line saying the lab exists",
				name, args, r.code, r.stdout, r.stderr)
		}
		if got := netnsOf(t, name); !slices.Equal(got, want) {
			t.Errorf("after the second lab up %v: ip netns list shows %v, want the first lab's %v", args, got, want)
		}
	}

	// The first lab still works, responder included.
	if !slices.Contains(listedLabs(t), name) {
		t.Errorf("rawnet lab list lacks %s", name)
	}
	if now := responderOf(t, name); now != resp || !resp.running() {
		t.Errorf("responder was pid %d (start %d), now pid file says %d (start %d), running %v",
			resp.pid, resp.start, now.pid, now.start, resp.running())
	}
	src := "rn-" + name + "-src"
	for _, dst := range []string{"198.18.1.2", "fd00:0:0:1::2", "198.18.100.2"} {
		r := pingFrom(t, src, "-c", "1", "-W", "1", dst)
		if _, got := pingReceived(r.stdout); r.code != 0 || got != 1 {
			t.Errorf("first lab after the collision: ping %s: exit %d, want a reply:\n%s%s", dst, r.code, r.stdout, r.stderr)
		}
	}
}
