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
