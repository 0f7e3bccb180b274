package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// Lab tests of rawnet capture: a capture in a lab namespace while traffic
// of known shape crosses it, checked against what was sent and against
// tcpdump and tshark reading the files it writes.

// captureBin is the rawnet the capture tests run (built with cgo, so
// that libpcap compiles the filters).
func captureBin(*testing.T) string { return rawnetBin }

// liveCapture is a rawnet capture running in a lab namespace.
type liveCapture struct {
	cmd    *exec.Cmd
	stdout strings.Builder
	stderr strings.Builder
	mu     sync.Mutex
	done   chan struct{}
}

// startCapture starts rawnet capture args... in n's namespace and returns
// once it listens (its packet socket is bound).
func startCapture(t *testing.T, n *lab.Node, args ...string) *liveCapture {
	t.Helper()
	c := &liveCapture{done: make(chan struct{})}
	c.cmd = n.Command(context.Background(), captureBin(t), append([]string{"capture"}, args...)...)
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan bool, 1)
	var wg sync.WaitGroup
	wg.Go(func() { c.copy(&c.stdout, stdout, nil) })
	wg.Go(func() { c.copy(&c.stderr, stderr, listening) })
	go func() { wg.Wait(); c.cmd.Wait(); close(c.done) }()
	select {
	case ok := <-listening:
		if !ok {
			<-c.done
			t.Fatalf("capture %v did not start: %s", args, c.stderr.String())
		}
	case <-time.After(20 * time.Second):
		c.cmd.Process.Kill()
		t.Fatalf("capture %v: no \"listening on\" in 20s", args)
	}
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// copy copies r into b line by line; the first line that says the
// capture listens is reported on listening.
func (c *liveCapture) copy(b *strings.Builder, r interface{ Read([]byte) (int, error) }, listening chan bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		c.mu.Lock()
		b.WriteString(sc.Text() + "\n")
		c.mu.Unlock()
		if listening != nil && strings.HasPrefix(sc.Text(), "rawnet: listening on ") {
			listening <- true
			listening = nil
		}
	}
	if listening != nil {
		listening <- false
	}
}

// wait waits for the capture to end by itself (-c, --duration), or stops
// it with sig first when sig is not nil.
func (c *liveCapture) wait(t *testing.T, sig os.Signal) result {
	t.Helper()
	if sig != nil {
		c.cmd.Process.Signal(sig)
	}
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
		t.Fatalf("capture did not end in 20s: %s", c.stderr.String())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return result{c.stdout.String(), c.stderr.String(), c.cmd.ProcessState.ExitCode()}
}

var countsRE = regexp.MustCompile(`(?m)^(\d+) packets captured\n(\d+) packets received by filter\n(\d+) packets dropped by kernel\n`)

// captureCounts returns tcpdump's three counts from a capture's stderr.
func captureCounts(t *testing.T, r result) (captured, received, dropped int) {
	t.Helper()
	m := countsRE.FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no counts in stderr (exit %d):\n%s", r.code, r.stderr)
	}
	captured, _ = strconv.Atoi(m[1])
	received, _ = strconv.Atoi(m[2])
	dropped, _ = strconv.Atoi(m[3])
	return
}

