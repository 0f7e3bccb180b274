package main

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// Lab tests of ping -P tcp and -P udp: a listener on dst's TCP port 8080
// answers SYN-ACK, port 80 is closed (RST); a UDP echo on dst's port 7007
// answers, port 33434 is closed (port unreachable).

// listenTCP opens a TCP listener on port in node n (both families).
func listenTCP(t *testing.T, n *lab.Node, port int) {
	t.Helper()
	var ln net.Listener
	if err := n.Do(func() (err error) { ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port)); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
}

// udpEcho answers every datagram to port in node n with its copy.
func udpEcho(t *testing.T, n *lab.Node, port int) {
	t.Helper()
	var pc net.PacketConn
	if err := n.Do(func() (err error) { pc, err = net.ListenPacket("udp", fmt.Sprintf(":%d", port)); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1<<16)
		for {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:k], from)
		}
	}()
}

// checkKindReplies checks that the JSON output of a ping of count probes
// holds count replies from dst, each with the fields want gives.
func checkKindReplies(t *testing.T, what string, r result, dst string, count int, want map[string]any) {
	t.Helper()
	evs := jsonEvents(t, r.stdout)
	replies := ofType(evs, "reply")
	if r.code != 0 || len(replies) != count {
		t.Fatalf("%s: exit %d, %d replies, want %d:\n%s%s", what, r.code, len(replies), count, r.stdout, r.stderr)
	}
	for i, e := range replies {
		if e["from"] != dst || num(t, e, "seq") != float64(i+1) || e["ts_source"] != "kernel" || num(t, e, "ttl") != 63 {
			t.Errorf("%s: reply %v: want from %s, seq %d, ttl 63, kernel stamps", what, e, dst, i+1)
		}
		for k, v := range want {
			if k != "protocol" && e[k] != v {
				t.Errorf("%s: reply %v: %s is %v, want %v", what, e, k, e[k], v)
			}
		}
	}
	start := ofType(evs, "start")
	if len(start) != 1 || start[0]["protocol"] != want["protocol"] {
		t.Errorf("%s: start %v, want protocol %v", what, start, want["protocol"])
	}
}

