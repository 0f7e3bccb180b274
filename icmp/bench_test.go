package icmp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/lab/labtest"
	"github.com/rawnet/rawnet/internal/rawsock"
)

// discardConn is a Conn that sends nowhere, for benchmarks of the engine's
// own work.
type discardConn struct{ fakeConn }

func (d *discardConn) WriteTo(msg []byte, dst netip.Addr) error { return nil }

func benchPinger(b *testing.B) (*Pinger, Conn) {
	c := &discardConn{fakeConn{id: 0x1234, wake: make(chan struct{}, 1)}}
	p, err := New(withConns(Config{Targets: addrs("198.18.3.2"), Cookie: 99, Interval: time.Millisecond}, c, nil))
	if err != nil {
		b.Fatal(err)
	}
	p.sink = func(Event) error { return nil }
	return p, c
}

// BenchmarkSendPath: marshal, record and send one probe, as the sender
// does in steady state (the coordinator forgets answered probes).
func BenchmarkSendPath(b *testing.B) {
	p, _ := benchPinger(b)
	b.ReportAllocs()
	for b.Loop() {
		p.send(0)
		t := &p.targets[0]
		p.mu.Lock()
		t.ring[t.seq&t.mask].state = slotAnswered
		p.pending--
		p.forgetResolved()
		p.mu.Unlock()
	}
}

// BenchmarkReceiveMatch: parse and match one echo reply to its probe and
// update the statistics, as the receiver does per packet.
func BenchmarkReceiveMatch(b *testing.B) {
	p, c := benchPinger(b)
	p.send(0)
	reply := icmpmsg.MarshalEcho(make([]byte, 64), icmpmsg.Echo{Type: icmpmsg.TypeEchoReply4, ID: 0x1234, Seq: 1}, icmpmsg.Probe{Cookie: 99, Seq: 1}, nil)
	pkt := Packet{Data: reply, From: netip.MustParseAddr("198.18.3.2"), TTL: 61, Received: time.Now(), KernelStamp: true}
	t := &p.targets[0]
	var ev Event
	b.ReportAllocs()
	for b.Loop() {
		t.ring[1&t.mask].state = slotPending
		p.pending++
		p.fifo.push(pending{target: 0, seq: 1})
		if !p.handle(c, &pkt, &ev) {
			b.Fatal("reply not matched")
		}
	}
}

// BenchmarkLoopbackRoundTrip: a real raw socket, one echo request to
// 127.0.0.1 and its reply read back with kernel timestamp and control
// messages, and the request's kernel transmit stamp.
func BenchmarkLoopbackRoundTrip(b *testing.B) {
	labtest.RequireRoot(b)
	c, err := Listen(ListenConfig{Mode: ModeRaw})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	dst := netip.MustParseAddr("127.0.0.1")
	msg := make([]byte, 64)
	buf := make([]byte, 1<<16)
	var pkt Packet
	st := c.(rawsock.TxStamper)
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	b.ReportAllocs()
	seq := uint16(0)
	for b.Loop() {
		seq++
		icmpmsg.MarshalEcho(msg, icmpmsg.Echo{Type: icmpmsg.TypeEchoRequest4, ID: c.ID(), Seq: seq}, icmpmsg.Probe{Seq: uint32(seq)}, nil)
		key, _ := st.TxKey()
		if err := c.WriteTo(msg, dst); err != nil {
			b.Fatal(err)
		}
		for {
			if err := c.ReadPacket(buf, &pkt); err != nil {
				b.Fatal(err)
			}
			if e, _, _, _ := icmpmsg.ParseEcho(pkt.Data); e.Type == icmpmsg.TypeEchoReply4 && e.Seq == seq {
				break
			}
		}
		if _, ok := st.TxStamp(key); !ok {
			b.Fatalf("probe %d: no transmit stamp", seq)
		}
	}
}

// BenchmarkDemuxLoopbackRoundTrip: BenchmarkLoopbackRoundTrip through a
// virtual Conn of a Demux: the shared reader's routing by cookie, the
// hand-over to the virtual Conn's reader, and the request's transmit
// stamp routed to it.
func BenchmarkDemuxLoopbackRoundTrip(b *testing.B) {
	labtest.RequireRoot(b)
	c, err := Listen(ListenConfig{Mode: ModeRaw})
	if err != nil {
		b.Fatal(err)
	}
	d := NewDemux(c)
	defer d.Close()
	const cookie = 0xbe5c
	vc, err := d.Conn(cookie)
	if err != nil {
		b.Fatal(err)
	}
	dst := netip.MustParseAddr("127.0.0.1")
	msg := make([]byte, echoHeaderLen+DefaultSize)
	buf := make([]byte, 1<<16)
	var pkt Packet
	st := vc.(rawsock.TxStamper)
	_ = vc.SetReadDeadline(time.Now().Add(time.Minute))
	b.ReportAllocs()
	seq := uint16(0)
	for b.Loop() {
		seq++
		icmpmsg.MarshalEcho(msg, icmpmsg.Echo{Type: icmpmsg.TypeEchoRequest4, ID: vc.ID(), Seq: seq}, icmpmsg.Probe{Cookie: cookie, Seq: uint32(seq)}, nil)
		key, _ := st.TxKey()
		if err := vc.WriteTo(msg, dst); err != nil {
			b.Fatal(err)
		}
		for {
			if err := vc.ReadPacket(buf, &pkt); err != nil {
				b.Fatal(err)
			}
			if e, _, _, _ := icmpmsg.ParseEcho(pkt.Data); e.Type == icmpmsg.TypeEchoReply4 && e.Seq == seq {
				break
			}
		}
		if _, ok := st.TxStamp(key); !ok {
			b.Fatalf("probe %d: no transmit stamp", seq)
		}
	}
}
