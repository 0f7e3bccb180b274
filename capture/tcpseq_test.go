package capture

import (
	"net"
	"testing"
)

// TestSeqTableBounded fills the conversation table past its size: it
// never grows, looking up allocates nothing, a conversation seen again
// keeps its base while its set has room, and the least recently used
// conversation of a full set is the one replaced.
func TestSeqTableBounded(t *testing.T) {
	var tab seqTable
	src, dst := net.IP{198, 18, 0, 1}.To4(), net.IP{198, 18, 0, 2}.To4()
	first := tab.lookup(src, dst, 40000, 80, 1000, 5000, false)
	if first.seq != 1000 || first.ack != 5000 {
		t.Fatalf("first packet of a conversation: %+v, want its absolute numbers", first)
	}
	if r := tab.lookup(src, dst, 40000, 80, 1010, 5020, false); r.seq != 10 || r.ack != 21 {
		t.Fatalf("second packet: seq %d ack %d, want 10 and 21 (tcpdump's base is ack-1)", r.seq, r.ack)
	}
	if r := tab.lookup(dst, src, 80, 40000, 5020, 1010, false); r.seq != 21 || r.ack != 10 || r.rev == first.rev {
		t.Fatalf("reverse direction: %+v, want seq 21 ack 10", r)
	}
	size := len(tab.entries)
	n := 0
	allocs := testing.AllocsPerRun(10, func() {
		for p := 0; p < 3*seqSets*seqWays; p++ {
			tab.lookup(src, dst, uint16(1024+p%60000), 443, uint32(p), 1, false)
			n++
		}
	})
	if allocs != 0 || len(tab.entries) != size || cap(tab.entries) != size {
		t.Fatalf("%d lookups: %v allocations, %d entries (was %d)", n, allocs, len(tab.entries), size)
	}
	// The first conversation was pushed out by the least recently used rule:
	// it starts again from its next packet.
	if r := tab.lookup(src, dst, 40000, 80, 1030, 5040, false); r.seq != 1030 {
		t.Errorf("evicted conversation: seq %d, want 1030 (absolute, a new base)", r.seq)
	}
}
