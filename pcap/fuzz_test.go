package pcap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/iotest"
	"time"
)

// readerSeeds are well-formed and damaged files of both formats, in both
// byte orders, from every writer and hand-built layout in these tests.
func readerSeeds(t *testing.F) [][]byte {
	pkt := []byte("E\x00\x00\x14 rawnet seed packet")
	seeds := [][]byte{
		writeFile(t, FormatPcap, Raw, 0, []sample{{ts0, pkt, DirOutbound}, {ts0, nil, DirInbound}}),
		writeFile(t, FormatPcapng, Raw, 8, []sample{{ts0, pkt, DirOutbound}, {ts0, pkt, DirUnknown}}),
		newClassic(big, false, Ethernet, 65535).record(1, 999999, pkt, 1500).b,
		newClassic(lil, true, LinuxSLL2, 65535).record(1, 999999999, pkt, 3).b,
		newNg(big).shb().idb(Raw, 0, 0x80|20, 5).epb(0, 1<<40, pkt, 100, 3).spb(pkt, 2).pb(0, 7, pkt).b,
		newNg(lil).shb().idb(Raw, 4, 12, -3).block(0x99, []byte{1, 2, 3}).spb(pkt, 40).b,
		[]byte("\x0a\x0d\x0d\x0a"),
		[]byte("\xa1\xb2\xc3\xd4"),
	}
	paths, _ := filepath.Glob("testdata/*.pcap*")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// result is what reading a file gives: its packets and how it ended.
type result struct {
	packets []Packet
	err     error
}

func readResult(r io.Reader, limit int) result {
	pr, err := NewReader(r)
	if err != nil {
		return result{err: err}
	}
	var res result
	for len(res.packets) <= limit {
		p, err := pr.Next()
		if err != nil {
			if again, err2 := pr.Next(); err2 != err || !reflect.DeepEqual(again, Packet{}) {
				panic(fmt.Sprintf("Next after %v returned %v, %v", err, again, err2))
			}
			res.err = err
			return res
		}
		p.Data = bytes.Clone(p.Data)
		res.packets = append(res.packets, p)
	}
	return res
}

// FuzzReader feeds arbitrary bytes to the Reader. It must not panic or
// allocate absurdly, must end in io.EOF or a *ReadError wrapping
// ErrTruncated or ErrCorrupt with an offset inside the input, can return
// at most one packet per 16 bytes, and must read the same packets when the
// input arrives one byte at a time.
func FuzzReader(f *testing.F) {
	for _, s := range readerSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		limit := len(in) / 16
		res := readResult(bytes.NewReader(in), limit)
		if len(res.packets) > limit {
			t.Fatalf("%d packets from %d bytes", len(res.packets), len(in))
		}
		checkEnd(t, res.err, len(in))
		for _, p := range res.packets {
			if len(p.Data) > len(in) || len(p.Data) > MaxPacketLen {
				t.Fatalf("%d bytes of packet data from %d bytes of input", len(p.Data), len(in))
			}
		}
		slow := readResult(iotest.OneByteReader(bytes.NewReader(in)), limit)
		if !reflect.DeepEqual(res.packets, slow.packets) || errString(res.err) != errString(slow.err) {
			t.Fatalf("byte-at-a-time reading differs:\n%v %v\n%v %v", res.packets, res.err, slow.packets, slow.err)
		}
	})
}

func checkEnd(t *testing.T, err error, size int) {
	t.Helper()
	if err == io.EOF || errors.Is(err, ErrUnknownFormat) {
		return
	}
	var re *ReadError
	if !errors.As(err, &re) || !(errors.Is(err, ErrTruncated) || errors.Is(err, ErrCorrupt)) {
		t.Fatalf("unexpected error %#v", err)
	}
	if re.Offset < 0 || re.Offset > int64(size) {
		t.Fatalf("offset %d outside a %d-byte input: %v", re.Offset, size, err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FuzzRoundTrip writes one packet with each writer and reads it back.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("E\x00\x00\x14"), int64(1700000000), uint32(123456789), uint16(0), uint8(1))
	f.Add([]byte{}, int64(0), uint32(0), uint16(1), uint8(0))
	f.Add(bytes.Repeat([]byte{0xff}, 300), int64(1<<32), uint32(999999999), uint16(64), uint8(2))
	f.Add([]byte{1}, int64(-1), uint32(5), uint16(3), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, sec int64, nsec uint32, snaplen uint16, dir uint8) {
		ts := time.Unix(sec, int64(nsec%1e9))
		for _, format := range []Format{FormatPcap, FormatPcapng} {
			roundTrip(t, format, data, ts, int(snaplen), Direction(dir%3))
		}
	})
}

func roundTrip(t *testing.T, format Format, data []byte, ts time.Time, snaplen int, dir Direction) {
	var buf bytes.Buffer
	var w packetWriter
	if format == FormatPcap {
		w, _ = NewWriter(&buf, Raw, snaplen)
	} else {
		w, _ = NewNgWriter(&buf, Raw, snaplen, "fuzz")
	}
	err := w.writePacket(ts, data, len(data), dir)
	maxSec := int64(1<<32 - 1)
	if format == FormatPcapng {
		maxSec = (1<<64 - 1 - 999_999_999) / 1_000_000_000
	}
	if inRange := ts.Unix() >= 0 && ts.Unix() <= maxSec; !inRange {
		if !errors.Is(err, ErrTimeRange) {
			t.Fatalf("%v: %v accepted (%v)", format, ts, err)
		}
		return
	} else if err != nil {
		t.Fatalf("%v: %v", format, err)
	}
	w.Flush()
	res := readResult(&buf, 2)
	if res.err != io.EOF || len(res.packets) != 1 {
		t.Fatalf("%v: %d packets, %v", format, len(res.packets), res.err)
	}
	p, capLen := res.packets[0], len(data)
	if snaplen > 0 {
		capLen = min(capLen, snaplen)
	}
	if format == FormatPcap {
		dir = DirUnknown
	}
	if !p.Timestamp.Equal(ts) || !bytes.Equal(p.Data, data[:capLen]) || p.OrigLen != len(data) || p.Direction != dir {
		t.Fatalf("%v: wrote %v %x dir %v, read %v %x orig %d dir %v", format, ts, data, dir, p.Timestamp, p.Data, p.OrigLen, p.Direction)
	}
}
