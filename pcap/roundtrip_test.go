package pcap

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// writeBoth writes the same packets with Writer and NgWriter.
type sample struct {
	ts   time.Time
	data []byte
	dir  Direction
}

func writeFile(t testing.TB, format Format, link LinkType, snaplen int, ps []sample) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w packetWriter
	var err error
	if format == FormatPcap {
		w, err = NewWriter(&buf, link, snaplen)
	} else {
		w, err = NewNgWriter(&buf, link, snaplen, "rawnet0")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := w.writePacket(p.ts, p.data, len(p.data), p.dir); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	ps := []sample{
		{ts0, icmpEcho(t, false, 1, 56), DirOutbound},
		{ts0.Add(1234567 * time.Nanosecond), icmpEcho(t, true, 1, 56), DirInbound},
		{ts0.Add(time.Second + 1), icmp6Echo(t, 2), DirUnknown},
		{time.Unix(0, 1), []byte{0x45}, DirOutbound}, // 1 ns after the epoch, 1-byte packet
		{ts0.Add(2 * time.Second), nil, DirInbound},  // empty packet
	}
	for _, format := range []Format{FormatPcap, FormatPcapng} {
		t.Run(format.String(), func(t *testing.T) {
			got, err := readAll(t, bytes.NewReader(writeFile(t, format, Raw, 0, ps)))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(ps) {
				t.Fatalf("read %d packets, wrote %d", len(got), len(ps))
			}
			for i, p := range got {
				want := ps[i]
				if !p.Timestamp.Equal(want.ts) || !bytes.Equal(p.Data, want.data) || p.OrigLen != len(want.data) ||
					p.LinkType != Raw || p.Interface != 0 {
					t.Errorf("packet %d: got %v %x orig %d %v if %d, want %v %x", i, p.Timestamp, p.Data,
						p.OrigLen, p.LinkType, p.Interface, want.ts, want.data)
				}
				if wantDir := want.dir; format == FormatPcap {
					wantDir = DirUnknown
				} else if p.Direction != wantDir {
					t.Errorf("packet %d: direction %v, want %v", i, p.Direction, wantDir)
				}
			}
			icmp := gopacket.NewPacket(got[1].Data, layers.LayerTypeIPv4, gopacket.Default).Layer(layers.LayerTypeICMPv4)
			if icmp == nil || icmp.(*layers.ICMPv4).TypeCode.Type() != layers.ICMPv4TypeEchoReply {
				t.Errorf("second packet does not decode as an ICMP echo reply: %v", icmp)
			}
		})
	}
}

func TestSnaplenTruncates(t *testing.T) {
	data := icmpEcho(t, false, 1, 100) // 128 bytes
	for _, format := range []Format{FormatPcap, FormatPcapng} {
		got, err := readAll(t, bytes.NewReader(writeFile(t, format, Raw, 60, []sample{{ts0, data, DirOutbound}})))
		if err != nil || len(got) != 1 {
			t.Fatalf("%v: %d packets, %v", format, len(got), err)
		}
		if !bytes.Equal(got[0].Data, data[:60]) || got[0].OrigLen != len(data) {
			t.Errorf("%v: captured %d bytes of %d, want 60 of %d", format, len(got[0].Data), got[0].OrigLen, len(data))
		}
	}
}

func TestWriterRejects(t *testing.T) {
	var buf bytes.Buffer
	for _, snap := range []int{-1, MaxPacketLen + 1} {
		if _, err := NewWriter(&buf, Raw, snap); err == nil {
			t.Errorf("NewWriter accepted snaplen %d", snap)
		}
		if _, err := NewNgWriter(&buf, Raw, snap, ""); err == nil {
			t.Errorf("NewNgWriter accepted snaplen %d", snap)
		}
	}
	if _, err := NewNgWriter(&buf, 0x10000, 0, ""); err == nil {
		t.Error("NewNgWriter accepted a link type above 16 bits")
	}
	w, _ := NewWriter(&buf, Raw, 0)
	nw, _ := NewNgWriter(&buf, Raw, 0, "")
	for _, ts := range []time.Time{{}, time.Unix(-1, 0), time.Unix(1<<32, 0)} {
		if err := w.WritePacket(ts, []byte{1}); !errors.Is(err, ErrTimeRange) {
			t.Errorf("pcap WritePacket(%v) = %v, want ErrTimeRange", ts, err)
		}
	}
	for _, ts := range []time.Time{{}, time.Unix(-1, 0), time.Unix(1<<35, 0)} {
		if err := nw.WritePacket(ts, []byte{1}); !errors.Is(err, ErrTimeRange) {
			t.Errorf("pcapng WritePacket(%v) = %v, want ErrTimeRange", ts, err)
		}
	}
	// pcapng holds 64-bit nanoseconds: 2106 is fine there.
	if err := nw.WritePacket(time.Unix(1<<32, 5), []byte{1}); err != nil {
		t.Errorf("pcapng WritePacket(2106) = %v", err)
	}
}

// TestWriterBytes pins the exact encoding of one packet in each format.
func TestWriterBytes(t *testing.T) {
	data := []byte{0x45, 0, 0, 20, 1}
	got := writeFile(t, FormatPcap, Raw, 0, []sample{{time.Unix(1, 2), data, DirOutbound}})
	want := []byte{
		0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 101, 0, 0, 0, // header
		1, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 0x45, 0, 0, 20, 1, // record
	}
	if !bytes.Equal(got, want) {
		t.Errorf("pcap bytes\n got %x\nwant %x", got, want)
	}
	ngFile := writeFile(t, FormatPcapng, Raw, 0, []sample{{time.Unix(1, 2), data, DirOutbound}})
	epb := []byte{
		6, 0, 0, 0, 52, 0, 0, 0, 0, 0, 0, 0, // type, length 52, interface 0
		0, 0, 0, 0, 0x02, 0xca, 0x9a, 0x3b, // 1_000_000_002 ns
		5, 0, 0, 0, 5, 0, 0, 0, 0x45, 0, 0, 20, 1, 0, 0, 0, // lengths, data, padding
		2, 0, 4, 0, 2, 0, 0, 0, 0, 0, 0, 0, // epb_flags outbound, end of options
		52, 0, 0, 0,
	}
	if !bytes.HasSuffix(ngFile, epb) {
		t.Errorf("pcapng packet block\n got %x\nwant suffix %x", ngFile, epb)
	}
}
