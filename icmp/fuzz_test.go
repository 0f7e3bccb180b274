package icmp

import (
	"encoding/binary"
	"github.com/rawnet/rawnet/internal/icmpmsg"
	"net/netip"
	"testing"
)

// FuzzHandle feeds arbitrary packets to the matcher of a running
// configuration: nothing may panic, and nothing that lacks this run's
// identifier may count as a reply.
func FuzzHandle(f *testing.F) {
	c := newFake(false, 0x1234, nil)
	p, err := New(withConns(Config{Targets: addrs("198.18.3.2"), Count: 1, Cookie: 77}, c, nil))
	if err != nil {
		f.Fatal(err)
	}
	p.sink = func(Event) error { return nil }
	p.send(0)
	good := icmpmsg.MarshalEcho(make([]byte, 64), icmpmsg.Echo{Type: icmpmsg.TypeEchoReply4, ID: 0x1234, Seq: 1}, icmpmsg.Probe{Cookie: 77, Seq: 1}, nil)
	f.Add(good, true)
	f.Add(good[:20], false)
	f.Add([]byte{11, 0, 0, 0, 0, 0, 0, 0, 0x45}, true)
	f.Fuzz(func(t *testing.T, b []byte, queued bool) {
		pkt := Packet{Data: b, From: netip.MustParseAddr("198.18.3.2"), QueuedError: queued}
		var ev Event
		ok := p.handle(c, &pkt, &ev)
		if ok && len(b) >= 6 && binary.BigEndian.Uint16(b[4:]) != 0x1234 && !queued && ev.Kind == EventReply {
			t.Fatalf("reply with foreign id %x matched", b[4:6])
		}
	})
}

// FuzzKindHandle feeds arbitrary packets to the matchers of the TCP and
// UDP kinds in a running configuration: nothing may panic, and nothing
// that is not from the probed port (TCP: also to our port, acknowledging
// this run's cookie) may count as a reply.
func FuzzKindHandle(f *testing.F) {
	const cookie = 0x4242_0000_0000_0001
	mk := func(k Kind) (*Pinger, *fakeConn) {
		c := newFake(false, 40000, nil)
		p, err := New(withConns(Config{Targets: addrs("198.18.3.2"), Count: 1, Cookie: cookie, Kind: k}, c, nil))
		if err != nil {
			f.Fatal(err)
		}
		p.sink = func(Event) error { return nil }
		p.send(0)
		return p, c
	}
	tcp, tc := mk(NewTCPProbe(443))
	udp, uc := mk(NewUDPProbe(53))
	sa := tcpAnswer(443, 40000, 0x4242_0001+1, TCPSA)
	f.Add(sa, false, false)
	f.Add(sa[:8], true, false)
	f.Add([]byte{0, 53, 0x9c, 0x40, 0, 8, 0, 0}, false, true)
	f.Fuzz(func(t *testing.T, b []byte, queued, overUDP bool) {
		pkt := Packet{Data: b, From: netip.MustParseAddr("198.18.3.2"), OrigDst: netip.MustParseAddr("198.18.3.2"), QueuedError: queued}
		var ev Event
		if overUDP {
			if udp.handle(uc, &pkt, &ev) && !queued && binary.BigEndian.Uint16(b) != 53 {
				t.Fatalf("UDP answer from port %d matched", binary.BigEndian.Uint16(b))
			}
			return
		}
		if tcp.handle(tc, &pkt, &ev) && !queued {
			if binary.BigEndian.Uint16(b) != 443 || binary.BigEndian.Uint16(b[2:]) != 40000 || uint16((binary.BigEndian.Uint32(b[8:])-1)>>16) != 0x4242 {
				t.Fatalf("TCP answer %x matched", b[:12])
			}
		}
	})
}
