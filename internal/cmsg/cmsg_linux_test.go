package cmsg

import (
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

// FuzzParse: any control buffer parses without a panic or a read
// outside it.
func FuzzParse(f *testing.F) {
	f.Add(cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, make([]byte, 16)))
	f.Add(cmsg(unix.IPPROTO_IP, unix.IP_RECVERR, make([]byte, 16+16)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Meta
		m.Reset()
		Parse(b, &m)
	})
}

func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }
