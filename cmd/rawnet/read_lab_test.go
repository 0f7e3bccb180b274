package main

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// TestReadStatsOfLabPingAndTrace records pings and traces in a lab with
// rawnet's --write and checks what rawnet read --stats makes of the files
// against the topology: every echo request answered, and each TTL of the
// traces answered by the router (or destination) at that distance.
func TestReadStatsOfLabPingAndTrace(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, lab.Spec{Routers: 2})
	dir := t.TempDir()
	statsOf := func(file string) statsReport {
		t.Helper()
		r := rawnet(t, "read", "--stats", "--json", file)
		var s statsReport
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &s) != nil {
			t.Fatalf("read --stats %s: exit %d: %s %s", file, r.code, r.stdout, r.stderr)
		}
		return s
	}
	for _, fam := range []struct {
		src, dst string
		hops     []string
		unreach  uint8
	}{
		{l.Src.Addr4.String(), l.Dst.Addr4.String(), []string{l.HopAddrs4()[0].String(), l.HopAddrs4()[1].String()}, 3},
		{l.Src.Addr6.String(), l.Dst.Addr6.String(), []string{l.HopAddrs6()[0].String(), l.HopAddrs6()[1].String()}, 1},
	} {
		ping := filepath.Join(dir, "ping.pcapng")
		if r := inNS(t, l.Src, "ping", "-q", "-c", "5", "-i", "0.01", "--write", ping, fam.dst); r.code != 0 {
			t.Fatalf("ping %s: %s %s", fam.dst, r.stdout, r.stderr)
		}
		s := statsOf(ping)
		if len(s.Pings) != 1 || s.Pings[0].Src != fam.src || s.Pings[0].Dst != fam.dst ||
			s.Pings[0].Requests != 5 || s.Pings[0].Replies != 5 || s.Pings[0].RTTStats == nil || s.Pings[0].Min <= 0 {
			t.Errorf("%s: pings %+v", fam.dst, s.Pings)
		}
		trace := filepath.Join(dir, "trace.pcap")
		if r := inNS(t, l.Src, "trace", "-n", "-q", "2", "-m", "3", "-P", "udp", "--write", trace, fam.dst); r.code != 0 {
			t.Fatalf("trace %s: %s %s", fam.dst, r.stdout, r.stderr)
		}
		s = statsOf(trace)
		byTTL := map[uint8]hopReport{}
		for _, h := range s.Traces {
			if h.Src != fam.src || h.Dst != fam.dst || h.Proto != "udp" {
				t.Errorf("%s: trace entry %+v", fam.dst, h)
			}
			if _, dup := byTTL[h.TTL]; dup {
				t.Errorf("%s: two responders at ttl %d", fam.dst, h.TTL)
			}
			byTTL[h.TTL] = h
		}
		for ttl, hop := range fam.hops {
			h := byTTL[uint8(ttl+1)]
			if h.Responder != hop || h.Name != "time exceeded" || h.Replies != 2 || h.RTTStats == nil {
				t.Errorf("%s ttl %d: %+v, want 2 time exceeded from %s", fam.dst, ttl+1, h, hop)
			}
		}
		if h := byTTL[3]; h.Responder != fam.dst || h.Type != fam.unreach || h.Replies != 2 {
			t.Errorf("%s ttl 3: %+v, want 2 unreachables (type %s) from the destination", fam.dst, h, strconv.Itoa(int(fam.unreach)))
		}
		if s.Unmatched != 0 {
			t.Errorf("%s: %d ICMP errors match no probe", fam.dst, s.Unmatched)
		}
	}
}
