package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

var (
	lil = binary.LittleEndian
	big = binary.BigEndian
)

func TestReadClassicVariants(t *testing.T) {
	p1, p2 := icmpEcho(t, false, 1, 8), icmpEcho(t, true, 1, 8)
	for _, order := range []binary.AppendByteOrder{lil, big} {
		for _, nano := range []bool{false, true} {
			name := fmt.Sprintf("%v/nano=%v", order, nano)
			frac, wantNs := uint32(123456), 123456000
			if nano {
				frac, wantNs = 123456789, 123456789
			}
			// FCS-length bits above the 16-bit link type must be ignored.
			c := newClassic(order, nano, Ethernet|1<<28|1<<26, 65535)
			c.record(1700000000, frac, ethernet(t, p1), 1500).record(1700000001, 0, ethernet(t, p2), 42)
			r, err := NewReader(bytes.NewReader(c.b))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if r.Format() != FormatPcap {
				t.Errorf("%s: format %v", name, r.Format())
			}
			ps, err := readAll(t, bytes.NewReader(c.b))
			if err != nil || len(ps) != 2 {
				t.Fatalf("%s: %d packets, %v", name, len(ps), err)
			}
			want := Packet{Timestamp: time.Unix(1700000000, int64(wantNs)).UTC(), Data: ethernet(t, p1), OrigLen: 1500, LinkType: Ethernet}
			assertPacket(t, name, ps[0], want)
			assertPacket(t, name, ps[1], Packet{Timestamp: time.Unix(1700000001, 0).UTC(), Data: ethernet(t, p2), OrigLen: 42, LinkType: Ethernet})
		}
	}
}

func assertPacket(t *testing.T, name string, got, want Packet) {
	t.Helper()
	if !got.Timestamp.Equal(want.Timestamp) || !bytes.Equal(got.Data, want.Data) || got.OrigLen != want.OrigLen ||
		got.LinkType != want.LinkType || got.Interface != want.Interface || got.Direction != want.Direction {
		t.Errorf("%s:\n got %v len %d orig %d %v if %d %v\nwant %v len %d orig %d %v if %d %v", name,
			got.Timestamp, len(got.Data), got.OrigLen, got.LinkType, got.Interface, got.Direction,
			want.Timestamp, len(want.Data), want.OrigLen, want.LinkType, want.Interface, want.Direction)
	}
}

// multiInterface builds a pcapng file exercising several interfaces with
// their own link types and timestamp resolutions, every packet block type,
// blocks to skip and a second section in the other byte order.
func multiInterface(t *testing.T, first, second binary.AppendByteOrder) ([]byte, []Packet) {
	eth, raw4, raw6 := ethernet(t, icmpEcho(t, false, 1, 70)), icmpEcho(t, true, 2, 8), icmp6Echo(t, 3)
	n := newNg(first).shb().
		idb(Ethernet, 64, -1, 0).     // 0: microseconds (no option), snaplen 64
		block(4, []byte{0, 0, 0, 0}). // name resolution block: skipped
		idb(Raw, 0, 9, 0).            // 1: nanoseconds
		idb(IPv4, 0, 0x80|20, 0).     // 2: 2^-20 s
		idb(Raw, 0, 3, 1000).         // 3: milliseconds, +1000 s offset
		epb(0, 1700000000123456, eth[:64], uint32(len(eth)), 1).
		epb(1, 1700000000123456789, raw6, uint32(len(raw6)), 2).
		block(0x00000BAD, make([]byte, 1<<20)). // a large custom block: skipped
		epb(2, 1700000000<<20|1<<19, raw4, uint32(len(raw4)), -1).
		epb(2, 1700000000<<20|1, raw4, uint32(len(raw4)), 3).
		epb(3, 1700000000123, raw4, uint32(len(raw4)), 0).
		block(5, make([]byte, 16)). // interface statistics: skipped
		spb(eth, uint32(len(eth))). // cut to interface 0's snaplen
		pb(0, 1700000002000000, raw4)
	n.order = second
	n.shb().idb(IPv6, 0, 9, 0).epb(0, 1700000003000000001, raw6, 1000, 1)
	u := func(sec, nsec int64) time.Time { return time.Unix(sec, nsec).UTC() }
	want := []Packet{
		{u(1700000000, 123456000), eth[:64], len(eth), Ethernet, 0, DirInbound},
		{u(1700000000, 123456789), raw6, len(raw6), Raw, 1, DirOutbound},
		{u(1700000000, 500000000), raw4, len(raw4), IPv4, 2, DirUnknown},
		{u(1700000000, 953), raw4, len(raw4), IPv4, 2, 3}, // 1e9/2^20 = 953.67 ns
		{u(1700001000, 123000000), raw4, len(raw4), Raw, 3, DirUnknown},
		{time.Time{}, eth[:64], len(eth), Ethernet, 0, DirUnknown},
		{u(1700000002, 0), raw4, len(raw4), Ethernet, 0, DirUnknown},
		{u(1700000003, 1), raw6, 1000, IPv6, 0, DirInbound},
	}
	return n.b, want
}

