package udp

// seqTracker classifies arriving sequence numbers in bounded memory: new
// (in order or after a gap), duplicate, reordered (arrived after a higher
// one; the distance says how far back it is), or too old to tell (more
// than the window behind the highest seen). A bitmap of the last
// window sequence numbers remembers which arrived.
type seqTracker struct {
	bits    []uint64
	window  uint64
	highest uint64 // highest sequence number seen
	any     bool
}

// seqClass is what one arrival was.
type seqClass uint8

const (
	seqNew seqClass = iota
	seqReordered
	seqDuplicate
	seqTooOld
)

// newSeqTracker returns a tracker remembering window sequence numbers
// (rounded up to a multiple of 64).
func newSeqTracker(window int) seqTracker {
	words := max(1, (window+63)/64)
	return seqTracker{bits: make([]uint64, words), window: uint64(words * 64)}
}

// reset forgets every arrival (a new session).
func (t *seqTracker) reset() {
	clear(t.bits)
	t.highest, t.any = 0, false
}

// add records the arrival of seq; for a reordered one, distance is how
// far below the highest sequence number seen it is.
func (t *seqTracker) add(seq uint64) (c seqClass, distance uint64) {
	if !t.any || seq > t.highest {
		t.advance(seq)
		t.set(seq)
		return seqNew, 0
	}
	distance = t.highest - seq
	if distance >= t.window {
		return seqTooOld, distance
	}
	if t.has(seq) {
		return seqDuplicate, distance
	}
	t.set(seq)
	return seqReordered, distance
}

// advance moves the window up to end at seq, forgetting what falls out.
func (t *seqTracker) advance(seq uint64) {
	if !t.any || seq-t.highest >= t.window {
		clear(t.bits)
	} else {
		for s := t.highest + 1; s < seq; s++ {
			t.bits[(s%t.window)/64] &^= 1 << (s % 64)
		}
	}
	t.highest, t.any = seq, true
}

func (t *seqTracker) set(seq uint64) { t.bits[(seq%t.window)/64] |= 1 << (seq % 64) }

func (t *seqTracker) has(seq uint64) bool { return t.bits[(seq%t.window)/64]&(1<<(seq%64)) != 0 }
