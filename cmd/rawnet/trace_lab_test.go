package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// Lab tests of rawnet trace: the hop lists the lab's topology must give.

// traceRun is a trace's JSON output, parsed.
type traceRun struct {
	res     result
	hops    map[int][]map[string]any // probes by TTL
	ttls    []int                    // in the order reported
	summary map[string]any
	reports map[int]map[string]any // report mode, by TTL
}

func traceJSON(t *testing.T, n *lab.Node, args ...string) traceRun {
	t.Helper()
	r := inNS(t, n, append([]string{"trace", "-n", "--json"}, args...)...)
	tr := traceRun{res: r, hops: map[int][]map[string]any{}, reports: map[int]map[string]any{}}
	for _, e := range jsonEvents(t, r.stdout) {
		switch e["type"] {
		case "hop":
			ttl := int(num(t, e, "ttl"))
			tr.ttls = append(tr.ttls, ttl)
			for _, p := range e["probes"].([]any) {
				tr.hops[ttl] = append(tr.hops[ttl], p.(map[string]any))
			}
		case "report":
			tr.reports[int(num(t, e, "ttl"))] = e
		case "summary":
			tr.summary = e
		}
	}
	if tr.summary == nil {
		t.Fatalf("trace %v: no summary (exit %d):\n%s\n%s", args, r.code, r.stdout, r.stderr)
	}
	return tr
}

// addrsAt lists the distinct addresses that answered at ttl, and how many
// probes timed out.
func (tr traceRun) addrsAt(ttl int) (addrs []string, timeouts int) {
	for _, p := range tr.hops[ttl] {
		if p["timeout"] == true {
			timeouts++
			continue
		}
		if a := p["addr"].(string); !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	return addrs, timeouts
}

// checkPath asserts that TTL i+1 was answered by want[i] alone, on every
// probe, and that nothing was reported beyond.
func (tr traceRun) checkPath(t *testing.T, what string, want []netip.Addr, probes int) {
	t.Helper()
	if len(tr.ttls) != len(want) {
		t.Fatalf("%s: hops %v, want %d:\n%s", what, tr.ttls, len(want), tr.res.stdout)
	}
	for i, a := range want {
		addrs, lost := tr.addrsAt(i + 1)
		if tr.ttls[i] != i+1 || len(addrs) != 1 || addrs[0] != a.String() || lost != 0 || len(tr.hops[i+1]) != probes {
			t.Errorf("%s: TTL %d: %v answered (%d of %d lost), want %s on all %d probes", what, i+1, addrs, lost, len(tr.hops[i+1]), a, probes)
		}
	}
}

func TestTraceChainEveryMethodAndFamily(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 5})
	// A listener on dst's port 8080 answers SYN-ACK; port 80 is closed (RST).
	var ln net.Listener
	if err := l.Dst.Do(func() (err error) { ln, err = net.Listen("tcp", ":8080"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lastKind := map[string]string{"udp": "unreachable", "icmp": "echo-reply", "tcp": "rst"}
	for _, fam := range []struct {
		dst  netip.Addr
		hops []netip.Addr
	}{{l.Dst.Addr4, l.HopAddrs4()}, {l.Dst.Addr6, l.HopAddrs6()}} {
		for _, m := range []string{"udp", "icmp", "tcp"} {
			what := m + " " + fam.dst.String()
			tr := traceJSON(t, l.Src, "-P", m, fam.dst.String())
			if tr.res.code != 0 || tr.summary["reached"] != true || num(t, tr.summary, "hops") != 6 {
				t.Fatalf("%s: exit %d, summary %v", what, tr.res.code, tr.summary)
			}
			tr.checkPath(t, what, fam.hops, 3)
			for _, p := range tr.hops[6] {
				if p["kind"] != lastKind[m] || p["reached"] != true {
					t.Errorf("%s: destination answered %v, want %s", what, p, lastKind[m])
				}
			}
			for _, p := range tr.hops[3] {
				if p["kind"] != "time-exceeded" || num(t, p, "quoted_ttl") != 1 {
					t.Errorf("%s: TTL 3 answered %v, want time-exceeded quoting TTL 1", what, p)
				}
			}
		}
		tr := traceJSON(t, l.Src, "-P", "tcp", "-p", "8080", "-q", "1", fam.dst.String())
		if p := tr.hops[6]; tr.res.code != 0 || len(p) != 1 || p[0]["kind"] != "syn-ack" {
			t.Errorf("tcp to an open port of %s: exit %d, last hop %v, want syn-ack", fam.dst, tr.res.code, p)
		}
	}
}

func TestTraceTextOutputWithSilentRouter(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 4, Silent: []int{2}})
	r := inNS(t, l.Src, "trace", "-n", l.Dst.Addr4.String())
	if r.code != 0 {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "trace to 198.18.4.2 (198.18.4.2), 30 hops max, 60 byte packets, udp to port 33434, paris") {
		t.Fatalf("output:\n%s", r.stdout)
	}
	for i, a := range l.HopAddrs4() {
		f := strings.Fields(lines[i+1])
		want := []string{fmt.Sprint(i + 1), a.String(), "*", "ms", "*", "ms", "*", "ms"}
		if i == 1 {
			want = []string{"2", "*", "*", "*"}
		}
		if len(f) != len(want) {
			t.Errorf("line %q, want the shape %v", lines[i+1], want)
			continue
		}
		for k := range want {
			if want[k] != "*" && f[k] != want[k] {
				t.Errorf("line %q, want the shape %v", lines[i+1], want)
				break
			}
		}
	}
	// IPv6, ICMP: the same gap.
	tr := traceJSON(t, l.Src, "-P", "icmp", l.Dst.Addr6.String())
	for ttl, a := range l.HopAddrs6() {
		addrs, lost := tr.addrsAt(ttl + 1)
		if ttl+1 == 2 && (len(addrs) != 0 || lost != 3) || ttl+1 != 2 && (len(addrs) != 1 || addrs[0] != a.String()) {
			t.Errorf("IPv6 TTL %d: %v answered, %d lost", ttl+1, addrs, lost)
		}
	}
}

