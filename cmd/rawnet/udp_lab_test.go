package main

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
	"github.com/rawnet/rawnet/udp"
)

// Lab tests of rawnet udp: servers in dst, clients in src, as users run
// them, checked against what the lab does to the packets.

// startServe runs rawnet udp serve in n's namespace until the returned
// func stops it (SIGINT) and hands back its output.
func startServe(t *testing.T, n *lab.Node, args ...string) func() result {
	t.Helper()
	cmd := n.Command(context.Background(), rawnetBin, append([]string{"udp", "serve", "--json"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 256) // the "listen" line says the socket is bound
	k, err := stdout.Read(first)
	if err != nil || !strings.Contains(string(first[:k]), `"type":"listen"`) {
		t.Fatalf("serve did not start: %q %v", first[:k], err)
	}
	var mu sync.Mutex
	var rest strings.Builder
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := stdout.Read(buf)
			mu.Lock()
			rest.Write(buf[:k])
			mu.Unlock()
			if err != nil {
				close(done)
				return
			}
		}
	}()
	stopped := false
	stop := func() result {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
			cmd.Wait()
		}
		mu.Lock()
		defer mu.Unlock()
		return result{stdout: rest.String(), code: cmd.ProcessState.ExitCode()}
	}
	t.Cleanup(func() { stop() })
	return stop
}

func probeSummary(t *testing.T, r result) map[string]any {
	t.Helper()
	sum := ofType(jsonEvents(t, r.stdout), "summary")
	if len(sum) != 1 {
		t.Fatalf("probe: exit %d, no summary:\n%s%s", r.code, r.stdout, r.stderr)
	}
	return sum[0]
}

func TestUDPProbeLossThroughRouter(t *testing.T) {
	t.Parallel()
	const pct, n = 20, 600
	l := labtest.Up(t, lab.Spec{Routers: 1, Loss: []lab.Loss{{Link: 1, Percent: pct}}})
	startServe(t, l.Dst, "--mode", "reflect", ":7007")
	for _, dst := range []netip.Addr{l.Dst.Addr4, l.Dst.Addr6} {
		target := netip.AddrPortFrom(dst, 7007).String()
		r := inNS(t, l.Src, "udp", "probe", "--json", "-q", "-c", strconv.Itoa(n), "--rate", "2000", "-W", "0.5", target)
		s := probeSummary(t, r)
		loss := num(t, s, "loss_pct")
		sd := 100 * math.Sqrt(pct/100.0*(1-pct/100.0)/n)
		if math.Abs(loss-pct) > 6*sd {
			t.Errorf("%s: loss %.1f%%, want %d%% ± %.1f", target, loss, pct, 6*sd)
		}
		// The lab drops on the way to dst only: the reflector's count
		// puts every loss on the way there.
		sent, rcvd := num(t, s, "sent"), num(t, s, "received")
		if sent != n || num(t, s, "fwd_lost") != sent-rcvd || num(t, s, "rev_lost") != 0 || num(t, s, "duplicates") != 0 {
			t.Errorf("%s: sent %v received %v, lost there %v back %v, dups %v", target, sent, rcvd, s["fwd_lost"], s["rev_lost"], s["duplicates"])
		}
		if r.code != 0 {
			t.Errorf("%s: exit %d with replies and no threshold", target, r.code)
		}
		// A threshold below the loss breaks the run: exit 1.
		r = inNS(t, l.Src, "udp", "probe", "-q", "-c", "100", "--rate", "2000", "-W", "0.5", "--max-loss", "1%", target)
		if r.code != 1 || !strings.Contains(r.stdout, "threshold broken: --max-loss 1%") {
			t.Errorf("--max-loss 1%% with %d%% loss: exit %d\n%s", pct, r.code, r.stdout)
		}
	}
}