func TestReadPcapngMultiInterface(t *testing.T) {
	for _, orders := range [][2]binary.AppendByteOrder{{lil, big}, {big, lil}} {
		name := fmt.Sprintf("%v then %v", orders[0], orders[1])
		file, want := multiInterface(t, orders[0], orders[1])
		r, err := NewReader(bytes.NewReader(file))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Format() != FormatPcapng {
			t.Errorf("%s: format %v", name, r.Format())
		}
		ps, err := readAll(t, bytes.NewReader(file))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(ps) != len(want) {
			t.Fatalf("%s: %d packets, want %d", name, len(ps), len(want))
		}
		for i := range want {
			assertPacket(t, fmt.Sprintf("%s: packet %d", name, i+1), ps[i], want[i])
		}
	}
}

func TestReadTimestampResolutions(t *testing.T) {
	tests := []struct {
		tsresol int
		ticks   uint64
		want    time.Time
	}{
		{0, 1700000000, time.Unix(1700000000, 0)},
		{6, 1700000000000001, time.Unix(1700000000, 1000)},
		{9, 1700000000000000001, time.Unix(1700000000, 1)},
		{12, 12345678_123456789_999, time.Unix(12345678, 123456789)}, // picoseconds, truncated
		{19, 1<<64 - 1, time.Unix(1, 844674407)},                     // 1.8446744073709551615 s
		{0x80, 1 << 40, time.Unix(1<<40, 0)},
		{0x80 | 1, 3, time.Unix(1, 500000000)},
		{0x80 | 63, 1<<63 | 1<<62, time.Unix(1, 500000000)},
	}
	for _, tt := range tests {
		file := newNg(lil).shb().idb(Raw, 0, tt.tsresol, 0).epb(0, tt.ticks, []byte{0x45}, 1, -1).b
		ps, err := readAll(t, bytes.NewReader(file))
		if err != nil || len(ps) != 1 {
			t.Fatalf("tsresol %#x: %d packets, %v", tt.tsresol, len(ps), err)
		}
		if !ps[0].Timestamp.Equal(tt.want) {
			t.Errorf("tsresol %#x, ticks %d: %v, want %v", tt.tsresol, tt.ticks, ps[0].Timestamp, tt.want.UTC())
		}
	}
}

