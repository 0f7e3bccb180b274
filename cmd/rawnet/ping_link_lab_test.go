package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// Lab tests of ping -P arp and -P ndp: src shares a bridged link with dst
// and a few host namespaces; the ground truth is what `ip link` says their
// MACs are, which addresses the test gave them, and tcpdump's reading of
// the frames on the wire.

// linkLab is a lab whose src-dst link (198.18.0.0/24, fd00::/64) is
// extended in dst by a bridge to extra hosts.
type linkLab struct {
	*lab.Lab
	srcIf string
	macs  map[netip.Addr]string // every address on the link but src's, and its MAC
}

// bridgedLink builds the lab: dst's end of the link becomes a port of
// bridge br0, which takes dst's addresses (198.18.0.2, fd00::2), and host
// hI (rn-<lab>-hI, removed with the lab) hangs off the bridge with each of
// the addresses hosts[I-1] lists (IPv4 and IPv6 alike).
func bridgedLink(t *testing.T, hosts ...[]string) *linkLab {
	t.Helper()
	l := labtest.Up(t, lab.Spec{})
	ll := &linkLab{Lab: l, srcIf: l.Src.Ifaces[0].Name, macs: map[netip.Addr]string{}}
	dstIf, dns := l.Dst.Ifaces[0].Name, l.Dst.NS
	ipIn(t, dns, "link", "add", "br0", "type", "bridge")
	ipIn(t, dns, "link", "set", dstIf, "master", "br0")
	ipIn(t, dns, "addr", "flush", "dev", dstIf, "scope", "global")
	ipIn(t, dns, "addr", "add", "198.18.0.2/24", "dev", "br0")
	ipIn(t, dns, "addr", "add", "fd00::2/64", "dev", "br0", "nodad")
	ipIn(t, dns, "link", "set", "br0", "up")
	for i, addrs := range hosts {
		ns := fmt.Sprintf("rn-%s-h%d", l.Name, i+1)
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
		}
		port := fmt.Sprintf("h%d", i+1)
		ipIn(t, dns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
		ipIn(t, dns, "link", "set", port, "master", "br0", "up")
		for _, a := range addrs {
			if strings.Contains(a, ":") {
				ipIn(t, ns, "addr", "add", a+"/64", "dev", "eth0", "nodad")
			} else {
				ipIn(t, ns, "addr", "add", a+"/24", "dev", "eth0")
			}
		}
		ipIn(t, ns, "link", "set", "eth0", "up")
		mac := macOf(t, ns, "eth0")
		for _, a := range addrs {
			ll.macs[netip.MustParseAddr(a)] = mac // a duplicate keeps the last host's
		}
	}
	// The bridge takes the lowest MAC of its ports: read it once all are in.
	for _, a := range []string{"198.18.0.2", "fd00::2"} {
		ll.macs[netip.MustParseAddr(a)] = macOf(t, dns, "br0")
	}
	return ll
}

func ipIn(t *testing.T, ns string, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
}

// macOf is the MAC `ip link` gives iface in ns.
func macOf(t *testing.T, ns, iface string) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-j", "link", "show", "dev", iface).Output()
	var links []struct {
		Address string `json:"address"`
	}
	if err != nil || json.Unmarshal(out, &links) != nil || len(links) != 1 {
		t.Fatalf("ip -n %s link show %s: %v: %s", ns, iface, err, out)
	}
	return links[0].Address
}

// replyMACs runs ping --json in src and returns, per replying address,
// the MACs its replies came from, in order.
func (ll *linkLab) replyMACs(t *testing.T, args ...string) (map[string][]string, result) {
	t.Helper()
	r := inNS(t, ll.Src, append([]string{"ping", "--json"}, args...)...)
	got := map[string][]string{}
	for _, e := range ofType(jsonEvents(t, r.stdout), "reply") {
		from, mac := e["from"].(string), e["mac"].(string)
		if !slices.Contains(got[from], mac) {
			got[from] = append(got[from], mac)
		}
	}
	return got, r
}