func TestTraceDiamondParisAndMultipath(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 4, Diamond: true})
	hops4 := l.Hops4()
	// Default Paris probing: one flow, one path, every probe at every TTL.
	for _, m := range []string{"udp", "tcp"} {
		tr := traceJSON(t, l.Src, "-P", m, l.Dst.Addr4.String())
		for ttl := 1; ttl <= 5; ttl++ {
			if addrs, lost := tr.addrsAt(ttl); len(addrs) != 1 || lost != 0 {
				t.Errorf("%s paris: TTL %d answered by %v (%d lost), want one address", m, ttl, addrs, lost)
			}
		}
		checkBranch(t, m+" paris", tr, 0, hops4)
	}
	// Sixteen flows: each keeps its own path; both branches are used.
	tr := traceJSON(t, l.Src, "--flows", "16", "-q", "2", l.Dst.Addr4.String())
	seen := map[string]bool{}
	for f := 0; f < 16; f++ {
		checkBranch(t, fmt.Sprintf("flow %d", f), tr, f, hops4)
		for _, p := range tr.hops[2] {
			if int(num(t, p, "flow")) == f {
				seen[p["addr"].(string)] = true
			}
		}
	}
	if len(seen) != 2 {
		t.Errorf("16 flows crossed %v at TTL 2, want both branches %v", seen, hops4[1])
	}
	// Multipath discovery: both branches at TTL 2 and 3, and the links.
	for _, fam := range []struct {
		dst  netip.Addr
		hops [][]netip.Addr
		v6   bool
	}{{l.Dst.Addr4, hops4, false}, {l.Dst.Addr6, l.Hops6(), true}} {
		// At the default 95% confidence the stopping rule misses the
		// second branch of a two-way split one time in 32 (six flows all
		// hashed one way); the test asks for 99.999%.
		tr := traceJSON(t, l.Src, "--multipath", "--confidence", "0.99999", fam.dst.String())
		if tr.res.code != 0 || num(t, tr.summary, "hops") != 5 {
			t.Fatalf("multipath %s: exit %d, summary %v", fam.dst, tr.res.code, tr.summary)
		}
		for ttl := 1; ttl <= 5; ttl++ {
			addrs, _ := tr.addrsAt(ttl)
			want := addrStrings(fam.hops[ttl-1])
			if fam.v6 && ttl == 3 {
				// ICMPv6 errors leave r3 from either interface (see Hops6).
				if len(addrs) == 0 || !subset(addrs, want) {
					t.Errorf("multipath %s TTL 3: %v, want some of %v", fam.dst, addrs, want)
				}
				continue
			}
			if !sameSet(addrs, want) {
				t.Errorf("multipath %s TTL %d: %v, want %v", fam.dst, ttl, addrs, want)
			}
		}
		if probes := len(tr.hops[2]); probes < 11 {
			t.Errorf("multipath %s: %d flows at TTL 2; 95%% confidence with two interfaces takes 11", fam.dst, probes)
		}
		links := map[string]bool{}
		for _, lk := range tr.summary["links"].([]any) {
			m := lk.(map[string]any)
			links[fmt.Sprintf("%v %v>%v", m["ttl"], m["from"], m["to"])] = true
		}
		for _, b := range fam.hops[1] {
			if !links[fmt.Sprintf("1 %s>%s", fam.hops[0][0], b)] {
				t.Errorf("multipath %s: no link %s -> %s in %v", fam.dst, fam.hops[0][0], b, links)
			}
		}
		if !fam.v6 {
			for i, b := range fam.hops[1] {
				if !links[fmt.Sprintf("2 %s>%s", b, fam.hops[2][i])] {
					t.Errorf("multipath %s: no link %s -> %s in %v", fam.dst, b, fam.hops[2][i], links)
				}
			}
		}
	}
}