// TestReadErrors checks the error for each kind of damage: its sentinel,
// the packet number and offset it names, and the packets read before it.
func TestReadErrors(t *testing.T) {
	pkt := []byte("0123456789abcdef0123") // 20 bytes
	okNg := func() *ng { return newNg(lil).shb().idb(Raw, 0, 9, 0) }
	shbIDB := len(okNg().b)
	epbLen := len(newNg(lil).epb(0, 0, pkt, 20, -1).b)
	tests := []struct {
		name     string
		file     []byte
		packets  int
		sentinel error
		packet   int
		offset   int64
		msg      string
	}{
		{"bad version", func() []byte {
			c := newClassic(lil, true, Raw, 0)
			c.b[4] = 3
			return c.b
		}(), 0, ErrCorrupt, 0, 0, "unsupported pcap version 3.4"},
		{"truncated record header", newClassic(lil, true, Raw, 0).record(1, 0, pkt, 20).record(1, 0, nil, 0).b[:24+36+8],
			1, ErrTruncated, 2, 60, "truncated record header: want 16 bytes, have 8"},
		{"pcapng tsresol out of range", newNg(lil).shb().idb(Raw, 0, 20, 0).epb(0, 0, pkt, 20, -1).b,
			0, ErrCorrupt, 1, int64(len(newNg(lil).shb().b)), "if_tsresol 10^-20 is out of range"},
		{"undefined interface", okNg().epb(0, 0, pkt, 20, -1).epb(1, 0, pkt, 20, -1).b,
			1, ErrCorrupt, 2, int64(shbIDB + epbLen), "packet for interface 1, but the section defines 1"},
		{"interfaces reset by a new section", okNg().shb().epb(0, 0, pkt, 20, -1).b,
			0, ErrCorrupt, 1, int64(shbIDB + len(newNg(lil).shb().b)), "packet for interface 0, but the section defines 0"},
		{"simple packet without interface", newNg(lil).shb().spb(pkt, 20).b,
			0, ErrCorrupt, 1, int64(len(newNg(lil).shb().b)), "simple packet block, but the section defines no interface"},
		{"captured length beyond block", func() []byte {
			b := okNg().epb(0, 0, pkt, 20, -1).b
			lil.PutUint32(b[shbIDB+20:], 200)
			return b
		}(), 0, ErrCorrupt, 1, int64(shbIDB), "captured length 200 exceeds the 40 bytes of data in its block"},
		{"option overruns block", func() []byte {
			b := okNg().epb(0, 0, pkt, 20, 1).b
			lil.PutUint16(b[shbIDB+48+2:], 400) // length of the opt_comment option
			return b
		}(), 0, ErrCorrupt, 1, int64(shbIDB), "option 1 of 400 bytes overruns its block"},
		{"length not multiple of 4", func() []byte {
			b := okNg().epb(0, 0, pkt, 20, -1).b
			lil.PutUint32(b[shbIDB+4:], uint32(epbLen-2))
			return b
		}(), 0, ErrCorrupt, 1, int64(shbIDB), fmt.Sprintf("enhanced packet block length %d is not a multiple of 4", epbLen-2)},
		{"length too small", func() []byte {
			b := okNg().block(0x99, nil).b
			lil.PutUint32(b[shbIDB+4:], 8)
			return b
		}(), 0, ErrCorrupt, 1, int64(shbIDB), "block of type 0x99 length 8 is less than 12"},
		{"skipped block truncated", okNg().block(0x99, make([]byte, 100)).b[:shbIDB+50],
			0, ErrTruncated, 1, int64(shbIDB), "truncated block of type 0x99: want 112 bytes, have 50"},
		{"skipped block bad trailer", func() []byte {
			b := okNg().block(0x99, make([]byte, 100)).b
			b[len(b)-1] = 1
			return b
		}(), 0, ErrCorrupt, 1, int64(shbIDB), "block of type 0x99 length 112 does not match its trailing length 16777328"},
		{"section version", func() []byte {
			b := okNg().epb(0, 0, pkt, 20, -1).shb().b
			lil.PutUint16(b[shbIDB+epbLen+12:], 2)
			return b
		}(), 1, ErrCorrupt, 2, int64(shbIDB + epbLen), "unsupported pcapng version 2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := readAll(t, bytes.NewReader(tt.file))
			assertReadError(t, err, tt.sentinel, tt.packet, tt.offset, tt.msg)
			if len(ps) != tt.packets {
				t.Errorf("%d packets before the error, want %d", len(ps), tt.packets)
			}
		})
	}
}

func assertReadError(t *testing.T, err, sentinel error, packet int, offset int64, msg string) {
	t.Helper()
	var re *ReadError
	if !errors.As(err, &re) || !errors.Is(err, sentinel) {
		t.Fatalf("err = %v, want a *ReadError wrapping %v", err, sentinel)
	}
	if re.Packet != packet || re.Offset != offset || re.Err.Error() != msg {
		t.Errorf("got packet %d offset %d %q\nwant packet %d offset %d %q", re.Packet, re.Offset, re.Err, packet, offset, msg)
	}
	where := fmt.Sprintf("packet %d", packet)
	if packet == 0 {
		where = "file header"
	}
	if want := fmt.Sprintf("pcap: %s at offset %d: %s", where, offset, msg); err.Error() != want {
		t.Errorf("message %q\nwant    %q", err, want)
	}
}

