package icmp

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// tcpAnswer is a TCP header from port sport to dport acknowledging ack.
func tcpAnswer(sport, dport uint16, ack uint32, flags uint8) []byte {
	b := make([]byte, tcpHeaderLen)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[8:], ack)
	b[12], b[13] = 5<<4, flags
	return b
}

// TestTCPProbeMatch: answers and quoted errors are taken only when they
// carry this run's cookie, our port and the probed port.
func TestTCPProbeMatch(t *testing.T) {
	const cookie = 0xabcd_0000_0000_0042
	k := NewTCPProbe(443)
	b := make([]byte, k.Len(0))
	k.Prepare(b, 0, nil)
	src, dst := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.3.2")
	syn := k.Build(b, &Probe{Cookie: cookie, Seq: 0x10007, ID: 40000, Src: src, Dst: dst})
	seq := binary.BigEndian.Uint32(syn[4:])
	if seq != 0xabcd0007 || syn[13] != TCPSyn || binary.BigEndian.Uint16(syn[0:]) != 40000 {
		t.Fatalf("SYN %x: seq %#x", syn, seq)
	}
	c := &fakeConn{id: 40000}
	for _, tc := range []struct {
		name string
		pkt  Packet
		ok   bool
		want Match
	}{
		{"syn-ack", Packet{Data: tcpAnswer(443, 40000, seq+1, TCPSA), From: dst}, true,
			Match{Kind: EventReply, By: BySeq16, Seq: 7, Peer: dst, Flags: TCPSA}},
		{"rst", Packet{Data: tcpAnswer(443, 40000, seq+1, TCPRA), From: dst}, true,
			Match{Kind: EventReply, By: BySeq16, Seq: 7, Peer: dst, Flags: TCPRA, Closed: true}},
		{"another run's cookie", Packet{Data: tcpAnswer(443, 40000, 0x1234_0008, TCPSA), From: dst}, false, Match{}},
		{"another port", Packet{Data: tcpAnswer(80, 40000, seq+1, TCPSA), From: dst}, false, Match{}},
		{"not for our port", Packet{Data: tcpAnswer(443, 40001, seq+1, TCPSA), From: dst}, false, Match{}},
		{"a bare SYN", Packet{Data: tcpAnswer(443, 40000, seq+1, TCPSyn), From: dst}, false, Match{}},
		{"admin prohibited", Packet{Data: syn[:8], QueuedError: true, OrigDst: dst, From: src, ErrType: 3, ErrCode: 13}, true,
			Match{Kind: EventError, By: BySeq16, Seq: 7, Peer: dst, ICMPType: 3, ICMPCode: 13}},
	} {
		var m Match
		if ok := k.Match(c, &tc.pkt, cookie, &m); ok != tc.ok || (ok && m != tc.want) {
			t.Errorf("%s: %v %+v, want %v %+v", tc.name, ok, m, tc.ok, tc.want)
		}
	}
}

// TestUDPProbeMatch: an echoed payload names its probe, a service's own
// answer the latest probe, a port unreachable is a closed reply.
func TestUDPProbeMatch(t *testing.T) {
	const cookie = 77
	k := NewUDPProbe(53)
	b := make([]byte, k.Len(20))
	k.Prepare(b, 20, []byte{0xee})
	src, dst := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	dgram := k.Build(b, &Probe{Cookie: cookie, Target: 3, Seq: 9, ID: 5555, V6: true, Src: src, Dst: dst})
	if binary.BigEndian.Uint16(dgram[4:]) != 28 || dgram[len(dgram)-1] != 0xee {
		t.Fatalf("datagram %x", dgram)
	}
	answer := append([]byte(nil), dgram...)
	binary.BigEndian.PutUint16(answer[0:], 53)
	binary.BigEndian.PutUint16(answer[2:], 5555)
	own := append([]byte(nil), answer[:12]...)
	c := &fakeConn{id: 5555, v6: true}
	for _, tc := range []struct {
		name string
		pkt  Packet
		ok   bool
		want Match
	}{
		{"echoed", Packet{Data: answer, From: dst}, true, Match{Kind: EventReply, By: ByProbe, Target: 3, Seq: 9, Peer: dst}},
		{"own answer", Packet{Data: own, From: dst}, true, Match{Kind: EventReply, By: ByLatest, Peer: dst}},
		{"from another port", Packet{Data: dgram, From: dst}, false, Match{}},
		{"port unreachable", Packet{Data: dgram, QueuedError: true, OrigDst: dst, ErrType: 1, ErrCode: 4}, true,
			Match{Kind: EventReply, By: ByProbe, Target: 3, Seq: 9, Peer: dst, ICMPType: 1, ICMPCode: 4, Closed: true}},
		{"admin prohibited", Packet{Data: dgram[:8], QueuedError: true, OrigDst: dst, ErrType: 1, ErrCode: 1}, true,
			Match{Kind: EventError, By: ByLatest, Peer: dst, ICMPType: 1, ICMPCode: 1}},
	} {
		var m Match
		if ok := k.Match(c, &tc.pkt, cookie, &m); ok != tc.ok || (ok && m != tc.want) {
			t.Errorf("%s: %v %+v, want %v %+v", tc.name, ok, m, tc.ok, tc.want)
		}
	}
}
