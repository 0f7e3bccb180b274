package craft

import (
	"context"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Tests of the ICMP query and neighbour discovery messages: their bodies
// when the spec leaves them out, and the matching of their replies.

// at is a fixed clock: 21:30:15.250 UT is 77,415,250 ms after midnight.
var at = time.Date(2026, 12, 5, 21, 30, 15, 250_000_000, time.UTC)

const atMs = (21*3600+30*60+15)*1000 + 250

func buildAt(t *testing.T, spec string) []byte {
	t.Helper()
	s, err := Parse(spec)
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	b := NewBuilder(s, testEnv, 1)
	b.now = func() time.Time { return at.In(time.FixedZone("UTC+9", 9*3600)) } // the zone must not matter
	return b.Build(nil, 0)
}

func TestICMPQueryBodies(t *testing.T) {
	for _, tc := range []struct {
		spec string
		body string // hex of the ICMP message from the identifier on
	}{
		// Timestamp request: originate now, receive and transmit 0 (RFC 792).
		{"ip(dst=198.18.5.2)/icmp(type=13,id=5,seq=1)", "00050001" + hex32(atMs) + "00000000" + "00000000"},
		// Timestamp reply: all three now unless given.
		{"ip(dst=198.18.5.2)/icmp(type=14,id=5,seq=1,orig=7)", "00050001" + "00000007" + hex32(atMs) + hex32(atMs)},
		{"ip(dst=198.18.5.2)/icmp(type=13,id=1,seq=2,orig=1,recv=2,xmit=0xffffffff)", "00010002" + "00000001" + "00000002" + "ffffffff"},
		// rest= replaces only the identifier and sequence number.
		{"ip(dst=198.18.5.2)/icmp(type=13,rest=01020304,orig=9)", "01020304" + "00000009" + "00000000" + "00000000"},
		// Address mask request and reply (RFC 950).
		{"ip(dst=198.18.5.2)/icmp(type=17,id=3,seq=4)", "00030004" + "00000000"},
		{"ip(dst=198.18.5.2)/icmp(type=18,id=3,seq=4,mask=255.255.255.0)", "00030004" + "ffffff00"},
		// Information request: identifier and sequence only.
		{"ip(dst=198.18.5.2)/icmp(type=15,id=3,seq=4)", "00030004"},
	} {
		pkt := buildAt(t, tc.spec)
		icmp := pkt[20:]
		if got := hexOf(icmp[4:]); got != tc.body {
			t.Errorf("%s:\n body %s\n want %s", tc.spec, got, tc.body)
		}
		if int(binary.BigEndian.Uint16(pkt[2:])) != len(pkt) || checksum(icmp) != 0 {
			t.Errorf("%s: IP length %d of %d bytes, ICMP checksum sums to %#x", tc.spec, binary.BigEndian.Uint16(pkt[2:]), len(pkt), checksum(icmp))
		}
	}
}

func hex32(x uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], x)
	return hexOf(b[:])
}

func TestNeighbourDiscoveryBodies(t *testing.T) {
	const mac = "020000000001" // testEnv.SrcMAC
	fd2 := hexOf(netip.MustParseAddr("fd00::2").AsSlice())
	fd1 := hexOf(netip.MustParseAddr("fd00::1").AsSlice())
	for _, tc := range []struct {
		spec string
		hlim byte
		body string // hex from the byte after the checksum on
	}{
		// Solicitation to the target itself: target = dst, our MAC.
		{"ip6(dst=fd00::2)/icmp6(type=135)", 255, "00000000" + fd2 + "0101" + mac},
		// To the solicited-node group, target given; from :: (DAD) without the option.
		{"ip6(src=::,dst=ff02::1:ff00:2)/icmp6(type=135,target=fd00::2)", 255, "00000000" + fd2},
		// Advertisement: target = src; S set to a unicast destination, O set.
		{"ip6(dst=fd00::2)/icmp6(type=136)", 255, "60000000" + fd1 + "0201" + mac},
		// To all nodes: S clear; R and O as given; another MAC.
		{"ip6(dst=ff02::1)/icmp6(type=136,router,override=0,tll=02:aa:bb:cc:dd:ee)", 255, "80000000" + fd1 + "0201" + "02aabbccddee"},
		// Router solicitation: reserved, our MAC.
		{"ip6(dst=ff02::2)/icmp6(type=133)", 255, "00000000" + "0101" + mac},
		// A hop limit given stays; echo keeps 64.
		{"ip6(dst=fd00::2,hlim=9)/icmp6(type=135)", 9, "00000000" + fd2 + "0101" + mac},
		{"ip6(dst=fd00::2)/icmp6(id=1,seq=1)", 64, "00010001"},
	} {
		pkt := buildAt(t, tc.spec)
		msg := pkt[40:]
		if got := hexOf(msg[4:]); got != tc.body || pkt[7] != tc.hlim {
			t.Errorf("%s:\n body %s hop limit %d\n want %s hop limit %d", tc.spec, got, pkt[7], tc.body, tc.hlim)
		}
		src, dst := netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40]))
		if int(binary.BigEndian.Uint16(pkt[4:])) != len(msg) || checksum6(src, dst, msg) != 0 {
			t.Errorf("%s: payload length %d of %d bytes, or a bad checksum", tc.spec, binary.BigEndian.Uint16(pkt[4:]), len(msg))
		}
	}
}

