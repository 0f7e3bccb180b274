package icmp

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
	"github.com/rawnet/rawnet/internal/rawsock"
	"github.com/rawnet/rawnet/internal/testenv"
	"github.com/rawnet/rawnet/pcap"
)

// TestDemuxTxStampsAgainstTheWire: four Pingers share one socket through
// a Demux (raw and datagram, IPv4 and IPv6) and send at the same time,
// each with its own payload size, one of them also to an address a
// netfilter rule drops on the way out (EPERM: the kernel has numbered the
// packet) and to one without a route (EHOSTUNREACH: it has not), one to
// an address behind a smaller MTU than its probes with don't-fragment
// (EMSGSIZE: numbered before Linux 6.13, not since). Every
// reply must be timed from a kernel transmit stamp, and that stamp must be
// its own probe's: a capture on src's link stamps each request before the
// kernel's transmit stamp of it, in the same sendmsg call, and the next
// request after, so each probe's stamp lies between its request's and the
// next request's capture stamps. A stamp given to the wrong probe, or a
// numbering that slipped, lands outside.
func TestDemuxTxStampsAgainstTheWire(t *testing.T) {
	testenv.NeedTools(t, "tcpdump", "nft")
	l := labtest.Up(t, lab.Spec{Routers: 1, PingGroup: true})
	dropped4, dropped6 := netip.MustParseAddr("198.18.1.77"), netip.MustParseAddr("fd00:0:0:1::77")
	unroutable4, unroutable6 := netip.MustParseAddr("198.18.250.1"), netip.MustParseAddr("fd00:0:0:250::1")
	narrow4, narrow6 := netip.MustParseAddr("198.18.251.1"), netip.MustParseAddr("fd00:0:0:251::1")
	for _, args := range [][]string{
		{"ip", "route", "add", "unreachable", "198.18.250.0/24"},
		{"ip", "-6", "route", "add", "unreachable", "fd00:0:0:250::/64"},
		{"ip", "route", "add", "198.18.251.0/24", "via", l.Routers[0].Addr4.String(), "mtu", "lock", "1280"},
		{"ip", "-6", "route", "add", "fd00:0:0:251::/64", "via", l.Routers[0].Addr6.String(), "mtu", "1280"},
		{"nft", "add table inet txd; add chain inet txd out { type filter hook output priority 0; }; " +
			"add rule inet txd out ip daddr 198.18.1.77 drop; add rule inet txd out ip6 daddr fd00:0:0:1::77 drop"},
	} {
		if out, err := l.Src.Command(context.Background(), args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	t.Run("numbering", func(t *testing.T) { checkFailedSendNumbering(t, l, dropped4, unroutable4) })
	for _, tc := range []struct {
		name string
		v6   bool
		mode Mode
	}{{"raw4", false, ModeRaw}, {"raw6", true, ModeRaw}, {"dgram4", false, ModeDatagram}, {"dgram6", true, ModeDatagram}} {
		t.Run(tc.name, func(t *testing.T) {
			dst, r1, dropped, unroutable, narrow := l.Dst.Addr4, l.Routers[0].Addr4, dropped4, unroutable4, narrow4
			if tc.v6 {
				dst, r1, dropped, unroutable, narrow = l.Dst.Addr6, l.Routers[0].Addr6, dropped6, unroutable6, narrow6
			}
			var c Conn
			if err := l.Src.Do(func() (err error) { c, err = Listen(ListenConfig{V6: tc.v6, Mode: tc.mode, PMTU: "do"}); return err }); err != nil {
				t.Fatal(err)
			}
			d := NewDemux(c)
			defer d.Close()
			if on, err := d.TxStamps(); !on {
				t.Fatalf("demux without transmit stamps: %v", err)
			}
			pingers := []struct {
				size    int
				targets []netip.Addr
			}{
				{56, []netip.Addr{dst}},
				{100, []netip.Addr{dst, r1}},
				{200, []netip.Addr{dropped, dst, unroutable}},
				{1300, []netip.Addr{narrow}},
			}
			file := t.TempDir() + "/wire.pcap"
			stop := captureRequests(t, l.Src, file)
			type probe struct {
				dst  netip.Addr
				seq  uint32
				size int
			}
			stamps := map[probe]int64{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			const count = 40
			for i, pc := range pingers {
				cookie := uint64(0x7d0 + i)
				vc, err := d.Conn(cookie)
				if err != nil {
					t.Fatal(err)
				}
				defer vc.Close()
				p, err := New(Config{Targets: pc.targets, Conns: []Conn{vc}, Count: count, Interval: time.Millisecond,
					Size: pc.size, Cookie: cookie, Timeout: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					sum, err := p.Run(context.Background(), func(ev Event) error {
						if ev.Kind != EventReply {
							return nil
						}
						mu.Lock()
						defer mu.Unlock()
						pr := probe{pc.targets[ev.Target], ev.Seq, pc.size}
						if !ev.KernelTxStamp || ev.RTT <= 0 {
							t.Errorf("%+v: RTT %v, not from a kernel transmit stamp before the reply", pr, ev.RTT)
							return nil
						}
						stamps[pr] = ev.Time.UnixNano() - int64(ev.RTT)
						return nil
					})
					if err != nil {
						t.Error(err)
					}
					for _, ts := range sum.Targets {
						bad := ts.Addr == dropped || ts.Addr == unroutable || ts.Addr == narrow
						if bad && ts.Received != 0 || !bad && ts.Received != count {
							t.Errorf("%s: %+v", ts.Addr, ts)
						}
					}
				}()
			}
			wg.Wait()
			reqs := stop()
			if len(stamps) != count*4 {
				t.Errorf("%d replies timed from kernel stamps, want %d", len(stamps), count*4)
			}
			checked := 0
			for i, r := range reqs {
				ns, ok := stamps[probe{r.dst, r.seq, r.size}]
				if !ok {
					continue
				}
				checked++
				next := int64(1 << 62)
				if i+1 < len(reqs) {
					next = reqs[i+1].ns
				}
				if ns < r.ns || ns > next {
					t.Errorf("request to %s seq %d (%d bytes): transmit stamp %d outside [%d, %d] (its capture stamp, the next request's): %+dns",
						r.dst, r.seq, r.size, ns, r.ns, next, ns-r.ns)
				}
			}
			// A loaded machine's capture may miss a few packets; the stamps
			// of the probes it has must all be their own.
			if checked < len(stamps)*9/10 {
				t.Errorf("%d of %d probes found in the capture", checked, len(stamps))
			}
			d.tx.mu.Lock()
			unmatched, segs := d.tx.unmatched, d.tx.nseg+1
			d.tx.mu.Unlock()
			t.Logf("%d stamps handed on (%d unmatched, %d segments), %d probes checked against %d captured requests", d.Handed(), unmatched, segs, checked, len(reqs))
		})
	}
}

// checkFailedSendNumbering: what the Demux cannot know without
// restarting the kernel's numbering after a failed send. Between two good
// sends, one the route lookup refuses takes no number, one a netfilter
// rule drops on the way out (EPERM) takes one: the kernel numbered it.
func checkFailedSendNumbering(t *testing.T, l *lab.Lab, dropped, unroutable netip.Addr) {
	for _, c := range []struct {
		bad  netip.Addr
		keys []uint32 // of the two good sends' stamps
	}{{unroutable, []uint32{0, 1}}, {dropped, []uint32{0, 2}}} {
		var conn Conn
		if err := l.Src.Do(func() (err error) { conn, err = Listen(ListenConfig{Mode: ModeRaw}); return err }); err != nil {
			t.Fatal(err)
		}
		msg := make([]byte, echoHeaderLen+DefaultSize)
		icmpmsg.MarshalEcho(msg, icmpmsg.Echo{Type: icmpmsg.TypeEchoRequest4, ID: conn.ID(), Seq: 1}, icmpmsg.Probe{Seq: 1}, nil)
		errs := []error{conn.WriteTo(msg, l.Dst.Addr4), conn.WriteTo(msg, c.bad), conn.WriteTo(msg, l.Dst.Addr4)}
		if errs[0] != nil || errs[1] == nil || errs[2] != nil {
			t.Fatalf("sends to %s, %s, %s: %v", l.Dst.Addr4, c.bad, l.Dst.Addr4, errs)
		}
		st := conn.(rawsock.TxStamper)
		var keys []uint32
		for key := range uint32(4) {
			if _, ok := st.TxStamp(key); ok {
				keys = append(keys, key)
			}
		}
		conn.Close()
		if !slices.Equal(keys, c.keys) {
			t.Errorf("good, %v, good: stamps numbered %v, want %v", errs[1], keys, c.keys)
		}
	}
}

// wireRequest is an echo request in a capture.
type wireRequest struct {
	ns   int64
	dst  netip.Addr
	seq  uint32
	size int // payload bytes
}

// captureRequests captures the echo requests leaving n's first interface
// into file (immediate mode: nothing is lost to the signal that stops it)
// until the returned function is called, which returns them in order.
func captureRequests(t *testing.T, n *lab.Node, file string) func() []wireRequest {
	t.Helper()
	c := n.Command(context.Background(), "tcpdump", "-i", n.Ifaces[0].Name, "--immediate-mode", "-B", "8192", "-nn",
		"--time-stamp-precision", "nano", "-w", file, "icmp[0] == 8 or (icmp6 and ip6[40] == 128)")
	labtest.StartListening(t, c)
	return func() []wireRequest {
		time.Sleep(500 * time.Millisecond)
		_ = c.Process.Signal(syscall.SIGINT)
		_ = c.Wait()
		return readRequests(t, file)
	}
}

func readRequests(t *testing.T, file string) []wireRequest {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcap.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var reqs []wireRequest
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			return reqs
		}
		if err != nil {
			t.Fatal(err)
		}
		if req, ok := parseRequest(p.Data); ok {
			req.ns = p.Timestamp.UnixNano()
			reqs = append(reqs, req)
		}
	}
}

// parseRequest reads an Ethernet frame carrying an ICMP or ICMPv6 echo
// request.
func parseRequest(b []byte) (wireRequest, bool) {
	if len(b) < 14 {
		return wireRequest{}, false
	}
	et, ip := binary.BigEndian.Uint16(b[12:]), b[14:]
	var dst netip.Addr
	var msg []byte
	switch {
	case et == 0x0800 && len(ip) >= 20 && ip[9] == 1:
		hl := int(ip[0]&0xf) * 4
		tot := int(binary.BigEndian.Uint16(ip[2:]))
		if tot > len(ip) || hl > tot {
			return wireRequest{}, false
		}
		dst, msg = netip.AddrFrom4([4]byte(ip[16:20])), ip[hl:tot]
	case et == 0x86dd && len(ip) >= 40 && ip[6] == 58:
		pl := int(binary.BigEndian.Uint16(ip[4:]))
		if 40+pl > len(ip) {
			return wireRequest{}, false
		}
		dst, msg = netip.AddrFrom16([16]byte(ip[24:40])), ip[40:40+pl]
	default:
		return wireRequest{}, false
	}
	if len(msg) < 8 || msg[0] != 8 && msg[0] != 128 {
		return wireRequest{}, false
	}
	return wireRequest{dst: dst, seq: uint32(binary.BigEndian.Uint16(msg[6:])), size: len(msg) - 8}, true
}

// TestDemuxTxStampsOfAClosedConn: a virtual Conn closed with stamps in
// flight (a reload replaces every Pinger) leaves them to no one else: the
// next virtual Conn's stamps are its own, each inside its WriteTo call
// (loopback stamps a packet inside sendmsg).
func TestDemuxTxStampsOfAClosedConn(t *testing.T) {
	labtest.RequireRoot(t)
	c, err := Listen(ListenConfig{Mode: ModeRaw})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDemux(c)
	defer d.Close()
	dst := netip.MustParseAddr("127.0.0.1")
	send := func(vc Conn, cookie uint64, seq uint16) {
		msg := make([]byte, echoHeaderLen+DefaultSize)
		icmpmsg.MarshalEcho(msg, icmpmsg.Echo{Type: icmpmsg.TypeEchoRequest4, ID: vc.ID(), Seq: seq}, icmpmsg.Probe{Cookie: cookie, Seq: uint32(seq)}, nil)
		if err := vc.WriteTo(msg, dst); err != nil {
			t.Fatal(err)
		}
	}
	old, err := d.Conn(0xc1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		send(old, 0xc1, uint16(i))
	}
	old.Close()
	vc, err := d.Conn(0xc2)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	st := vc.(rawsock.TxStamper)
	const n = 20
	var before, after [n]int64
	for i := range n {
		if key, _ := st.TxKey(); key != uint32(i) {
			t.Fatalf("send %d: TxKey %d", i, key)
		}
		before[i] = time.Now().UnixNano()
		send(vc, 0xc2, uint16(i))
		after[i] = time.Now().UnixNano()
	}
	buf := make([]byte, 1<<16)
	var pkt Packet
	_ = vc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for range n { // every reply read: the reader has read every stamp before it
		if err := vc.ReadPacket(buf, &pkt); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		ns, ok := st.TxStamp(uint32(i))
		if !ok || ns < before[i] || ns > after[i] {
			t.Errorf("send %d: stamp %d (%v), want one within its WriteTo call [%d, %d]", i, ns, ok, before[i], after[i])
		}
	}
	if h := d.Handed(); h != 50+n {
		t.Errorf("%d stamps handed on, want %d (the closed Conn's too)", h, 50+n)
	}
}
