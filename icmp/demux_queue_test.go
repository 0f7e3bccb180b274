package icmp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/icmpmsg"
)

// A virtual Conn's queue holds what ConnQueue asked for (DemuxQueue by
// default, clamped to [DemuxQueue, MaxDemuxQueue]) while its reader
// reads nothing; the rest is dropped and counted, and what was queued is
// read back whole and in order.
func TestDemuxQueueSizeAndDrops(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ask, sent int
		want      int // queued
	}{
		{"default", 0, 1500, DemuxQueue},
		{"sized", 3000, 4000, 3000},
		{"below the default", 10, 1500, DemuxQueue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(false, 4242, nil)
			d := NewDemux(f)
			defer d.Close()
			const cookie = 0x5151
			c, err := d.Conn(cookie)
			if tc.ask != 0 {
				c.Close()
				c, err = d.ConnQueue(cookie, tc.ask)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for i := range tc.sent {
				f.inject(replyWithCookie(4242, cookie, uint32(i)))
			}
			dropped := uint64(tc.sent - tc.want)
			for deadline := time.Now().Add(10 * time.Second); d.Dropped() < dropped && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond) // nothing more may drop
			if d.Dropped() != dropped {
				t.Fatalf("dropped %d of %d, want %d (a queue of %d)", d.Dropped(), tc.sent, dropped, tc.want)
			}
			buf := make([]byte, 1500)
			var p Packet
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			for i := range tc.want {
				if err := c.ReadPacket(buf, &p); err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				if _, pr, ok, err := icmpmsg.ParseEcho(p.Data); !ok || err != nil || pr.Seq != uint32(i) {
					t.Fatalf("packet %d: seq %d ok %v err %v", i, pr.Seq, ok, err)
				}
			}
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if err := c.ReadPacket(buf, &p); err == nil {
				t.Fatalf("a packet past the queue of %d", tc.want)
			}
		})
	}
}

// replyWithCookie is an echo reply to probe seq of the run with cookie.
func replyWithCookie(id uint16, cookie uint64, seq uint32) Packet {
	b := make([]byte, icmpmsg.HeaderLen+icmpmsg.ProbeLen+8)
	icmpmsg.MarshalEcho(b, icmpmsg.Echo{Type: icmpmsg.TypeEchoReply4, ID: id, Seq: uint16(seq)},
		icmpmsg.Probe{Cookie: cookie, Seq: seq}, nil)
	return Packet{Data: b, From: netip.MustParseAddr("198.18.0.2")}
}
