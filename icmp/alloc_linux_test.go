package icmp

import (
	"context"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// loopbackFloodAllocs is the allocation count of a whole flood ping of n
// probes over a fresh raw socket to 127.0.0.1: socket, engine, Run (send
// loop, receiver, matching, statistics). Every probe must be answered, so
// that no run is cut short.
func loopbackFloodAllocs(t *testing.T, v6 bool, n int) float64 {
	return kindFloodAllocs(t, ProtoICMP, func() Kind { return nil }, v6, n)
}

// kindFloodAllocs is loopbackFloodAllocs for the kind newKind makes over
// a conn of proto (nil: ICMP echo).
func kindFloodAllocs(t *testing.T, proto Proto, newKind func() Kind, v6 bool, n int) float64 {
	dst := "127.0.0.1"
	if v6 {
		dst = "::1"
	}
	return testing.AllocsPerRun(1, func() {
		c, err := Listen(ListenConfig{V6: v6, Mode: ModeRaw, Proto: proto})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var v4c, v6c Conn = c, nil
		if v6 {
			v4c, v6c = nil, c
		}
		p, err := New(withConns(Config{Targets: addrs(dst), Count: n, Flood: true, Timeout: 5 * time.Second, Kind: newKind()}, v4c, v6c))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		replies := 0
		sum, err := p.Run(ctx, func(e Event) error {
			if e.Kind == EventReply {
				replies++
			}
			return nil
		})
		if ts := sum.Targets[0]; err != nil || ts.Transmitted != n || ts.Received != n || replies != n {
			t.Fatalf("flood of %d to %s: %+v, %d reply events, %v", n, dst, ts, replies, err)
		}
	})
}

// TestSendAndMatchAllocateNothingPerProbe backs the README's claim that
// the send and receive-and-match paths allocate nothing per probe: a flood
// ping of 5,200 probes over a real raw socket allocates no more than one
// of 200 (a fresh socket and engine in each measured run). Not parallel:
// Mallocs counts every goroutine's allocations.
func TestSendAndMatchAllocateNothingPerProbe(t *testing.T) {
	labtest.RequireRoot(t)
	for _, v6 := range []bool{false, true} {
		loopbackFloodAllocs(t, v6, 20) // warm up
		short, long := loopbackFloodAllocs(t, v6, 200), loopbackFloodAllocs(t, v6, 5200)
		t.Logf("v6=%v: %v allocations for 200 probes, %v for 5,200", v6, short, long)
		// A run has a fixed cost; what grows per probe would show as
		// thousands.
		if long-short > 20 {
			t.Errorf("v6=%v: 5,000 more probes cost %v more allocations (%v against %v)", v6, long-short, long, short)
		}
	}
}

// TestTCPAndUDPKindsAllocateNothingPerProbe: the same for SYNs to a closed
// TCP port (each answered RST) and datagrams to a closed UDP port (each
// answered port unreachable, from the socket's error queue).
func TestTCPAndUDPKindsAllocateNothingPerProbe(t *testing.T) {
	labtest.RequireRoot(t)
	kinds := []struct {
		name  string
		proto Proto
		kind  func() Kind
	}{
		{"tcp", ProtoTCP, func() Kind { return NewTCPProbe(9) }},
		{"udp", ProtoUDP, func() Kind { return NewUDPProbe(9) }},
	}
	for _, k := range kinds {
		for _, v6 := range []bool{false, true} {
			kindFloodAllocs(t, k.proto, k.kind, v6, 20) // warm up
			short, long := kindFloodAllocs(t, k.proto, k.kind, v6, 200), kindFloodAllocs(t, k.proto, k.kind, v6, 5200)
			t.Logf("%s v6=%v: %v allocations for 200 probes, %v for 5,200", k.name, v6, short, long)
			if long-short > 20 {
				t.Errorf("%s v6=%v: 5,000 more probes cost %v more allocations (%v against %v)", k.name, v6, long-short, long, short)
			}
		}
	}
}

// demuxFloodAllocs is loopbackFloodAllocs through a virtual Conn of a
// fresh Demux, every reply timed from its routed transmit stamp.
func demuxFloodAllocs(t *testing.T, n int) float64 {
	return testing.AllocsPerRun(1, func() {
		c, err := Listen(ListenConfig{Mode: ModeRaw})
		if err != nil {
			t.Fatal(err)
		}
		d := NewDemux(c)
		defer d.Close()
		const cookie = 0xa110c
		vc, err := d.Conn(cookie)
		if err != nil {
			t.Fatal(err)
		}
		p, err := New(Config{Targets: addrs("127.0.0.1"), Conns: []Conn{vc}, Count: n, Flood: true, Timeout: 5 * time.Second, Cookie: cookie})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		stamped := 0
		sum, err := p.Run(ctx, func(e Event) error {
			if e.Kind == EventReply && e.KernelTxStamp {
				stamped++
			}
			return nil
		})
		if ts := sum.Targets[0]; err != nil || ts.Received != n || stamped != n {
			t.Fatalf("flood of %d through a demux: %+v, %d replies timed from transmit stamps, %v", n, ts, stamped, err)
		}
	})
}

// TestDemuxAllocatesNothingPerProbe: the same claim through a Demux, its
// transmit stamp routing included.
func TestDemuxAllocatesNothingPerProbe(t *testing.T) {
	labtest.RequireRoot(t)
	demuxFloodAllocs(t, 20) // warm up
	short, long := demuxFloodAllocs(t, 200), demuxFloodAllocs(t, 5200)
	t.Logf("%v allocations for 200 probes, %v for 5,200", short, long)
	if long-short > 20 {
		t.Errorf("5,000 more probes cost %v more allocations (%v against %v)", long-short, long, short)
	}
}