// listenIn opens a UDP socket in n's namespace.
func listenIn(t *testing.T, n *lab.Node, addr string) net.PacketConn {
	t.Helper()
	var pc net.PacketConn
	err := n.Do(func() (err error) {
		pc, err = net.ListenPacket("udp", addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// serveFixture answers each datagram on pc with what answer returns
// (any number of datagrams), in a goroutine, until the test ends.
func serveFixture(pc net.PacketConn, answer func(req []byte) [][]byte) {
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, a := range answer(append([]byte(nil), buf[:n]...)) {
				pc.WriteTo(a, from)
			}
		}
	}()
}

// TestUDPProbeSeesDuplicatesAndReordering: an echo server (a test
// fixture) that answers every tenth datagram twice and holds back each
// datagram with a sequence number ending in 5 until the next one came.
func TestUDPProbeSeesDuplicatesAndReordering(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	pc := listenIn(t, l.Dst, ":7100")
	var held []byte
	serveFixture(pc, func(req []byte) [][]byte {
		h, err := udp.Parse(req)
		if err != nil {
			return nil
		}
		switch {
		case h.Seq%10 == 0:
			return [][]byte{req, req}
		case h.Seq%10 == 5:
			held = req
			return nil
		case held != nil:
			out := [][]byte{req, held}
			held = nil
			return out
		}
		return [][]byte{req}
	})
	r := inNS(t, l.Src, "udp", "probe", "--json", "-c", "100", "-i", "0.002", "--max-duplicates", "0", l.Dst.Addr4.String()+":7100")
	evs := jsonEvents(t, r.stdout)
	s := probeSummary(t, r)
	if num(t, s, "received") != 100 || num(t, s, "duplicates") != 10 || num(t, s, "reordered") != 10 || num(t, s, "reorder_max") != 1 {
		t.Errorf("summary %v: want 100 received, 10 duplicates, 10 reordered by 1", s)
	}
	dups, late := 0, 0
	for _, e := range ofType(evs, "reply") {
		seq := num(t, e, "seq")
		if e["dup"] == true {
			dups++
			if int(seq)%10 != 0 {
				t.Errorf("seq %v marked duplicate", seq)
			}
		}
		if num(t, e, "reorder") > 0 {
			late++
			if int(seq)%10 != 5 {
				t.Errorf("seq %v marked reordered", seq)
			}
		}
	}
	if dups != 10 || late != 10 || r.code != 1 {
		t.Errorf("%d duplicate and %d reordered events, exit %d (want 10, 10, and 1 for --max-duplicates 0)", dups, late, r.code)
	}
}

func TestUDPManyClientsAtOnce(t *testing.T) {
	t.Parallel()
	const clients = 8
	l := labtest.Up(t, lab.Spec{Routers: 1})
	stop := startServe(t, l.Dst, ":7200")
	type res struct {
		i int
		r result
	}
	// All clients are started, then waited for in turn: they run at
	// once, and only the test's goroutine calls t.Fatal.
	waits := make([]func() result, clients)
	for i := range clients {
		count, rate := 100+25*i, 500+250*i
		dst := l.Dst.Addr4
		if i%2 == 1 {
			dst = l.Dst.Addr6
		}
		waits[i] = startRawnet(t, l.Src.Command(context.Background(), rawnetBin, "udp", "probe", "--json", "-q", "-c", strconv.Itoa(count), "--rate", strconv.Itoa(rate),
			"-s", strconv.Itoa(64+i), netip.AddrPortFrom(dst, 7200).String()))
	}
	local := map[string]float64{} // client address -> datagrams sent
	for i, wait := range waits {
		x := res{i, wait()}
		evs := jsonEvents(t, x.r.stdout)
		s := probeSummary(t, x.r)
		want := float64(100 + 25*x.i)
		if num(t, s, "sent") != want || num(t, s, "received") != want || num(t, s, "duplicates") != 0 || num(t, s, "foreign") != 0 {
			t.Errorf("client %d: %v; want %v sent and received, none foreign", x.i, s, want)
		}
		local[ofType(evs, "start")[0]["local"].(string)] = want
	}
	srv := jsonEvents(t, stop().stdout)
	finals := 0
	for _, c := range ofType(srv, "client") {
		addr, _ := c["addr"].(string)
		if want, ok := local[addr]; ok {
			finals++
			if num(t, c, "received") != want || num(t, c, "replied") != want || num(t, c, "probes") != want || num(t, c, "lost") != 0 {
				t.Errorf("server's figures for %s: %v; want %v", addr, c, want)
			}
		}
	}
	if finals != clients {
		t.Errorf("server reported %d of the %d clients:\n%v", finals, clients, srv)
	}
}

func TestUDPReflectorDelayIsTakenOut(t *testing.T) {
	t.Parallel()
	const delay = 20 // ms
	l := labtest.Up(t, lab.Spec{Routers: 2})
	startServe(t, l.Dst, "--mode", "reflect", "--delay", fmt.Sprintf("%dms", delay), ":7300")
	r := inNS(t, l.Src, "udp", "probe", "--json", "-c", "10", "-i", "0.05", "["+l.Dst.Addr6.String()+"]:7300")
	s := probeSummary(t, r)
	if num(t, s, "received") != 10 || num(t, s, "reflected") != 10 {
		t.Fatalf("summary %v", s)
	}
	// Per reply: the server held it at least the delay, the round trip
	// holds the server's time, and what is left once it is taken out
	// is positive and the rest of the round trip: no bound on how long
	// the network part may take on a loaded machine.
	replies := ofType(jsonEvents(t, r.stdout), "reply")
	if len(replies) != 10 {
		t.Fatalf("%d reply events, want 10:\n%s", len(replies), r.stdout)
	}
	for _, e := range replies {
		rtt, srv, net := num(t, e, "rtt_ms"), num(t, e, "server_ms"), num(t, e, "net_rtt_ms")
		if srv < delay || rtt < srv || net <= 0 || math.Abs(rtt-srv-net) > 0.002 {
			t.Errorf("reply %v: rtt %.3f ms, server %.3f ms, net %.3f ms: want server >= %d ms, rtt >= server, net = rtt - server > 0", e["seq"], rtt, srv, net, delay)
		}
	}
	raw, srv, net := num(t, s, "rtt_min_ms"), num(t, s, "server_time_avg_ms"), num(t, s, "net_rtt_min_ms")
	if raw < delay || srv < delay || net <= 0 || net >= raw-delay+0.002 {
		t.Errorf("rtt min %.3f ms, server time %.3f ms, rtt without it min %.3f ms: want the first two >= %d ms, the last in (0, rtt min - %d]", raw, srv, net, delay, delay)
	}
}

// dnsFixture, ntpFixture and snmpFixture answer only the requests the
// scan sends to those ports, as real services would.
func dnsFixture(req []byte) [][]byte {
	if len(req) < 12 || req[2]&0x80 != 0 || req[4] != 0 || req[5] != 1 {
		return nil
	}
	resp := append([]byte(nil), req...)
	resp[2] |= 0x80 // a response
	resp[3] = 0x05  // REFUSED: the point is that it answers
	return [][]byte{resp}
}

func ntpFixture(req []byte) [][]byte {
	if len(req) != 48 || req[0]&7 != 3 {
		return nil
	}
	resp := make([]byte, 48)
	resp[0] = 4<<3 | 4 // version 4, server
	return [][]byte{resp}
}

func snmpFixture(req []byte) [][]byte {
	if len(req) < 16 || req[0] != 0x30 || !strings.Contains(string(req), "public") {
		return nil
	}
	return [][]byte{append([]byte{0x30, 0}, []byte("response")...)}
}

func TestUDPScanThroughDefaultICMPRateLimit(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1, KeepICMPRateLimit: true})
	for port, f := range map[int]func([]byte) [][]byte{53: dnsFixture, 123: ntpFixture, 161: snmpFixture} {
		serveFixture(listenIn(t, l.Dst, fmt.Sprintf(":%d", port)), f)
	}
	startServe(t, l.Dst, ":7")
	file := t.TempDir() + "/scan.pcap"
	r := inNS(t, l.Src, "udp", "scan", "--json", "--write", file, l.Dst.Addr4.String(), "7,53,123,161,2000-2013")
	if r.code != 0 {
		t.Fatalf("scan: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got := map[int]string{}
	for _, e := range ofType(jsonEvents(t, r.stdout), "port") {
		got[int(num(t, e, "port"))] = e["state"].(string)
	}
	for port := range 65536 {
		want := ""
		switch {
		case port == 7 || port == 53 || port == 123 || port == 161:
			want = "open"
		case port >= 2000 && port <= 2013:
			want = "closed"
		}
		if got[port] != want {
			t.Errorf("port %d: %q, want %q", port, got[port], want)
		}
	}
	sum := ofType(jsonEvents(t, r.stdout), "scan_summary")
	if len(sum) != 1 || sum[0]["rate_limited"] != true {
		t.Errorf("summary %v: the kernel's default ICMP rate limit should have shown", sum)
	}
	// The pcap holds the probes and, rebuilt, the port unreachables.
	if n := tsharkCount(t, file, "icmp.type == 3 && icmp.code == 3 && udp.dstport >= 2000"); n < 14 {
		t.Errorf("pcap: %d port unreachables, want at least 14", n)
	}
	if n := tsharkCount(t, file, "dns.flags.response == 0"); n < 1 {
		t.Errorf("pcap: tshark sees %d DNS queries", n)
	}
	if bad := tsharkBadChecksums(t, file); len(bad) != 0 {
		t.Errorf("pcap: frames %v have bad checksums", bad)
	}
}

func TestUDPServeCountsJunk(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	stop := startServe(t, l.Dst, "--mode", "reflect", ":7400")
	sender := listenIn(t, l.Src, ":0")
	dst := &net.UDPAddr{IP: l.Dst.Addr4.AsSlice(), Port: 7400}
	for _, junk := range [][]byte{{}, {1}, []byte("rnU1"), make([]byte, 55), make([]byte, 1400), make([]byte, 9000)} {
		if _, err := sender.WriteTo(junk, dst); err != nil {
			t.Fatal(err)
		}
	}
	r := inNS(t, l.Src, "udp", "probe", "--json", "-q", "-c", "5", "-i", "0.01", l.Dst.Addr4.String()+":7400")
	if s := probeSummary(t, r); num(t, s, "received") != 5 {
		t.Errorf("probe after junk: %v", s)
	}
	srv := stop()
	tot := ofType(jsonEvents(t, srv.stdout), "server_summary")
	// "rnU1" claims to be a probe and is too short: malformed; the rest
	// are someone else's datagrams: plain.
	if srv.code != 0 || len(tot) != 1 || num(t, tot[0], "plain") != 5 || num(t, tot[0], "malformed") != 1 ||
		num(t, tot[0], "replied") != 5 || num(t, tot[0], "received") != 11 {
		t.Errorf("server: exit %d, totals %v; want 11 received, 5 plain, 1 malformed, 5 replied", srv.code, tot)
	}
}

// TestUDPServeEchoesOrdinaryClient: nping's UDP client (ordinary sockets,
// --unprivileged) gets its datagrams back from the echo server, which
// counts them as plain, not malformed, per client and in the totals.
func TestUDPServeEchoesOrdinaryClient(t *testing.T) {
	t.Parallel()
	needTools(t, "nping")
	l := labtest.Up(t, lab.Spec{Routers: 1})
	stop := startServe(t, l.Dst, "--mode", "echo", ":7401")
	out, err := l.Src.Command(context.Background(), "nping", "--udp", "--unprivileged", "-p", "7401", "-c", "3",
		"--delay", "50ms", "--data-string", "hello", l.Dst.Addr4.String()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Rcvd: 3 ") {
		t.Fatalf("nping: %v, want 3 datagrams back:\n%s", err, out)
	}
	r := inNS(t, l.Src, "udp", "probe", "--json", "-q", "-c", "2", "-i", "0.01", l.Dst.Addr4.String()+":7401")
	if s := probeSummary(t, r); num(t, s, "received") != 2 {
		t.Errorf("probe: %v", s)
	}
	srv := stop()
	evs := jsonEvents(t, srv.stdout)
	tot := ofType(evs, "server_summary")
	if srv.code != 0 || len(tot) != 1 || num(t, tot[0], "plain") != 3 || num(t, tot[0], "malformed") != 0 ||
		num(t, tot[0], "replied") != 5 || num(t, tot[0], "received") != 5 {
		t.Fatalf("server: exit %d, totals %v; want 5 received and replied, 3 plain, 0 malformed\n%s", srv.code, tot, srv.stdout)
	}
	plain := 0.0
	for _, c := range ofType(evs, "client") {
		if num(t, c, "malformed") != 0 {
			t.Errorf("client %v: malformed", c)
		}
		plain += num(t, c, "plain")
	}
	if plain != 3 {
		t.Errorf("clients: %g plain datagrams in all, want 3:\n%s", plain, srv.stdout)
	}
}

func TestUDPProbeWritePcap(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	startServe(t, l.Dst, ":7500")
	file := t.TempDir() + "/probe.pcapng"
	r := inNS(t, l.Src, "udp", "probe", "-q", "-c", "7", "-i", "0.01", "--write", file, "["+l.Dst.Addr6.String()+"]:7500")
	if r.code != 0 {
		t.Fatalf("probe: %s %s", r.stdout, r.stderr)
	}
	if n := tsharkCount(t, file, "udp.dstport == 7500 && ipv6.dst == "+l.Dst.Addr6.String()); n != 7 {
		t.Errorf("%d datagrams to the server in the pcap, want 7", n)
	}
	if n := tsharkCount(t, file, "udp.srcport == 7500 && ipv6.src == "+l.Dst.Addr6.String()); n != 7 {
		t.Errorf("%d replies in the pcap, want 7", n)
	}
	if bad := tsharkBadChecksums(t, file); len(bad) != 0 {
		t.Errorf("frames %v have bad checksums", bad)
	}
}
