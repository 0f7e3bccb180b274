package capture

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/net/bpf"
)

// synthPacket is a packet to lay into a synthetic ring block.
type synthPacket struct {
	data    []byte
	wire    int
	sec     uint32
	nsec    uint32
	status  uint32
	tci     uint16
	proto   uint16 // sockaddr_ll protocol
	ifindex int32
	pkttype uint8
	mac     [6]byte
}

// synthBlock lays packets out as the kernel does in a TPACKET_V3 block
// with reserve bytes of PACKET_RESERVE.
func synthBlock(size, reserve int, pkts []synthPacket) []byte {
	b := make([]byte, size)
	hostOrder.PutUint32(b[blockNumPktsOff:], uint32(len(pkts)))
	hostOrder.PutUint32(b[blockFirstOff:], blockHeaderLen)
	off := blockHeaderLen
	for i, p := range pkts {
		h := b[off:]
		mac := (sllOff+sllLen+16+15)&^15 + reserve
		hostOrder.PutUint32(h[tpSecOff:], p.sec)
		hostOrder.PutUint32(h[tpNsecOff:], p.nsec)
		hostOrder.PutUint32(h[tpSnaplenOff:], uint32(len(p.data)))
		hostOrder.PutUint32(h[tpLenOff:], uint32(p.wire))
		hostOrder.PutUint32(h[tpStatusOff:], p.status)
		hostOrder.PutUint16(h[tpMacOff:], uint16(mac))
		hostOrder.PutUint32(h[tpVlanTCIOff:], uint32(p.tci))
		sll := h[sllOff:]
		netOrder.PutUint16(sll[sllProtocolOff:], p.proto)
		hostOrder.PutUint32(sll[sllIfindexOff:], uint32(p.ifindex))
		hostOrder.PutUint16(sll[sllHatypeOff:], 1)
		sll[sllPkttypeOff] = p.pkttype
		sll[sllHalenOff] = 6
		copy(sll[sllAddrOff:], p.mac[:])
		copy(h[mac:], p.data)
		next := (mac + len(p.data) + 15) &^ 15
		if i < len(pkts)-1 {
			hostOrder.PutUint32(h[tpNextOff:], uint32(next))
		}
		off += next
	}
	return b
}

func walk(t *testing.T, f framing, b []byte) []Packet {
	t.Helper()
	var got []Packet
	var p Packet
	n, err := f.walkBlock(b, &p, func(p *Packet) error {
		q := *p
		q.Data = bytes.Clone(p.Data)
		got = append(got, q)
		return nil
	})
	if err != nil || n != len(got) {
		t.Fatalf("walkBlock: %d, %v", n, err)
	}
	return got
}

func TestWalkBlockEthernetWithVLANAndSnaplen(t *testing.T) {
	eth := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00, 0x45, 0}
	f := framing{snaplen: 10}
	b := synthBlock(4096, f.reserve(), []synthPacket{
		{data: eth, wire: 100, sec: 1700000000, nsec: 123456789, ifindex: 3},
		{data: eth, wire: 16, status: statusVlanValid, tci: 0x0123, pkttype: pktOutgoing},
	})
	got := walk(t, framing{snaplen: 100}, b)
	if len(got) != 2 {
		t.Fatalf("%d packets", len(got))
	}
	p := got[0]
	if !bytes.Equal(p.Data, eth) || p.Length != 100 || p.IfIndex != 3 || p.Outgoing ||
		!p.Timestamp.Equal(time.Unix(1700000000, 123456789)) {
		t.Errorf("packet 1: %+v", p)
	}
	want := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00, 0x01, 0x23, 0x08, 0x00, 0x45, 0}
	if p := got[1]; !bytes.Equal(p.Data, want) || p.Length != 20 || !p.Outgoing {
		t.Errorf("VLAN packet: % x length %d outgoing %v, want % x, 20, true", p.Data, p.Length, p.Outgoing, want)
	}
	// The snapshot length cuts what is handed over, not the length.
	b = synthBlock(4096, f.reserve(), []synthPacket{{data: eth, wire: 100}})
	if got := walk(t, f, b); len(got[0].Data) != 10 || got[0].Length != 100 {
		t.Errorf("snaplen 10: %d bytes of %d", len(got[0].Data), got[0].Length)
	}
}

