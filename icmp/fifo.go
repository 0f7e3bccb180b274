package icmp

// pending is a probe waiting for its reply, in the order probes were sent.
type pending struct {
	target   uint32
	seq      uint32
	deadline int64 // unix nanoseconds
}

// fifo is a growable ring buffer of pending probes. Since every probe waits
// the same time, deadlines leave it in the order they entered.
type fifo struct {
	buf        []pending
	head, size int
}

func (f *fifo) len() int { return f.size }

func (f *fifo) push(e pending) {
	if f.size == len(f.buf) {
		f.grow()
	}
	f.buf[(f.head+f.size)&(len(f.buf)-1)] = e
	f.size++
}

func (f *fifo) peek() pending { return f.buf[f.head] }

func (f *fifo) pop() pending {
	e := f.buf[f.head]
	f.head = (f.head + 1) & (len(f.buf) - 1)
	f.size--
	return e
}

func (f *fifo) grow() {
	n := max(2*len(f.buf), 64)
	buf := make([]pending, n)
	for i := 0; i < f.size; i++ {
		buf[i] = f.buf[(f.head+i)&(len(f.buf)-1)]
	}
	f.buf, f.head = buf, 0
}
