package icmp

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// pingKind pings dst count times with kind over a fresh conn of proto
// and returns the events and the summary.
func pingKind(t *testing.T, proto Proto, kind Kind, dst string, count, size int) ([]Event, Summary) {
	t.Helper()
	a := netip.MustParseAddr(dst)
	c, err := Listen(ListenConfig{V6: a.Is6(), Proto: proto})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var v4, v6 Conn = c, nil
	if a.Is6() {
		v4, v6 = nil, c
	}
	p, err := New(withConns(Config{Targets: []netip.Addr{a}, Count: count, Interval: 20 * time.Millisecond,
		Timeout: time.Second, Kind: kind, Size: size}, v4, v6))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var evs []Event
	sum, err := p.Run(ctx, func(e Event) error { evs = append(evs, e); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return evs, sum
}

// replies checks that every one of count probes got exactly one reply
// with flags and closed as given, and nothing else happened.
func checkReplies(t *testing.T, evs []Event, sum Summary, count int, flags uint8, closed bool) {
	t.Helper()
	st := sum.Targets[0]
	if st.Transmitted != count || st.Received != count || st.Duplicates != 0 || st.Errors != 0 || st.Late != 0 {
		t.Fatalf("stats %+v, want %d probes all answered once", st, count)
	}
	seen := map[uint32]bool{}
	for _, e := range evs {
		if e.Kind != EventReply {
			t.Fatalf("event %+v, want replies only", e)
		}
		if e.Flags != flags || e.Closed != closed || seen[e.Seq] {
			t.Fatalf("reply %+v, want flags %#x closed %v, each seq once", e, flags, closed)
		}
		seen[e.Seq] = true
	}
}

// TestTCPProbeLoopback: SYNs to a listening port on loopback are answered
// SYN-ACK, to a closed port RST-ACK, over IPv4 and IPv6.
func TestTCPProbeLoopback(t *testing.T) {
	labtest.RequireRoot(t)
	for _, dst := range []string{"127.0.0.1", "::1"} {
		ln, err := net.Listen("tcp", net.JoinHostPort(dst, "0"))
		if err != nil {
			t.Fatal(err)
		}
		open := uint16(ln.Addr().(*net.TCPAddr).Port)
		evs, sum := pingKind(t, ProtoTCP, NewTCPProbe(open), dst, 3, NoPayload)
		checkReplies(t, evs, sum, 3, TCPSA, false)
		ln.Close() // now closed
		evs, sum = pingKind(t, ProtoTCP, NewTCPProbe(open), dst, 3, NoPayload)
		checkReplies(t, evs, sum, 3, TCPRA, true)
		// Data on the SYN: the RST acknowledges it too.
		evs, sum = pingKind(t, ProtoTCP, NewTCPProbe(open), dst, 2, 10)
		checkReplies(t, evs, sum, 2, TCPRA, true)
	}
}

// TestUDPProbeLoopback: datagrams to an echoing port are answered by the
// echo, to a closed port by port unreachable, over IPv4 and IPv6.
func TestUDPProbeLoopback(t *testing.T) {
	for _, dst := range []string{"127.0.0.1", "::1"} {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(dst, "0"))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(buf[:n], from)
			}
		}()
		open := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
		evs, sum := pingKind(t, ProtoUDP, NewUDPProbe(open), dst, 3, 0)
		checkReplies(t, evs, sum, 3, 0, false)
		pc.Close()
		evs, sum = pingKind(t, ProtoUDP, NewUDPProbe(open), dst, 3, 0)
		checkReplies(t, evs, sum, 3, 0, true)
	}
}
