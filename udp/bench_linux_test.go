package udp

import (
	"context"
	"testing"
	"time"
)

// BenchmarkEchoRoundTrip: one batched round trip of MaxBatch datagrams
// through a real echo Server on loopback, driven over a raw Conn; reported
// per datagram. Both sockets are Blocking, as rawnet udp serve and probe
// open them. The server's allocations count (same process).
func BenchmarkEchoRoundTrip(b *testing.B) {
	srv := startServer(b, "127.0.0.1:0", true, ServerConfig{})
	conn, err := Dial(ListenConfig{Remote: srv, RecvBuf: 4 << 20, Blocking: true})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	tx, rx := make([]Message, MaxBatch), make([]Message, MaxBatch)
	for i := range tx {
		tx[i] = Message{Buf: probeDatagram(1, uint64(i), 64), N: 64}
		rx[i] = Message{Buf: make([]byte, 2048)}
	}
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += MaxBatch {
		if _, err := conn.WriteBatch(tx); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < MaxBatch; {
			n, err := conn.ReadBatch(rx)
			if err != nil {
				b.Fatal(err)
			}
			got += n
		}
	}
}

// BenchmarkProbeUnpaced: the probe engine against a real echo Server on
// loopback, 64 datagrams in flight; reported per datagram.
func BenchmarkProbeUnpaced(b *testing.B) {
	srv := startServer(b, "127.0.0.1:0", true, ServerConfig{})
	p := dialProbe(b, srv, true, ProbeConfig{Count: max(b.N, 1), Unpaced: true, Window: 64})
	b.ReportAllocs()
	b.ResetTimer()
	sum, err := p.Run(context.Background(), func(ProbeEvent) error { return nil })
	if err != nil || sum.Received < sum.Sent*9/10 {
		b.Fatalf("%+v %v", sum.Received, err)
	}
}

// TestServeAndProbeAllocateNothingPerDatagram: a run of 21,000 round
// trips, timed from kernel transmit stamps, through the server and the
// probe engine (both in this process) allocates no more than a run of
// 1,000. Each measured run dials a fresh socket and builds a fresh Probe,
// and must send and get back every datagram, so that neither run can be
// empty. Not parallel: Mallocs counts every goroutine's allocations.
func TestServeAndProbeAllocateNothingPerDatagram(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0", true, ServerConfig{Mode: ModeReflect})
	run := func(n int) float64 {
		stamped, replies := 0, 0
		allocs := testing.AllocsPerRun(1, func() {
			conn, err := Dial(ListenConfig{Remote: srv, RecvBuf: 4 << 20, Blocking: true, TxStamps: true})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// Loopback loses nothing with 32 in flight; the long timeout
			// keeps a stall of a loaded machine from counting as loss.
			p, err := NewProbe(ProbeConfig{Remote: srv, Conn: conn, Count: n, Unpaced: true, Window: 32, Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			sum, err := p.Run(context.Background(), func(ev ProbeEvent) error {
				if ev.Kind == EventReply {
					replies++
					if ev.KernelTxStamp {
						stamped++
					}
				}
				return nil
			})
			if err != nil || sum.Sent != n || sum.Received != n {
				t.Fatalf("run of %d: sent %d, received %d, %v", n, sum.Sent, sum.Received, err)
			}
		})
		// The send path with transmit stamps is the one measured.
		if stamped < replies*9/10 {
			t.Errorf("%d of %d replies timed from the kernel's transmit stamp", stamped, replies)
		}
		return allocs
	}
	run(100) // warm up: the server's client table, pools, timers
	small, large := run(1000), run(21000)
	t.Logf("allocations: %v for 1,000 round trips, %v for 21,000", small, large)
	// A run has a fixed cost (socket, probe, context hook, timers); what
	// grows with the datagrams would show as thousands.
	if large-small > 50 {
		t.Errorf("20,000 more round trips cost %v more allocations (%v against %v)", large-small, large, small)
	}
}
