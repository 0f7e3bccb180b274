package udp

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"
)

// testRecvBuf is the receive buffer of the loopback tests' sockets: room
// for all of a test's datagrams, so that a reader the race detector and a
// busy machine keep off the CPU for tens of milliseconds loses none. With
// the default (208 KiB) 200 datagrams of 200 bytes at 10,000/s overflowed
// it under load (nstat UdpRcvbufErrors; in CI 168 of 200 arrived).
const testRecvBuf = 4 << 20

// startServer serves on addr (port 0: any) over a real socket (blocking:
// see ListenConfig.Blocking) until the test ends, and returns the address
// to probe.
func startServer(t testing.TB, addr string, blocking bool, cfg ServerConfig) netip.AddrPort {
	t.Helper()
	conn, err := Listen(ListenConfig{Addr: netip.MustParseAddrPort(addr), Blocking: blocking, RecvBuf: testRecvBuf})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Conn = conn
	s, err := NewServer(cfg)
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

func dialProbe(t testing.TB, remote netip.AddrPort, blocking bool, cfg ProbeConfig) *Probe {
	t.Helper()
	conn, err := Dial(ListenConfig{Remote: remote, Blocking: blocking, TxStamps: true, RecvBuf: testRecvBuf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cfg.Remote = remote
	cfg.Conn = conn
	p, err := NewProbe(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoopbackEchoAndReflect(t *testing.T) {
	for _, tc := range []struct {
		listen, target string
		mode           Mode
		blocking       bool
	}{
		{"127.0.0.1:0", "127.0.0.1", ModeEcho, false},
		{"[::1]:0", "::1", ModeReflect, false},
		{"[::]:0", "127.0.0.1", ModeReflect, false}, // dual stack: IPv4 on an IPv6 socket
		{"[::]:0", "::1", ModeEcho, false},
		{"127.0.0.1:0", "127.0.0.1", ModeReflect, true},
		{"[::]:0", "127.0.0.1", ModeEcho, true},
		{"[::]:0", "::1", ModeReflect, true},
	} {
		srv := startServer(t, tc.listen, tc.blocking, ServerConfig{Mode: tc.mode})
		remote := netip.AddrPortFrom(netip.MustParseAddr(tc.target), srv.Port())
		p := dialProbe(t, remote, tc.blocking, ProbeConfig{Count: 200, Rate: 10000, Size: 200})
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
			t.Errorf("%s -> %s (blocking %v): sent %d received %d dups %d kernel stamps %d", tc.listen, remote, tc.blocking, sum.Sent, sum.Received, sum.Duplicates, kernel)
		}
		if reflected := sum.Reflected == 200; reflected != (tc.mode == ModeReflect) || (reflected && sum.ServerReceived != 200) {
			t.Errorf("%s: %d reflected, server count %d", tc.listen, sum.Reflected, sum.ServerReceived)
		}
	}
}

func TestLoopbackNothingListening(t *testing.T) {
	for _, blocking := range []bool{false, true} {
		// A port nobody listens on: the kernel answers port unreachable.
		conn, err := Listen(ListenConfig{Addr: netip.MustParseAddrPort("127.0.0.1:0")})
		if err != nil {
			t.Fatal(err)
		}
		port := conn.LocalAddr().Port()
		conn.Close()
		p := dialProbe(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), blocking,
			ProbeConfig{Count: 3, Interval: 10 * time.Millisecond, Timeout: 100 * time.Millisecond})
		sum, err := p.Run(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Received != 0 || sum.Unreachable == 0 {
			t.Errorf("blocking %v: received %d, unreachable %d; want 0 and some", blocking, sum.Received, sum.Unreachable)
		}
	}
}

// TestBlockingReadStops: a blocking socket's read ends at its deadline,
// when another goroutine moves the deadline into the past (how a run is
// cancelled), and at Close, each with the error Go's poller gives.
func TestBlockingReadStops(t *testing.T) {
	conn, err := Listen(ListenConfig{Addr: netip.MustParseAddrPort("127.0.0.1:0"), Blocking: true, BlockingSlice: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ms := []Message{{Buf: make([]byte, 2048)}}
	conn.SetReadDeadline(time.Now().Add(2 * time.Millisecond))
	if _, err := conn.ReadBatch(ms); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	conn.SetReadDeadline(time.Time{})
	time.AfterFunc(10*time.Millisecond, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	if _, err := conn.ReadBatch(ms); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read whose deadline another goroutine moved: %v, want os.ErrDeadlineExceeded", err)
	}
	conn.SetReadDeadline(time.Time{})
	time.AfterFunc(10*time.Millisecond, func() { conn.Close() })
	if _, err := conn.ReadBatch(ms); !errors.Is(err, os.ErrClosed) {
		t.Errorf("read of a closed socket: %v, want os.ErrClosed", err)
	}
}
