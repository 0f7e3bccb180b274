package icmpmsg

import (
	"encoding/binary"
	"slices"
	"testing"
)

// timeExceededWithLabels builds an ICMPv4 or ICMPv6 time exceeded message
// quoting 128 bytes, then an RFC 4884 extension structure holding an RFC
// 4950 incoming label stack. lengthField false leaves the length field
// zero, as routers that predate RFC 4884 do.
func timeExceededWithLabels(v6, lengthField bool, labels []MPLSLabel) []byte {
	msg := make([]byte, HeaderLen+compatOffset)
	if v6 {
		msg[0] = TypeTimeExceeded6
		msg[HeaderLen] = 0x60
		if lengthField {
			msg[4] = compatOffset / 8
		}
	} else {
		msg[0] = TypeTimeExceeded4
		msg[HeaderLen] = 0x45
		if lengthField {
			msg[5] = compatOffset / 4
		}
	}
	obj := []byte{0, byte(4 + 4*len(labels)), 1, 1}
	for _, l := range labels {
		v := l.Label<<12 | uint32(l.TC)<<9 | uint32(l.TTL)
		if l.S {
			v |= 0x100
		}
		obj = binary.BigEndian.AppendUint32(obj, v)
	}
	ext := append([]byte{0x20, 0, 0, 0}, obj...)
	binary.BigEndian.PutUint16(ext[2:], Checksum(ext, 0))
	return append(msg, ext...)
}

func TestMPLS(t *testing.T) {
	want := []MPLSLabel{{Label: 16001, TTL: 1}, {Label: 0xfffff, TC: 5, S: true, TTL: 255}}
	for _, v6 := range []bool{false, true} {
		for _, strict := range []bool{true, false} {
			msg := timeExceededWithLabels(v6, strict, want)
			got := make([]MPLSLabel, 8)
			if n := MPLS(msg, v6, got); !slices.Equal(got[:n], want) {
				t.Errorf("v6 %v length field %v: %+v, want %+v", v6, strict, got[:n], want)
			}
			if n := MPLS(msg, v6, got[:1]); n != 1 || got[0] != want[0] {
				t.Errorf("v6 %v: room for one label: %d %+v", v6, n, got[0])
			}
			msg[len(msg)-1] ^= 1 // checksum now wrong
			if n := MPLS(msg, v6, got); n != 0 {
				t.Errorf("v6 %v length field %v: bad checksum gave %d labels", v6, strict, n)
			}
		}
	}
}
