package icmpmsg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"unsafe"
)

// endsWith reports whether sub is a tail of msg in memory (it aliases msg
// and ends where msg ends), which is what every parser here promises for
// the slices it returns.
func endsWith(msg, sub []byte) bool {
	if len(sub) > len(msg) {
		return false
	}
	if len(sub) == 0 {
		return true
	}
	return unsafe.SliceData(sub) == &msg[len(msg)-len(sub)]
}

func fuzzSeeds(f *testing.F) {
	f.Add(MarshalEcho(make([]byte, 64), Echo{Type: TypeEchoReply4, ID: 1, Seq: 2}, Probe{Cookie: 3, Target: 4, Seq: 5}, nil), false)
	f.Add([]byte{0, 0, 0}, true)
	f.Add([]byte{11, 0, 0, 0, 0, 0, 0, 0, 0x45, 0, 0, 28, 0, 0, 0x40, 0, 1, 1, 0, 0, 198, 18, 0, 1, 198, 18, 3, 2, 8, 0, 0, 0, 0, 1, 0, 1}, false)
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0, 0x60, 0, 0, 0, 0, 8, 0, 1}, true)
	f.Add(timeExceededWithLabels(false, true, []MPLSLabel{{Label: 1, S: true, TTL: 1}}), false)
	f.Add(timeExceededWithLabels(true, false, []MPLSLabel{{Label: 2, TC: 7, TTL: 2}, {Label: 3, S: true}}), true)
	f.Add(MarshalTimestamp(make([]byte, TimestampLen), Timestamp{Type: TypeTimestampRequest4, ID: 1, Seq: 2, Originate: 3}), false)
	f.Add(AppendNeighbor(nil, Neighbor{Type: TypeNeighborAdvert6, Solicited: true, Target: netip.MustParseAddr("fd00::2"),
		Options: AppendLinkAddrOption(nil, OptTargetLinkAddr, []byte{2, 0, 0, 0, 0, 1})}), true)
	f.Add(MarshalAddrMask(make([]byte, AddrMaskLen), AddrMask{Type: TypeAddrMaskReply4, Mask: [4]byte{255, 255, 255, 0}}), false)
}

// FuzzParse runs every parser over the same bytes, as ICMPv4 and as
// ICMPv6, and checks what each promises: the fields come from the bytes
// at their RFC offsets, encoding what was parsed gives the bytes back,
// slices returned alias the message, and errors agree with the
// classification.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		checkEcho(t, b)
		checkError(t, b, v6)
		checkExtensions(t, b, v6)
		checkQueries(t, b)
		checkNeighbor(t, b)
	})
}

func checkEcho(t *testing.T, b []byte) {
	e, p, has, err := ParseEcho(b)
	if (err != nil) != (len(b) < HeaderLen) {
		t.Fatalf("ParseEcho(%d bytes): %v", len(b), err)
	}
	if err != nil {
		return
	}
	if has != (len(b) >= HeaderLen+ProbeLen) {
		t.Fatalf("probe fields %v in %d bytes", has, len(b))
	}
	// Marshalling what was parsed, with the bytes after the probe fields
	// as the pattern, gives the message back but for the checksum.
	pattern := b[HeaderLen:]
	if has {
		pattern = b[HeaderLen+ProbeLen:]
	}
	out := MarshalEcho(make([]byte, len(b)), e, p, pattern)
	if !bytes.Equal(out[:2], b[:2]) || !bytes.Equal(out[4:], b[4:]) {
		t.Fatalf("echo round trip:\n got %x\nwant %x", out, b)
	}
	if (e.Type == TypeEchoRequest4 || e.Type == TypeEchoReply4) && Checksum(out, 0) != 0 {
		t.Fatalf("marshalled ICMPv4 echo does not verify: %x", out)
	}
}

func checkError(t *testing.T, b []byte, v6 bool) {
	q, err := ParseError(v6, b)
	switch {
	case len(b) < HeaderLen:
		if !errors.Is(err, ErrShort) {
			t.Fatalf("%d bytes: %v", len(b), err)
		}
		return
	case !IsError(v6, b[0]):
		if !errors.Is(err, ErrNotError) {
			t.Fatalf("type %d (%v) v6 %v: %v", b[0], Classify(v6, b[0]), v6, err)
		}
		return
	case err != nil:
		if !errors.Is(err, ErrShort) {
			t.Fatalf("error type %d: %v", b[0], err)
		}
		return
	}
	ip := b[HeaderLen:]
	if q.Type != b[0] || q.Code != b[1] || q.Info != binary.BigEndian.Uint32(b[4:]) || !endsWith(b, q.Payload) {
		t.Fatalf("quote %+v of %x", q, b)
	}
	if v6 {
		if ip[0]>>4 != 6 || q.TTL != ip[7] || q.Src.As16() != [16]byte(ip[8:24]) || q.Dst.As16() != [16]byte(ip[24:40]) ||
			len(q.Payload) > len(ip)-40 || len(q.Payload)%8 != len(ip)%8 {
			t.Fatalf("IPv6 quote %+v of %x", q, b)
		}
		return
	}
	ihl := int(ip[0]&15) * 4
	if ip[0]>>4 != 4 || q.Proto != ip[9] || q.TTL != ip[8] || q.Src.As4() != [4]byte(ip[12:16]) || q.Dst.As4() != [4]byte(ip[16:20]) ||
		len(q.Payload) != len(ip)-ihl || q.DF != (ip[6]&0x40 != 0) {
		t.Fatalf("IPv4 quote %+v of %x", q, b)
	}
}

func checkExtensions(t *testing.T, b []byte, v6 bool) {
	ext := Extensions(b, v6)
	var labels [3]MPLSLabel
	n := MPLS(b, v6, labels[:])
	if ext == nil {
		if n != 0 {
			t.Fatalf("%d labels without an extension structure", n)
		}
		return
	}
	if Classify(v6, b[0]) != ClassError || !endsWith(b, ext) || len(ext) < 4 || ext[0]>>4 != 2 ||
		len(b)-len(ext) < HeaderLen+compatOffset {
		t.Fatalf("extension %x of %x", ext, b)
	}
	if binary.BigEndian.Uint16(ext[2:]) != 0 && Checksum(ext, 0) != 0 {
		t.Fatalf("extension with a wrong checksum taken: %x", ext)
	}
	if n > len(labels) {
		t.Fatalf("%d labels into room for %d", n, len(labels))
	}
	for _, l := range labels[:n] {
		if l.Label >= 1<<20 || l.TC >= 8 {
			t.Fatalf("label %+v out of range", l)
		}
	}
}

func checkQueries(t *testing.T, b []byte) {
	if ts, err := ParseTimestamp(b); err == nil {
		out := MarshalTimestamp(make([]byte, TimestampLen), ts)
		if !bytes.Equal(out[:2], b[:2]) || !bytes.Equal(out[4:], b[4:TimestampLen]) || Checksum(out, 0) != 0 {
			t.Fatalf("timestamp round trip:\n got %x\nwant %x", out, b[:TimestampLen])
		}
	} else if len(b) >= TimestampLen && Classify(false, b[0]) == ClassQuery && b[0] == TypeTimestampRequest4 {
		t.Fatalf("timestamp request refused: %v", err)
	}
	if m, err := ParseAddrMask(b); err == nil {
		out := MarshalAddrMask(make([]byte, AddrMaskLen), m)
		if !bytes.Equal(out[:2], b[:2]) || !bytes.Equal(out[4:], b[4:AddrMaskLen]) || Checksum(out, 0) != 0 {
			t.Fatalf("address mask round trip:\n got %x\nwant %x", out, b[:AddrMaskLen])
		}
	}
}

func checkNeighbor(t *testing.T, b []byte) {
	m, err := ParseNeighbor(b)
	if err != nil {
		if len(b) >= NeighborLen && (b[0] == TypeNeighborSolicit6 || b[0] == TypeNeighborAdvert6) {
			t.Fatalf("neighbour message refused: %v", err)
		}
		return
	}
	if !endsWith(b, m.Options) || m.Target.As16() != [16]byte(b[HeaderLen:NeighborLen]) {
		t.Fatalf("neighbour %+v of %x", m, b)
	}
	out := AppendNeighbor(nil, m)
	if m.Type == TypeNeighborAdvert6 {
		out[4] |= b[4] & 0x1f // the reserved bits, which Neighbor does not keep
		copy(out[5:8], b[5:8])
	} else {
		copy(out[4:8], b[4:8])
	}
	if !bytes.Equal(out[:2], b[:2]) || !bytes.Equal(out[4:], b[4:]) {
		t.Fatalf("neighbour round trip:\n got %x\nwant %x", out, b)
	}
	if a := LinkAddrOption(m.Options, OptSourceLinkAddr); a != nil && !endsWithin(m.Options, a) {
		t.Fatalf("link-layer address %x outside the options %x", a, m.Options)
	}
}

// endsWithin reports whether sub lies inside b in memory.
func endsWithin(b, sub []byte) bool {
	if len(sub) == 0 || len(b) == 0 {
		return len(sub) == 0
	}
	start := uintptr(unsafe.Pointer(&b[0]))
	s := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return s >= start && s+uintptr(len(sub)) <= start+uintptr(len(b))
}
