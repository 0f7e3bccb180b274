package main

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// Lab tests of rawnet send: crafted packets from src, checked against what
// the routers and the destination's kernel must answer, and against
// captures taken where the packets arrive.

// sendSummary runs rawnet send --json in src and returns its answers and
// summary.
func sendJSON(t *testing.T, n *lab.Node, args ...string) (answers []map[string]any, sum map[string]any, r result) {
	t.Helper()
	r = inNS(t, n, append([]string{"send", "--json"}, args...)...)
	evs := jsonEvents(t, r.stdout)
	sums := ofType(evs, "summary")
	if len(sums) != 1 {
		t.Fatalf("rawnet send %v: want one summary, got:\n%s%s", args, r.stdout, r.stderr)
	}
	return ofType(evs, "answer"), sums[0], r
}

func TestSendClosedPortBringsPortUnreachable(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 2})
	for _, tc := range []struct{ spec, want string }{
		{fmt.Sprintf("ip(dst=%s)/udp(sport=40001,dport=33999)/raw(text=hello)", l.Dst.Addr4),
			fmt.Sprintf("IP %s > %s: ICMP %s udp port 33999 unreachable", l.Dst.Addr4, l.Src.Addr4, l.Dst.Addr4)},
		{fmt.Sprintf("ip6(dst=%s)/udp(sport=40001,dport=33999)/raw(text=hello)", l.Dst.Addr6),
			fmt.Sprintf("IP6 %s > %s: ICMP6, destination unreachable, unreachable port, %s udp port 33999", l.Dst.Addr6, l.Src.Addr6, l.Dst.Addr6)},
	} {
		r := inNS(t, l.Src, "send", "--wait", "2", tc.spec)
		if r.code != 0 || !strings.Contains(r.stdout, tc.want) || !strings.Contains(r.stdout, "answered 1, unanswered 0") {
			t.Errorf("send --wait %s: exit %d, want %q and one answer in:\n%s%s", tc.spec, r.code, tc.want, r.stdout, r.stderr)
		}
		answers, sum, _ := sendJSON(t, l.Src, "--wait", "2", tc.spec)
		if len(answers) != 1 || answers[0]["icmp_error"] != true || num(t, sum, "answered") != 1 || num(t, sum, "sent") != 1 {
			t.Errorf("send --json --wait %s: want one ICMP error answer:\n%v\n%v", tc.spec, answers, sum)
		}
	}
}

func TestSendTTL1BringsTimeExceededFromFirstRouter(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 3})
	r1v4, r1v6 := l.HopAddrs4()[0], l.HopAddrs6()[0]
	for _, tc := range []struct{ spec, want string }{
		{fmt.Sprintf("ip(dst=%s,ttl=1)/udp(dport=33434)", l.Dst.Addr4),
			fmt.Sprintf("IP %s > %s: ICMP time exceeded in-transit", r1v4, l.Src.Addr4)},
		{fmt.Sprintf("ip6(dst=%s,hlim=1)/tcp(dport=80)", l.Dst.Addr6),
			fmt.Sprintf("IP6 %s > %s: ICMP6, time exceeded in-transit", r1v6, l.Src.Addr6)},
		{fmt.Sprintf("ip(dst=%s,ttl=1)/icmp(id=99)", l.Dst.Addr4),
			fmt.Sprintf("IP %s > %s: ICMP time exceeded in-transit", r1v4, l.Src.Addr4)},
	} {
		r := inNS(t, l.Src, "send", "--wait", "2", tc.spec)
		if r.code != 0 || !strings.Contains(r.stdout, tc.want) || !strings.Contains(r.stdout, "answered 1, unanswered 0") {
			t.Errorf("send --wait %s: exit %d, want %q in:\n%s%s", tc.spec, r.code, tc.want, r.stdout, r.stderr)
		}
	}
	// A range of TTLs: every router answers its own TTL, the destination
	// the last (port unreachable), and nothing is left unanswered.
	spec := fmt.Sprintf("ip(dst=%s,ttl=1..4)/udp(dport=33434)", l.Dst.Addr4)
	answers, sum, r := sendJSON(t, l.Src, "--wait", "2", spec)
	if num(t, sum, "sent") != 4 || num(t, sum, "answered") != 4 || len(answers) != 4 {
		t.Fatalf("send %s: want 4 sent and 4 answered:\n%s", spec, r.stdout)
	}
	text := inNS(t, l.Src, "send", "--wait", "2", spec).stdout
	for k, hop := range l.HopAddrs4() {
		if want := fmt.Sprintf("#%d  ", k); !strings.Contains(text, want) || !strings.Contains(text, "IP "+hop.String()+" > ") {
			t.Errorf("ttl=%d: no answer from %s in:\n%s", k+1, hop, text)
		}
	}
}

