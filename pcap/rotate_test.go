package pcap

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// countIn reads a file back and returns its packets' first bytes (the
// sequence numbers the tests put there) and lengths.
func seqsIn(t *testing.T, path string) (seqs []byte, origLens []int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ps, err := readAll(t, f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, p := range ps {
		seqs = append(seqs, p.Data[0])
		origLens = append(origLens, p.OrigLen)
	}
	return seqs, origLens
}

func writeSeq(t *testing.T, r *Rotator, ts time.Time, seq byte, size int) error {
	t.Helper()
	data := bytes.Repeat([]byte{seq}, size)
	return r.WritePacket(ts, data, size+50, DirInbound)
}

func TestRotateBySize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.pcap")
	// Three 100-byte packets fill a file: 24 + 3 × (16 + 100) bytes.
	r, err := NewRotator(RotateConfig{Path: path, Link: Ethernet, FileSize: 24 + 3*116})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := writeSeq(t, r, ts0, byte(i), 100); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{path, path + "1", path + "2", path + "3"}
	if !slices.Equal(r.Files(), want) {
		t.Fatalf("files %v, want %v", r.Files(), want)
	}
	for i, name := range want {
		seqs, lens := seqsIn(t, name)
		wantSeqs := []byte{byte(3 * i), byte(3*i + 1), byte(3*i + 2)}[:min(3, 10-3*i)]
		if !bytes.Equal(seqs, wantSeqs) || lens[0] != 150 {
			t.Errorf("%s: packets %v (lengths %v), want %v of length 150", name, seqs, lens, wantSeqs)
		}
		if st, _ := os.Stat(name); st.Size() > 24+3*116 {
			t.Errorf("%s: %d bytes, over the limit", name, st.Size())
		}
	}
}

func TestRotateRingOfFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ring.pcapng")
	r, err := NewRotator(RotateConfig{Path: path, Link: Ethernet, FileSize: 400, MaxFiles: 3, IfName: "eth0"})
	if err != nil {
		t.Fatal(err)
	}
	// pcapng: a 100-byte packet with its direction takes 28+100+12+4 = 144
	// bytes; the headers take about 100, so two packets fill a file.
	for i := range 7 {
		if err := writeSeq(t, r, ts0, byte(i), 100); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	want := []string{path + "0", path + "1", path + "2"}
	if !slices.Equal(r.Files(), want) {
		t.Fatalf("files %v, want %v", r.Files(), want)
	}
	for i, w := range [][]byte{{6}, {2, 3}, {4, 5}} { // file 0 overwritten by packet 6
		if seqs, _ := seqsIn(t, want[i]); !bytes.Equal(seqs, w) {
			t.Errorf("%s: packets %v, want %v", want[i], seqs, w)
		}
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("%s exists: a ring names every file with its number", path)
	}
}

func TestRotateByIntervalWithStrftime(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Unix(1700000000, 0)
	r, err := NewRotator(RotateConfig{Path: filepath.Join(dir, "g-%s.pcap"), Link: Raw,
		Interval: time.Second, MaxFiles: 3, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	offsets := []time.Duration{100 * time.Millisecond, 900 * time.Millisecond, 1200 * time.Millisecond,
		3500 * time.Millisecond, 3600 * time.Millisecond}
	for i, off := range offsets {
		if err := writeSeq(t, r, t0.Add(off), byte(i), 20); err != nil {
			t.Fatal(err)
		}
	}
	// A fourth interval is one too many for -W 3.
	if err := writeSeq(t, r, t0.Add(4*time.Second), 9, 20); !errors.Is(err, ErrRotationDone) {
		t.Fatalf("fourth interval: %v, want ErrRotationDone", err)
	}
	r.Close()
	name := func(sec int64) string { return filepath.Join(dir, "g-"+strconv.FormatInt(sec, 10)+".pcap") }
	want := []string{name(1700000000), name(1700000001), name(1700000003)}
	if !slices.Equal(r.Files(), want) {
		t.Fatalf("files %v, want %v", r.Files(), want)
	}
	for i, w := range [][]byte{{0, 1}, {2}, {3, 4}} {
		if seqs, _ := seqsIn(t, want[i]); !bytes.Equal(seqs, w) {
			t.Errorf("%s: packets %v, want %v", want[i], seqs, w)
		}
	}
}

func TestRotatorErrors(t *testing.T) {
	dir := t.TempDir()
	for _, cfg := range []RotateConfig{
		{},
		{Path: dir + "/a", MaxFiles: 2},
		{Path: dir + "/a", FileSize: -1},
		{Path: dir + "/nosuchdir/a"},
		{Path: dir + "/a.pcapng", Link: 1 << 20},
	} {
		if _, err := NewRotator(cfg); err == nil {
			t.Errorf("NewRotator(%+v) succeeded", cfg)
		}
	}
}

func TestStrftime(t *testing.T) {
	ts := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	got := strftime("x-%Y%m%d-%H%M%S-%y-%j-%s-%%-%q", ts)
	want := "x-20260304-050607-26-063-" + strconv.FormatInt(ts.Unix(), 10) + "-%-%q"
	if got != want {
		t.Errorf("strftime: %q, want %q", got, want)
	}
}

func TestRotatorWritesWithoutAllocating(t *testing.T) {
	for _, name := range []string{"a.pcap", "a.pcapng"} {
		r, err := NewRotator(RotateConfig{Path: filepath.Join(t.TempDir(), name), Link: Ethernet, FileSize: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 100)
		allocs := testing.AllocsPerRun(1000, func() {
			if err := r.WritePacket(ts0, data, 150, DirOutbound); err != nil {
				t.Fatal(err)
			}
		})
		r.Close()
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per packet", name, allocs)
		}
	}
}
