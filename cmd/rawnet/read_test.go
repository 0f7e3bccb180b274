package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/testenv"
	"github.com/rawnet/rawnet/internal/testtraffic"
	"github.com/rawnet/rawnet/pcap"
)

// mixedPcap writes the shared mixed test traffic to a pcap file.
func mixedPcap(t *testing.T) (string, int) {
	t.Helper()
	frames := testtraffic.Frames()
	path := filepath.Join(t.TempDir(), "mixed.pcap")
	if err := testtraffic.WritePcap(path, pcap.Ethernet, frames); err != nil {
		t.Fatal(err)
	}
	return path, len(frames)
}

// tcpdump runs tcpdump -nn -r with args, with TZ=UTC like rawnet below.
func tcpdump(t *testing.T, args ...string) []string {
	t.Helper()
	testenv.NeedTools(t, "tcpdump")
	cmd := exec.Command("tcpdump", append([]string{"-nn"}, args...)...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcpdump %q: %v", args, err)
	}
	return lines(string(out))
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func rawnetUTC(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(rawnetBin, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	return rawnetCmd(t, cmd)
}

// readFilters are tcpdump expressions run over the mixed traffic by both
// rawnet read and tcpdump -r; each must select some packets, not all.
var readFilters = []string{
	"icmp", "icmp6", "udp", "tcp", "ip", "ip6", "arp", "vlan",
	"udp port 5001", "port 33434", "host 198.18.5.2 and not tcp",
	"ip6 and icmp6[0]==129", "icmp[icmptype] == icmp-echo",
	"icmp[icmptype] == icmp-timxceed or icmp[icmptype] == icmp-unreach",
	"tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-rst|tcp-fin) != 0",
	"net 198.18.0.0/15", "src net 198.19.0.0/16", "dst host fd00::1",
	"portrange 33000-34000", "greater 100", "less 80", "ip[6:2] & 0x1fff != 0",
	"ip6 protochain 44", "ether broadcast", "not ip and not ip6",
	"udp and (dst port 5001 or dst port 5002)", "ip proto 253",
}

func TestReadFilterCountsMatchTcpdump(t *testing.T) {
	path, n := mixedPcap(t)
	for _, expr := range readFilters {
		want := len(tcpdump(t, "-r", path, expr))
		r := rawnetUTC(t, "read", path, expr)
		if r.code != 0 {
			t.Errorf("%q: exit %d: %s", expr, r.code, r.stderr)
			continue
		}
		if got := len(lines(r.stdout)); got != want {
			t.Errorf("%q: rawnet read printed %d packets, tcpdump %d", expr, got, want)
		}
		if want == 0 || want == n {
			t.Errorf("%q selects %d of %d packets: use a more telling expression", expr, want, n)
		}
	}
}

// TestReadOtherLinkTypes runs filters and lines over the same traffic as
// raw IP and as Linux cooked v2 captures, against tcpdump.
func TestReadOtherLinkTypes(t *testing.T) {
	var raw, sll2 [][]byte
	for i, f := range testtraffic.Frames() {
		if f[12] == 0x08 && f[13] == 0x00 || f[12] == 0x86 && f[13] == 0xdd {
			raw = append(raw, f[14:])
		}
		if f[12] != 0x81 { // cooked captures hold no VLAN tags
			h := []byte{f[12], f[13], 0, 0, 0, 0, 0, 1, 0, 1, byte(i % 5), 6, 2, 0, 0, 0, 0, 0x0a, 0, 0}
			sll2 = append(sll2, append(h, f[14:]...))
		}
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name   string
		link   pcap.LinkType
		frames [][]byte
	}{{"raw.pcap", pcap.Raw, raw}, {"sll2.pcap", pcap.LinuxSLL2, sll2}} {
		path := filepath.Join(dir, c.name)
		if err := testtraffic.WritePcap(path, c.link, c.frames); err != nil {
			t.Fatal(err)
		}
		for _, expr := range []string{"", "icmp6", "udp port 5001", "host 198.18.5.2 and not tcp", "ip6 protochain 44", "greater 100"} {
			want := tcpdump(t, "-S", "-r", path, expr)
			r := rawnetUTC(t, "read", "-S", path, expr)
			got := lines(r.stdout)
			if r.code != 0 || len(got) != len(want) {
				t.Errorf("%s %q: exit %d, %d packets, tcpdump %d: %s", c.name, expr, r.code, len(got), len(want), r.stderr)
				continue
			}
			for i := range want {
				if g, _, _ := strings.Cut(got[i], " [IP"); g != want[i] {
					t.Errorf("%s %q packet %d:\n got  %s\n want %s", c.name, expr, i+1, got[i], want[i])
				}
			}
		}
	}
}

// TestReadLinesMatchTcpdump compares whole lines, timestamps included, with
// tcpdump -nn (TCP numbers relative to each connection's first) and
// tcpdump -nn -S (absolute); an ICMP error's line may add the quoted
// packet in brackets.
func TestReadLinesMatchTcpdump(t *testing.T) {
	path, _ := mixedPcap(t)
	for _, abs := range [][]string{{"-S"}, nil} {
		want := tcpdump(t, append(abs, "-r", path)...)
		r := rawnetUTC(t, append(append([]string{"read"}, abs...), path)...)
		got := lines(r.stdout)
		if r.code != 0 || len(got) != len(want) {
			t.Fatalf("%v: exit %d, %d lines, want %d: %s", abs, r.code, len(got), len(want), r.stderr)
		}
		for i := range want {
			g := got[i]
			if j := strings.Index(g, " [IP"); j >= 0 && strings.HasSuffix(g, "]") {
				g = g[:j]
			}
			if g != want[i] {
				t.Errorf("%v packet %d:\n got  %s\n want %s", abs, i+1, got[i], want[i])
			}
		}
	}
	// -x: the same hex dump as tcpdump -x.
	wantHex := tcpdump(t, "-S", "-x", "-r", path, "icmp6 or tcp")
	gotHex := lines(rawnetUTC(t, "read", "-S", "-x", path, "icmp6 or tcp").stdout)
	if len(gotHex) != len(wantHex) {
		t.Fatalf("-x: %d lines, tcpdump %d", len(gotHex), len(wantHex))
	}
	for i := range wantHex {
		if strings.HasPrefix(wantHex[i], "\t") && gotHex[i] != wantHex[i] {
			t.Errorf("-x line %d:\n got  %q\n want %q", i+1, gotHex[i], wantHex[i])
		}
	}
}

func TestReadCorruptFiles(t *testing.T) {
	for _, c := range []struct {
		file   string
		before int    // packets printed before the damage
		want   string // in the error
	}{
		{"truncated-record.pcap", 2, "packet 3 at offset 252"},
		{"truncated-record-header.pcap", 2, "packet 3 at offset 252"},
		{"absurd-length.pcap", 1, "packet 2 at offset 138"},
		{"truncated-block.pcapng", 2, "packet 3 at offset 376"},
		{"bad-trailer.pcapng", 1, "packet 2 at offset 232"},
		{"truncated-file-header.pcap", 0, "file header at offset 0"},
	} {
		path := filepath.Join("..", "..", "pcap", "testdata", c.file)
		r := rawnetUTC(t, "read", path)
		if r.code != 1 {
			t.Errorf("%s: exit %d, want 1", c.file, r.code)
		}
		if got := len(lines(r.stdout)); got != c.before {
			t.Errorf("%s: %d packets printed, want %d", c.file, got, c.before)
		}
		errLines := lines(r.stderr)
		if len(errLines) != 1 || !strings.Contains(errLines[0], c.want) || !strings.Contains(errLines[0], c.file) {
			t.Errorf("%s: stderr %q, want one line naming the file and %q", c.file, r.stderr, c.want)
		}
	}
}

func TestReadBadInput(t *testing.T) {
	path, _ := mixedPcap(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"read", "--bogus", path}, "bogus"},
		{[]string{"read", "-c", "-1", path}, "-c"},
		{[]string{"read"}, "FILE"},
		{[]string{"read", path, "udp", "port"}, "syntax error"},
		{[]string{"read", "--pcapng", path}, "--pcapng"},
		{[]string{"read", filepath.Join(t.TempDir(), "missing.pcap")}, "missing.pcap"},
	} {
		r := rawnetUTC(t, c.args...)
		if r.code != 2 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and one line with %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

func TestReadWriteAndCount(t *testing.T) {
	path, _ := mixedPcap(t)
	dir := t.TempDir()
	for _, name := range []string{"icmp.pcap", "icmp.pcapng"} {
		out := filepath.Join(dir, name)
		if r := rawnetUTC(t, "read", "-w", out, path, "icmp or icmp6"); r.code != 0 {
			t.Fatalf("-w %s: exit %d: %s", name, r.code, r.stderr)
		}
		want := tcpdump(t, "-S", "-r", path, "icmp or icmp6")
		got := tcpdump(t, "-S", "-r", out)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: tcpdump reads\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		f, _ := os.Open(out)
		r, err := pcap.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		if wantFmt := map[bool]pcap.Format{true: pcap.FormatPcapng, false: pcap.FormatPcap}[strings.HasSuffix(name, "ng")]; r.Format() != wantFmt {
			t.Errorf("%s: format %v", name, r.Format())
		}
		f.Close()
	}
	// Standard input.
	cmd := exec.Command(rawnetBin, "read", "-", "icmp6")
	cmd.Stdin, _ = os.Open(path)
	if got := lines(rawnetCmd(t, cmd).stdout); len(got) != len(tcpdump(t, "-r", path, "icmp6")) {
		t.Errorf("read - icmp6: %d lines", len(got))
	}
	r := rawnetUTC(t, "read", "-c", "3", path, "udp")
	if got := lines(r.stdout); len(got) != 3 || !strings.Contains(got[2], "UDP") {
		t.Errorf("-c 3: %q", r.stdout)
	}
}

func TestReadJSON(t *testing.T) {
	path, n := mixedPcap(t)
	r := rawnetUTC(t, "read", "--json", path)
	objs := lines(r.stdout)
	if r.code != 0 || len(objs) != n {
		t.Fatalf("exit %d, %d objects, want %d", r.code, len(objs), n)
	}
	for i, l := range objs {
		var o struct {
			Index  int              `json:"index"`
			Caplen int              `json:"caplen"`
			Len    int              `json:"len"`
			Layers []map[string]any `json:"layers"`
		}
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("packet %d: %v: %s", i+1, err, l)
		}
		if o.Index != i+1 || o.Caplen == 0 || o.Len != o.Caplen || len(o.Layers) == 0 || o.Layers[0]["layer"] != "ethernet" {
			t.Errorf("packet %d: %s", i+1, l)
		}
	}
}

// TestReadStats checks --stats --json against what the mixed traffic
// holds: 3 IPv4 and 3 IPv6 echo pairs 1 ms apart, a UDP probe answered by
// five ICMPv4 errors, an IPv6 UDP probe answered by four ICMPv6 errors, and
// two ICMPv4 errors quoting probes that are not in the file.
func TestReadStats(t *testing.T) {
	path, n := mixedPcap(t)
	r := rawnetUTC(t, "read", "--stats", "--json", path)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var s statsReport
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if s.Packets != n || s.Protocols.ARP != 1 || s.Protocols.ICMP != 13 || s.Protocols.ICMPv6 != 13 || s.Protocols.TCP != 7 || s.Protocols.Fragments != 2 {
		t.Errorf("counts: %+v", s)
	}
	if len(s.Pings) != 2 {
		t.Fatalf("pings: %+v", s.Pings)
	}
	for _, p := range s.Pings {
		if p.Requests != 3 || p.Replies != 3 || p.RTTStats == nil || p.Min != 1 || p.Max != 1 {
			t.Errorf("ping %s > %s: %+v %+v", p.Src, p.Dst, p, p.RTTStats)
		}
	}
	replies := map[string]int{}
	for _, h := range s.Traces {
		replies[h.Src+" "+h.Proto] += h.Replies
		if h.Dst != "198.18.5.2" && h.Dst != "fd00:5::2" || h.RTTStats == nil || h.Min <= 0 {
			t.Errorf("trace hop %+v", h)
		}
	}
	if replies["198.18.0.1 udp"] != 5 || replies["fd00::1 udp"] != 4 || s.Unmatched != 2 {
		t.Errorf("trace replies %v, unmatched %d", replies, s.Unmatched)
	}
	echo := 0
	for _, it := range s.ICMPTypes {
		if it.Name == "echo request" {
			echo += it.Count
		}
	}
	if echo != 6 {
		t.Errorf("echo requests by type: %d, want 6", echo)
	}
	// The text form says the same.
	txt := rawnetUTC(t, "read", "--stats", path).stdout
	if !strings.Contains(txt, strconv.Itoa(n)+" packets") || !strings.Contains(txt, "198.18.0.1 > 198.18.5.2: 3 requests, 3 replies, 0.0% loss") {
		t.Errorf("text stats:\n%s", txt)
	}
}

// TestReadWithoutCgo builds rawnet as make build-static does: reading
// works, a filter is refused with exit 2 and a message saying why.
func TestReadWithoutCgo(t *testing.T) {
	path, n := mixedPcap(t)
	bin := filepath.Join(t.TempDir(), "rawnet-static")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go" // where this project's machines have it
	}
	build := exec.Command(goTool, "build", "-tags", "netgo,osusergo,urfave_cli_no_docs", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	r := rawnetCmd(t, exec.Command(bin, "read", path))
	if r.code != 0 || len(lines(r.stdout)) != n {
		t.Errorf("no filter: exit %d, %d lines", r.code, len(lines(r.stdout)))
	}
	r = rawnetCmd(t, exec.Command(bin, "read", path, "icmp"))
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "filter expressions need a cgo build with libpcap") {
		t.Errorf("filter: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestReadWriteKeepsWireLength: a packet cut at a snaplen keeps its length
// on the wire through read -w, in both formats.
func TestReadWriteKeepsWireLength(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "cut.pcap")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcap.NewWriter(f, pcap.Raw, 40)
	if err != nil {
		t.Fatal(err)
	}
	pkt := make([]byte, 100)
	pkt[0], pkt[2], pkt[3], pkt[8], pkt[9] = 0x45, 0, 100, 64, 17
	if err := w.WriteCaptured(time.Unix(1, 0), pkt, 1500); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	f.Close()
	for _, name := range []string{"out.pcap", "out.pcapng"} {
		out := filepath.Join(dir, name)
		if r := rawnet(t, "read", "-w", out, in); r.code != 0 {
			t.Fatalf("read -w %s: exit %d %s", name, r.code, r.stderr)
		}
		g, _ := os.Open(out)
		rd, err := pcap.NewReader(g)
		if err != nil {
			t.Fatal(err)
		}
		p, err := rd.Next()
		g.Close()
		if err != nil || len(p.Data) != 40 || p.OrigLen != 1500 {
			t.Errorf("%s: %d bytes of %d (%v), want 40 of 1500", name, len(p.Data), p.OrigLen, err)
		}
	}
}
