package main

import (
	"context"
	"net"
	"net/netip"
	"os"
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
	"github.com/rawnet/rawnet/internal/testenv"
)

// needTools fails (CI=true) or skips the test when a program it runs is
// missing; scripts/deps.sh installs them all.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	testenv.NeedTools(t, names...)
}

// startIn starts a long-running program in n's namespace and stops it
// when the test ends.
func startIn(t *testing.T, n *lab.Node, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := n.Command(context.Background(), name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return cmd
}

// waitSockets waits (30s at most) until n's namespace has a socket for
// each of want, "udp 198.18.0.2:53" or "tcp [fd00::2]:53" as ss -ln
// lists them (netid and local address; "udp *:67" for any address, a
// device suffix such as 0.0.0.0%eth0:67 included): the servers a test
// started are ready, without guessing how long they take.
func waitSockets(t *testing.T, n *lab.Node, want ...string) {
	t.Helper()
	var out []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		if out, err = n.Command(context.Background(), "ss", "-Hlntu").Output(); err != nil {
			t.Fatalf("ss in %s: %v", n.Name, err)
		}
		if !slices.ContainsFunc(want, func(w string) bool { return !hasSocket(string(out), w) }) {
			return
		}
	}
	t.Fatalf("no sockets %q in %s within 30s:\n%s", want, n.Name, out)
}

// hasSocket says whether ss output lists want ("udp 198.18.0.2:53",
// "udp *:67").
func hasSocket(ss, want string) bool {
	netid, local, _ := strings.Cut(want, " ")
	for line := range strings.Lines(ss) {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] != netid {
			continue
		}
		if f[4] == local || strings.HasPrefix(local, "*:") && strings.HasSuffix(f[4], local[1:]) {
			return true
		}
	}
	return false
}

// waitFile waits (30s at most) until path exists: tcpdump opens its -w
// file once its capture is active.
func waitFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not created within 30s", path)
		}
	}
}