func TestSendFragmentsReassembleAtDestination(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 2})
	dir := t.TempDir()
	for _, tc := range []struct {
		spec  string
		reply string
	}{
		{fmt.Sprintf("ip(dst=%s)/icmp(id=77,seq=5)/raw(len=400,fill=0x61)", l.Dst.Addr4), "ICMP echo reply, id 77, seq 5, length 408"},
		{fmt.Sprintf("ip6(dst=%s)/icmp6(id=78,seq=6)/raw(len=400,fill=0x62)", l.Dst.Addr6), "ICMP6, echo reply, id 78, seq 6, length 408"},
	} {
		pcapFile := filepath.Join(dir, "frag.pcap")
		r := inNS(t, l.Src, "send", "--fragment", "64", "--wait", "2", "--write", pcapFile, tc.spec)
		// 408 bytes of ICMP in pieces of 64: 7 fragments.
		if r.code != 0 || !strings.Contains(r.stdout, tc.reply) || !strings.Contains(r.stdout, "sent 7 packets (1 built)") {
			t.Errorf("send --fragment 64 %s: exit %d, want 7 fragments and %q in:\n%s%s", tc.spec, r.code, tc.reply, r.stdout, r.stderr)
		}
		// tshark reassembles the 7 fragments rawnet recorded into one echo request.
		if n := tsharkCount(t, pcapFile, "icmp.type == 8 || icmpv6.type == 128"); n != 1 {
			t.Errorf("%s: tshark reassembled %d echo requests, want 1", tc.spec, n)
		}
	}
}

// TestSendL2BadChecksumArrivesUnchanged: a checksum the kernel would fix
// through a raw IP socket makes rawnet send the frame on L2, and a capture
// at the (on-link) destination sees the very bytes rawnet recorded.
func TestSendL2BadChecksumArrivesUnchanged(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 2})
	r1 := l.Routers[0]
	iface := ""
	for _, ifc := range r1.Ifaces {
		if ifc.Peer == "src" {
			iface = ifc.Name
		}
	}
	dir := t.TempDir()
	seen, sent := filepath.Join(dir, "seen.pcap"), filepath.Join(dir, "sent.pcap")
	stop := startTcpdump(t, r1, iface, seen, "udp port 7777")
	spec := fmt.Sprintf("ip(dst=%s,chksum=0x1234,id=4321)/udp(sport=7000,dport=7777)/raw(text=broken on purpose)", r1.Addr4)
	r := inNS(t, l.Src, "send", "-v", "--write", sent, spec)
	if r.code != 0 || !strings.Contains(r.stderr, "sending on L2 (AF_PACKET): the kernel would rewrite the IPv4 header checksum") {
		t.Fatalf("send -v %s: exit %d, want the L2 note:\n%s%s", spec, r.code, r.stdout, r.stderr)
	}
	stop()
	want := tsharkFields(t, sent, "udp.dstport == 7777", "ip.checksum", "ip.id", "data.data")
	got := tsharkFields(t, seen, "udp.dstport == 7777", "ip.checksum", "ip.id", "data.data")
	if len(got) != 1 || len(want) != 1 || got[0] != want[0] || !strings.HasPrefix(got[0], "0x1234|0x10e1|") {
		t.Errorf("frame seen at r1 %v, sent %v: want one frame with checksum 0x1234 and id 0x10e1, unchanged", got, want)
	}
	b, err := exec.Command("tcpdump", "-r", seen, "-x").Output()
	if err != nil {
		t.Fatal(err)
	}
	a, err := exec.Command("tcpdump", "-r", sent, "-x").Output()
	if err != nil {
		t.Fatal(err)
	}
	if hexLines(string(a)) != hexLines(string(b)) {
		t.Errorf("bytes differ:\nsent\n%s\nseen\n%s", a, b)
	}
}

// hexLines keeps the hex dump lines of tcpdump -x output.
func hexLines(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "0x") {
			b.WriteString(strings.TrimSpace(line) + "\n")
		}
	}
	return b.String()
}

