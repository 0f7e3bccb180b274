package main

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// Lab tests of link-local destinations: every command takes
// fe80::…%IFACE (the zone names the interface) the same way, and r1's
// link-local address on the src link answers each of them.

// linkLocalNeighbour builds a 1-router lab and returns src's interface
// toward r1 and r1's link-local address on that link, zone included.
func linkLocalNeighbour(t *testing.T) (*lab.Lab, string, netip.Addr) {
	t.Helper()
	l := labtest.Up(t, lab.Spec{Routers: 1})
	iface := ""
	for _, ifc := range l.Src.Ifaces {
		if ifc.Peer == "r1" {
			iface = ifc.Name
		}
	}
	if iface == "" {
		t.Fatalf("src has no interface toward r1: %+v", l.Src.Ifaces)
	}
	// The lab gives the two ends of a link fe80::1 and fe80::2; src made
	// the link, so r1 is fe80::2.
	return l, iface, netip.MustParseAddr("fe80::2").WithZone(iface)
}

func TestLinkLocalPing(t *testing.T) {
	t.Parallel()
	l, _, r1 := linkLocalNeighbour(t)
	r := inNS(t, l.Src, "ping", "--json", "-c", "2", "-i", "0.01", r1.String())
	replies := ofType(jsonEvents(t, r.stdout), "reply")
	if r.code != 0 || len(replies) != 2 {
		t.Fatalf("ping %s: exit %d, %d replies, want 2:\n%s%s", r1, r.code, len(replies), r.stdout, r.stderr)
	}
	for _, e := range replies {
		// r1 is on the link: nothing takes one off the hop limit.
		if !strings.HasPrefix(e["from"].(string), "fe80::2") || num(t, e, "ttl") != 64 {
			t.Errorf("ping %s: reply %v, want from fe80::2 with hop limit 64", r1, e)
		}
	}
}

func TestLinkLocalTrace(t *testing.T) {
	t.Parallel()
	l, _, r1 := linkLocalNeighbour(t)
	for _, m := range []string{"icmp", "udp", "tcp"} {
		tr := traceJSON(t, l.Src, "-6", "-P", m, "-q", "2", "-m", "5", r1.String())
		what := "trace -P " + m + " " + r1.String()
		if tr.res.code != 0 || tr.summary["reached"] != true || num(t, tr.summary, "hops") != 1 {
			t.Fatalf("%s: exit %d, summary %v, want reached in 1 hop:\n%s%s", what, tr.res.code, tr.summary, tr.res.stdout, tr.res.stderr)
		}
		addrs, lost := tr.addrsAt(1)
		if len(addrs) != 1 || !strings.HasPrefix(addrs[0], "fe80::2") || lost != 0 {
			t.Errorf("%s: hop 1 answered by %v (%d lost), want fe80::2 on both probes", what, addrs, lost)
		}
	}
}

func TestLinkLocalSend(t *testing.T) {
	t.Parallel()
	l, iface, r1 := linkLocalNeighbour(t)
	spec := fmt.Sprintf("ip6(dst=%s)/icmp6(id=41,seq=3)", r1)
	for _, args := range [][]string{{}, {"-I", iface}} {
		args = append(args, "--wait", "2", spec)
		answers, sum, r := sendJSON(t, l.Src, args...)
		if r.code != 0 || len(answers) != 1 || num(t, sum, "answered") != 1 {
			t.Errorf("send %v: exit %d, want one answer:\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		text := inNS(t, l.Src, append([]string{"send"}, args...)...)
		if want := "IP6 fe80::2 > fe80::1: ICMP6, echo reply, id 41, seq 3"; !strings.Contains(text.stdout, want) {
			t.Errorf("send %v: want %q in:\n%s%s", args, want, text.stdout, text.stderr)
		}
	}
}

func TestLinkLocalUDPProbe(t *testing.T) {
	t.Parallel()
	l, _, r1 := linkLocalNeighbour(t)
	stop := startServe(t, l.Routers[0], ":7")
	target := netip.AddrPortFrom(r1, 7).String()
	r := inNS(t, l.Src, "udp", "probe", "--json", "-q", "-c", "20", "--rate", "500", "-W", "0.5", target)
	s := probeSummary(t, r)
	if r.code != 0 || num(t, s, "sent") != 20 || num(t, s, "received") != 20 {
		t.Errorf("udp probe %s: exit %d, summary %v, want 20 of 20 back:\n%s", target, r.code, s, r.stderr)
	}
	if out := stop().stdout; !strings.Contains(out, "fe80::1") {
		t.Errorf("udp serve on r1 did not see a client at fe80::1:\n%s", out)
	}
}

// TestLinkLocalZonePolicy: one policy in every command. A link-local
// destination without a zone goes out of the interface -I names; with
// neither, the command refuses it in one line (exit 2) that says how to
// name the interface, before it sends anything.
func TestLinkLocalZonePolicy(t *testing.T) {
	t.Parallel()
	l, iface, _ := linkLocalNeighbour(t)
	for _, args := range [][]string{
		{"ping", "-c", "1", "-I", iface, "fe80::2"},
		{"trace", "-n", "-q", "1", "-m", "3", "-I", iface, "fe80::2"},
		{"send", "--wait", "1", "-I", iface, "ip6(dst=fe80::2)/icmp6(id=42,seq=1)"},
	} {
		r := inNS(t, l.Src, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "fe80::2") {
			t.Errorf("%v: exit %d, want an answer from fe80::2:\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	for _, args := range [][]string{
		{"ping", "-c", "1", "fe80::2"},
		{"trace", "-n", "-q", "1", "-m", "3", "fe80::2"},
		{"send", "--wait", "1", "ip6(dst=fe80::2)/icmp6"},
		{"udp", "probe", "-c", "2", "[fe80::2]:7"},
		{"ping", "-c", "1", "fe80::2%nosuch0"},
	} {
		r := inNS(t, l.Src, args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 2 || len(lines) != 1 || !(strings.Contains(r.stderr, "needs its interface") || strings.Contains(r.stderr, `"nosuch0": no such interface`)) {
			t.Errorf("%v: exit %d, want exit 2 and one line naming the missing interface:\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout, "bytes from") || strings.Contains(r.stdout, "answered 1") {
			t.Errorf("%v: answers without an interface to send them on:\n%s", args, r.stdout)
		}
	}
}