// checkBranch asserts that flow f stayed on one branch of the diamond: one
// address at TTL 2, and at TTL 3 the interface of r3 on that branch.
func checkBranch(t *testing.T, what string, tr traceRun, f int, hops [][]netip.Addr) {
	t.Helper()
	at := func(ttl int) []string {
		var as []string
		for _, p := range tr.hops[ttl] {
			if int(num(t, p, "flow")) == f && p["timeout"] != true && !slices.Contains(as, p["addr"].(string)) {
				as = append(as, p["addr"].(string))
			}
		}
		return as
	}
	two, three := at(2), at(3)
	if len(two) != 1 || len(three) != 1 {
		t.Errorf("%s: TTL 2 %v, TTL 3 %v: want one address each", what, two, three)
		return
	}
	branch := slices.Index(addrStrings(hops[1]), two[0])
	if branch < 0 || three[0] != hops[2][branch].String() {
		t.Errorf("%s: TTL 2 %s then TTL 3 %s: not one branch of %v / %v", what, two[0], three[0], hops[1], hops[2])
	}
}

func addrStrings(as []netip.Addr) []string {
	var ss []string
	for _, a := range as {
		ss = append(ss, a.String())
	}
	return ss
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool { return len(a) == len(b) && subset(a, b) && subset(b, a) }

func TestTraceUnreachableAndShortMaxTTL(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 3,
		Unreachable4: []netip.Prefix{netip.MustParsePrefix("198.18.200.0/24")},
		Unreachable6: []netip.Prefix{netip.MustParsePrefix("fd00:200::/64")}})
	for _, tc := range []struct{ dst, mark string }{{"198.18.200.1", "!H"}, {"fd00:200::1", "!N"}} {
		tr := traceJSON(t, l.Src, "-W", "1", tc.dst)
		if tr.res.code != 1 || tr.summary["reached"] != false || num(t, tr.summary, "hops") != 3 || len(tr.ttls) != 3 {
			t.Fatalf("%s: exit %d, hops %v, summary %v", tc.dst, tr.res.code, tr.ttls, tr.summary)
		}
		// The last router rejects it. Linux limits the route errors it
		// sends (net.ipv4.route.error_cost, not per namespace), so only the
		// first probe is sure to be answered.
		r3 := l.Routers[2].Addr4.String()
		if tc.mark == "!N" {
			r3 = l.Routers[2].Addr6.String()
		}
		p := tr.hops[3][0]
		if p["addr"] != r3 || p["annotation"] != tc.mark || p["kind"] != "unreachable" {
			t.Errorf("%s: TTL 3 answered %v, want %s from %s", tc.dst, p, tc.mark, r3)
		}
	}
	tr := traceJSON(t, l.Src, "-m", "2", l.Dst.Addr4.String())
	if tr.res.code != 1 || tr.summary["reached"] != false || len(tr.ttls) != 2 {
		t.Fatalf("-m 2: exit %d, hops %v, summary %v", tr.res.code, tr.ttls, tr.summary)
	}
	tr.checkPath(t, "-m 2", l.HopAddrs4()[:2], 3)
}

