package capture

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/testtraffic"
	"github.com/rawnet/rawnet/pcap"
)

func analyze(link pcap.LinkType, frames [][]byte, at []time.Time) *AnalysisResult {
	d := NewDecoder(link)
	a := NewAnalysis()
	for i, f := range frames {
		d.Decode(f)
		a.Add(at[i], len(f), d)
	}
	return a.Result()
}

func stamps(n int) []time.Time {
	at := make([]time.Time, n)
	for i := range at {
		at[i] = time.Unix(1e9, 0).Add(time.Duration(i) * time.Millisecond)
	}
	return at
}

// The mixed test traffic: 3 IPv4 and 3 IPv6 echo pairs 1 ms apart, UDP
// probes answered by ICMP errors, 2 errors quoting packets not there, 1 ARP.
func TestAnalysisMixedTraffic(t *testing.T) {
	frames := testtraffic.Frames()
	r := analyze(pcap.Ethernet, frames, stamps(len(frames)))
	if r.Packets != len(frames) || r.Protocols.ARP != 1 || r.Protocols.OtherLink != 0 || r.Unmatched != 2 {
		t.Errorf("counts %+v, unmatched %d", r.Protocols, r.Unmatched)
	}
	if len(r.Pings) != 2 {
		t.Fatalf("pings %+v", r.Pings)
	}
	for _, p := range r.Pings {
		if p.Requests != 3 || p.Replies != 3 || p.LossPct() != 0 || p.RTT.Min() != time.Millisecond || p.RTT.Max() != time.Millisecond {
			t.Errorf("ping %+v", p)
		}
	}
	byResponder := map[netip.Addr]int{}
	for _, h := range r.Hops {
		byResponder[h.Responder] += h.Replies
	}
	if byResponder[netip.MustParseAddr("198.19.0.254")] != 4 || byResponder[netip.MustParseAddr("fd00:ff::1")] != 3 {
		t.Errorf("hops by responder %v", byResponder)
	}
	// The order is fixed: the same traffic gives the same result, and the
	// replies may come before their requests in a file.
	for range 5 {
		if again := analyze(pcap.Ethernet, frames, stamps(len(frames))); !reflect.DeepEqual(again, r) {
			t.Fatalf("a second analysis differs:\n%+v\n%+v", again, r)
		}
	}
	rev, at := slices.Clone(frames), stamps(len(frames))
	slices.Reverse(rev)
	slices.Reverse(at)
	if back := analyze(pcap.Ethernet, rev, at); !reflect.DeepEqual(back.Pings, r.Pings) || !reflect.DeepEqual(back.Hops, r.Hops) {
		t.Errorf("reversed file:\n%+v\n%+v\nwant\n%+v\n%+v", back.Pings, back.Hops, r.Pings, r.Hops)
	}
}

// ARP is told apart by the decoded layer, whatever the link layer (tcpdump
// prints an interface before a Linux cooked v2 packet's "ARP").
func TestAnalysisCountsARPInCookedCaptures(t *testing.T) {
	var arp []byte
	for _, f := range testtraffic.Frames() {
		if binary.BigEndian.Uint16(f[12:]) == 0x0806 {
			arp = f[14:]
		}
	}
	if arp == nil {
		t.Fatal("no ARP frame in the test traffic")
	}
	sll2 := make([]byte, 20, 20+len(arp))
	binary.BigEndian.PutUint16(sll2[0:], 0x0806) // protocol
	binary.BigEndian.PutUint32(sll2[4:], 1)      // interface index
	binary.BigEndian.PutUint16(sll2[8:], 1)      // ARPHRD_ETHER
	sll2[11] = 6                                 // address length
	frame := append(sll2, arp...)
	r := analyze(pcap.LinuxSLL2, [][]byte{frame}, stamps(1))
	if r.Protocols.ARP != 1 || r.Protocols.OtherLink != 0 {
		t.Errorf("protocols %+v, want one ARP", r.Protocols)
	}
}