func TestNewReaderRejects(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     error
	}{
		{"empty", "", ErrTruncated},
		{"short", "\xd4\xc3", ErrTruncated},
		{"text", "hello, world, this is not a capture", ErrUnknownFormat},
		{"cut header", "\x4d\x3c\xb2\xa1\x02\x00\x04\x00", ErrTruncated},
		{"pcapng bad byte-order magic", "\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x01\x02\x03\x04", ErrCorrupt},
		{"pcapng cut", "\x0a\x0d\x0d\x0a\x1c\x00", ErrTruncated},
	} {
		_, err := NewReader(strings.NewReader(tt.in))
		if !errors.Is(err, tt.want) || !strings.HasPrefix(err.Error(), "pcap: ") {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestAbsurdLengths checks that lengths from a corrupt header are refused
// or, when plausible, read without allocating more than the file holds.
func TestAbsurdLengths(t *testing.T) {
	c := newClassic(lil, true, Raw, 0).record(1, 0, nil, 0)
	lil.PutUint32(c.b[24+8:], 0xfffffff0)
	_, err := readAll(t, bytes.NewReader(c.b))
	assertReadError(t, err, ErrCorrupt, 1, 24, fmt.Sprintf("record length 4294967280 exceeds the %d-byte limit", MaxPacketLen))

	n := newNg(big).shb().idb(Raw, 0, 9, 0)
	start := len(n.b)
	n.epb(0, 0, []byte{1, 2, 3, 4}, 4, -1)
	big.PutUint32(n.b[start+4:], 0xfffffff0)
	_, err = readAll(t, bytes.NewReader(n.b))
	assertReadError(t, err, ErrCorrupt, 1, int64(start), fmt.Sprintf("enhanced packet block length 4294967280 exceeds the %d-byte limit", maxBlockLen))

	// A plausible 15 MiB record in a 100-byte file: truncated, and the
	// buffer never grew past what arrived.
	c = newClassic(lil, true, Raw, 0).record(1, 0, make([]byte, 60), 0)
	lil.PutUint32(c.b[24+8:], 15<<20)
	r, err := NewReader(bytes.NewReader(c.b))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Next()
	assertReadError(t, err, ErrTruncated, 1, 24, fmt.Sprintf("truncated record: want %d bytes, have 60", 15<<20))
	if cap(r.buf) > 2*readBufferLen {
		t.Errorf("reader buffer grew to %d bytes for a 100-byte file", cap(r.buf))
	}
}

func TestNextIsStickyAfterError(t *testing.T) {
	b := newClassic(lil, true, Raw, 0).record(1, 0, []byte{1, 2, 3}, 3).b
	r, err := NewReader(bytes.NewReader(b[:len(b)-1]))
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := r.Next()
	_, err2 := r.Next()
	if !errors.Is(err1, ErrTruncated) || err1 != err2 {
		t.Fatalf("first %v, then %v", err1, err2)
	}
	r, _ = NewReader(bytes.NewReader(b))
	r.Next()
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last packet: %v, want io.EOF", err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after EOF: %v, want io.EOF again", err)
	}
}

// failingReader returns its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReadPassesIOErrorsThrough(t *testing.T) {
	boom := errors.New("disk on fire")
	b := newClassic(lil, true, Raw, 0).record(1, 0, []byte{1, 2, 3}, 3).record(2, 0, []byte{4, 5, 6}, 3).b
	ps, err := readAll(t, &failingReader{data: b[:len(b)-2], err: boom})
	if len(ps) != 1 || !errors.Is(err, boom) || errors.Is(err, ErrTruncated) {
		t.Fatalf("%d packets, err %v; want 1 packet and the I/O error", len(ps), err)
	}
	var re *ReadError
	if !errors.As(err, &re) || re.Packet != 2 || re.Offset != 24+19 {
		t.Fatalf("err %#v", err)
	}
}