// TestPingARPAndNDPReplyMACs: the MAC of every reply is the one ip link
// gives the answering interface (dst's bridge, h1's eth0), over ARP and
// over neighbour discovery, with and without -I.
func TestPingARPAndNDPReplyMACs(t *testing.T) {
	t.Parallel()
	ll := bridgedLink(t, []string{"198.18.0.11", "fd00::11"})
	for _, c := range [][]string{
		{"-P", "arp", "-c", "3", "-i", "0.05", "198.18.0.2"},
		{"-P", "arp", "-I", ll.srcIf, "-c", "2", "-i", "0.05", "198.18.0.11"},
		{"-P", "ndp", "-c", "3", "-i", "0.05", "fd00::2"},
		{"-P", "ndp", "-I", ll.srcIf, "-c", "2", "-i", "0.05", "fd00::11"},
	} {
		got, r := ll.replyMACs(t, c...)
		dst := c[len(c)-1]
		want := map[string][]string{dst: {ll.macs[netip.MustParseAddr(dst)]}}
		if r.code != 0 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("ping %v: exit %d, reply MACs %v, want %v (ip link):\n%s%s", c, r.code, got, want, r.stdout, r.stderr)
		}
		if n := len(ofType(jsonEvents(t, r.stdout), "reply")); n != 3 && n != 2 || r.code != 0 {
			t.Errorf("ping %v: %d replies", c, n)
		}
	}
	// The text line names the MAC first, as arping does.
	r := inNS(t, ll.Src, "ping", "-P", "arp", "-c", "1", "198.18.0.11")
	if want := fmt.Sprintf("bytes from %s (198.18.0.11): arp_seq=1 time=", ll.macs[netip.MustParseAddr("198.18.0.11")]); r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("ping -P arp: exit %d, want %q in:\n%s%s", r.code, want, r.stdout, r.stderr)
	}
}

// TestPingLinkSweepFindsExactlyTheHosts sweeps the link's prefix (a /24
// over ARP, a /120 over NDP): the addresses that answer are exactly those
// the lab put on the link beside src's own, each from its own MAC.
func TestPingLinkSweepFindsExactlyTheHosts(t *testing.T) {
	t.Parallel()
	ll := bridgedLink(t, []string{"198.18.0.11", "fd00::11"}, []string{"198.18.0.12", "198.18.0.200", "fd00::12"}, []string{"198.18.0.13", "fd00::c8"})
	for _, c := range []struct{ proto, prefix string }{{"arp", "198.18.0.0/24"}, {"ndp", "fd00::/120"}} {
		got, r := ll.replyMACs(t, "-P", c.proto, "-W", "0.5", "--rate", "2000", c.prefix)
		want := map[string][]string{}
		for a, mac := range ll.macs {
			if a.Is4() == (c.proto == "arp") {
				want[a.String()] = []string{mac}
			}
		}
		if r.code != 0 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("sweep -P %s %s: exit %d, found %v, want %v:\n%s", c.proto, c.prefix, r.code, got, want, r.stderr)
		}
		sums := ofType(jsonEvents(t, r.stdout), "summary")
		if len(sums) != 256 {
			t.Errorf("sweep -P %s %s: %d summaries, want 256", c.proto, c.prefix, len(sums))
		}
	}
}

// TestPingLinkDAD: duplicate address detection finds an address two
// hosts hold (exit 1, both MACs flagged), and exits 0 for a free one.
func TestPingLinkDAD(t *testing.T) {
	t.Parallel()
	ll := bridgedLink(t, []string{"198.18.0.50", "fd00::50"}, []string{"198.18.0.50", "fd00::50"})
	h1, h2 := macOf(t, "rn-"+ll.Name+"-h1", "eth0"), macOf(t, "rn-"+ll.Name+"-h2", "eth0")
	for _, c := range []struct{ proto, dup, free string }{{"arp", "198.18.0.50", "198.18.0.99"}, {"ndp", "fd00::50", "fd00::99"}} {
		got, r := ll.replyMACs(t, "-P", c.proto, "--dad", "-c", "2", "-i", "0.1", "-W", "0.5", c.dup)
		macs := got[c.dup]
		slices.Sort(macs)
		want := []string{h1, h2}
		slices.Sort(want)
		if r.code != 1 || !slices.Equal(macs, want) {
			t.Errorf("-P %s --dad %s: exit %d, MACs %v; want exit 1 and %v:\n%s%s", c.proto, c.dup, r.code, macs, want, r.stdout, r.stderr)
		}
		other := 0
		for _, e := range ofType(jsonEvents(t, r.stdout), "reply") {
			if e["other_mac"] == true {
				other++
			}
		}
		if other == 0 {
			t.Errorf("-P %s --dad %s: no reply flagged other_mac:\n%s", c.proto, c.dup, r.stdout)
		}
		text := inNS(t, ll.Src, "ping", "-P", c.proto, "--dad", "-c", "2", "-i", "0.1", "-W", "0.5", c.dup)
		if !strings.Contains(text.stdout, "WARNING: "+c.dup+" answered from 2 MACs") || !strings.Contains(text.stdout, "(other MAC: first reply from ") {
			t.Errorf("-P %s --dad %s: want the other MAC flagged in:\n%s", c.proto, c.dup, text.stdout)
		}
		_, r = ll.replyMACs(t, "-P", c.proto, "--dad", "-c", "2", "-i", "0.1", "-W", "0.3", c.free)
		if r.code != 0 {
			t.Errorf("-P %s --dad %s (free): exit %d, want 0:\n%s%s", c.proto, c.free, r.code, r.stdout, r.stderr)
		}
	}
}

