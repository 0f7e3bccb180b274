package icmp

import (
	"net/netip"
	"testing"

	"github.com/rawnet/rawnet/internal/arp"
	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/ndp"
)

var (
	ourMAC   = [6]byte{2, 0, 0, 0, 0, 1}
	theirMAC = [6]byte{2, 0, 0, 0, 0, 2}
	src4     = netip.MustParseAddr("198.18.0.1")
	dst4     = netip.MustParseAddr("198.18.0.2")
)

func arpReply(to arp.MAC, tip netip.Addr) []byte {
	return arp.AppendFrame(nil, to, theirMAC, arp.Packet{Op: arp.OpReply, SenderMAC: theirMAC, SenderIP: dst4, TargetMAC: to, TargetIP: tip})
}

// TestARPMatch: a reply to our MAC answers the latest probe to its sender;
// replies to another MAC, requests, and (in DAD mode) replies that are not
// to a probe do not; an announcement expects nothing.
func TestARPMatch(t *testing.T) {
	for _, c := range []struct {
		name  string
		mode  LinkMode
		frame []byte
		want  bool
	}{
		{"reply", LinkRequest, arpReply(ourMAC, src4), true},
		{"reply to another MAC", LinkRequest, arpReply(arp.MAC{2, 9, 9, 9, 9, 9}, src4), false},
		{"a request", LinkRequest, arp.AppendFrame(nil, arp.Broadcast, theirMAC, arp.Request(theirMAC, dst4, src4)), false},
		{"DAD: reply to a probe", LinkDAD, arpReply(ourMAC, netip.IPv4Unspecified()), true},
		{"DAD: reply to a request", LinkDAD, arpReply(ourMAC, src4), false},
		{"unsolicited", LinkUnsolicited, arpReply(ourMAC, src4), false},
	} {
		var m Match
		got := NewARP(ourMAC, c.mode).Match(nil, &Packet{Data: c.frame}, 0, &m)
		if got != c.want || got && (m.By != ByLatest || m.Peer != dst4 || m.MAC != theirMAC || m.Kind != EventReply) {
			t.Errorf("%s: Match = %v, %+v; want %v, latest probe to %s from %x", c.name, got, m, c.want, dst4, theirMAC)
		}
	}
}

func TestARPBuild(t *testing.T) {
	for mode, want := range map[LinkMode]arp.Packet{
		LinkRequest:     arp.Request(ourMAC, src4, dst4),
		LinkDAD:         arp.Probe(ourMAC, dst4),
		LinkUnsolicited: arp.Announcement(ourMAC, dst4),
	} {
		k := NewARP(ourMAC, mode)
		b := make([]byte, k.Len(0))
		f, err := arp.Parse(k.Build(b, &Probe{Src: src4, Dst: dst4}))
		if err != nil || f.Packet != want || f.Dst != arp.Broadcast || f.Src != ourMAC {
			t.Errorf("mode %d: built %+v, %v; want %+v to broadcast", mode, f, err, want)
		}
	}
}

// TestNDPMatch: a solicited advertisement to our MAC answers; one to
// all nodes answers a DAD probe only; the MAC is the option's.
func TestNDPMatch(t *testing.T) {
	src6, dst6 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	solicited := ndp.AppendAdvert(nil, theirMAC, dst6, dst6)
	// Make it solicited and unicast: flags, Ethernet and IPv6 destination, checksum.
	solicited[14+40+4] = 0x60
	copy(solicited[0:6], ourMAC[:])
	s16 := src6.As16()
	copy(solicited[14+24:14+40], s16[:])
	solicited[14+40+2], solicited[14+40+3] = 0, 0
	cs := icmpmsg.Checksum6(solicited[14+40:], dst6, src6)
	solicited[14+40+2], solicited[14+40+3] = byte(cs>>8), byte(cs)
	unsolicited := ndp.AppendAdvert(nil, theirMAC, dst6, dst6)
	for _, c := range []struct {
		name  string
		mode  LinkMode
		frame []byte
		want  bool
	}{
		{"solicited", LinkRequest, solicited, true},
		{"to all nodes", LinkRequest, unsolicited, false},
		{"DAD: to all nodes", LinkDAD, unsolicited, true},
		{"DAD: unicast", LinkDAD, solicited, false},
		{"unsolicited mode", LinkUnsolicited, solicited, false},
	} {
		var m Match
		got := NewNDP(ourMAC, c.mode).Match(nil, &Packet{Data: c.frame}, 0, &m)
		if got != c.want || got && (m.Peer != dst6 || m.MAC != theirMAC) {
			t.Errorf("%s: Match = %v, %+v; want %v", c.name, got, m, c.want)
		}
	}
}

func TestLinkKindsAllocateNothing(t *testing.T) {
	arpK, ndpK := NewARP(ourMAC, LinkRequest), NewNDP(ourMAC, LinkRequest)
	b := make([]byte, ndpK.Len(0))
	reply := arpReply(ourMAC, src4)
	pkt := Packet{Data: reply}
	pr := Probe{Src: src4, Dst: dst4}
	pr6 := Probe{Src: netip.MustParseAddr("fe80::1"), Dst: netip.MustParseAddr("fd00::2")}
	var m Match
	if n := testing.AllocsPerRun(100, func() {
		arpK.Build(b, &pr)
		arpK.Match(nil, &pkt, 0, &m)
		ndpK.Build(b, &pr6)
	}); n != 0 {
		t.Errorf("%v allocations per probe and reply, want 0", n)
	}
}
