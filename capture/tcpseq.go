package capture

// Relative TCP sequence numbers, as tcpdump prints them without -S.
//
// tcpdump keeps, per conversation (both directions in one entry), the
// sequence and acknowledgement numbers of the first packet with ACK set
// that it saw, and subtracts them from every later packet's; a packet
// with SYN and ACK starts the conversation afresh. Packets without ACK
// (the first SYN) keep their absolute numbers. tcpdump's table grows
// forever; this one has a fixed number of entries, set-associative, and
// replaces the least recently used entry of a full set, so a capture with
// more concurrent conversations than that may show a long-lived
// conversation's numbers absolute again where tcpdump would not. It
// allocates once, on the first packet with ACK.

const (
	seqWays = 8
	seqSets = 2048 // 16384 conversations
)

// seqKey is a conversation in tcpdump's order: the side with the lower
// port (or, on equal ports, the lower address) first.
type seqKey struct {
	a, b  [16]byte
	ports uint32
	v6    bool
}

type seqEntry struct {
	key      seqKey
	seq, ack uint32
	used     uint64 // last use (0: free)
}

type seqTable struct {
	entries []seqEntry // seqSets*seqWays
	clock   uint64
}

// relTCP is how one TCP packet's numbers print: relative to its
// conversation's base, or absolute when the packet starts the conversation.
type relTCP struct {
	rev          bool
	seq, ack     uint32 // as printed
	thseq, thack uint32 // the conversation's base, which SACK blocks subtract
}

// lookup finds or makes the entry of the conversation of the packet with
// the given addresses, ports, numbers and flags, and returns the numbers
// to print.
func (t *seqTable) lookup(src, dst []byte, sport, dport uint16, seq, ack uint32, syn bool) relTCP {
	if t.entries == nil {
		t.entries = make([]seqEntry, seqSets*seqWays)
	}
	rev := sport > dport || sport == dport && string(src) > string(dst)
	var k seqKey
	k.v6 = len(src) == 16
	if rev {
		copy(k.a[:], dst)
		copy(k.b[:], src)
		k.ports = uint32(dport)<<16 | uint32(sport)
	} else {
		copy(k.a[:], src)
		copy(k.b[:], dst)
		k.ports = uint32(sport)<<16 | uint32(dport)
	}
	t.clock++
	set := t.entries[int(k.hash()%seqSets)*seqWays:][:seqWays]
	e := &set[0]
	found := false
	for i := range set {
		if set[i].used != 0 && set[i].key == k {
			e, found = &set[i], true
			break
		}
		if set[i].used < e.used {
			e = &set[i]
		}
	}
	e.used = t.clock
	r := relTCP{rev: rev, seq: seq, ack: ack}
	if !found || syn {
		e.key = k
		if rev {
			e.ack, e.seq = seq, ack-1
		} else {
			e.seq, e.ack = seq, ack-1
		}
	} else if rev {
		r.seq, r.ack = seq-e.ack, ack-e.seq
	} else {
		r.seq, r.ack = seq-e.seq, ack-e.ack
	}
	r.thseq, r.thack = e.seq, e.ack
	return r
}

func (k *seqKey) hash() uint32 {
	h := uint32(2166136261)
	for _, c := range k.a {
		h = (h ^ uint32(c)) * 16777619
	}
	for _, c := range k.b {
		h = (h ^ uint32(c)) * 16777619
	}
	return (h ^ k.ports) * 16777619
}
