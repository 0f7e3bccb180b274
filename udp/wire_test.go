package udp

import (
	"errors"
	"testing"
	"time"
)

func TestWireRoundTrip(t *testing.T) {
	b := make([]byte, 100)
	for i := range b {
		b[i] = 0xee
	}
	Put(b, &Header{Cookie: 0x0102030405060708, Seq: 9, Sent: 1700000000123456789})
	if b[HeaderLen] != 0xee {
		t.Error("Put wrote past the header")
	}
	h, err := Parse(b)
	if err != nil || h.Cookie != 0x0102030405060708 || h.Seq != 9 || h.Sent != 1700000000123456789 || h.Reflected {
		t.Fatalf("Parse = %+v, %v", h, err)
	}
	PutSeq(b, 10, 5)
	rx, tx := time.Unix(1, 2), time.Unix(3, 4)
	Reflect(b, rx, rx, 7)
	StampTx(b, tx)
	h, err = Parse(b)
	if err != nil || h.Seq != 10 || h.Sent != 5 || !h.Reflected || h.ServerRx != rx.UnixNano() || h.ServerTx != tx.UnixNano() || h.ServerN != 7 {
		t.Fatalf("reflected Parse = %+v, %v", h, err)
	}
}

func TestWireRejects(t *testing.T) {
	good := make([]byte, HeaderLen)
	Put(good, &Header{Cookie: 1})
	for name, mutate := range map[string]func(b []byte) []byte{
		"short":   func(b []byte) []byte { return b[:HeaderLen-1] },
		"empty":   func(b []byte) []byte { return nil },
		"magic":   func(b []byte) []byte { b[0] ^= 1; return b },
		"version": func(b []byte) []byte { b[4] = 2; return b },
		"hdrlen":  func(b []byte) []byte { b[7] = 40; return b },
	} {
		b := mutate(append([]byte(nil), good...))
		if _, err := Parse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Parse error %v, want ErrMalformed", name, err)
		}
	}
}

// FuzzParse: any bytes parse or fail cleanly, and what parses survives a
// Put/Parse round trip.
func FuzzParse(f *testing.F) {
	good := make([]byte, 80)
	Put(good, &Header{Cookie: 5, Seq: 6, Sent: 7})
	f.Add(good)
	f.Add([]byte("rnU1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b)
		if err != nil {
			return
		}
		out := make([]byte, HeaderLen)
		Put(out, &h)
		h2, err := Parse(out)
		if err != nil || h2.Cookie != h.Cookie || h2.Seq != h.Seq || h2.Sent != h.Sent {
			t.Fatalf("round trip of %+v: %+v, %v", h, h2, err)
		}
	})
}

func TestParsePorts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []uint16
	}{
		{"53", []uint16{53}},
		{"53,123,161", []uint16{53, 123, 161}},
		{"1000-1003,53, 1001", []uint16{1000, 1001, 1002, 1003, 53}},
		{"65535", []uint16{65535}},
	} {
		got, err := ParsePorts(tc.in)
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("ParsePorts(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("ParsePorts(%q) = %v, want %v", tc.in, got, tc.want)
				break
			}
		}
	}
	for _, bad := range []string{"", "0", "65536", "a", "10-5", "1-", "-3", "1,,2", "1-2-3"} {
		if _, err := ParsePorts(bad); err == nil {
			t.Errorf("ParsePorts(%q) accepted", bad)
		}
	}
	if all, err := ParsePorts("1-65535"); err != nil || len(all) != MaxPorts {
		t.Errorf("1-65535: %d ports, %v", len(all), err)
	}
}

// FuzzParsePorts: any string gives an error or ports 1..65535, each once.
func FuzzParsePorts(f *testing.F) {
	f.Add("53,123,161,1000-2000")
	f.Add("1-65535")
	f.Add("-,")
	f.Fuzz(func(t *testing.T, s string) {
		ports, err := ParsePorts(s)
		if err != nil {
			return
		}
		seen := map[uint16]bool{}
		for _, p := range ports {
			if p == 0 || seen[p] {
				t.Fatalf("%q: port %d zero or repeated", s, p)
			}
			seen[p] = true
		}
	})
}

func TestSeqTracker(t *testing.T) {
	tr := newSeqTracker(128)
	type step struct {
		seq   uint64
		class seqClass
		dist  uint64
	}
	for i, s := range []step{
		{0, seqNew, 0}, {2, seqNew, 0}, {1, seqReordered, 1}, {1, seqDuplicate, 1},
		{2, seqDuplicate, 0}, {200, seqNew, 0}, {150, seqReordered, 50}, {72, seqTooOld, 128},
		{100, seqReordered, 100}, {2, seqTooOld, 198}, {201, seqNew, 0}, {200, seqDuplicate, 1},
	} {
		c, d := tr.add(s.seq)
		if c != s.class || (c != seqNew && d != s.dist) {
			t.Errorf("step %d: add(%d) = %v, %d; want %v, %d", i, s.seq, c, d, s.class, s.dist)
		}
	}
}