func checksum6(src, dst netip.Addr, msg []byte) uint16 {
	b := append(append(src.AsSlice(), dst.AsSlice()...), 0, 0, byte(len(msg)>>8), byte(len(msg)), 0, 0, 0, 58)
	return checksum(append(b, msg...))
}

func TestNeighbourSolicitationToMulticastNeedsTarget(t *testing.T) {
	_, err := Parse("ip6(dst=ff02::1:ff00:2)/icmp6(type=135)")
	if err == nil || !strings.Contains(err.Error(), "icmp6.target is required") {
		t.Fatalf("error %v, want icmp6.target is required", err)
	}
}

// TestTimestampPacketsAreBuiltEachTime: the originate timestamp is the
// time of sending, so such packets are not built once for all.
func TestTimestampPacketsAreBuiltEachTime(t *testing.T) {
	for spec, fixed := range map[string]bool{
		"ip(dst=198.18.5.2)/icmp(type=13,id=1,seq=1)":                      false,
		"ip(dst=198.18.5.2)/icmp(type=13,id=1,seq=1,orig=1,recv=0,xmit=0)": true,
		"ip(dst=198.18.5.2)/icmp(type=17,id=1,seq=1)":                      true,
	} {
		if got := fixedPacket(testPlan(t, spec, Config{})) != nil; got != fixed {
			t.Errorf("%s: built once %v, want %v", spec, got, fixed)
		}
	}
}

// TestQueryAndNeighbourRepliesAreMatched: timestamp and address mask
// replies by identifier and sequence; a neighbour advertisement by its
// target and destination; a router advertisement answers a solicitation.
func TestQueryAndNeighbourRepliesAreMatched(t *testing.T) {
	for _, tc := range []struct {
		sent, reply string
		match       bool
	}{
		{"ip(dst=198.18.5.2)/icmp(type=13,id=5,seq=1)", "ip(src=198.18.5.2,dst=198.18.0.1)/icmp(type=14,id=5,seq=1)", true},
		{"ip(dst=198.18.5.2)/icmp(type=13,id=5,seq=1)", "ip(src=198.18.5.2,dst=198.18.0.1)/icmp(type=14,id=5,seq=2)", false},
		{"ip(dst=198.18.5.2)/icmp(type=17,id=5,seq=1)", "ip(src=198.18.5.2,dst=198.18.0.1)/icmp(type=18,id=5,seq=1,mask=255.255.0.0)", true},
		{"ip6(dst=fd00::2)/icmp6(type=135)", "ip6(src=fd00::2,dst=fd00::1)/icmp6(type=136,target=fd00::2)", true},
		{"ip6(dst=ff02::1:ff00:2)/icmp6(type=135,target=fd00::2)", "ip6(src=fe80::2,dst=fd00::1)/icmp6(type=136,target=fd00::2)", true},
		{"ip6(dst=fd00::2)/icmp6(type=135)", "ip6(src=fd00::3,dst=fd00::1)/icmp6(type=136,target=fd00::3)", false},
		{"ip6(dst=fd00::2)/icmp6(type=135)", "ip6(src=fd00::2,dst=ff02::1)/icmp6(type=136,target=fd00::2)", false}, // unsolicited
		{"ip6(src=::,dst=ff02::1:ff00:2)/icmp6(type=135,target=fd00::2)", "ip6(src=fd00::2,dst=ff02::1)/icmp6(type=136,target=fd00::2)", true},
		{"ip6(dst=ff02::2)/icmp6(type=133)", "ip6(src=fe80::1,dst=ff02::1)/icmp6(type=134)/raw(len=12)", true},
		{"ip6(dst=ff02::2)/icmp6(type=133)", "ip6(src=fe80::1,dst=ff02::1)/icmp6(type=136,target=fe80::1)", false},
	} {
		sent, reply := buildAt(t, tc.sent), buildAt(t, tc.reply)
		sk, ok := sentKey(sent)
		ak, isErr, ok2 := answerKey(reply)
		if got := ok && ok2 && !isErr && sk == ak; got != tc.match {
			t.Errorf("%s answered by %s: %v, want %v (keys %+v, %+v)", tc.sent, tc.reply, got, tc.match, sk, ak)
		}
	}
}

// TestRunMatchesATimestampReply runs the matcher over a fake network that
// answers timestamp requests as Linux does.
func TestRunMatchesATimestampReply(t *testing.T) {
	f := newFakeNet()
	f.answer = func(pkt []byte) [][]byte {
		if len(pkt) != 40 || pkt[20] != 13 {
			return nil // Linux ignores a timestamp request without its 12 bytes
		}
		r := mustBuild(t, "ip(src=198.18.5.2,dst=198.18.0.1)/icmp(type=14,id=0,seq=0)")
		copy(r[24:28], pkt[24:28]) // id and seq
		return [][]byte{r}
	}
	p := testPlan(t, "ip(dst=198.18.5.2)/icmp(type=13,seq=1..3)", Config{Wait: 50 * time.Millisecond})
	sum, err := p.run(context.Background(), f, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Packets != 3 || sum.Answered != 3 {
		t.Errorf("%+v: want 3 packets answered", sum)
	}
}