// sendUDPFrom sends count datagrams of size bytes from n to dst, each
// starting with its sequence number (big-endian uint32), spaced by gap.
func sendUDPFrom(t *testing.T, n *lab.Node, dst netip.AddrPort, count, size int, gap time.Duration) {
	t.Helper()
	err := n.Do(func() error {
		c, err := net.ListenUDP("udp", nil) // unconnected: port unreachables do not fail writes
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, size)
		for i := range count {
			binary.BigEndian.PutUint32(buf, uint32(i))
			if _, err := c.WriteToUDP(buf, net.UDPAddrFromAddrPort(dst)); err != nil {
				return err
			}
			if gap > 0 {
				time.Sleep(gap)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
}

func TestCapturePingsAndUDPWithFilters(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	r1 := l.Routers[0]
	ifc := r1.Ifaces[1].Name // toward dst
	dst := l.Dst.Addr4.String()
	// ICMP echoes: the 5 requests and 5 replies of a ping; the UDP and
	// the port unreachables it brings back are left out.
	c := startCapture(t, r1, "-nn", "-i", ifc, "-c", "10", "icmp[icmptype] == icmp-echo or icmp[icmptype] == icmp-echoreply")
	sendUDPFrom(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7020), 20, 50, 0)
	if r := inNS(t, l.Src, "ping", "-q", "-c", "5", "-i", "0.02", dst); r.code != 0 {
		t.Fatalf("ping: %s%s", r.stdout, r.stderr)
	}
	r := c.wait(t, nil)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	req := fmt.Sprintf("IP %s > %s: ICMP echo request, id ", l.Src.Addr4, dst)
	rep := fmt.Sprintf("IP %s > %s: ICMP echo reply, id ", dst, l.Src.Addr4)
	var nreq, nrep int
	for _, line := range lines {
		switch {
		case strings.Contains(line, req):
			nreq++
		case strings.Contains(line, rep):
			nrep++
		default:
			t.Errorf("icmp filter let through: %q", line)
		}
	}
	if r.code != 0 || nreq != 5 || nrep != 5 {
		t.Errorf("exit %d, %d requests and %d replies, want 5 and 5:\n%s%s", r.code, nreq, nrep, r.stdout, r.stderr)
	}
	if captured, received, dropped := captureCounts(t, r); captured != 10 || received < 10 || dropped != 0 {
		t.Errorf("counts %d %d %d", captured, received, dropped)
	}
	// udp and port 7021, incoming only, on src: the 30 datagrams dst
	// sends, not the 10 src sends to the same port.
	c = startCapture(t, l.Src, "-i", l.Src.Ifaces[0].Name, "-Q", "in", "--duration", "2", "udp and port 7021")
	sendUDPFrom(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7021), 10, 50, 0)
	sendUDPFrom(t, l.Dst, netip.AddrPortFrom(l.Src.Addr4, 7021), 30, 50, 0)
	if r := inNS(t, l.Src, "ping", "-q", "-c", "3", "-i", "0.02", dst); r.code != 0 {
		t.Fatalf("ping: %s%s", r.stdout, r.stderr)
	}
	r = c.wait(t, nil)
	want := fmt.Sprintf(" > %s.7021: UDP, length 50", l.Src.Addr4)
	if got := strings.Count(r.stdout, want); got != 30 || strings.Count(r.stdout, "\n") != 30 {
		t.Errorf("-Q in udp and port 7021: %d lines with %q, want 30 and nothing else:\n%s", got, want, r.stdout)
	}
	if captured, _, _ := captureCounts(t, r); captured != 30 || r.code != 0 {
		t.Errorf("exit %d, %d captured, want 30", r.code, captured)
	}
}

// tsharkOf returns one line per packet of file: the fields, "|"-separated.
func tsharkOf(t *testing.T, file string, fields ...string) []string {
	t.Helper()
	args := []string{"-r", file, "-T", "fields", "-E", "separator=|"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", file, err)
	}
	s := strings.TrimSpace(string(out))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// udpSeqs returns the sequence numbers (first payload word) of the UDP
// datagrams of file, as tshark reads them.
func udpSeqs(t *testing.T, file string) []int {
	t.Helper()
	var seqs []int
	for _, line := range tsharkOf(t, file, "data.data") {
		v, err := strconv.ParseUint(strings.ReplaceAll(line, ":", "")[:8], 16, 32)
		if err != nil {
			t.Fatalf("%s: data %q", file, line)
		}
		seqs = append(seqs, int(v))
	}
	return seqs
}

func TestCaptureWriteReadByTcpdumpAndTshark(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	ifc := l.Dst.Ifaces[0].Name
	dir := t.TempDir()
	for _, name := range []string{"w.pcap", "w.pcapng"} {
		file := filepath.Join(dir, name)
		c := startCapture(t, l.Dst, "-i", ifc, "-w", file, "-c", "40", "-s", "80", "udp dst port 7022")
		sendUDPFrom(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7023), 10, 100, 0)
		sendUDPFrom(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7022), 40, 100, 0)
		r := c.wait(t, nil)
		if captured, _, _ := captureCounts(t, r); r.code != 0 || captured != 40 || r.stdout != "" {
			t.Fatalf("%s: exit %d, %d captured, stdout %q", name, r.code, captured, r.stdout)
		}
		out, err := exec.Command("tcpdump", "-nn", "-r", file).Output()
		if err != nil {
			t.Fatalf("tcpdump -r %s: %v", file, err)
		}
		want := fmt.Sprintf("IP %s.", l.Src.Addr4)
		if n := strings.Count(string(out), want); n != 40 || !strings.Contains(string(out), fmt.Sprintf("> %s.7022: UDP, length 100", l.Dst.Addr4)) {
			t.Errorf("%s: tcpdump reads %d datagrams:\n%s", name, n, out)
		}
		// rawnet read prints what tcpdump prints.
		rr := rawnet(t, "read", file)
		if tl := strings.Split(strings.TrimSpace(string(out)), "\n"); rr.code != 0 || !slices.Equal(lines(rr.stdout), tl) {
			t.Errorf("%s: rawnet read (exit %d):\n%s\ntcpdump -nn -r:\n%s", name, rr.code, rr.stdout, out)
		}
		// -s 80: 80 bytes kept of 142, the length on the wire recorded.
		rows := tsharkOf(t, file, "frame.cap_len", "frame.len", "udp.dstport", "frame.interface_name", "frame.time_epoch")
		if len(rows) != 40 {
			t.Fatalf("%s: tshark reads %d packets", name, len(rows))
		}
		for _, row := range rows {
			f := strings.Split(row, "|")
			if f[0] != "80" || f[1] != "142" || f[2] != "7022" {
				t.Fatalf("%s: packet %q: want 80 of 142 bytes to port 7022", name, row)
			}
			if strings.HasSuffix(name, ".pcapng") && f[3] != ifc {
				t.Errorf("%s: interface %q, want %s", name, f[3], ifc)
			}
			if frac := f[4][strings.IndexByte(f[4], '.')+1:]; len(frac) != 9 {
				t.Errorf("%s: timestamp %s is not in nanoseconds", name, f[4])
			}
		}
	}
}