// runIn runs a client in n's namespace, bounded in time; its failure is
// the test's.
func runIn(t *testing.T, n *lab.Node, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := n.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// TestReadLabDNSARPNDLikeTcpdump records real DNS (dnsmasq answering dig
// over UDP and TCP, IPv4 and IPv6, with and without EDNS), ARP (arping)
// and neighbour discovery (ndisc6, rdisc6) between two lab namespaces
// with tcpdump, and checks that rawnet read prints every packet's line as
// tcpdump -nn does, with relative TCP numbers and with -S, and that
// rawnet capture, running alongside, printed the DNS packets' lines.
func TestReadLabDNSARPNDLikeTcpdump(t *testing.T) {
	needTools(t, "tcpdump", "dnsmasq", "dig", "arping", "ndisc6", "rdisc6")
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	src, dst := l.Src, l.Dst
	srcIf, dstIf := src.Ifaces[0].Name, dst.Ifaces[0].Name
	dir := t.TempDir()
	file := filepath.Join(dir, "lab.pcap")
	dump := startIn(t, dst, "tcpdump", "-i", dstIf, "-nn", "--immediate-mode", "-U", "-w", file)
	startIn(t, dst, "dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
		"--listen-address="+dst.Addr4.String(), "--listen-address="+dst.Addr6.String(), "--user=root",
		"--pid-file="+filepath.Join(dir, "dnsmasq.pid"), "--log-facility="+filepath.Join(dir, "dnsmasq.log"),
		"--host-record=www.lab.test,198.18.9.9,fd00:9::9", "--cname=alias.lab.test,www.lab.test",
		"--mx-host=lab.test,mail.lab.test,10", "--txt-record=lab.test,v=spf1 -all",
		"--srv-host=_sip._udp.lab.test,sip.lab.test,5060,1,5", "--ptr-record=9.9.18.198.in-addr.arpa,www.lab.test",
		"--auth-server=ns.lab.test", "--auth-zone=lab.test")
	live := startCapture(t, dst, "-i", dstIf, "port 53")
	waitFile(t, file)
	a4, a6 := dst.Addr4.String()+":53", "["+dst.Addr6.String()+"]:53"
	waitSockets(t, dst, "udp "+a4, "tcp "+a4, "udp "+a6, "tcp "+a6)
	for _, server := range []string{dst.Addr4.String(), dst.Addr6.String()} {
		at := "@" + server
		for _, q := range [][]string{
			{"A", "www.lab.test"}, {"AAAA", "alias.lab.test"}, {"MX", "lab.test"}, {"TXT", "lab.test"},
			{"SRV", "_sip._udp.lab.test"}, {"-x", "198.18.9.9"}, {"A", "nothere.lab.test"},
			{"+noedns", "A", "www.lab.test"}, {"+tcp", "AAAA", "www.lab.test"}, {"+dnssec", "+norecurse", "A", "www.lab.test"},
		} {
			runIn(t, src, "dig", append([]string{at, "+tries=1", "+time=2"}, q...)...)
		}
	}
	// rawnet send --wait: a hand-made query; its answer's line is below.
	const query = "beef01000001000000000000037777770363616204746573740000010001"
	sent := runIn(t, src, rawnetBin, "send", "--wait", "1", "ip(dst="+dst.Addr4.String()+")/udp(sport=40999,dport=53)/raw(hex="+strings.Replace(query, "636162", "6c6162", 1)+")")
	runIn(t, src, "arping", "-c", "2", "-w", "5", "-I", srcIf, dst.Addr4.String())
	runIn(t, src, "ndisc6", "-1", "-r", "2", dst.Addr6.String(), srcIf)
	exec.Command("ip", "netns", "exec", src.NS, "rdisc6", "-1", "-r", "1", "-w", "200", srcIf).Run() // no router answers
	time.Sleep(500 * time.Millisecond)
	dump.Process.Signal(syscall.SIGINT)
	dump.Wait()

	compareReadWithTcpdump(t, file)
	// rawnet capture saw the DNS packets live: the same lines as tcpdump's
	// of its file (the clocks differ by microseconds: times are left out).
	got := lines(live.wait(t, os.Interrupt).stdout)
	want := tcpdump(t, "-r", file, "port 53")
	if len(got) != len(want) {
		t.Fatalf("capture printed %d lines, tcpdump %d", len(got), len(want))
	}
	for i := range want {
		_, g, _ := strings.Cut(got[i], " ")
		_, w, _ := strings.Cut(want[i], " ")
		if g != w {
			t.Errorf("capture line %d:\n got  %s\n want %s", i+1, g, w)
		}
	}
	answer := tcpdump(t, "-r", file, "udp dst port 40999")
	if len(answer) != 1 || !strings.Contains(sent, "ms  "+strings.SplitN(answer[0], " ", 2)[1]+"\n") {
		t.Errorf("send --wait printed\n%s\ntcpdump saw the answer as\n%s", sent, strings.Join(answer, "\n"))
	}
	all := strings.Join(tcpdump(t, "-r", file), "\n")
	for _, seen := range []string{"A 198.18.9.9", "CNAME www.lab.test.", "MX mail.lab.test. 10", `TXT "v=spf1 -all"`,
		"SRV sip.lab.test.:5060 1 5", "PTR www.lab.test.", "NXDomain", "[1au]", "Flags [P.], seq 1:", "ARP, Request who-has",
		"ARP, Reply", "neighbor solicitation", "neighbor advertisement", "router solicitation"} {
		if !strings.Contains(all, seen) {
			t.Errorf("the capture has no %q: the test shows less than it should\n%s", seen, all)
		}
	}
}

// TestReadLabTunnelNTPDHCPLikeTcpdump records a VXLAN tunnel between two
// lab namespaces (pings, UDP and a refused TCP connection inside), NTP
// (chronyd serving, chronyd -Q asking), DHCPv4 and DHCPv6 (dnsmasq
// serving, dhclient asking) with tcpdump, and checks rawnet read's lines
// against tcpdump -nn and tcpdump -nn -S.
func TestReadLabTunnelNTPDHCPLikeTcpdump(t *testing.T) {
	needTools(t, "tcpdump", "dnsmasq", "chronyd", "dhclient")
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	src, dst := l.Src, l.Dst
	srcIf, dstIf := src.Ifaces[0].Name, dst.Ifaces[0].Name
	dir := t.TempDir()
	for _, n := range []struct {
		node        *lab.Node
		local, peer string
		in4, in6    string
	}{{src, src.Addr4.String(), dst.Addr4.String(), "198.19.200.1/24", "fd00:200::1/64"},
		{dst, dst.Addr4.String(), src.Addr4.String(), "198.19.200.2/24", "fd00:200::2/64"}} {
		for _, args := range [][]string{
			{"link", "add", "vx0", "type", "vxlan", "id", "100", "local", n.local, "remote", n.peer, "dstport", "4789"},
			{"addr", "add", n.in4, "dev", "vx0"},
			{"-6", "addr", "add", n.in6, "dev", "vx0", "nodad"},
			{"link", "set", "vx0", "up"},
		} {
			if out, err := exec.Command("ip", append([]string{"-n", n.node.NS}, args...)...).CombinedOutput(); err != nil {
				t.Fatalf("ip %v: %v: %s", args, err, out)
			}
		}
	}
	file := filepath.Join(dir, "lab.pcap")
	dump := startIn(t, dst, "tcpdump", "-i", dstIf, "-nn", "--immediate-mode", "-U", "-w", file, "not ip6 or udp")
	conf := filepath.Join(dir, "chrony.conf")
	os.WriteFile(conf, []byte("allow all\nlocal stratum 8\ncmdport 0\npidfile "+filepath.Join(dir, "chronyd.pid")+"\ndriftfile "+filepath.Join(dir, "drift")+"\n"), 0o644)
	startIn(t, dst, "chronyd", "-d", "-x", "-f", conf)
	startIn(t, dst, "dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=0", "--user=root",
		"--interface="+dstIf, "--bind-interfaces", "--dhcp-range="+dhcpRange(dst.Ifaces[0].Addr4), "--dhcp-range="+dhcp6Range(dst.Ifaces[0].Addr6),
		"--dhcp-leasefile="+filepath.Join(dir, "leases"), "--pid-file="+filepath.Join(dir, "dnsmasq.pid"), "--log-facility="+filepath.Join(dir, "dnsmasq.log"))
	waitFile(t, file)
	waitSockets(t, dst, "udp *:123", "udp *:67", "udp *:547")
	runIn(t, src, "ping", "-c", "3", "-i", "0.2", "198.19.200.2")
	runIn(t, src, "ping", "-c", "2", "-i", "0.2", "fd00:200::2")
	startIn(t, dst, rawnetBin, "udp", "serve", "198.19.200.2:9999")
	waitSockets(t, dst, "udp 198.19.200.2:9999")
	runIn(t, src, rawnetBin, "udp", "probe", "-q", "-c", "3", "198.19.200.2:9999")
	runIn(t, src, "bash", "-c", "exec 3<>/dev/tcp/198.19.200.2/22 || true") // refused: SYN, RST
	runIn(t, src, "timeout", "15", "chronyd", "-Q", "-t", "10", "server "+dst.Addr4.String()+" iburst maxsamples 4")
	// dhclient stays in the foreground (-d) once bound: wait for its
	// lease, then let the cleanup stop it.
	leases := filepath.Join(dir, "dhclient.leases")
	startIn(t, src, "dhclient", "-4", "-1", "-d", "-sf", "/bin/true", "-lf", leases, "-pf", filepath.Join(dir, "dhclient.pid"), srcIf)
	waitLease(t, leases, "fixed-address")
	leases6 := filepath.Join(dir, "dhclient6.leases")
	startIn(t, src, "dhclient", "-6", "-1", "-d", "-sf", "/bin/true", "-lf", leases6, "-pf", filepath.Join(dir, "dhclient6.pid"), srcIf)
	waitLease(t, leases6, "iaaddr")
	time.Sleep(500 * time.Millisecond)
	dump.Process.Signal(syscall.SIGINT)
	dump.Wait()

	compareReadWithTcpdump(t, file)
	all := strings.Join(tcpdump(t, "-r", file), "\n")
	for _, seen := range []string{"VXLAN, flags [I] (0x08), vni 100\nIP 198.19.200.1 > 198.19.200.2: ICMP echo request",
		"\nIP6 fd00:200::1 > fd00:200::2: ICMP6, echo request", "\nIP 198.19.200.1.", "> 198.19.200.2.22: Flags [S]", "NTPv4, Client, length 48", "NTPv4, Server, length 48",
		"BOOTP/DHCP, Request from ", "BOOTP/DHCP, Reply, length", "dhcp6 solicit", "dhcp6 advertise", "dhcp6 request", "dhcp6 reply"} {
		if !strings.Contains(all, seen) {
			t.Errorf("the capture has no %q: the test shows less than it should\n%s", seen, all)
		}
	}
}

// compareReadWithTcpdump checks that rawnet read prints file as tcpdump -nn
// does, with relative TCP numbers and with -S (an ICMP error's line may add
// the packet it quotes in brackets).
func compareReadWithTcpdump(t *testing.T, file string) {
	t.Helper()
	for _, abs := range [][]string{nil, {"-S"}} {
		want := tcpdump(t, append(abs, "-r", file)...)
		r := rawnetUTC(t, append(append([]string{"read"}, abs...), file)...)
		got := lines(r.stdout)
		if r.code != 0 || len(got) != len(want) {
			t.Fatalf("read %v: exit %d, %d lines, tcpdump %d: %s", abs, r.code, len(got), len(want), r.stderr)
		}
		for i := range want {
			g := got[i]
			if j := strings.Index(g, " [IP"); j >= 0 && strings.HasSuffix(g, "]") {
				g = g[:j] // the packet an ICMP error quotes, which tcpdump -nn leaves out
			}
			if g != want[i] {
				t.Errorf("read %v line %d:\n got  %s\n want %s", abs, i+1, got[i], want[i])
			}
		}
	}
}

// dhcpRange is a dnsmasq --dhcp-range of two addresses at the top of the
// IPv4 subnet p (the lab uses the low ones).
func dhcpRange(p netip.Prefix) string {
	last := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(last[0])<<24 | uint32(last[1])<<16 | uint32(last[2])<<8 | uint32(last[3]) | host
	top := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v - 1)})
	mask := net.CIDRMask(p.Bits(), 32)
	return top.Prev().String() + "," + top.String() + "," + net.IP(mask).String() + ",5m"
}

// dhcp6Range is a dnsmasq --dhcp-range of 16 addresses in the IPv6 subnet p.
func dhcp6Range(p netip.Prefix) string {
	a := p.Masked().Addr().As16()
	a[15] = 0xf0
	lo := netip.AddrFrom16(a)
	a[15] = 0xff
	return lo.String() + "," + netip.AddrFrom16(a).String() + "," + strconv.Itoa(p.Bits()) + ",5m"
}

// waitLease waits until dhclient's lease file holds what, for 20 seconds.
func waitLease(t *testing.T, file, what string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if b, _ := os.ReadFile(file); strings.Contains(string(b), what) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("dhclient: no %s in %s after 20s", what, file)
		}
	}
}
