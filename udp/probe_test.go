package udp

import (
	"context"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
)

var (
	fakeServer = netip.MustParseAddrPort("198.18.1.2:7")
	fakeClient = "198.18.0.1:40000"
)

// network is a fake path to an echo server that drops, duplicates and
// reorders datagrams by sequence number, as the test says.
type network struct {
	conn    *fakeConn
	drop    func(seq uint64) bool
	dup     func(seq uint64) bool
	swap    func(seq uint64) bool // hold seq and send it after seq+1
	reflect time.Duration         // > 0: a reflector that takes this long
	extra   [][]byte              // sent to the client with every reply
	mu      sync.Mutex
	held    []byte
}

func (n *network) deliver(m Message) {
	h, err := Parse(m.Buf)
	if err != nil {
		return
	}
	if n.drop != nil && n.drop(h.Seq) {
		return
	}
	if n.reflect > 0 {
		rx := time.Now()
		time.AfterFunc(n.reflect, func() {
			b := append([]byte(nil), m.Buf...)
			Reflect(b, rx, time.Now(), uint32(h.Seq+1))
			n.conn.push(fakeServer, b)
		})
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.swap != nil && n.swap(h.Seq) {
		n.held = m.Buf
		return
	}
	for _, b := range n.extra {
		n.conn.push(fakeServer, b)
	}
	n.conn.push(fakeServer, m.Buf)
	if n.held != nil {
		n.conn.push(fakeServer, n.held)
		n.held = nil
	}
	if n.dup != nil && n.dup(h.Seq) {
		n.conn.push(fakeServer, m.Buf)
	}
}

func runFakeProbe(t *testing.T, cfg ProbeConfig, n *network) (ProbeSummary, []ProbeEvent) {
	t.Helper()
	n.conn = newFakeConn(fakeClient)
	n.conn.onWrite = n.deliver
	cfg.Remote = fakeServer
	cfg.Conn = n.conn
	p, err := NewProbe(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var evs []ProbeEvent
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sum, err := p.Run(ctx, func(ev ProbeEvent) error { evs = append(evs, ev); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return sum, evs
}

func countKind(evs []ProbeEvent, k ProbeEventKind) int {
	n := 0
	for _, e := range evs {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func TestProbeCountsLossDuplicatesAndReordering(t *testing.T) {
	const n = 300
	sum, evs := runFakeProbe(t, ProbeConfig{Count: n, Rate: 20000, Timeout: 200 * time.Millisecond}, &network{
		drop: func(s uint64) bool { return s%10 == 3 },            // 30 lost
		dup:  func(s uint64) bool { return s%25 == 0 },            // 12 duplicated
		swap: func(s uint64) bool { return s%20 == 7 && s < n-1 }, // 15 arrive after their successor
	})
	if sum.Sent != n || sum.Received != n-30 || sum.Duplicates != 12 || sum.Reordered != 15 || sum.MaxReorder != 1 {
		t.Errorf("sent %d received %d dups %d reordered %d (max %d); want %d, %d, 12, 15 (1)",
			sum.Sent, sum.Received, sum.Duplicates, sum.Reordered, sum.MaxReorder, n, n-30)
	}
	if got := sum.LossPct(); got != 10 {
		t.Errorf("loss %v%%, want 10%%", got)
	}
	lost := map[uint64]bool{}
	for _, e := range evs {
		if e.Kind == EventLost {
			lost[e.Seq] = true
		}
	}
	for s := uint64(3); s < n; s += 10 {
		if !lost[s] {
			t.Errorf("no lost event for seq %d", s)
		}
	}
	if len(lost) != 30 || countKind(evs, EventReply) != n-30+12 {
		t.Errorf("%d lost events, %d reply events; want 30 and %d", len(lost), countKind(evs, EventReply), n-30+12)
	}
	if sum.RTT.Count() != n-30 || sum.Samples.Len() != n-30 || sum.Jitter.Count() != n-30 {
		t.Errorf("RTT samples %d/%d/%d, want %d", sum.RTT.Count(), sum.Samples.Len(), sum.Jitter.Count(), n-30)
	}
}

func TestProbeReflectorTimeIsTakenOut(t *testing.T) {
	const delay = 3 * time.Millisecond
	sum, evs := runFakeProbe(t, ProbeConfig{Count: 20, Interval: time.Millisecond}, &network{reflect: delay})
	if sum.Received != 20 || sum.Reflected != 20 {
		t.Fatalf("received %d, reflected %d; want 20", sum.Received, sum.Reflected)
	}
	for _, e := range evs {
		if e.Kind != EventReply {
			continue
		}
		if e.ServerTime < delay || e.RTT < e.ServerTime || e.NetRTT != e.RTT-e.ServerTime || e.Forward+e.ServerTime+e.Reverse != e.RTT {
			t.Errorf("seq %d: rtt %v server %v net %v fwd %v rev %v", e.Seq, e.RTT, e.ServerTime, e.NetRTT, e.Forward, e.Reverse)
		}
	}
	if sum.ServerReceived != 20 || sum.ForwardLost() != 0 || sum.ReverseLost() != 0 {
		t.Errorf("server received %d, split %d/%d", sum.ServerReceived, sum.ForwardLost(), sum.ReverseLost())
	}
}

func TestProbeLateReplyIsNotCounted(t *testing.T) {
	// seq 1's reply comes after its timeout: lost, then late.
	var net network
	net.swap = func(s uint64) bool { return s == 1 }
	sum, evs := runFakeProbe(t, ProbeConfig{Count: 3, Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond}, &net)
	if sum.Received != 2 || sum.Late != 1 || countKind(evs, EventLost) != 1 || countKind(evs, EventLate) != 1 {
		t.Errorf("received %d late %d; lost events %d late events %d; want 2, 1, 1, 1", sum.Received, sum.Late,
			countKind(evs, EventLost), countKind(evs, EventLate))
	}
}

func TestProbeIgnoresForeignDatagrams(t *testing.T) {
	other := make([]byte, 64)
	Put(other, &Header{Cookie: 43, Seq: 1}) // another run's
	future := make([]byte, 64)
	Put(future, &Header{Cookie: 42, Seq: 1000}) // never sent
	net := network{extra: [][]byte{[]byte("hello"), other, future, {}}}
	sum, _ := runFakeProbe(t, ProbeConfig{Count: 5, Interval: time.Millisecond, Cookie: 42}, &net)
	if sum.Received != 5 || sum.Foreign != 4*5 || sum.Duplicates != 0 {
		t.Errorf("received %d, foreign %d, duplicates %d; want 5, 20, 0", sum.Received, sum.Foreign, sum.Duplicates)
	}
}

// A probe with a small sequence window and no samples (the exporter's
// long runs) keeps counting right as its rings wrap many times over.
func TestProbeSmallWindowNoSamples(t *testing.T) {
	const n = 3000
	cfg := ProbeConfig{Count: n, Rate: 20000, Timeout: 200 * time.Millisecond, SeqWindow: 200, Samples: -1}
	sum, evs := runFakeProbe(t, cfg, &network{
		drop: func(s uint64) bool { return s%100 == 5 }, // 30 lost
		dup:  func(s uint64) bool { return s%250 == 0 }, // 12 duplicated
	})
	if sum.Sent != n || sum.Received != n-30 || sum.Duplicates != 12 || countKind(evs, EventLost) != 30 || sum.Late != 0 {
		t.Errorf("sent %d received %d dups %d lost %d late %d; want %d, %d, 12, 30, 0", sum.Sent, sum.Received, sum.Duplicates, countKind(evs, EventLost), sum.Late, n, n-30)
	}
	if sum.Samples != nil || sum.NetSamples != nil || sum.Percentile(50) != 0 || sum.RTT.Count() != n-30 {
		t.Errorf("samples kept: %v %v; RTT count %d", sum.Samples, sum.NetSamples, sum.RTT.Count())
	}
	p, err := NewProbe(ProbeConfig{SeqWindow: 200, Conn: newFakeConn(fakeClient)})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.sentAt) != 256 || p.seq.window != 256 || p.cfg.Window > 128 {
		t.Errorf("window 200: %d send times, tracker %d, in flight %d; want 256, 256, <= 128", len(p.sentAt), p.seq.window, p.cfg.Window)
	}
}

// A probe's receive buffers follow its rate: once a second (an exporter
// target) it holds a few KB, not MaxBatch 2 KB buffers (128 KB, 119 MB for
// 1,024 exporter targets); unpaced or fast, a full batch.
func TestProbeBuffersFollowTheRate(t *testing.T) {
	for _, c := range []struct {
		name    string
		cfg     ProbeConfig
		atMost  uint64 // bytes NewProbe allocates
		atLeast uint64
	}{
		{"1/s", ProbeConfig{Interval: time.Second, SeqWindow: 256, Samples: -1}, 32 << 10, 0},
		{"unpaced", ProbeConfig{Unpaced: true, SeqWindow: 256, Samples: -1}, 1 << 20, MaxBatch * 2048},
		{"100k/s", ProbeConfig{Rate: 100000, SeqWindow: 256, Samples: -1}, 1 << 20, MaxBatch * 2048},
	} {
		const n = 20
		conns := make([]*fakeConn, n)
		for i := range conns {
			conns[i] = newFakeConn(fakeClient)
		}
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		for i := range n {
			cfg := c.cfg
			cfg.Conn = conns[i]
			if _, err := NewProbe(cfg); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&b)
		per := (b.TotalAlloc - a.TotalAlloc) / n
		t.Logf("%s: %d bytes a probe", c.name, per)
		if per > c.atMost || per < c.atLeast {
			t.Errorf("%s: NewProbe allocated %d bytes, want %d to %d", c.name, per, c.atLeast, c.atMost)
		}
	}
}

// A socket's message headers and kept transmit stamps follow
// ListenConfig.Batch and InFlight: an exporter target's (4, 256) costs
// about 11 KB, the defaults (64, 4096) over 100 KB.
func TestConnBuffersFollowBatch(t *testing.T) {
	srv, err := Listen(ListenConfig{Addr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, c := range []struct {
		name            string
		batch, inFlight int
		atLeast, atMost uint64
	}{
		{"exporter target", 4, 256, 0, 16 << 10},
		{"defaults", 0, 0, 100 << 10, 1 << 20},
	} {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		conn, err := Dial(ListenConfig{Remote: srv.LocalAddr(), TxStamps: true, Batch: c.batch, InFlight: c.inFlight})
		runtime.ReadMemStats(&b)
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
		got := b.TotalAlloc - a.TotalAlloc
		t.Logf("%s: %d bytes", c.name, got)
		if got < c.atLeast || got > c.atMost {
			t.Errorf("%s: Dial allocated %d bytes, want %d to %d", c.name, got, c.atLeast, c.atMost)
		}
	}
}

// A socket with a small ListenConfig.Batch still sends a whole batch, in
// several calls: every datagram of 64 reaches the other end.
func TestSmallBatchSendsAll(t *testing.T) {
	srv, err := Listen(ListenConfig{Addr: netip.MustParseAddrPort("127.0.0.1:0"), RecvBuf: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := Dial(ListenConfig{Remote: srv.LocalAddr(), Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ms := make([]Message, MaxBatch)
	for i := range ms {
		ms[i] = Message{Buf: []byte{byte(i)}, N: 1}
	}
	if n, err := c.WriteBatch(ms); n != MaxBatch || err != nil {
		t.Fatalf("WriteBatch: %d sent, %v; want %d", n, err, MaxBatch)
	}
	in := make([]Message, MaxBatch)
	for i := range in {
		in[i].Buf = make([]byte, 16)
	}
	got := 0
	if err := srv.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for got < MaxBatch {
		n, err := srv.ReadBatch(in)
		if err != nil {
			t.Fatalf("read %d of %d: %v", got, MaxBatch, err)
		}
		for i := range n {
			if in[i].N != 1 || in[i].Buf[0] != byte(got+i) {
				t.Fatalf("datagram %d: % x, want %02x", got+i, in[i].Buf[:in[i].N], got+i)
			}
		}
		got += n
	}
}