func TestCaptureRotationBySizeAndTime(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	ifc := l.Dst.Ifaces[0].Name
	dir := t.TempDir()
	// -C 0.002 -W 3: 2,000-byte files; a 142-byte frame takes 158 bytes,
	// so 12 fit after the 24-byte header. 100 datagrams go round the
	// ring of three files three times: file 0 ends with 72..83, file 1
	// with 84..95, file 2 with 96..99.
	base := filepath.Join(dir, "ring.pcap")
	c := startCapture(t, l.Dst, "-i", ifc, "-w", base, "-C", "0.002", "-W", "3", "-c", "100", "udp port 7024")
	sendUDPFrom(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7024), 100, 100, 0)
	if r := c.wait(t, nil); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "ring.pcap*"))
	if want := []string{base + "0", base + "1", base + "2"}; !slices.Equal(files, want) {
		t.Fatalf("files %v, want %v", files, want)
	}
	for i, first := range []int{72, 84, 96} {
		seqs := udpSeqs(t, files[i])
		n := min(12, 100-first)
		if len(seqs) != n || seqs[0] != first || seqs[n-1] != first+n-1 {
			t.Errorf("%s: datagrams %v, want %d..%d", files[i], seqs, first, first+n-1)
		}
	}
	// -G 1 over a 2.5 s run with traffic all along: three files, named by
	// the second each interval began, holding every packet captured.
	pattern := filepath.Join(dir, "g-%s.pcapng")
	c = startCapture(t, l.Dst, "-i", ifc, "-w", pattern, "-G", "1", "--duration", "2.5", "udp port 7025")
	sendUDPFrom(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7025), 70, 100, 40*time.Millisecond)
	r := c.wait(t, nil)
	captured, _, _ := captureCounts(t, r)
	files, _ = filepath.Glob(filepath.Join(dir, "g-*.pcapng"))
	if len(files) != 3 {
		t.Fatalf("-G 1 for 2.5 s: files %v, want 3", files)
	}
	var seqs []int
	for _, f := range files { // names are seconds: sorted by name is by time
		got := udpSeqs(t, f)
		if len(got) == 0 {
			t.Errorf("%s: no packets", f)
		}
		seqs = append(seqs, got...)
	}
	if len(seqs) != captured || captured < 40 || !slices.IsSorted(seqs) || seqs[0] != 0 {
		t.Errorf("files hold datagrams %v; capture reports %d", seqs, captured)
	}
}

