package exporter

import (
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rawnet/rawnet/icmp"
	"github.com/rawnet/rawnet/internal/icmpmsg"
)

// A probe group's queue that its reader does not empty drops what does
// not fit, and rawnet_exporter_dropped_packets_total{reason="queue"} of
// its family counts exactly that; the socket reason is the kernel's count
// (0 for a socket that cannot say), and a family without a socket has no
// series.
func TestDroppedPacketsCounted(t *testing.T) {
	const cookie, sent = 0x4d4d, icmp.DemuxQueue + 300
	f := &replyConn{pkts: make(chan []byte, sent), stop: make(chan struct{})}
	pool := NewSockets()
	s, err := pool.Get(SocketKey{Kind: "icmp"}, func() (io.Closer, error) { return icmp.NewDemux(f), nil })
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	d := s.(*icmp.Demux)
	c, err := d.ConnQueue(cookie, demuxQueue(1)) // a group of one target a second: the smallest queue
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	col := dropsCollector{pool}
	want := func(queue int) string {
		return `# HELP rawnet_exporter_dropped_packets_total ` + droppedDescHelp + `
# TYPE rawnet_exporter_dropped_packets_total counter
rawnet_exporter_dropped_packets_total{family="ipv4",reason="queue"} ` + strconv.Itoa(queue) + `
rawnet_exporter_dropped_packets_total{family="ipv4",reason="socket"} 0
`
	}
	if err := testutil.CollectAndCompare(col, strings.NewReader(want(0))); err != nil {
		t.Fatal(err)
	}
	for i := range sent {
		b := make([]byte, icmpmsg.HeaderLen+icmpmsg.ProbeLen)
		f.pkts <- icmpmsg.MarshalEcho(b, icmpmsg.Echo{Type: icmpmsg.TypeEchoReply4, ID: 1, Seq: uint16(i)},
			icmpmsg.Probe{Cookie: cookie, Seq: uint32(i)}, nil)
	}
	for deadline := time.Now().Add(10 * time.Second); len(f.pkts) > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the last one handed on
	if err := testutil.CollectAndCompare(col, strings.NewReader(want(sent-icmp.DemuxQueue))); err != nil {
		t.Fatal(err)
	}
}

// replyConn is an IPv4 icmp.Conn whose reads return the packets put on
// pkts, until a deadline in the past or Close.
type replyConn struct {
	pkts chan []byte
	stop chan struct{}
	once sync.Once
}

func (r *replyConn) V6() bool                              { return false }
func (r *replyConn) Datagram() bool                        { return false }
func (r *replyConn) ID() uint16                            { return 1 }
func (r *replyConn) Wire() icmp.Wire                       { return icmp.Wire{} }
func (r *replyConn) Source(netip.Addr) (netip.Addr, error) { return netip.Addr{}, nil }
func (r *replyConn) WriteTo([]byte, netip.Addr) error      { return nil }
func (r *replyConn) Close() error                          { r.halt(); return nil }
func (r *replyConn) halt()                                 { r.once.Do(func() { close(r.stop) }) }
func (r *replyConn) SetReadDeadline(t time.Time) error {
	if !t.IsZero() && time.Until(t) <= 0 {
		r.halt()
	}
	return nil
}

func (r *replyConn) ReadPacket(buf []byte, p *icmp.Packet) error {
	select {
	case b := <-r.pkts:
		*p = icmp.Packet{Data: buf[:copy(buf, b)], From: netip.MustParseAddr("198.18.0.2"), Received: time.Now()}
		return nil
	case <-r.stop:
		return os.ErrClosed
	}
}
