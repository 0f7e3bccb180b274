package icmp

import (
	"context"
	"errors"
	"github.com/rawnet/rawnet/internal/icmpmsg"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
	"github.com/rawnet/rawnet/tap"
)

// Real sockets on loopback: the kernel answers, timestamps and filters.

// TestLoopbackRawAndDatagram pings loopback over raw and datagram sockets
// inside a lab node, whose namespace lets every group open datagram
// ("ping") sockets: the kernel replaces the echo identifier of those with
// the socket's port, so replies are matched by sequence and cookie.
func TestLoopbackRawAndDatagram(t *testing.T) {
	l := labtest.Up(t, lab.Spec{PingGroup: true})
	for _, tc := range []struct {
		name string
		v6   bool
		mode Mode
		dst  string
	}{
		{"raw4", false, ModeRaw, "127.0.0.1"},
		{"raw6", true, ModeRaw, "::1"},
		{"dgram4", false, ModeDatagram, "127.0.0.1"},
		{"dgram6", true, ModeDatagram, "::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Conn
			err := l.Src.Do(func() (err error) {
				c, err = Listen(ListenConfig{V6: tc.v6, Mode: tc.mode})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Datagram() != (tc.mode == ModeDatagram) {
				t.Fatalf("Listen(mode %v) gave a socket with Datagram() %v", tc.mode, c.Datagram())
			}
			var v4, v6 Conn = c, nil
			if tc.v6 {
				v4, v6 = nil, c
			}
			var tapped [2]int
			cfg := Config{Targets: addrs(tc.dst), Count: 5, Interval: 2 * time.Millisecond,
				Tap: func(dir tap.Dir, ts time.Time, data []byte) { tapped[dir]++ }}
			sum, evs := run(t, cfg, v4, v6)
			ts := sum.Targets[0]
			if ts.Transmitted != 5 || ts.Received != 5 || ts.Duplicates != 0 {
				t.Fatalf("stats %+v", ts)
			}
			seqs := 0
			for _, e := range evs {
				if e.Kind != EventReply {
					continue
				}
				seqs++
				if !e.KernelStamp || e.TTL != 64 || e.Size != 64 || e.RTT <= 0 || e.Seq != uint32(seqs) {
					t.Errorf("reply %d %+v: want seq %d, kernel stamp, ttl 64, 64 bytes, rtt > 0", seqs, e, seqs)
				}
			}
			if tapped[0] != 5 || tapped[1] != 5 {
				t.Errorf("tap saw %d sent, %d received; want 5 and 5", tapped[0], tapped[1])
			}
		})
	}
}

// TestKernelFilterDropsForeignIDs: echo replies for another identifier
// never reach the socket (BPF in the kernel), on both families.
func TestKernelFilterDropsForeignIDs(t *testing.T) {
	labtest.RequireRoot(t)
	for _, tc := range []struct {
		v6  bool
		dst string
		typ uint8
	}{{false, "127.0.0.1", icmpmsg.TypeEchoRequest4}, {true, "::1", icmpmsg.TypeEchoRequest6}} {
		listener, err := Listen(ListenConfig{V6: tc.v6, Mode: ModeRaw, ID: 1111})
		if err != nil {
			t.Fatal(err)
		}
		sender, err := Listen(ListenConfig{V6: tc.v6, Mode: ModeRaw, ID: 2222})
		if err != nil {
			t.Fatal(err)
		}
		dst := netip.MustParseAddr(tc.dst)
		buf := make([]byte, 2048)
		var pkt Packet
		// A request with a foreign id: its reply must not reach listener.
		_ = sender.WriteTo(icmpmsg.MarshalEcho(make([]byte, 64), icmpmsg.Echo{Type: tc.typ, ID: 2222, Seq: 1}, icmpmsg.Probe{}, nil), dst)
		_ = listener.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for {
			err := listener.ReadPacket(buf, &pkt)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if e, _, _, _ := icmpmsg.ParseEcho(pkt.Data); e.ID == 2222 {
				t.Fatalf("v6=%v: listener received a reply for id 2222: %x", tc.v6, pkt.Data)
			}
		}
		// Its own id does come through.
		_ = sender.WriteTo(icmpmsg.MarshalEcho(make([]byte, 64), icmpmsg.Echo{Type: tc.typ, ID: 1111, Seq: 2}, icmpmsg.Probe{}, nil), dst)
		_ = listener.SetReadDeadline(time.Now().Add(time.Second))
		got := false
		for !got {
			if err := listener.ReadPacket(buf, &pkt); err != nil {
				t.Fatalf("v6=%v: own id: %v", tc.v6, err)
			}
			e, _, _, _ := icmpmsg.ParseEcho(pkt.Data)
			got = e.ID == 1111 && e.Seq == 2
		}
		listener.Close()
		sender.Close()
	}
}

// TestRunStopsOnContext: an endless ping over a real socket, cancelled at
// its fourth reply, returns with the replies counted and sending stopped
// long before the 1,000 probes of its count.
func TestRunStopsOnContext(t *testing.T) {
	labtest.RequireRoot(t)
	c, err := Listen(ListenConfig{Mode: ModeRaw})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := New(withConns(Config{Targets: addrs("127.0.0.1"), Count: 1000, Interval: 20 * time.Millisecond}, c, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	replies := 0
	sum, err := p.Run(ctx, func(e Event) error {
		if e.Kind == EventReply {
			if replies++; replies == 4 {
				cancel()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ts := sum.Targets[0]; ts.Received < 4 || ts.Transmitted < ts.Received || ts.Transmitted >= 100 {
		t.Errorf("cancelled at the fourth reply: stats %+v", ts)
	}
}

// TestNoTxStamps: a socket opened with NoTxStamps has no kernel transmit
// stamps and says why (ErrTxStampsNotAsked); its replies are timed from
// the kernel's receive stamp and the clock read before sending. One
// opened without it has both stamps.
func TestNoTxStamps(t *testing.T) {
	l := labtest.Up(t, lab.Spec{})
	for _, off := range []bool{false, true} {
		var c Conn
		err := l.Src.Do(func() (err error) {
			c, err = Listen(ListenConfig{Mode: ModeRaw, NoTxStamps: off, Blocking: off})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		on, why := TxStamps(c)
		if on == off || (off && !errors.Is(why, ErrTxStampsNotAsked)) || (!off && why != nil) {
			t.Errorf("NoTxStamps %v: TxStamps gives %v, %v", off, on, why)
		}
		_, evs := run(t, Config{Targets: addrs("127.0.0.1"), Count: 5, Interval: 2 * time.Millisecond, Flood: off}, c, nil)
		c.Close()
		replies := 0
		for _, ev := range evs {
			if ev.Kind != EventReply {
				continue
			}
			replies++
			if !ev.KernelStamp || ev.KernelTxStamp == off {
				t.Errorf("NoTxStamps %v: reply %d has KernelStamp %v, KernelTxStamp %v", off, ev.Seq, ev.KernelStamp, ev.KernelTxStamp)
			}
		}
		if replies != 5 {
			t.Errorf("NoTxStamps %v: %d replies, want 5", off, replies)
		}
	}
}

// TestHeaderIncludedSourceCache: a header-included socket caches the
// source of its last destination, and a later Source answer replaces it.
func TestHeaderIncludedSourceCache(t *testing.T) {
	l := labtest.Up(t, lab.Spec{})
	var c Conn
	err := l.Src.Do(func() (err error) {
		c, err = Listen(ListenConfig{Mode: ModeRaw, HeaderIncluded: true, NoTxStamps: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc := c.(*sockConn)
	dst := netip.MustParseAddr("127.0.0.1")
	if got := sc.sourceFor(dst); got != netip.IPv4Unspecified() {
		t.Fatalf("source before Source: %s, want 0.0.0.0", got)
	}
	src, err := sc.Source(dst)
	if err != nil || src != dst {
		t.Fatalf("Source(%s) = %s, %v", dst, src, err)
	}
	if got := sc.sourceFor(dst); got != src {
		t.Errorf("source after Source: %s, want %s", got, src)
	}
	_, evs := run(t, Config{Targets: []netip.Addr{dst}, Count: 3, Flood: true}, c, nil)
	replies := 0
	for _, ev := range evs {
		if ev.Kind == EventReply {
			replies++
		}
	}
	if replies != 3 {
		t.Errorf("%d replies over the header-included socket, want 3", replies)
	}
}