func TestCaptureInterruptLeavesCompleteFiles(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	dir := t.TempDir()
	for _, sig := range []os.Signal{syscall.SIGINT, syscall.SIGTERM} {
		file := filepath.Join(dir, fmt.Sprintf("int-%d.pcapng", sig))
		c := startCapture(t, l.Dst, "-i", "any", "-w", file, "udp port 7026")
		sendUDPFrom(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7026), 300, 100, time.Millisecond)
		// The kernel hands over a partly filled block after 100ms; a
		// signal before that ends the capture without its packets, as
		// tcpdump's would, so only the filter's count is exact.
		time.Sleep(300 * time.Millisecond)
		r := c.wait(t, sig)
		captured, received, dropped := captureCounts(t, r)
		if r.code != 0 || captured < 1 || received != 300 || dropped != 0 {
			t.Errorf("%v: exit %d, %d captured, %d received, %d dropped, want 300 received:\n%s", sig, r.code, captured, received, dropped, r.stderr)
		}
		if seqs := udpSeqs(t, file); len(seqs) != captured {
			t.Errorf("%v: tshark reads %d datagrams, capture reported %d", sig, len(seqs), captured)
		}
		// -i any: Linux cooked v2 headers, which tshark reads.
		if rows := tsharkOf(t, file, "sll.ifindex"); len(rows) == 0 || rows[0] == "" {
			t.Errorf("%v: no SLL2 interface index in %v", sig, rows)
		}
	}
}

// TestCaptureFilterRaceLetsNothingThrough: a flood the filter rejects
// crosses the link from before the capture starts to after it ends; not
// one of its packets is printed.
func TestCaptureFilterRaceLetsNothingThrough(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	// 20,000 datagrams a second for at most 5 s, stopped when the test ends.
	flood := l.Src.Command(context.Background(), rawnetBin, "udp", "probe", "-q", "--rate", "20000",
		"-c", "100000", "-W", "0.1", netip.AddrPortFrom(l.Dst.Addr4, 7030).String())
	waitFlood := startRawnet(t, flood)
	defer func() { flood.Process.Kill(); waitFlood() }()
	time.Sleep(100 * time.Millisecond)
	for range 3 {
		c := startCapture(t, l.Dst, "-i", l.Dst.Ifaces[0].Name, "-c", "10", "udp port 7031")
		sendUDPFrom(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7031), 10, 64, 0)
		r := c.wait(t, nil)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 10 {
			t.Errorf("%d lines, want 10:\n%s", len(lines), r.stdout)
		}
		for _, line := range lines {
			if !strings.Contains(line, ".7031: UDP") {
				t.Fatalf("the filter let through %q", line)
			}
		}
	}
}

func TestCaptureJSONOnAny(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	c := startCapture(t, l.Dst, "--json", "-c", "4", "icmp")
	if r := inNS(t, l.Src, "ping", "-q", "-c", "2", "-i", "0.02", l.Dst.Addr4.String()); r.code != 0 {
		t.Fatalf("ping: %s", r.stderr)
	}
	r := c.wait(t, nil)
	evs := jsonEvents(t, r.stdout)
	pkts := ofType(evs, "packet")
	if len(pkts) != 4 || len(ofType(evs, "summary")) != 1 {
		t.Fatalf("want 4 packets and a summary:\n%s", r.stdout)
	}
	for i, p := range pkts {
		wantDir := []string{"in", "out"}[i%2]
		if p["iface"] != l.Dst.Ifaces[0].Name || p["dir"] != wantDir || !strings.Contains(p["summary"].(string), "ICMP echo") {
			t.Errorf("packet %d: %v", i, p)
		}
	}
}