func TestTraceSeesTOSRewrite(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 4})
	// r2 marks every forwarded packet CS1 (TOS 0x20), as a middlebox might.
	nftScript(t, l.Node("r2"), `table inet tosmark {
	chain rewrite {
		type filter hook forward priority 0;
		meta nfproto ipv4 ip dscp set cs1
		meta nfproto ipv6 ip6 dscp set cs1
	}
}`)
	for _, dst := range []netip.Addr{l.Dst.Addr4, l.Dst.Addr6} {
		tr := traceJSON(t, l.Src, "-q", "1", dst.String())
		for ttl := 1; ttl <= 5; ttl++ {
			p := tr.hops[ttl][0]
			ch, _ := p["changed"].(map[string]any)
			switch {
			case ttl <= 2 && ch != nil:
				t.Errorf("%s TTL %d: change %v before the rewriting router", dst, ttl, ch)
			case ttl > 2 && (ch == nil || fmt.Sprint(ch["tos"]) != "[0 32]"):
				t.Errorf("%s TTL %d: changed %v, want tos [0 32]", dst, ttl, ch)
			}
		}
	}
	r := inNS(t, l.Src, "trace", "-n", "-q", "1", l.Dst.Addr4.String())
	if !strings.Contains(r.stdout, "198.18.2.2 [tos 0x00->0x20]") || strings.Contains(r.stdout, "198.18.1.2 [") {
		t.Errorf("text output does not mark the rewrite at TTL 3 only:\n%s", r.stdout)
	}
}

func TestTraceReportTellsRateLimitFromLoss(t *testing.T) {
	t.Parallel()
	// r2 sends only half its Time Exceeded errors; link 3 (r3 -> r4)
	// really drops 30% of the packets toward dst.
	limited := labtest.Up(t, lab.Spec{Routers: 4})
	nftScript(t, limited.Node("r2"), `table ip ratelimit {
	chain out {
		type filter hook output priority 0;
		icmp type time-exceeded numgen random mod 2 == 0 drop
	}
}`)
	lossy := labtest.Up(t, lab.Spec{Routers: 4, Loss: []lab.Loss{{Link: 3, Percent: 30}}})
	const cycles = 60
	for _, tc := range []struct {
		l       *lab.Lab
		limited int // the hop to label, 0 for none
	}{{limited, 2}, {lossy, 0}} {
		tr := traceJSON(t, tc.l.Src, "--report", "-c", fmt.Sprint(cycles), "-i", "0.02", "-W", "0.5", tc.l.Dst.Addr4.String())
		if len(tr.reports) != 5 || num(t, tr.summary, "cycles") != cycles {
			t.Fatalf("report: %d hops, summary %v:\n%s", len(tr.reports), tr.summary, tr.res.stdout)
		}
		for ttl := 1; ttl <= 5; ttl++ {
			h := tr.reports[ttl]
			if num(t, h, "sent") != cycles {
				t.Errorf("hop %d: sent %v, want %d", ttl, h["sent"], cycles)
			}
			if (ttl == tc.limited) != (h["rate_limited"] == true) {
				t.Errorf("hop %d: rate_limited %v (loss %v%%), want it only at hop %d", ttl, h["rate_limited"], h["loss_pct"], tc.limited)
			}
		}
		if tc.limited == 0 {
			// 30% loss on every hop past link 3, none before: 60 probes,
			// within 5 sigma.
			for ttl := 1; ttl <= 5; ttl++ {
				loss := num(t, tr.reports[ttl], "loss_pct")
				if ttl <= 3 && loss != 0 || ttl > 3 && (loss < 30-5*5.9 || loss > 30+5*5.9) {
					t.Errorf("hop %d: loss %.1f%%, want %s", ttl, loss, map[bool]string{true: "0%", false: "about 30%"}[ttl <= 3])
				}
			}
		}
	}
}

// nftScript loads an nftables ruleset into node n.
func nftScript(t *testing.T, n *lab.Node, script string) {
	t.Helper()
	cmd := n.Command(context.Background(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in %s: %v: %s", n.Name, err, out)
	}
}

func TestTraceWritePcap(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 2})
	dir := t.TempDir()
	for _, tc := range []struct{ dst, file, probe, te string }{
		{l.Dst.Addr4.String(), dir + "/t.pcap", "udp.dstport == 33434 && !icmp", "icmp.type == 11"},
		{l.Dst.Addr6.String(), dir + "/t6.pcapng", "udp.dstport == 33434 && !icmpv6", "icmpv6.type == 3"},
	} {
		tr := traceJSON(t, l.Src, "--write", tc.file, tc.dst)
		if tr.res.code != 0 {
			t.Fatalf("%s: exit %d", tc.dst, tr.res.code)
		}
		if n := tsharkCount(t, tc.file, tc.probe); n != int(num(t, tr.summary, "sent")) {
			t.Errorf("%s: %d probes in the pcap, the summary says %v sent", tc.file, n, tr.summary["sent"])
		}
		if n := tsharkCount(t, tc.file, tc.te); n != 6 {
			t.Errorf("%s: %d Time Exceeded, want 6 (3 from each router)", tc.file, n)
		}
		if bad := tsharkBadChecksums(t, tc.file); len(bad) != 0 {
			t.Errorf("%s: frames %v have bad checksums", tc.file, bad)
		}
	}
}