func TestWalkBlockCookedWritesSLL2(t *testing.T) {
	ip := []byte{0x45, 0, 0, 20}
	f := framing{cooked: true, snaplen: 1000}
	mac := [6]byte{0xa, 0xb, 0xc, 0xd, 0xe, 0xf}
	b := synthBlock(4096, f.reserve(), []synthPacket{
		{data: ip, wire: 20, proto: 0x0800, ifindex: 7, pkttype: pktOutgoing, mac: mac},
		{data: ip, wire: 20, proto: 0x0800, ifindex: 7, status: statusVlanValid, tci: 5, mac: mac},
	})
	got := walk(t, f, b)
	hdr := []byte{0x08, 0x00, 0, 0, 0, 0, 0, 7, 0, 1, pktOutgoing, 6, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0, 0}
	if p := got[0]; !bytes.Equal(p.Data, append(hdr, ip...)) || p.Length != 40 {
		t.Errorf("cooked: % x length %d", p.Data, p.Length)
	}
	hdr[0], hdr[1], hdr[10] = 0x81, 0x00, 0
	want := append(append(hdr, 0, 5, 0x08, 0x00), ip...)
	if p := got[1]; !bytes.Equal(p.Data, want) || p.Length != 44 {
		t.Errorf("cooked VLAN: % x length %d, want % x", p.Data, p.Length, want)
	}
}

func TestWalkBlockRejectsBadOffsets(t *testing.T) {
	f := framing{snaplen: 100}
	b := synthBlock(512, f.reserve(), []synthPacket{{data: make([]byte, 40), wire: 40}})
	var p Packet
	for _, bad := range []func([]byte){
		func(b []byte) { hostOrder.PutUint32(b[blockFirstOff:], 500) },                 // first packet past the end
		func(b []byte) { hostOrder.PutUint16(b[blockHeaderLen+tpMacOff:], 10) },        // mac inside the headers
		func(b []byte) { hostOrder.PutUint32(b[blockHeaderLen+tpSnaplenOff:], 1000) },  // longer than the block
		func(b []byte) { hostOrder.PutUint32(b[blockNumPktsOff:], 2) },                 // a second packet with no offset
		func(b []byte) { hostOrder.PutUint32(b[blockHeaderLen+tpSnaplenOff:], 1<<31) }, // overflow
	} {
		c := bytes.Clone(b)
		bad(c)
		if _, err := f.walkBlock(c, &p, func(*Packet) error { return nil }); err != errBadBlock {
			t.Errorf("bad block: %v", err)
		}
	}
}

func TestUncookMovesOffsetsAndMapsHeaderFields(t *testing.T) {
	prog := []rawIns{
		{opLdAbsW | sizeH, 0, 0, 0},            // ldh [0]: protocol
		{opLdAbsW | sizeB, 0, 0, 10},           // ldb [10]: packet type
		{opLdAbsW, 0, 0, 4},                    // ld [4]: ifindex
		{opLdAbsW | sizeB, 0, 0, 29},           // ldb [29]: IPv4 protocol
		{classLdx | modeMsh | sizeB, 0, 0, 20}, // ldxb 4*([20]&0xf)
		{0x48, 0, 0, 22},                       // ldh [x+22]
		{opRetK, 0, 0, 262144},
		{opRetK, 0, 0, 0},
	}
	got, err := uncook(toRaw(prog))
	if err != nil {
		t.Fatal(err)
	}
	want := []rawIns{
		{opLdAbsW, 0, 0, skfAdProtocol},
		{opLdAbsW, 0, 0, skfAdPkttype},
		{opLdAbsW, 0, 0, skfAdIfindex},
		{opLdAbsW | sizeB, 0, 0, 9},
		{classLdx | modeMsh | sizeB, 0, 0, 0},
		{0x48, 0, 0, 2},
		{opRetK, 0, 0, 262144 - 20},
		{opRetK, 0, 0, 0},
	}
	for i := range want {
		if g := got[i]; g.Op != want[i].op || g.K != want[i].k {
			t.Errorf("instruction %d: %+v, want %+v", i, g, want[i])
		}
	}
	if _, err := uncook(toRaw([]rawIns{{opLdAbsW | sizeB, 0, 0, 12}})); err == nil {
		t.Error("a load of the link-layer address was accepted")
	}
	if _, err := uncook(toRaw([]rawIns{{opJeqK, 5, 0, 1}, {opRetK, 0, 0, 0}})); err == nil {
		t.Error("a jump past the end was accepted")
	}
	// libpcap's "greater 100": the length the kernel sees lacks the SLL2
	// header, so 20 is added, and the jumps over that move.
	got, err = uncook(toRaw([]rawIns{
		{opLdLen, 0, 0, 0},
		{0x35, 0, 1, 100}, // jge #100
		{opRetK, 0, 0, 262144},
		{opRetK, 0, 0, 0},
	}))
	want = []rawIns{
		{opLdLen, 0, 0, 0},
		{opAddK, 0, 0, 20},
		{0x35, 0, 1, 100},
		{opRetK, 0, 0, 262144 - 20},
		{opRetK, 0, 0, 0},
	}
	if err != nil || len(got) != len(want) {
		t.Fatalf("greater 100: %v, %v", got, err)
	}
	for i := range want {
		if g := got[i]; g.Op != want[i].op || g.K != want[i].k || g.Jt != want[i].jt || g.Jf != want[i].jf {
			t.Errorf("greater 100, instruction %d: %+v, want %+v", i, g, want[i])
		}
	}
}

