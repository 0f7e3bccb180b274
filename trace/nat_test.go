package trace

import (
	"encoding/binary"
	"testing"
)

// A source NAT that does not translate the header quoted in ICMP errors
// back shows the probe with another source port, and so another UDP
// checksum. Over IPv4 the probe is still found by its IP identification,
// and the rewrite is reported.
func TestNATRewrittenSourcePortIsFoundByIPID(t *testing.T) {
	fp := testParams(UDP, false, 0)
	src, dst, router := testAddrs(false)
	const id = 0x0abc
	pkt := fp.build(make([]byte, fp.size), src, dst, 3, id, 2)
	// The NAT: source port 40002 -> 61000, checksum fixed up for it.
	udp := pkt[20:]
	old := binary.BigEndian.Uint16(udp[0:])
	binary.BigEndian.PutUint16(udp[0:], 61000)
	binary.BigEndian.PutUint16(udp[6:], binary.BigEndian.Uint16(udp[6:])-(61000-old))
	s := errSpec{typ: teType(false), from: router, to: src, ttl: 1, tos: fp.tos}
	msg := s.write(make([]byte, 1600), pkt)
	var r reply
	if !fp.parseICMP(msg, router, &r) {
		t.Fatal("the probe behind the NAT was not recognised")
	}
	if r.id != id || r.hasFlow || r.qSport != 61000 || r.qDport != fp.dport {
		t.Fatalf("read as id %#x flow known %v ports %d:%d; want id %#x, flow unknown, 61000:%d", r.id, r.hasFlow, r.qSport, r.qDport, id, fp.dport)
	}
	ts := &targetState{fp: fp}
	if c := ts.changes(&r, 2); !c.Ports || c.SentSport != 40002 || c.Sport != 61000 {
		t.Errorf("changes %+v, want ports 40002 -> 61000", c)
	}
	// Another run's probe to another port is not taken for ours.
	binary.BigEndian.PutUint16(msg[8+20+2:], fp.dport+1)
	if fp.parseICMP(msg, router, &r) {
		t.Error("a probe to another port was taken by its IP identification")
	}
}