func TestTraceSeveralTargetsAtOnce(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 2, LocalPrefix4: netip.MustParsePrefix("198.19.0.0/30")})
	r := inNS(t, l.Src, "trace", "-n", "--json", "-q", "1", l.Dst.Addr4.String(), l.Dst.Addr6.String(), "198.19.0.1", l.Routers[1].Addr4.String())
	if r.code != 0 {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	want := map[string][]string{
		l.Dst.Addr4.String():        addrStrings(l.HopAddrs4()),
		l.Dst.Addr6.String():        addrStrings(l.HopAddrs6()),
		"198.19.0.1":                append(addrStrings(l.HopAddrs4()[:2]), "198.19.0.1"),
		l.Routers[1].Addr4.String(): addrStrings(l.HopAddrs4()[:2]),
	}
	got := map[string][]string{}
	for _, e := range jsonEvents(t, r.stdout) {
		tgt := e["target"].(string)
		switch e["type"] {
		case "hop":
			p := e["probes"].([]any)[0].(map[string]any)
			got[tgt] = append(got[tgt], fmt.Sprint(p["addr"]))
		case "summary":
			if e["reached"] != true {
				t.Errorf("%s: not reached: %v", tgt, e)
			}
		}
	}
	for tgt, w := range want {
		if !slices.Equal(got[tgt], w) {
			t.Errorf("%s: hops %v, want %v", tgt, got[tgt], w)
		}
	}
}

func TestTraceSilentPathAndInterrupt(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 2, Blackhole: []netip.Addr{netip.MustParseAddr("198.18.2.2")}})
	// A blackholed target: two routers answer, then silence to -m.
	tr := traceJSON(t, l.Src, "-m", "8", "-W", "0.3", "198.18.2.2")
	if tr.res.code != 1 || tr.summary["reached"] != false || len(tr.ttls) != 8 {
		t.Fatalf("exit %d, hops %v, summary %v", tr.res.code, tr.ttls, tr.summary)
	}
	for ttl := 3; ttl <= 8; ttl++ {
		if addrs, lost := tr.addrsAt(ttl); len(addrs) != 0 || lost != 3 {
			t.Errorf("TTL %d: %v answered, %d lost; want silence", ttl, addrs, lost)
		}
	}
	// Ctrl-C while waiting out the silence: what was answered is printed
	// and the pcap is complete.
	file := t.TempDir() + "/int.pcap"
	cmd := l.Src.Command(context.Background(), rawnetBin, "trace", "-n", "-W", "20", "--write", file, "198.18.2.2")
	wait := startRawnet(t, cmd)
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r := wait()
	if !strings.Contains(r.stdout, " 1  198.18.0.2") || !strings.Contains(r.stdout, " 2  198.18.1.2") {
		t.Errorf("interrupted trace: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := tsharkCount(t, file, "icmp.type == 11"); n != 6 {
		t.Errorf("interrupted trace: %d Time Exceeded in the pcap, want 6", n)
	}
}

func TestTraceBadInput(t *testing.T) {
	t.Parallel()
	n := isolatedNode(t) // were the checks to break, nothing leaves the machine
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"trace"}, "missing TARGET"},
		{[]string{"trace", "-P", "sctp", "198.18.0.1"}, "-P sctp"},
		{[]string{"trace", "-m", "300", "198.18.0.1"}, "-m 300"},
		{[]string{"trace", "-f", "5", "-m", "3", "198.18.0.1"}, "-m 3"},
		{[]string{"trace", "-q", "0", "198.18.0.1"}, "-q 0"},
		{[]string{"trace", "-W", "soon", "198.18.0.1"}, "-W soon"},
		{[]string{"trace", "-W", "1,x", "198.18.0.1"}, "-W 1,x"},
		{[]string{"trace", "--flows", "0", "198.18.0.1"}, "--flows 0"},
		{[]string{"trace", "-p", "70000", "198.18.0.1"}, "-p 70000"},
		{[]string{"trace", "-t", "300", "198.18.0.1"}, "-t"},
		{[]string{"trace", "-s", "10", "198.18.0.1"}, "-s 10"},
		{[]string{"trace", "--multipath", "--report", "198.18.0.1"}, "--multipath"},
		{[]string{"trace", "not..an..address"}, "not..an..address"},
	} {
		r := inNS(t, n, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("rawnet %v: exit %d, stderr %q; want 2 and one line naming %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
