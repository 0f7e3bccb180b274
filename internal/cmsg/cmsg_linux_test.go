package cmsg

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cmsg builds one control message as the kernel lays it out.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(ptr(b))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func TestParse(t *testing.T) {
	ts := make([]byte, 16)
	binary.NativeEndian.PutUint64(ts, 1700000000)
	binary.NativeEndian.PutUint64(ts[8:], 123456789)
	ttl := make([]byte, 4)
	binary.NativeEndian.PutUint32(ttl, 61)
	pktinfo := make([]byte, 20)
	dst := netip.MustParseAddr("fd00::1").As16()
	copy(pktinfo, dst[:])
	binary.NativeEndian.PutUint32(pktinfo[16:], 7)
	ee := make([]byte, 16+28)
	ee[4], ee[5], ee[6] = 3, 3, 0 // origin ICMPv6, time exceeded, code 0
	binary.NativeEndian.PutUint16(ee[16:], unix.AF_INET6)
	off := netip.MustParseAddr("fd00:0:0:1::2").As16()
	copy(ee[24:], off[:])

	var oob []byte
	oob = append(oob, cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_NEW, ts)...)
	oob = append(oob, cmsg(unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, ttl)...)
	oob = append(oob, cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, pktinfo)...)
	oob = append(oob, cmsg(unix.IPPROTO_IPV6, unix.IPV6_RECVERR, ee)...)
	var m Meta
	m.Reset()
	Parse(oob, &m)
	if !m.Stamp.Equal(time.Unix(1700000000, 123456789)) || m.TTL != 61 || m.Dst != netip.AddrFrom16(dst) || m.IfIndex != 7 ||
		!m.HasErr || m.ErrType != 3 || m.Offender != netip.AddrFrom16(off) {
		t.Errorf("parsed %+v", m)
	}
}

// FuzzParse: any control buffer parses without a panic, the same way
// twice, and nothing past its end is read: the same bytes followed in
// memory by a valid message parse alike.
func FuzzParse(f *testing.F) {
	f.Add(cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, make([]byte, 16)))
	f.Add(cmsg(unix.IPPROTO_IP, unix.IP_RECVERR, make([]byte, 16+16)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	after := cmsg(unix.IPPROTO_IP, unix.IP_TTL, []byte{42, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m, again, inBigger Meta
		m.Reset()
		Parse(bytes.Clone(b), &m)
		again.Reset()
		Parse(bytes.Clone(b), &again)
		inBigger.Reset()
		Parse(append(bytes.Clone(b), after...)[:len(b)], &inBigger)
		if m != again || m != inBigger {
			t.Fatalf("% x parsed as %+v, then %+v, and followed by a TTL message %+v", b, m, again, inBigger)
		}
	})
}

// FuzzParseRoundTrip: control messages laid out as the kernel does, with
// the values the fuzzer picks, in its order, among messages Parse does
// not know, parse back to those values.
func FuzzParseRoundTrip(f *testing.F) {
	f.Add(int64(1700000000), int64(123456789), int32(61), uint8(0x20), []byte{198, 18, 0, 1}, int32(3), uint8(2), uint8(11), uint8(0), uint32(0), uint8(0))
	f.Add(int64(-1), int64(999999999), int32(255), uint8(0xff), []byte(netip.MustParseAddr("fd00::1").AsSlice()), int32(7), uint8(3), uint8(3), uint8(0), uint32(1280), uint8(5))
	f.Fuzz(func(t *testing.T, sec, nsec int64, ttl int32, tos uint8, addr []byte, ifindex int32, orig, typ, code uint8, info uint32, order uint8) {
		dst, ok := netip.AddrFromSlice(addr)
		if !ok {
			return
		}
		v6 := dst.Is6()
		ifindex &= 0x7fffffff // interface indexes are positive
		nsec = (nsec%1e9 + 1e9) % 1e9
		ts := make([]byte, 16)
		binary.NativeEndian.PutUint64(ts, uint64(sec))
		binary.NativeEndian.PutUint64(ts[8:], uint64(nsec))
		word := func(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
		ee := make([]byte, 16, 16+28)
		ee[4], ee[5], ee[6] = orig, typ, code
		binary.NativeEndian.PutUint32(ee[8:], info)
		var msgs [][]byte
		msgs = append(msgs, cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, ts))
		msgs = append(msgs, cmsg(unix.SOL_SOCKET, 12345, []byte{1, 2, 3})) // unknown: skipped
		if v6 {
			pi := append(dst.AsSlice(), word(uint32(ifindex))...)
			ee = binary.NativeEndian.AppendUint16(ee, unix.AF_INET6)
			ee = append(append(ee, make([]byte, 6)...), dst.AsSlice()...)
			ee = append(ee, make([]byte, 4)...)
			msgs = append(msgs, cmsg(unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, word(uint32(ttl))),
				cmsg(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, word(uint32(tos))),
				cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, pi),
				cmsg(unix.IPPROTO_IPV6, unix.IPV6_RECVERR, ee))
		} else {
			pi := append(append(word(uint32(ifindex)), 0, 0, 0, 0), dst.AsSlice()...)
			ee = binary.NativeEndian.AppendUint16(ee, unix.AF_INET)
			ee = append(append(append(ee, 0, 0), dst.AsSlice()...), make([]byte, 8)...)
			msgs = append(msgs, cmsg(unix.IPPROTO_IP, unix.IP_TTL, word(uint32(ttl))),
				cmsg(unix.IPPROTO_IP, unix.IP_TOS, []byte{tos}),
				cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, pi),
				cmsg(unix.IPPROTO_IP, unix.IP_RECVERR, ee))
		}
		// The fuzzer's order: rotate the messages by order.
		k := int(order) % len(msgs)
		msgs = append(msgs[k:], msgs[:k]...)
		var oob []byte
		for _, m := range msgs {
			oob = append(oob, m...)
		}
		var m Meta
		m.Reset()
		Parse(oob, &m)
		want := Meta{Stamp: time.Unix(sec, nsec), TTL: int(ttl), TOS: int(tos), Dst: dst, IfIndex: int(ifindex),
			HasErr: true, ErrOrig: orig, ErrType: typ, ErrCode: code, ErrInfo: info, Offender: dst}
		if !m.Stamp.Equal(want.Stamp) {
			t.Fatalf("stamp %v, want %v", m.Stamp, want.Stamp)
		}
		m.Stamp = want.Stamp
		if m != want {
			t.Fatalf("parsed\n%+v, want\n%+v", m, want)
		}
	})
}

func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }
