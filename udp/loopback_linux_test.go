package udp

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// startServer serves on addr (port 0: any) over a real socket until the
// test ends, and returns the address to probe.
func startServer(t testing.TB, addr string, cfg ServerConfig) netip.AddrPort {
	t.Helper()
	conn, err := Listen(ListenConfig{Addr: netip.MustParseAddrPort(addr)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(cfg, conn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := s.Run(ctx, nil); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done; conn.Close() })
	return conn.LocalAddr()
}

func dialProbe(t testing.TB, remote netip.AddrPort, cfg ProbeConfig) *Probe {
	t.Helper()
	conn, err := Dial(ListenConfig{Remote: remote})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cfg.Remote = remote
	p, err := NewProbe(cfg, conn)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoopbackEchoAndReflect(t *testing.T) {
	for _, tc := range []struct {
		listen, target string
		mode           Mode
	}{
		{"127.0.0.1:0", "127.0.0.1", ModeEcho},
		{"[::1]:0", "::1", ModeReflect},
		{"[::]:0", "127.0.0.1", ModeReflect}, // dual stack: IPv4 on an IPv6 socket
		{"[::]:0", "::1", ModeEcho},
	} {
		srv := startServer(t, tc.listen, ServerConfig{Mode: tc.mode})
		remote := netip.AddrPortFrom(netip.MustParseAddr(tc.target), srv.Port())
		p := dialProbe(t, remote, ProbeConfig{Count: 200, Rate: 10000, Size: 200})
		kernel := 0
		sum, err := p.Run(context.Background(), func(ev ProbeEvent) error {
			if ev.Kind == EventReply && ev.KernelStamp {
				kernel++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Sent != 200 || sum.Received != 200 || sum.Duplicates != 0 || kernel != 200 {
			t.Errorf("%s -> %s: sent %d received %d dups %d kernel stamps %d", tc.listen, remote, sum.Sent, sum.Received, sum.Duplicates, kernel)
		}
		if reflected := sum.Reflected == 200; reflected != (tc.mode == ModeReflect) || (reflected && sum.ServerReceived != 200) {
			t.Errorf("%s: %d reflected, server count %d", tc.listen, sum.Reflected, sum.ServerReceived)
		}
	}
}

func TestLoopbackNothingListening(t *testing.T) {
	// A port nobody listens on: the kernel answers port unreachable.
	conn, err := Listen(ListenConfig{Addr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	port := conn.LocalAddr().Port()
	conn.Close()
	p := dialProbe(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), ProbeConfig{Count: 3, Interval: 10 * time.Millisecond, Timeout: 100 * time.Millisecond})
	sum, err := p.Run(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Received != 0 || sum.Unreachable == 0 {
		t.Errorf("received %d, unreachable %d; want 0 and some", sum.Received, sum.Unreachable)
	}
}