type rawIns struct {
	op     uint16
	jt, jf uint8
	k      uint32
}

func toRaw(p []rawIns) []bpf.RawInstruction {
	out := make([]bpf.RawInstruction, len(p))
	for i, r := range p {
		out[i] = bpf.RawInstruction{Op: r.op, Jt: r.jt, Jf: r.jf, K: r.k}
	}
	return out
}

// TestRingReadPathAllocatesNothing: walking a block of 4,000 packets
// allocates no more than walking one of 10 (fresh framing, Packet and
// callback in each measured run), and every packet is handed over.
func TestRingReadPathAllocatesNothing(t *testing.T) {
	walkAllocs := func(n int) float64 {
		pkts := make([]synthPacket, n)
		for i := range pkts {
			pkts[i] = synthPacket{data: make([]byte, 64), wire: 64, ifindex: 2}
		}
		var f0 framing
		block := synthBlock(256*(n+1), f0.reserve(), pkts) // 64 bytes, headers, padding: under 256 each
		return testing.AllocsPerRun(10, func() {
			f := framing{snaplen: 262144}
			var p Packet
			seen := 0
			got, err := f.walkBlock(block, &p, func(p *Packet) error {
				if len(p.Data) == 64 {
					seen++
				}
				return nil
			})
			if got != n || seen != n || err != nil {
				t.Fatalf("block of %d: %d walked, %d of 64 bytes, %v", n, got, seen, err)
			}
		})
	}
	short, long := walkAllocs(10), walkAllocs(4000)
	// The measured function's own Packet and callback escape (one
	// allocation, as a Handle's do once); nothing may grow with the packets.
	if long > short || short > 2 {
		t.Errorf("walking a block allocates %v times for 10 packets, %v for 4,000", short, long)
	}
}

// BenchmarkRingReadPath walks a block of 1,000 64-byte packets, as
// ReadPackets does for every block (ns/op is per 1,000 packets): it must
// allocate nothing (TestRingReadPathAllocatesNothing).
func BenchmarkRingReadPath(b *testing.B) {
	pkts := make([]synthPacket, 1000)
	for i := range pkts {
		pkts[i] = synthPacket{data: make([]byte, 64), wire: 64, ifindex: 2}
	}
	f := framing{snaplen: 262144}
	block := synthBlock(256<<10, f.reserve(), pkts)
	var p Packet
	var bytesSeen int
	fn := func(p *Packet) error { bytesSeen += len(p.Data); return nil }
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if n, err := f.walkBlock(block, &p, fn); n != 1000 || err != nil {
			b.Fatal(n, err)
		}
	}
	if bytesSeen == 0 {
		b.Fatal("no bytes")
	}
}