// TestPingTCPOpenAndClosedPorts: an open port answers SYN-ACK, a closed
// one RST, over IPv4 and IPv6, in JSON and in text; the kernel, not
// rawnet, resets each half-open connection (a capture on dst's link holds
// one RST from src per SYN-ACK, and rawnet recorded no RST in its pcap).
func TestPingTCPOpenAndClosedPorts(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	listenTCP(t, l.Dst, 8080)
	dir := t.TempDir()
	for _, dst := range []netip.Addr{l.Dst.Addr4, l.Dst.Addr6} {
		d := dst.String()
		wire := filepath.Join(dir, "wire-"+strconv.Itoa(dst.BitLen())+".pcap")
		stop := startTcpdump(t, l.Dst, l.Dst.Ifaces[0].Name, wire, "tcp")
		r := inNS(t, l.Src, "ping", "--json", "-P", "tcp", "-p", "8080", "-c", "3", "-i", "0.05", d)
		checkKindReplies(t, "open "+d, r, d, 3, map[string]any{"flags": "SA", "state": "open", "port": 8080.0, "protocol": "tcp"})
		r = inNS(t, l.Src, "ping", "--json", "-P", "tcp", "--port", "80", "-c", "3", "-i", "0.05", d)
		checkKindReplies(t, "closed "+d, r, d, 3, map[string]any{"flags": "RA", "state": "closed", "port": 80.0, "protocol": "tcp"})
		stop()
		src := l.Src.Addr4.String()
		if dst.Is6() {
			src = l.Src.Addr6.String()
		}
		// Each SYN-ACK from the open port is answered by an RST from src
		// that acknowledges nothing new: the kernel's reset of the
		// half-open connection.
		synAcks := tsharkCount(t, wire, "tcp.srcport == 8080 && tcp.flags.syn == 1 && tcp.flags.ack == 1")
		resets := tsharkCount(t, wire, fmt.Sprintf("ip%s.src == %s && tcp.dstport == 8080 && tcp.flags.reset == 1", map[bool]string{false: "", true: "v6"}[dst.Is6()], src))
		if synAcks != 3 || resets != 3 {
			t.Errorf("%s: the capture on dst holds %d SYN-ACKs and %d RSTs from src, want 3 and 3", d, synAcks, resets)
		}
	}
	a := l.Dst.Addr4.String()
	r := inNS(t, l.Src, "ping", "-P", "tcp", "-p", "8080", "-c", "2", "-i", "0.05", a)
	for _, want := range []string{
		"PING " + a + " (" + a + ") tcp port 8080: 0(44) bytes of data.",
		"24 bytes from " + a + ": tcp_seq=1 port=8080 flags=SA ttl=63 time=",
		"24 bytes from " + a + ": tcp_seq=2 port=8080 flags=SA ttl=63 time=",
		"2 packets transmitted, 2 received, 0% packet loss, time ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestPingUDPOpenAndClosedPorts: a UDP echo answers (open), a closed port
// sends port unreachable (closed), over IPv4 and IPv6; both are replies.
func TestPingUDPOpenAndClosedPorts(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	udpEcho(t, l.Dst, 7007)
	for _, dst := range []netip.Addr{l.Dst.Addr4, l.Dst.Addr6} {
		d := dst.String()
		r := inNS(t, l.Src, "ping", "--json", "-P", "udp", "-p", "7007", "-s", "100", "--pattern", "ab", "-c", "3", "-i", "0.05", d)
		checkKindReplies(t, "open "+d, r, d, 3, map[string]any{"state": "open", "port": 7007.0, "protocol": "udp", "size": 108.0})
		r = inNS(t, l.Src, "ping", "--json", "-P", "udp", "-c", "3", "-i", "0.05", d)
		replies := ofType(jsonEvents(t, r.stdout), "reply")
		if r.code != 0 || len(replies) != 3 {
			t.Fatalf("closed %s: exit %d:\n%s%s", d, r.code, r.stdout, r.stderr)
		}
		typ := map[bool]float64{false: 3, true: 1}[dst.Is6()]
		code := map[bool]float64{false: 3, true: 4}[dst.Is6()]
		for _, e := range replies {
			if e["state"] != "closed" || e["from"] != d || num(t, e, "port") != 33434 || num(t, e, "icmp_type") != typ || num(t, e, "icmp_code") != code {
				t.Errorf("closed %s: reply %v, want a port unreachable from it", d, e)
			}
		}
	}
	r := inNS(t, l.Src, "ping", "-P", "udp", "-c", "1", l.Dst.Addr4.String())
	if want := "From " + l.Dst.Addr4.String() + ": udp_seq=1 port=33434 closed (Destination Port Unreachable) time="; !strings.Contains(r.stdout, want) {
		t.Errorf("text output lacks %q:\n%s", want, r.stdout)
	}
}

// TestPingTCPAndUDPLossMatchesNftablesRule: the loss a drop rule injects
// toward dst is the loss ping -P tcp and -P udp report.
func TestPingTCPAndUDPLossMatchesNftablesRule(t *testing.T) {
	t.Parallel()
	const pct, n = 30, 400
	l := labtest.Up(t, lab.Spec{Routers: 2, Loss: []lab.Loss{{Link: 1, Percent: pct}}})
	for _, kind := range []string{"tcp", "udp"} {
		r := inNS(t, l.Src, "ping", "--json", "-q", "-P", kind, "-c", strconv.Itoa(n), "-i", "0.002", "-W", "0.5", l.Dst.Addr4.String())
		sum := ofType(jsonEvents(t, r.stdout), "summary")
		if len(sum) != 1 {
			t.Fatalf("%s: no summary: %s %s", kind, r.stdout, r.stderr)
		}
		loss := num(t, sum[0], "loss_pct")
		sd := 100 * math.Sqrt(pct/100.0*(1-pct/100.0)/n)
		if math.Abs(loss-pct) > 6*sd || num(t, sum[0], "duplicates") != 0 || num(t, sum[0], "errors") != 0 {
			t.Errorf("%s: summary %v: loss %.1f%%, want %d%% ± %.1f and no duplicates or errors", kind, sum[0], loss, pct, 6*sd)
		}
	}
}

// TestConcurrentTCPPingsDoNotCrossTalk: three ping -P tcp runs at once
// from one host to one port, two to a listening host and one to an
// address that never answers: each counts exactly its own replies.
func TestConcurrentTCPPingsDoNotCrossTalk(t *testing.T) {
	t.Parallel()
	hole := netip.MustParseAddr("198.19.0.77")
	l := labtest.Up(t, lab.Spec{Routers: 1, LocalPrefix4: netip.MustParsePrefix("198.19.0.0/24"), Blackhole: []netip.Addr{hole}})
	listenTCP(t, l.Dst, 8080)
	args := func(dst string) []string {
		return []string{"ping", "--json", "-q", "-P", "tcp", "-p", "8080", "-c", "100", "-i", "0.005", "-W", "0.3", dst}
	}
	runs := map[string]*exec.Cmd{
		"answered": l.Src.Command(context.Background(), rawnetBin, args(l.Dst.Addr4.String())...),
		"also":     l.Src.Command(context.Background(), rawnetBin, args(l.Dst.Addr4.String())...),
		"silent":   l.Src.Command(context.Background(), rawnetBin, args(hole.String())...),
	}
	waits := map[string]func() result{}
	for name, cmd := range runs {
		waits[name] = startRawnet(t, cmd)
	}
	for name, wait := range waits {
		r := wait()
		sum := ofType(jsonEvents(t, r.stdout), "summary")
		if len(sum) != 1 {
			t.Fatalf("%s: %s %s", name, r.stdout, r.stderr)
		}
		want := map[string]float64{"answered": 100, "also": 100, "silent": 0}[name]
		if got := num(t, sum[0], "received"); got != want || num(t, sum[0], "duplicates") != 0 || num(t, sum[0], "late") != 0 {
			t.Errorf("%s ping: summary %v; want %v received, no duplicates or late replies", name, sum[0], want)
		}
	}
}

// TestPingTCPErrorsAndPcap: an ICMP error about a SYN (admin prohibited
// by an nftables reject on dst) is an error, as for ICMP ping; --write
// records SYNs and answers, and tshark reads them with good checksums;
// -P udp's pcap holds the datagrams and the port unreachables.
func TestPingTCPErrorsAndPcap(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	listenTCP(t, l.Dst, 8080)
	nftScript(t, l.Dst, `table inet prohibit {
	chain input {
		type filter hook input priority 0;
		tcp dport 81 reject with icmpx admin-prohibited
	}
}`)
	for _, dst := range []netip.Addr{l.Dst.Addr4, l.Dst.Addr6} {
		r := inNS(t, l.Src, "ping", "-P", "tcp", "-p", "81", "-c", "2", "-i", "0.05", "-W", "1", dst.String())
		want := "From " + dst.String() + " tcp_seq=1 "
		if r.code != 1 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "2 packets transmitted, 0 received, +2 errors, 100% packet loss") {
			t.Errorf("admin prohibited %s: exit %d, want 1, %q and two errors:\n%s%s", dst, r.code, want, r.stdout, r.stderr)
		}
	}
	dir := t.TempDir()
	for _, dst := range []netip.Addr{l.Dst.Addr4, l.Dst.Addr6} {
		ip := map[bool]string{false: "ip", true: "ipv6"}[dst.Is6()]
		file := filepath.Join(dir, "tcp-"+strconv.Itoa(dst.BitLen())+".pcap")
		r := inNS(t, l.Src, "ping", "-q", "-P", "tcp", "-p", "8080", "-c", "5", "-i", "0.02", "--write", file, dst.String())
		if r.code != 0 {
			t.Fatalf("ping: %s %s", r.stdout, r.stderr)
		}
		if n := tsharkCount(t, file, "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 8080"); n != 5 {
			t.Errorf("%s: %d SYNs, want 5", file, n)
		}
		if n := tsharkCount(t, file, ip+".src == "+dst.String()+" && tcp.flags.syn == 1 && tcp.flags.ack == 1"); n != 5 {
			t.Errorf("%s: %d SYN-ACKs, want 5", file, n)
		}
		// The SYNs rawnet built carry right checksums; the answers keep
		// the checksum they arrived with, which over veth is the partial
		// one of checksum offload, as tcpdump would record it too.
		syns := tsharkFields(t, file, "tcp.flags.syn == 1 && tcp.flags.ack == 0", "frame.number")
		for _, f := range tsharkBadChecksums(t, file) {
			if slices.Contains(syns, f) {
				t.Errorf("%s: SYN in frame %s has a bad checksum", file, f)
			}
		}
		file = filepath.Join(dir, "udp-"+strconv.Itoa(dst.BitLen())+".pcap")
		r = inNS(t, l.Src, "ping", "-q", "-P", "udp", "-c", "4", "-i", "0.02", "--write", file, dst.String())
		if r.code != 0 {
			t.Fatalf("ping: %s %s", r.stdout, r.stderr)
		}
		unreach := "icmp.type == 3 && icmp.code == 3"
		if dst.Is6() {
			unreach = "icmpv6.type == 1 && icmpv6.code == 4"
		}
		if n := tsharkCount(t, file, "udp.dstport == 33434 && udp.length == 64 && !icmp && !icmpv6"); n != 4 {
			t.Errorf("%s: %d datagrams, want 4", file, n)
		}
		if n := tsharkCount(t, file, unreach+" && "+ip+".src == "+dst.String()); n != 4 {
			t.Errorf("%s: %d port unreachables, want 4", file, n)
		}
		if bad := tsharkBadChecksums(t, file); len(bad) != 0 {
			t.Errorf("%s: frames %v have bad checksums", file, bad)
		}
	}
}
