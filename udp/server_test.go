package udp

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// runFakeServer serves what feed pushes, then stops once the replies
// stop coming, and returns the summary and the replies by client.
func runFakeServer(t *testing.T, cfg ServerConfig, feed func(c *fakeConn)) (ServerSummary, map[netip.AddrPort][][]byte) {
	t.Helper()
	conn := newFakeConn("198.18.1.2:7")
	var mu sync.Mutex
	replies := map[netip.AddrPort][][]byte{}
	conn.onWrite = func(m Message) {
		mu.Lock()
		replies[m.Addr] = append(replies[m.Addr], m.Buf)
		mu.Unlock()
	}
	cfg.Conn = conn
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan ServerSummary)
	go func() {
		sum, err := s.Run(ctx, nil)
		if err != nil {
			t.Error(err)
		}
		done <- sum
	}()
	feed(conn)
	conn.waitDrained() // the server has read and handled every datagram
	cancel()
	return <-done, replies
}

func probeDatagram(cookie, seq uint64, size int) []byte {
	b := make([]byte, size)
	Put(b, &Header{Cookie: cookie, Seq: seq, Sent: time.Now().UnixNano()})
	return b
}

// TestServerCountsPlainAndMalformed: datagrams that are not probes are
// plain; only those with the probe magic that do not parse are malformed.
func TestServerCountsPlainAndMalformed(t *testing.T) {
	a, b := netip.MustParseAddrPort("198.18.0.1:1000"), netip.MustParseAddrPort("[fd00::1]:2000")
	junk := [][]byte{{}, {1}, []byte("rnU1 but not really a header, long enough to reach 56 bytes......"), make([]byte, HeaderLen-1)} // 3 plain, 1 malformed
	for _, mode := range []Mode{ModeEcho, ModeReflect, ModeSink} {
		sum, replies := runFakeServer(t, ServerConfig{Mode: mode}, func(c *fakeConn) {
			for i := range 10 {
				c.push(a, probeDatagram(1, uint64(i), 64))
			}
			for _, j := range junk {
				c.push(b, j)
			}
			c.push(b, probeDatagram(2, 0, 100))
		})
		tot := sum.Totals
		if tot.Received != 15 || tot.Plain != 3 || tot.Malformed != 1 || tot.Clients != 2 {
			t.Errorf("%v: totals %+v; want 15 received, 3 plain, 1 malformed, 2 clients", mode, tot)
		}
		want := map[Mode][2]int{ModeEcho: {10, 5}, ModeReflect: {10, 1}, ModeSink: {0, 0}}[mode]
		if len(replies[a]) != want[0] || len(replies[b]) != want[1] {
			t.Errorf("%v: %d and %d replies, want %v", mode, len(replies[a]), len(replies[b]), want)
		}
		for _, r := range replies[a] {
			h, err := Parse(r)
			if err != nil || h.Reflected != (mode == ModeReflect) || len(r) != 64 {
				t.Errorf("%v: reply %+v %v", mode, h, err)
			}
			if mode == ModeReflect && (h.ServerN != uint32(h.Seq+1) || h.ServerTx < h.ServerRx) {
				t.Errorf("reflected %+v: want count seq+1 and tx >= rx", h)
			}
		}
		for _, cs := range sum.Clients {
			if cs.First.IsZero() || cs.First.After(cs.Last) {
				t.Errorf("%v: client %v first %v after last %v", mode, cs.Addr, cs.First, cs.Last)
			}
			if cs.Addr == a && (cs.Received != 10 || cs.Probes != 10 || cs.Lost() != 0 || cs.Malformed != 0 || cs.Plain != 0) {
				t.Errorf("%v: client a %+v", mode, cs)
			}
			if cs.Addr == b && (cs.Received != 5 || cs.Plain != 3 || cs.Malformed != 1 || cs.Probes != 1) {
				t.Errorf("%v: client b %+v", mode, cs)
			}
		}
	}
}

func TestServerSeesLossAndOrderOnTheWayIn(t *testing.T) {
	a := netip.MustParseAddrPort("198.18.0.1:1000")
	sum, _ := runFakeServer(t, ServerConfig{Mode: ModeSink}, func(c *fakeConn) {
		for _, s := range []uint64{0, 1, 3, 2, 2, 6, 7} { // 4 and 5 lost, 2 late and twice
			c.push(a, probeDatagram(9, s, 64))
		}
	})
	cs := sum.Clients[0]
	if cs.Probes != 6 || cs.Lost() != 2 || cs.Reordered != 1 || cs.Duplicates != 1 || cs.HighestSeq != 7 {
		t.Errorf("client %+v: want 6 probes, 2 lost, 1 reordered, 1 duplicate, highest 7", cs)
	}
}

func TestServerClientLimitKeepsOthersServed(t *testing.T) {
	hog, quiet := netip.MustParseAddrPort("198.18.0.1:1"), netip.MustParseAddrPort("198.18.0.2:2")
	sum, replies := runFakeServer(t, ServerConfig{ClientRate: 10}, func(c *fakeConn) {
		for i := range 2000 {
			c.push(hog, probeDatagram(1, uint64(i), 64))
			if i%100 == 0 {
				c.push(quiet, probeDatagram(2, uint64(i/100), 64))
			}
		}
	})
	// The hog gets its burst (one batch) and what 10/s adds while it
	// floods; the quiet client, well under its limit, gets everything.
	if n := len(replies[hog]); n < MaxBatch || n > MaxBatch+20 {
		t.Errorf("hog got %d replies, want about %d", n, MaxBatch)
	}
	if n := len(replies[quiet]); n != 20 {
		t.Errorf("quiet client got %d replies of 20", n)
	}
	if sum.Totals.RateLimited != uint64(2000-len(replies[hog])) {
		t.Errorf("rate limited %d, want %d", sum.Totals.RateLimited, 2000-len(replies[hog]))
	}
}

func TestServerTableIsBounded(t *testing.T) {
	sum, replies := runFakeServer(t, ServerConfig{MaxClients: 8}, func(c *fakeConn) {
		for i := range 100 {
			c.push(netip.AddrPortFrom(netip.MustParseAddr("198.18.0.1"), uint16(1000+i)), []byte{byte(i)})
		}
	})
	if sum.Totals.Clients != 8 || sum.Totals.Untracked != 92 || len(replies) != 100 || len(sum.Clients) != 9 {
		t.Errorf("clients %d, untracked %d, answered %d, listed %d; want 8, 92, 100, 9",
			sum.Totals.Clients, sum.Totals.Untracked, len(replies), len(sum.Clients))
	}
}
