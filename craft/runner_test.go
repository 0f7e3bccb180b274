package craft

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeNet is an in-memory sender and receiver: it keeps what is sent and
// answers it as a network would, through answer.
type fakeNet struct {
	mu      sync.Mutex
	sent    [][]byte
	dsts    []netip.Addr
	calls   []int
	callAt  []time.Time       // when each send call came
	fail    func(n int) error // the n-th packet (from 0) fails with this
	answer  func(pkt []byte) [][]byte
	replies chan []byte
	keep    bool
	count   int
}

func newFakeNet() *fakeNet { return &fakeNet{replies: make(chan []byte, 1024), keep: true} }

func (f *fakeNet) send(pkts [][]byte, dsts []netip.Addr) (ok, failed int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, len(pkts))
	f.callAt = append(f.callAt, time.Now())
	for i, p := range pkts {
		n := f.count
		f.count++
		if f.fail != nil {
			if e := f.fail(n); e != nil {
				failed++
				if err == nil {
					err = e
				}
				continue
			}
		}
		ok++
		if f.keep {
			f.sent = append(f.sent, append([]byte(nil), p...))
			f.dsts = append(f.dsts, dsts[i])
		}
		if f.answer != nil {
			for _, r := range f.answer(p) {
				f.replies <- r
			}
		}
	}
	return ok, failed, err
}

func (f *fakeNet) read() ([]byte, time.Time, bool, error) {
	select {
	case r := <-f.replies:
		return r, time.Now(), false, nil
	case <-time.After(5 * time.Millisecond):
		return nil, time.Time{}, false, errTimeout
	}
}

func (f *fakeNet) interrupt()   {}
func (f *fakeNet) close() error { return nil }

func testPlan(t testing.TB, spec string, cfg Config) *Plan {
	t.Helper()
	s, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	p := &Plan{cfg: cfg, spec: s, ipAt: 0, v6: s.Layers[0].def.kind == lIP6}
	p.b = NewBuilder(s, testEnv, 7)
	return p
}