// startTcpdump captures on iface in node n into file until the returned
// func stops it; it returns once tcpdump listens.
func startTcpdump(t *testing.T, n *lab.Node, iface, file, filter string) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := n.Command(ctx, "tcpdump", "-i", iface, "--immediate-mode", "-U", "-w", file, filter)
	labtest.StartListening(t, cmd)
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		time.Sleep(100 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		cancel()
	}
	t.Cleanup(stop)
	return stop
}

// TestSendInterruptPrintsSummaryAndLeavesValidPcap: Ctrl-C stops a long
// paced send; the summary counts what went out and the pcap holds exactly
// that, readable by tshark.
func TestSendInterruptPrintsSummaryAndLeavesValidPcap(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	file := filepath.Join(t.TempDir(), "sent.pcapng")
	cmd := l.Src.Command(context.Background(), rawnetBin, "send", "--json", "--duration", "30", "--rate", "200", "--write", file,
		fmt.Sprintf("ip(dst=%s)/udp(dport=9)/raw(len=20)", l.Dst.Addr4))
	wait := startRawnet(t, cmd)
	// Interrupt it once dst's kernel has counted 20 of its datagrams (to
	// a closed port), not after a fixed time: under load the start alone
	// took most of the half second this test used to wait.
	waitUDPNoPorts(t, l.Dst, func(n int) bool { return n >= 20 })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r := wait()
	sums := ofType(jsonEvents(t, r.stdout), "summary")
	if r.code != 0 || len(sums) != 1 || sums[0]["interrupted"] != true {
		t.Fatalf("interrupted send: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	sent := int(num(t, sums[0], "sent"))
	if sent < 20 {
		t.Errorf("%d sent, but dst counted 20 before the interrupt", sent)
	}
	// Every datagram sent arrived (the lab loses none), and no more.
	waitUDPNoPorts(t, l.Dst, func(n int) bool { return n == sent })
	if n := tsharkCount(t, file, "udp.dstport == 9"); n != sent {
		t.Errorf("pcap holds %d packets, summary says %d sent", n, sent)
	}
}

// TestSendICMPQueriesGetTheirReplies: message types whose bodies rawnet
// fills in when the spec leaves them out are answered by the kernels of
// the lab: a timestamp request (Linux ignores one without its 12 bytes of
// timestamps) by dst, a neighbour solicitation (hop limit 255, target,
// source link-layer address) by r1, to its address and to its
// solicited-node group. tshark finds every packet captured at the targets
// well formed, and the timestamp reply's receive time (the kernel's clock)
// just after rawnet's originate time: milliseconds since midnight UT both.
func TestSendICMPQueriesGetTheirReplies(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	r1v6 := l.HopAddrs6()[0]
	dir := t.TempDir()
	capDst, capR1 := filepath.Join(dir, "dst.pcap"), filepath.Join(dir, "r1.pcap")
	stopDst := startTcpdump(t, l.Dst, l.Dst.Ifaces[0].Name, capDst, "icmp")
	stopR1 := startTcpdump(t, l.Routers[0], l.Routers[0].Ifaces[0].Name, capR1, "icmp6 and ip6[40] >= 135 and ip6[40] <= 136")
	for _, tc := range []struct {
		args []string
		typ  float64 // of the answer
	}{
		{[]string{fmt.Sprintf("ip(dst=%s)/icmp(type=13,id=5,seq=1)", l.Dst.Addr4)}, 14},
		// A flow label tells rawnet's solicitations from the kernel's.
		{[]string{fmt.Sprintf("ip6(dst=%s,fl=0x5eed)/icmp6(type=135)", r1v6)}, 136},
		{[]string{"-I", l.Src.Ifaces[0].Name, fmt.Sprintf("ip6(dst=%s,fl=0x5eed)/icmp6(type=135,target=%s)", solicitedNode(r1v6), r1v6)}, 136},
	} {
		answers, sum, r := sendJSON(t, l.Src, append([]string{"--wait", "2"}, tc.args...)...)
		if r.code != 0 || num(t, sum, "answered") != 1 || len(answers) == 0 {
			t.Errorf("send --wait %v: exit %d, want it answered:\n%s%s", tc.args, r.code, r.stdout, r.stderr)
			continue
		}
		var icmp map[string]any
		for _, l := range answers[0]["layers"].([]any) {
			if m := l.(map[string]any); strings.HasPrefix(m["layer"].(string), "icmp") {
				icmp = m
			}
		}
		if icmp == nil || num(t, icmp, "type") != tc.typ {
			t.Errorf("send %v: answer %v, want type %g", tc.args, icmp, tc.typ)
		} else if tc.typ == 136 && icmp["target"] != r1v6.String() {
			t.Errorf("send %v: advertisement %v, want target %s", tc.args, icmp, r1v6)
		}
	}
	stopDst()
	stopR1()
	for _, file := range []string{capDst, capR1} {
		if n := tsharkCount(t, file, "_ws.malformed || _ws.expert.severity >= 6291456"); n != 0 {
			t.Errorf("%s: tshark finds %d malformed packets or warnings", filepath.Base(file), n)
		}
	}
	if n := tsharkCount(t, capR1, "ipv6.flow == 0x5eed && icmpv6.nd.ns.target_address == "+r1v6.String()+" && ipv6.hlim == 255 && icmpv6.opt.type == 1"); n != 2 {
		t.Errorf("r1 captured %d solicitations for it with hop limit 255 and a source link-layer address, want 2", n)
	}
	rows := tsharkFields(t, capDst, "icmp", "icmp.type", "icmp.originate_timestamp", "icmp.receive_timestamp")
	if len(rows) != 2 {
		t.Fatalf("dst captured %v, want a timestamp request and its reply", rows)
	}
	req, rep := strings.Split(rows[0], "|"), strings.Split(rows[1], "|")
	orig, _ := strconv.ParseInt(req[1], 10, 64)
	recv, _ := strconv.ParseInt(rep[2], 10, 64)
	if req[0] != "13" || rep[0] != "14" || rep[1] != req[1] || (recv-orig+86_400_000)%86_400_000 > 2000 {
		t.Errorf("dst captured request %v and reply %v: want the reply to echo the originate time and receive it within 2 s of it", req, rep)
	}
}

// solicitedNode is the solicited-node multicast group of a (RFC 4291).
func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	g := [16]byte{0: 0xff, 1: 0x02, 11: 1, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]}
	return netip.AddrFrom16(g)
}

