package craft

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// reassemble puts fragments back together the way a receiver does (RFC 791,
// RFC 8200) and returns the packet, failing on overlaps and holes.
func reassemble(t *testing.T, frags [][]byte) []byte {
	t.Helper()
	var hdr, payload []byte
	var covered int
	for i, f := range frags {
		var off, hl int
		var more bool
		var data []byte
		if f[0]>>4 == 4 {
			hl = int(f[0]&0xf) * 4
			fl := binary.BigEndian.Uint16(f[6:])
			off, more = int(fl&0x1fff)*8, fl&0x2000 != 0
			if int(binary.BigEndian.Uint16(f[2:])) != len(f) {
				t.Fatalf("fragment %d: total length %d, %d bytes", i, binary.BigEndian.Uint16(f[2:]), len(f))
			}
			if checksum(f[:hl]) != 0 {
				t.Fatalf("fragment %d: bad header checksum", i)
			}
			data = f[hl:]
			if i == 0 {
				hdr = append([]byte(nil), f[:hl]...)
			}
		} else {
			// Find the fragment header after the unfragmentable part.
			nhAt, at := 6, 40
			for f[nhAt] != 44 {
				nhAt, at = at, at+8+int(f[at+1])*8
			}
			fh := f[at : at+8]
			fo := binary.BigEndian.Uint16(fh[2:])
			off, more = int(fo&0xfff8), fo&1 != 0
			if int(binary.BigEndian.Uint16(f[4:])) != len(f)-40 {
				t.Fatalf("fragment %d: payload length wrong", i)
			}
			data = f[at+8:]
			if i == 0 {
				hdr = append([]byte(nil), f[:at]...)
				hdr[nhAt] = fh[0]
			}
		}
		if off != covered {
			t.Fatalf("fragment %d at offset %d, want %d", i, off, covered)
		}
		if more != (i < len(frags)-1) {
			t.Fatalf("fragment %d: more-fragments %v", i, more)
		}
		if more && len(data)%8 != 0 {
			t.Fatalf("fragment %d: %d bytes, not a multiple of 8", i, len(data))
		}
		payload = append(payload, data...)
		covered += len(data)
	}
	pkt := append(hdr, payload...)
	if pkt[0]>>4 == 4 {
		binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
		binary.BigEndian.PutUint16(pkt[6:], 0)
	} else {
		binary.BigEndian.PutUint16(pkt[4:], uint16(len(pkt)-40))
	}
	return pkt
}

func TestFragmentsReassembleToTheOriginal(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		size  int
		count int
	}{
		{"ip(dst=198.18.5.2,id=7)/icmp(id=1,seq=1)/raw(len=400,fill=0x61)", 64, 7},
		{"ip(dst=198.18.5.2,id=7)/udp(dport=9)/raw(len=1000)", 100, 11}, // 100 rounds down to 96
		{"ip(dst=198.18.5.2,id=7)/udp(dport=9)/raw(len=10)", 512, 1},    // fits: one piece
		{"ip6(dst=fd00::2)/icmp6(id=1,seq=1)/raw(len=400,fill=0x62)", 64, 7},
		{"ip6(dst=fd00::2)/hbh(ra=0)/rh(segleft=0,addrs=fd00::3)/udp(dport=9)/raw(len=300)", 128, 3},
	} {
		s, err := Parse(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		pkt := NewBuilder(s, testEnv, 1).Build(nil, 0)
		fp, err := planFragments(pkt, tc.size)
		if err != nil {
			t.Fatal(err)
		}
		if fp.count != tc.count {
			t.Errorf("%s / %d: %d fragments, want %d", tc.spec, tc.size, fp.count, tc.count)
		}
		var frags [][]byte
		for k := 0; k < fp.count; k++ {
			frags = append(frags, writeFragment(nil, nil, pkt, fp, k, 0xabcd))
		}
		got := reassemble(t, frags)
		want := append([]byte(nil), pkt...)
		if want[0]>>4 == 4 {
			binary.BigEndian.PutUint16(want[6:], 0)
			got[10], got[11], want[10], want[11] = 0, 0, 0, 0
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: reassembled\n%x\nwant\n%x", tc.spec, got, want)
		}
	}
}

// TestLaterFragmentsDropUncopiedOptions: record route (copied bit 0) is
// only in the first fragment; an option with the copied bit is in all.
func TestLaterFragmentsDropUncopiedOptions(t *testing.T) {
	s, err := Parse("ip(dst=198.18.5.2,rr=1,opts=8804aabb)/udp(dport=9)/raw(len=64)")
	if err != nil {
		t.Fatal(err)
	}
	pkt := NewBuilder(s, testEnv, 1).Build(nil, 0)
	fp, _ := planFragments(pkt, 32)
	first := writeFragment(nil, nil, pkt, fp, 0, 0)
	second := writeFragment(nil, nil, pkt, fp, 1, 0)
	if first[0]&0xf != 8 || second[0]&0xf != 6 {
		t.Fatalf("header lengths %d and %d words, want 8 and 6", first[0]&0xf, second[0]&0xf)
	}
	if !bytes.Equal(second[20:24], []byte{0x88, 0x04, 0xaa, 0xbb}) {
		t.Errorf("copied option missing from the second fragment: %x", second[20:24])
	}
}