func TestRunSendsEveryPacketCountTimes(t *testing.T) {
	f := newFakeNet()
	p := testPlan(t, "ip(dst=198.18.5.1,198.18.5.2)/udp(dport=53,80,443)", Config{Count: 30})
	sum, err := p.run(context.Background(), f, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Packets != 180 || sum.Sent != 180 || len(f.sent) != 180 || sum.Failed != 0 {
		t.Fatalf("summary %+v, fake saw %d", sum, len(f.sent))
	}
	for _, c := range f.calls {
		if c > MaxBatch {
			t.Fatalf("a batch of %d", c)
		}
	}
	if len(f.calls) != 3 { // 64 + 64 + 52
		t.Errorf("%d sendmmsg calls, want 3: %v", len(f.calls), f.calls)
	}
	for i, pkt := range f.sent {
		if f.dsts[i] != ipDestination(pkt) || ipDestination(pkt).String() != []string{"198.18.5.1", "198.18.5.2"}[i%6/3] {
			t.Fatalf("packet %d to %s addressed to %s", i, ipDestination(pkt), f.dsts[i])
		}
	}
}

func TestRunFragmentsEachPacket(t *testing.T) {
	f := newFakeNet()
	p := testPlan(t, "ip(dst=198.18.5.2)/icmp/raw(len=400)", Config{Count: 20, Fragment: 64})
	sum, err := p.run(context.Background(), f, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Packets != 20 || sum.Sent != 140 {
		t.Fatalf("summary %+v, want 20 packets in 140 fragments", sum)
	}
	for k := 0; k < 20; k++ {
		got := reassemble(t, f.sent[7*k:7*k+7])
		if len(got) != 20+8+400 || got[20] != 8 {
			t.Fatalf("packet %d reassembles to %d bytes, type %d", k, len(got), got[20])
		}
	}
}

func TestRunSkipsRefusedPacketsAndStopsWhenAllAreRefused(t *testing.T) {
	f := newFakeNet()
	f.fail = func(n int) error {
		if n == 2 {
			return syscall.ENOBUFS
		}
		return nil
	}
	p := testPlan(t, "ip(dst=198.18.5.2)/udp", Config{Count: 5})
	sum, err := p.run(context.Background(), f, nil, nil)
	if err != nil || sum.Sent != 4 || sum.Failed != 1 || !errors.Is(sum.FirstError, syscall.ENOBUFS) {
		t.Fatalf("one refused packet: %+v, %v", sum, err)
	}
	f = newFakeNet()
	f.fail = func(int) error { return syscall.EMSGSIZE }
	p = testPlan(t, "ip(dst=198.18.5.2)/udp/raw(len=2000)", Config{Count: 1000})
	sum, err = p.run(context.Background(), f, nil, nil)
	if !errors.Is(err, syscall.EMSGSIZE) || sum.Sent != 0 || len(f.calls) != 1 {
		t.Fatalf("every packet refused: %+v, %v, %d calls; want EMSGSIZE after the first batch", sum, err, len(f.calls))
	}
}

func TestRunPacesAtTheRate(t *testing.T) {
	f := newFakeNet()
	p := testPlan(t, "ip(dst=198.18.5.2)/udp", Config{Count: 60, Rate: 2000})
	start := time.Now()
	sum, err := p.run(context.Background(), f, nil, nil)
	if err != nil || sum.Sent != 60 {
		t.Fatal(sum, err)
	}
	// Packet k is not sent before k/rate: 59 packets take at least 29.5 ms,
	// and no send call carries a packet before its time. A loaded machine
	// may send late packets in one batch, never early ones.
	if el := time.Since(start); el < 29*time.Millisecond {
		t.Errorf("60 packets at 2000/s took %v", el)
	}
	k := 0
	for i, n := range f.calls {
		k += n
		if due := start.Add(time.Duration(k-1) * time.Second / 2000); f.callAt[i].Before(due) {
			t.Errorf("send call %d carried packet %d %v before its time", i, k-1, due.Sub(f.callAt[i]))
		}
	}
}

func TestRunStopsOnContextAndDuration(t *testing.T) {
	f := newFakeNet()
	f.keep = false
	p := testPlan(t, "ip(dst=198.18.5.2)/udp", Config{Duration: 30 * time.Millisecond, Rate: 1000})
	start := time.Now()
	sum, err := p.run(context.Background(), f, nil, nil)
	el := time.Since(start)
	// Packet k leaves no earlier than k ms after the start, and none
	// after 30 ms: at most 31, however slow the machine; at least one;
	// and the run lasted its 30 ms.
	if err != nil || sum.Sent < 1 || sum.Sent > 31 || el < 30*time.Millisecond || uint64(f.count) != sum.Sent {
		t.Errorf("30 ms at 1000/s: %d sent (%d handed to the socket) in %v, %v", sum.Sent, f.count, el, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p = testPlan(t, "ip(dst=198.18.5.2)/udp", Config{Count: 1000000})
	sum, err = p.run(ctx, f, nil, nil)
	if err != nil || sum.Sent != 0 {
		t.Errorf("cancelled: %d sent, %v", sum.Sent, err)
	}
}

// echoNet answers like a host and a router would: echo requests with
// replies (twice for seq 3: a duplicate), UDP with port unreachable quoting
// the datagram, TTL 1 with time exceeded, and it adds unrelated noise.
func echoNet(t *testing.T) *fakeNet {
	f := newFakeNet()
	f.answer = func(pkt []byte) [][]byte {
		var out [][]byte
		noise := mustBuild(t, "ip(dst=198.18.0.1,src=198.18.9.9)/udp(sport=53,dport=1)")
		out = append(out, noise)
		if pkt[8] == 1 {
			return append(out, quote(t, "ip(src=198.18.1.1,dst=198.18.0.1)/icmp(type=11)", pkt))
		}
		switch pkt[9] {
		case 1:
			id, seq := int(pkt[24])<<8|int(pkt[25]), int(pkt[26])<<8|int(pkt[27])
			r := mustBuild(t, "ip(src=198.18.5.2,dst=198.18.0.1)/icmp(type=0,id="+itoa(id)+",seq="+itoa(seq)+")")
			out = append(out, r)
			if seq == 3 {
				out = append(out, r)
			}
		case 17:
			out = append(out, quote(t, "ip(src=198.18.5.2,dst=198.18.0.1)/icmp(type=3,code=3)", pkt))
		}
		return out
	}
	return f
}

func mustBuild(t *testing.T, spec string) []byte {
	s, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return NewBuilder(s, testEnv, 3).Build(nil, 0)
}

func quote(t *testing.T, spec string, pkt []byte) []byte {
	s, err := Parse(spec + "/raw(hex=" + hexOf(pkt[:28]) + ")")
	if err != nil {
		t.Fatal(err)
	}
	return NewBuilder(s, testEnv, 3).Build(nil, 0)
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, digits[c>>4], digits[c&15])
	}
	return string(s)
}

func TestRunMatchesAnswersToWhatWasSent(t *testing.T) {
	for _, tc := range []struct {
		spec                     string
		packets, answered, total uint64
		errors                   int
	}{
		{"ip(dst=198.18.5.2)/icmp(id=5,seq=1..4)", 4, 4, 5, 0},        // seq 3 answered twice
		{"ip(dst=198.18.5.2)/udp(sport=1000,dport=1..3)", 3, 3, 3, 3}, // port unreachable each
		{"ip(dst=198.18.5.2,ttl=1,2)/udp(dport=7)", 2, 2, 2, 2},
		{"ip(dst=198.18.5.2)/tcp(dport=80)", 1, 0, 0, 0}, // nothing answers TCP here
	} {
		f := echoNet(t)
		p := testPlan(t, tc.spec, Config{Wait: 50 * time.Millisecond})
		var answers []Answer
		sum, err := p.run(context.Background(), f, f, func(a Answer) error {
			if a.RTT < 0 || a.RTT > time.Second {
				t.Errorf("%s: RTT %v", tc.spec, a.RTT)
			}
			a.Frame = append([]byte(nil), a.Frame...)
			answers = append(answers, a)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		errs := 0
		for _, a := range answers {
			if a.Error {
				errs++
			}
		}
		if sum.Packets != tc.packets || sum.Answered != tc.answered || sum.Answers != tc.total || errs != tc.errors {
			t.Errorf("%s: %+v with %d ICMP errors; want %d packets, %d answered, %d answers, %d errors",
				tc.spec, sum, errs, tc.packets, tc.answered, tc.total, tc.errors)
		}
		for _, a := range answers {
			if tc.spec == "ip(dst=198.18.5.2)/icmp(id=5,seq=1..4)" {
				if seq := uint64(a.Frame[27]); seq != a.Probe+1 {
					t.Errorf("answer with seq %d matched to packet %d", seq, a.Probe)
				}
			}
		}
	}
}

// TestRunAllocatesNothingPerPacket: a long run allocates no more than a
// short one (slots, timers and the like are set up once).
func TestRunAllocatesNothingPerPacket(t *testing.T) {
	f := newFakeNet()
	f.keep = false
	run := func(count uint64) float64 {
		return testing.AllocsPerRun(3, func() {
			p := testPlan(t, "ip(dst=198.18.5.2,id=rand)/udp(sport=rand,dport=9)/raw(len=36)", Config{Count: count})
			if _, err := p.run(context.Background(), f, nil, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	short, long := run(100), run(20100)
	if long-short > 2 {
		t.Errorf("20,000 more packets cost %.0f more allocations", long-short)
	}
}

func BenchmarkRunUDP64(b *testing.B) {
	f := newFakeNet()
	f.keep = false
	p := testPlan(b, "ip(dst=198.18.5.2)/udp(dport=9)/raw(len=36)", Config{Count: uint64(b.N)})
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := p.run(context.Background(), f, nil, nil); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkBuildUDP64(b *testing.B) {
	s, _ := Parse("ip(dst=198.18.5.2)/udp(dport=9)/raw(len=36)")
	bl := NewBuilder(s, testEnv, 1)
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = bl.Build(buf, uint64(i))[:0]
	}
}

// BenchmarkRunUDP64Varying builds every packet (a random IPv4 id each).
func BenchmarkRunUDP64Varying(b *testing.B) {
	f := newFakeNet()
	f.keep = false
	p := testPlan(b, "ip(dst=198.18.5.2,id=rand)/udp(dport=9)/raw(len=36)", Config{Count: uint64(b.N)})
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := p.run(context.Background(), f, nil, nil); err != nil {
		b.Fatal(err)
	}
}

// TestFixedPacketsAreBuiltOnce: a spec whose packets are all alike is
// built once; one with a per-packet default (the ICMP sequence number) or
// rand is built every time.
func TestFixedPacketsAreBuiltOnce(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		fixed bool
	}{
		{"ip(dst=198.18.5.2)/udp(dport=9)/raw(len=36)", true},
		{"ip6(dst=fd00::2)/tcp(dport=80)", true},
		{"ip(dst=198.18.5.2)/icmp", false},
		{"ip(dst=198.18.5.2,ttl=rand)/udp", false},
		{"ip(dst=198.18.5.2)/udp/raw(len=8,rand)", false},
		{"ip(dst=198.18.5.2,ttl=1..2)/udp", false},
	} {
		p := testPlan(t, tc.spec, Config{Count: 3})
		if got := fixedPacket(p) != nil; got != tc.fixed {
			t.Errorf("%s: fixed %v, want %v", tc.spec, got, tc.fixed)
		}
		f := newFakeNet()
		if _, err := p.run(context.Background(), f, nil, nil); err != nil {
			t.Fatal(err)
		}
		same := string(f.sent[0]) == string(f.sent[1]) && string(f.sent[1]) == string(f.sent[2])
		if same != tc.fixed {
			t.Errorf("%s: packets alike %v, want %v", tc.spec, same, tc.fixed)
		}
	}
}

// TestMatchingAllocatesNothingPerAnswer: matching an answer (an ICMP error
// quoting a sent packet) and handing its buffer back costs no allocation.
func TestMatchingAllocatesNothingPerAnswer(t *testing.T) {
	p := testPlan(t, "ip(dst=198.18.5.2,ttl=1)/udp(sport=1000,dport=7)", Config{Count: 1, Wait: time.Second})
	r := newRunner(p, newFakeNet(), nil)
	sent := r.p.b.Build(nil, 0)
	r.record(sent)
	r.free = make(chan []byte, 1)
	reply := quote(t, "ip(src=198.18.1.1,dst=198.18.0.1)/icmp(type=11)", sent)
	allocs := testing.AllocsPerRun(1000, func() {
		if err := r.answer(rxPacket{data: reply, ts: time.Now()}); err != nil {
			t.Fatal(err)
		}
		<-r.free
	})
	if allocs != 0 || r.sum.Answered != 1 || r.sum.Answers != 1001 {
		t.Errorf("%.1f allocations per answer; answered %d, answers %d", allocs, r.sum.Answered, r.sum.Answers)
	}
}

// New takes the spec in its Config, like every engine's New, and refuses
// a Config without one.
func TestNewNeedsASpec(t *testing.T) {
	if _, err := New(Config{DryRun: true}); !errors.Is(err, ErrSpec) {
		t.Errorf("New without a spec: %v, want ErrSpec", err)
	}
	spec, err := Parse("ip(dst=198.18.1.2)/udp(dport=9)")
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Spec: spec, DryRun: true})
	if err != nil || p.Spec() != spec || p.Total() != 1 {
		t.Errorf("New(spec): %v, %v", p, err)
	}
}