// TestPingLinkUnsolicitedOnTheWire: -U sends gratuitous ARP and unsolicited
// advertisements, which tcpdump in dst reads with the right fields; the
// --write file holds the same frames.
func TestPingLinkUnsolicitedOnTheWire(t *testing.T) {
	t.Parallel()
	ll := bridgedLink(t)
	srcMAC := macOf(t, ll.Src.NS, ll.srcIf)
	dir := t.TempDir()
	wire, written := filepath.Join(dir, "wire.pcap"), filepath.Join(dir, "written.pcap")
	stop := startTcpdump(t, ll.Dst, ll.Dst.Ifaces[0].Name, wire, "arp or icmp6")
	for _, c := range [][]string{
		{"ping", "-P", "arp", "-U", "-c", "2", "-i", "0.05", "--write", written, "198.18.0.1"},
		{"ping", "-P", "ndp", "-U", "-c", "2", "-i", "0.05", "--write", written + "6", "fd00::1"},
	} {
		if r := inNS(t, ll.Src, c...); r.code != 0 || !strings.Contains(r.stdout, "2 unsolicited") {
			t.Fatalf("%v: exit %d:\n%s%s", c, r.code, r.stdout, r.stderr)
		}
	}
	stop()
	arpLine := fmt.Sprintf("%s > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Ethernet (len 6), IPv4 (len 4), Request who-has 198.18.0.1 tell 198.18.0.1, length 28", srcMAC)
	ndpLine := fmt.Sprintf("%s > 33:33:00:00:00:01, ethertype IPv6 (0x86dd), length 86: (hlim 255, next-header ICMPv6 (58) payload length: 32) fd00::1 > ff02::1: [icmp6 sum ok] ICMP6, neighbor advertisement, length 32, tgt is fd00::1, Flags [override]", srcMAC)
	for _, c := range []struct {
		file string
		want []string
	}{
		{wire, []string{arpLine, arpLine, ndpLine, ndpLine}},
		{written, []string{arpLine, arpLine}},
		{written + "6", []string{ndpLine, ndpLine}},
	} {
		var got []string
		for _, l := range tcpdump(t, "-e", "-t", "-v", "-r", c.file) {
			if !strings.HasPrefix(l, "\t") && !strings.HasPrefix(l, "  ") {
				got = append(got, l)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: tcpdump reads\n%s\nwant\n%s", filepath.Base(c.file), strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
}

// TestPingLinkBadInput: each mistake is one line naming the flag, exit 2.
func TestPingLinkBadInput(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-P", "arp", "fd00::2"}, "-P arp: fd00::2 is an IPv6 address"},
		{[]string{"-P", "ndp", "198.18.0.2"}, "-P ndp: 198.18.0.2 is an IPv4 address"},
		{[]string{"-P", "arp", "-I", "nosuch0", "198.18.0.2"}, "-P arp: -I nosuch0: no such interface"},
		{[]string{"-P", "arp", "-I", "lo", "198.18.0.2"}, "-P arp: -I lo is not an Ethernet interface"},
		{[]string{"-P", "arp", "198.19.7.7"}, "-P arp: no usable interface for 198.19.7.7"},
		{[]string{"-P", "arp", "-U", "198.18.0.2"}, "-U: 198.18.0.2 is not an address of"},
		{[]string{"--dad", "198.18.0.2"}, "--dad: needs -P arp or -P ndp"},
		{[]string{"-P", "arp", "-s", "100", "198.18.0.2"}, "-s: not used by -P arp"},
		{[]string{"-P", "gre", "198.18.0.2"}, "-P gre: want icmp, tcp, udp, arp or ndp"},
	} {
		r := inNS(t, l.Src, append([]string{"ping"}, c.args...)...)
		if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("ping %v: exit %d, stderr %q; want exit 2 and one line with %q", c.args, r.code, r.stderr, c.want)
		}
	}
}
