package udp

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeTarget answers a scan as a Linux host would: open ports reply,
// silent ones never do, every other port is closed and answers ICMP port
// unreachable, but only as its ICMP rate limit (a token bucket) allows.
type fakeTarget struct {
	addr   netip.Addr
	conn   *fakeConn
	open   map[uint16]bool
	silent map[uint16]bool
	rate   float64 // ICMP errors per second
	burst  float64
	mu     sync.Mutex
	bucket bucket
	icmps  int
}

func (f *fakeTarget) deliver(m Message) {
	port := m.Addr.Port()
	switch {
	case f.open[port]:
		f.conn.push(netip.AddrPortFrom(f.addr, port), []byte("answer"))
	case f.silent[port]:
	default:
		f.mu.Lock()
		ok := f.bucket.take(time.Now().UnixNano(), f.rate, f.burst)
		if ok {
			f.icmps++
		}
		f.mu.Unlock()
		if ok {
			f.conn.in <- Message{Buf: m.Buf, N: len(m.Buf), Addr: m.Addr, Kind: MsgICMP, ICMPType: 3, ICMPCode: 3,
				Offender: f.addr, Time: time.Now(), KernelStamp: true}
		}
	}
}

func TestScanThroughICMPRateLimit(t *testing.T) {
	target := netip.MustParseAddr("198.18.1.2")
	ft := &fakeTarget{addr: target, open: map[uint16]bool{53: true, 123: true}, silent: map[uint16]bool{7000: true, 7005: true},
		rate: 20, burst: 6}
	ft.conn = newFakeConn("198.18.0.1:5000")
	ft.conn.onWrite = ft.deliver
	var ports []uint16
	for p := uint16(7000); p < 7030; p++ {
		ports = append(ports, p)
	}
	ports = append(ports, 53, 123)
	s, err := NewScanner(ScanConfig{Target: target, Ports: ports, Wait: 200 * time.Millisecond, Conn: ft.conn})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events := 0
	sum, err := s.Run(ctx, func(ScanEvent) error { events++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sum.Ports {
		want := Closed
		switch {
		case ft.open[p.Port]:
			want = Open
		case ft.silent[p.Port]:
			want = OpenFiltered
		}
		if p.State != want {
			t.Errorf("port %d: %v (%s, %d tries), want %v", p.Port, p.State, p.Reason, p.Tries, want)
		}
	}
	if events != len(ports) || !sum.Limited || sum.Rate >= DefaultScanRate {
		t.Errorf("%d events for %d ports; limited %v, final rate %.1f/s", events, len(ports), sum.Limited, sum.Rate)
	}
	t.Logf("%d ports in %v, %d datagrams, %d ICMP errors, final rate %.1f/s", len(ports), sum.Elapsed, sum.Sent, ft.icmps, sum.Rate)
}

func TestScanWithoutICMP(t *testing.T) {
	// A firewalled host: nothing ever answers but one open port.
	target := netip.MustParseAddr("198.18.1.2")
	ft := &fakeTarget{addr: target, open: map[uint16]bool{161: true}, rate: 1000, burst: 50}
	ft.silent = map[uint16]bool{}
	for p := uint16(1); p <= 20; p++ {
		ft.silent[p] = true
	}
	ft.conn = newFakeConn("198.18.0.1:5000")
	ft.conn.onWrite = ft.deliver
	ports, _ := ParsePorts("1-20,161")
	s, err := NewScanner(ScanConfig{Target: target, Ports: ports, Wait: 50 * time.Millisecond, Retries: 1, Conn: ft.conn})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := s.Run(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Count(OpenFiltered) != 20 || sum.Count(Open) != 1 || sum.Sent != 20*2+1 {
		t.Errorf("open|filtered %d, open %d, sent %d; want 20, 1, 41", sum.Count(OpenFiltered), sum.Count(Open), sum.Sent)
	}
}

func TestPayloadsAreRequests(t *testing.T) {
	dns := DNSQuery(0x1234)
	if len(dns) != 17 || dns[0] != 0x12 || dns[2]&0x80 != 0 || dns[5] != 1 {
		t.Errorf("DNS query % x", dns)
	}
	if ntp := NTPRequest(); len(ntp) != 48 || ntp[0]&7 != 3 || ntp[0]>>3&7 != 4 {
		t.Errorf("NTP request % x", ntp)
	}
	snmp := SNMPGet(7)
	if snmp[0] != 0x30 || int(snmp[1]) != len(snmp)-2 || string(snmp[7:13]) != "public" || snmp[13] != 0xa0 {
		t.Errorf("SNMP get % x", snmp)
	}
	if Payload(9999, 1) != nil {
		t.Error("unknown ports get a payload")
	}
}