func TestCaptureBadInputExitsTwoWithOneLine(t *testing.T) {
	labtest.RequireRoot(t)
	bin := captureBin(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-Q", "up"}, "-Q up"},
		{[]string{"-s", "-1"}, "-s -1"},
		{[]string{"-s", "300000"}, "-s 300000"},
		{[]string{"-c", "0"}, "-c 0"},
		{[]string{"-B", "0"}, "-B 0"},
		{[]string{"-C", "1"}, "-C"},
		{[]string{"-w", "x.pcap", "-C", "0"}, "-C 0"},
		{[]string{"-w", "x.pcap", "-G", "0"}, "-G 0"},
		{[]string{"-w", "x.pcap", "-W", "3"}, "-W 3"},
		{[]string{"--duration", "soon"}, "soon"},
		{[]string{"-i", "nosuch0"}, "nosuch0"},
		{[]string{"udp", "port", "seventy"}, "seventy"},
		{[]string{"icmp", "and"}, "syntax error"},
	} {
		cmd := exec.Command(bin, append([]string{"capture"}, tc.args...)...)
		cmd.Dir = t.TempDir()
		r := rawnetCmd(t, cmd)
		line := strings.TrimSpace(r.stderr)
		if r.code != 2 || strings.Contains(line, "\n") || !strings.Contains(line, tc.want) {
			t.Errorf("capture %v: exit %d, stderr %q: want exit 2 and one line naming %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestCaptureWithoutCapNetRawSaysHowToFixIt(t *testing.T) {
	labtest.RequireRoot(t)
	// Root without CAP_NET_RAW in its bounding set has none after exec.
	r := rawnetCmd(t, exec.Command("setpriv", "--bounding-set", "-net_raw", captureBin(t), "capture", "-i", "lo"))
	if r.code != 2 || !strings.Contains(r.stderr, "CAP_NET_RAW") || !strings.Contains(r.stderr, "setcap") {
		t.Errorf("exit %d, stderr %q: want exit 2 and the priv.Hint message", r.code, r.stderr)
	}
}

// TestCapturePacketBufferedSurvivesKill: with -U every packet is in the
// file as soon as it is captured, so a capture killed with SIGKILL (no
// chance to flush) leaves them all; without -U they would still sit in
// its 64 KiB buffer.
func TestCapturePacketBufferedSurvivesKill(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	file := filepath.Join(t.TempDir(), "u.pcap")
	c := startCapture(t, l.Dst, "-i", l.Dst.Ifaces[0].Name, "-U", "-w", file, "udp port 7060")
	sendUDPFrom(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7060), 25, 100, 0)
	// The packets reach the file a block timeout (100ms) after they came.
	want := int64(24 + 25*(16+142))
	for i := 0; i < 100; i++ {
		if st, err := os.Stat(file); err == nil && st.Size() >= want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.wait(t, syscall.SIGKILL)
	if seqs := udpSeqs(t, file); len(seqs) != 25 || seqs[24] != 24 {
		t.Errorf("after SIGKILL the -U file holds datagrams %v, want 0..24", seqs)
	}
}

// TestCaptureAnyLengthFilter: on -i any, "greater N" counts the cooked
// header as tcpdump's does: a UDP datagram of 70 bytes is 98 bytes of IP,
// 118 with the header, so it passes "greater 110"; one of 50 does not.
func TestCaptureAnyLengthFilter(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	c := startCapture(t, l.Dst, "-i", "any", "-Q", "in", "--duration", "1.5", "udp and greater 110")
	sendUDPFrom(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7070), 10, 50, 0)
	sendUDPFrom(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7070), 10, 70, 0)
	r := c.wait(t, nil)
	if n := strings.Count(r.stdout, ".7070: UDP, length 70"); n != 10 || strings.Count(r.stdout, "\n") != 10 {
		t.Errorf("exit %d: %d datagrams of 70 bytes, want 10 and nothing else:\n%s", r.code, n, r.stdout)
	}
	// Lines on any say the interface and direction, once, as tcpdump's.
	for _, line := range lines(r.stdout) {
		if f := strings.Fields(line); len(f) < 4 || f[1] != l.Dst.Ifaces[0].Name || f[2] != "In" || f[3] != "IP" {
			t.Errorf("line %q: want TIME %s In IP ...", line, l.Dst.Ifaces[0].Name)
		}
	}
}

// TestCaptureIntervalFileCountEndsTheCapture: -G 1 -W 2 ends the capture
// by itself when a third interval would begin, with two complete files.
func TestCaptureIntervalFileCountEndsTheCapture(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	dir := t.TempDir()
	c := startCapture(t, l.Dst, "-i", l.Dst.Ifaces[0].Name, "-w", filepath.Join(dir, "w%s.pcap"), "-G", "1", "-W", "2", "udp port 7080")
	// 30 datagrams at least 100ms apart: the 21st comes 2 s or more after
	// the first, when the capture has been running longer, so it is in a
	// third interval and ends the capture.
	sendUDPFrom(t, l.Src, netip.AddrPortFrom(l.Dst.Addr4, 7080), 30, 50, 100*time.Millisecond)
	r := c.wait(t, nil)
	captured, _, _ := captureCounts(t, r)
	files, _ := filepath.Glob(filepath.Join(dir, "w*.pcap"))
	if r.code != 0 || len(files) != 2 {
		t.Fatalf("exit %d, files %v: want exit 0 and 2 files\n%s", r.code, files, r.stderr)
	}
	n := len(udpSeqs(t, files[0])) + len(udpSeqs(t, files[1]))
	if n != captured || captured < 1 || captured > 20 {
		t.Errorf("the files hold %d datagrams, the capture reports %d; want the same, 1 to 20", n, captured)
	}
}

// capture --json and read --json of the same packets print the same object,
// key for key in one order, but for what only one of them knows (read's
// index, the interface and direction of a live capture): two captures of one ping, one
// printing, one writing the file read then prints.
func TestCaptureAndReadPacketJSONAgree(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	file := filepath.Join(t.TempDir(), "ping.pcap")
	printing := startCapture(t, l.Dst, "--json", "-c", "4", "icmp")
	writing := startCapture(t, l.Dst, "-w", file, "-c", "4", "icmp")
	if r := inNS(t, l.Src, "ping", "-q", "-c", "2", "-i", "0.02", l.Dst.Addr4.String()); r.code != 0 {
		t.Fatalf("ping: %s", r.stderr)
	}
	live := printing.wait(t, nil).stdout
	writing.wait(t, nil)
	read := rawnet(t, "read", "--json", file)
	if read.code != 0 {
		t.Fatalf("read --json: exit %d: %s", read.code, read.stderr)
	}
	lives, reads := packetLines(live), packetLines(read.stdout)
	if len(lives) != 4 || len(reads) != 4 {
		t.Fatalf("want 4 packets from each; capture:\n%s\nread:\n%s", live, read.stdout)
	}
	for i := range lives {
		lk, rk := jsonKeys(t, lives[i], "ifindex", "iface", "dir"), jsonKeys(t, reads[i], "index")
		if !slices.Equal(lk, rk) {
			t.Errorf("packet %d: capture keys %v, read keys %v", i, lk, rk)
		}
		lm, rm := jsonEvents(t, lives[i])[0], jsonEvents(t, reads[i])[0]
		// A live capture names the interface in the summary, the file
		// holds only its index (tcpdump -r prints the same).
		for _, m := range []map[string]any{lm, rm} {
			m["summary"] = strings.Join(strings.Fields(fmt.Sprint(m["summary"]))[1:], " ")
		}
		for _, k := range rk {
			if fmt.Sprint(lm[k]) != fmt.Sprint(rm[k]) {
				t.Errorf("packet %d %s: capture %v, read %v", i, k, lm[k], rm[k])
			}
		}
	}
}

// packetLines returns the "packet" lines of JSON Lines output.
func packetLines(out string) []string {
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, `{"type":"packet"`) {
			lines = append(lines, line)
		}
	}
	return lines
}

// jsonKeys returns the keys of the JSON object line in their order, less
// those named in skip.
func jsonKeys(t *testing.T, line string, skip ...string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %q", line)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if k := tok.(string); !slices.Contains(skip, k) {
			keys = append(keys, k)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
	}
	return keys
}