// TestSendFragmentedIPv6AnswerMatched is issue 18's command as given:
// seven IPv6 fragments to a target one router away, which reassembles
// them and answers (a capture at the target shows the echo reply leave);
// rawnet must match that reply to the packet it built.
func TestSendFragmentedIPv6AnswerMatched(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	seen := filepath.Join(t.TempDir(), "dst.pcap")
	stop := startTcpdump(t, l.Dst, l.Dst.Ifaces[0].Name, seen, "ip6")
	spec := fmt.Sprintf("ip6(dst=%s)/icmp6(id=9,seq=1)/raw(len=400)", l.Dst.Addr6)
	answers, sum, r := sendJSON(t, l.Src, "--fragment", "64", "--wait", "1", spec)
	stop()
	if n := tsharkCount(t, seen, "ipv6.nxt == 44"); n != 7 {
		t.Errorf("the target saw %d fragments, want 7", n)
	}
	if n := tsharkCount(t, seen, "icmpv6.type == 129 && icmpv6.echo.identifier == 9"); n != 1 {
		t.Fatalf("the target sent %d echo replies, want 1", n)
	}
	if num(t, sum, "sent") != 7 || num(t, sum, "answered") != 1 || len(answers) != 1 {
		t.Errorf("send --fragment 64 --wait 1 %s: want 7 sent and the reply matched:\n%s%s", spec, r.stdout, r.stderr)
	}
}

// waitUDPNoPorts waits (30s at most) until ok accepts the number of UDP
// datagrams n's kernel received for a port nobody listens on (Udp
// NoPorts in its /proc/net/snmp).
func waitUDPNoPorts(t *testing.T, n *lab.Node, ok func(int) bool) {
	t.Helper()
	got := -1
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		out, err := n.Command(context.Background(), "cat", "/proc/net/snmp").Output()
		if err != nil {
			t.Fatal(err)
		}
		if got = udpNoPorts(string(out)); ok(got) {
			return
		}
	}
	t.Fatalf("%s counted %d datagrams to closed UDP ports after 30s", n.Name, got)
}

// udpNoPorts reads NoPorts from the Udp lines of /proc/net/snmp (a line
// of names, then one of values).
func udpNoPorts(snmp string) int {
	var names []string
	for line := range strings.Lines(snmp) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		if i := slices.Index(names, "NoPorts"); i > 0 && i < len(f) {
			n, _ := strconv.Atoi(f[i])
			return n
		}
	}
	return -1
}
