package pcap

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the damaged capture files in testdata/")

// damaged describes one damaged file in testdata/ and the error it gives.
type damaged struct {
	name     string
	make     func(t *testing.T) []byte
	packets  int   // read before the error
	sentinel error // wrapped by the error
	packet   int   // ReadError.Packet
	offset   int64 // ReadError.Offset
	msg      string
}

// echo98 is a 98-byte ICMP echo packet, as ping -s 70 would send.
func echo98(t *testing.T, seq uint16) []byte { return icmpEcho(t, false, seq, 70) }

func goodPcap(t *testing.T, n int) []byte {
	var ps []sample
	for i := 0; i < n; i++ {
		ps = append(ps, sample{ts0.Add(time.Duration(i) * time.Millisecond), echo98(t, uint16(i)), DirOutbound})
	}
	return writeFile(t, FormatPcap, Raw, 0, ps)
}

func goodPcapng(t *testing.T, n int) []byte {
	var ps []sample
	for i := 0; i < n; i++ {
		ps = append(ps, sample{ts0.Add(time.Duration(i) * time.Millisecond), echo98(t, uint16(i)), DirOutbound})
	}
	return writeFile(t, FormatPcapng, Raw, 0, ps)
}

// Offsets in files made by the writers: pcap records are 16+98 bytes after
// a 24-byte header; pcapng enhanced packet blocks 28+100+12+4 = 144 bytes
// after a 44-byte section header and a 44-byte interface description.
const (
	pcapRecord  = 16 + 98
	ngHead      = 44 + 44
	ngPacketLen = 144
)

var damagedFiles = []damaged{
	{"truncated-record.pcap", func(t *testing.T) []byte { return goodPcap(t, 3)[:24+2*pcapRecord+16+40] },
		2, ErrTruncated, 3, 24 + 2*pcapRecord, "truncated record: want 98 bytes, have 40"},
	{"truncated-record-header.pcap", func(t *testing.T) []byte { return goodPcap(t, 3)[:24+2*pcapRecord+5] },
		2, ErrTruncated, 3, 24 + 2*pcapRecord, "truncated record header: want 16 bytes, have 5"},
	{"truncated-file-header.pcap", func(t *testing.T) []byte { return goodPcap(t, 1)[:10] },
		0, ErrTruncated, 0, 0, "truncated file header: want 24 bytes, have 10"},
	{"absurd-length.pcap", func(t *testing.T) []byte {
		b := goodPcap(t, 2)
		le.PutUint32(b[24+pcapRecord+8:], 0xfffffff0)
		return b
	}, 1, ErrCorrupt, 2, 24 + pcapRecord, "record length 4294967280 exceeds the 16777216-byte limit"},
	{"truncated-block.pcapng", func(t *testing.T) []byte { return goodPcapng(t, 3)[:ngHead+2*ngPacketLen+100] },
		2, ErrTruncated, 3, ngHead + 2*ngPacketLen, "truncated enhanced packet block: want 144 bytes, have 100"},
	{"bad-trailer.pcapng", func(t *testing.T) []byte {
		b := goodPcapng(t, 3)
		le.PutUint32(b[ngHead+2*ngPacketLen-4:], 140)
		return b
	}, 1, ErrCorrupt, 2, ngHead + ngPacketLen, "enhanced packet block length 144 does not match its trailing length 140"},
	{"undefined-interface.pcapng", func(t *testing.T) []byte {
		b := goodPcapng(t, 2)
		le.PutUint32(b[ngHead+ngPacketLen+8:], 7)
		return b
	}, 1, ErrCorrupt, 2, ngHead + ngPacketLen, "packet for interface 7, but the section defines 1"},
	{"absurd-block-length.pcapng", func(t *testing.T) []byte {
		b := goodPcapng(t, 2)
		le.PutUint32(b[ngHead+4:], 0xfffffff0)
		return b
	}, 0, ErrCorrupt, 1, ngHead, "enhanced packet block length 4294967280 exceeds the 16842752-byte limit"},
	{"bad-byte-order.pcapng", func(t *testing.T) []byte {
		b := goodPcapng(t, 1)
		copy(b[8:], "RAWN")
		return b
	}, 0, ErrCorrupt, 0, 0, "bad byte-order magic 0x5241574e in section header block"},
}

// TestDamagedFiles reads each damaged file in testdata/, which must match
// what its generator makes (go test -run TestDamagedFiles -update rewrites
// them), and checks the error it gives.
func TestDamagedFiles(t *testing.T) {
	for _, d := range damagedFiles {
		t.Run(d.name, func(t *testing.T) {
			path := filepath.Join("testdata", d.name)
			want := d.make(t)
			if *update {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s differs from what its generator makes (run with -update)", path)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ps, err := readAll(t, f)
			assertReadError(t, err, d.sentinel, d.packet, d.offset, d.msg)
			if len(ps) != d.packets {
				t.Errorf("%d packets before the error, want %d", len(ps), d.packets)
			}
		})
	}
}
