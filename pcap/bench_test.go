package pcap

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rawnet/rawnet/tap"
)

// loopReader serves a file header once, then the same records forever, so
// that reading benchmarks run without setup inside the loop.
type loopReader struct {
	head, body []byte
	pos        int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.head)
	l.head = l.head[n:]
	for n < len(p) {
		c := copy(p[n:], l.body[l.pos:])
		l.pos = (l.pos + c) % len(l.body)
		n += c
	}
	return n, nil
}

// endlessReader returns a Reader over an endless file of 98-byte ICMP
// packets in the given format.
func endlessReader(tb testing.TB, format Format) *Reader {
	pkt := icmpEcho(tb, false, 1, 70)
	head := writeFile(tb, format, Raw, 0, nil)
	file := writeFile(tb, format, Raw, 0, []sample{{ts0, pkt, DirOutbound}, {ts0, pkt, DirInbound}})
	r, err := NewReader(&loopReader{head: head, body: file[len(head):]})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func BenchmarkWritePacket(b *testing.B) {
	pkt := icmpEcho(b, false, 1, 70)
	w, err := NewWriter(io.Discard, Raw, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if err := w.WritePacket(ts0, pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNgWritePacket(b *testing.B) {
	pkt := icmpEcho(b, false, 1, 70)
	w, err := NewNgWriter(io.Discard, Raw, 0, "rawnet0")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if err := w.WritePacketDirection(ts0, pkt, DirOutbound); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFileTap records to /dev/null: the cost of the File, not of the
// disk.
func BenchmarkFileTap(b *testing.B) {
	for _, format := range []Format{FormatPcap, FormatPcapng} {
		b.Run(format.String(), func(b *testing.B) {
			f, err := Create(os.DevNull, Raw, WithFormat(format))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			hook, pkt := f.Tap(), icmpEcho(b, false, 1, 70)
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			for b.Loop() {
				hook(tap.Out, ts0, pkt)
			}
		})
	}
}

func BenchmarkNext(b *testing.B) {
	for _, format := range []Format{FormatPcap, FormatPcapng} {
		b.Run(format.String(), func(b *testing.B) {
			r := endlessReader(b, format)
			b.ReportAllocs()
			b.SetBytes(98)
			for b.Loop() {
				if _, err := r.Next(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestZeroAllocsPerPacket holds the hot paths to what the benchmarks show,
// in every test run.
func TestZeroAllocsPerPacket(t *testing.T) {
	pkt := icmpEcho(t, false, 1, 70)
	w, _ := NewWriter(io.Discard, Raw, 0)
	nw, _ := NewNgWriter(io.Discard, Raw, 0, "x")
	f, err := Create(filepath.Join(t.TempDir(), "x.pcapng"), Raw)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hook := f.Tap()
	readers := map[Format]*Reader{FormatPcap: endlessReader(t, FormatPcap), FormatPcapng: endlessReader(t, FormatPcapng)}
	cases := map[string]func(){
		"Writer.WritePacket":   func() { w.WritePacket(ts0, pkt) },
		"NgWriter.WritePacket": func() { nw.WritePacketDirection(ts0, pkt, DirInbound) },
		"File.Tap":             func() { hook(tap.In, ts0, pkt) },
		"Reader.Next pcap": func() {
			if p, err := readers[FormatPcap].Next(); err != nil || !bytes.Equal(p.Data, pkt) {
				t.Fatal(err)
			}
		},
		"Reader.Next pcapng": func() {
			if p, err := readers[FormatPcapng].Next(); err != nil || !bytes.Equal(p.Data, pkt) {
				t.Fatal(err)
			}
		},
	}
	for name, fn := range cases {
		if n := testing.AllocsPerRun(2000, fn); n != 0 {
			t.Errorf("%s: %v allocations per packet", name, n)
		}
	}
}
