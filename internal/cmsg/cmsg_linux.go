package cmsg

import (
	"encoding/binary"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Meta is what the control messages of one received packet say.
type Meta struct {
	Stamp   time.Time // kernel receive time (SO_TIMESTAMPNS); zero if none
	TTL     int       // IP TTL / hop limit; -1 if unknown
	TOS     int       // TOS / traffic class; -1 if unknown
	Dst     netip.Addr
	IfIndex int
	// HasErr: an extended error from the error queue (IP_RECVERR).
	HasErr   bool
	ErrOrig  uint8 // SO_EE_ORIGIN_*: 2 ICMP, 3 ICMPv6, 1 local
	ErrType  uint8
	ErrCode  uint8
	ErrInfo  uint32
	ErrErrno uint32 // the errno the error stands for (ECONNREFUSED, ...)
	Offender netip.Addr
}

// Reset empties m: no timestamp, TTL and TOS unknown, no error.
func (m *Meta) Reset() {
	*m = Meta{TTL: -1, TOS: -1}
}

// Parse walks the control messages in oob and fills m; call Reset first.
func Parse(oob []byte, m *Meta) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		hlen := int(h.Len)
		if hlen < unix.SizeofCmsghdr || hlen > len(oob) {
			return
		}
		data := oob[unix.CmsgLen(0):hlen]
		parseCmsg(h.Level, h.Type, data, m)
		next := unix.CmsgSpace(hlen - unix.CmsgLen(0))
		if next > len(oob) {
			return
		}
		oob = oob[next:]
	}
}

func parseCmsg(level, typ int32, data []byte, m *Meta) {
	switch {
	case level == unix.SOL_SOCKET && (typ == unix.SO_TIMESTAMPNS || typ == unix.SO_TIMESTAMPNS_NEW):
		if len(data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(data[0:]))
			nsec := int64(binary.NativeEndian.Uint64(data[8:]))
			m.Stamp = time.Unix(sec, nsec)
		}
	case level == unix.IPPROTO_IP && typ == unix.IP_TTL, level == unix.IPPROTO_IPV6 && typ == unix.IPV6_HOPLIMIT:
		if len(data) >= 4 {
			m.TTL = int(int32(binary.NativeEndian.Uint32(data)))
		}
	case level == unix.IPPROTO_IP && typ == unix.IP_TOS:
		if len(data) >= 1 {
			m.TOS = int(data[0])
		}
	case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_TCLASS:
		if len(data) >= 4 {
			m.TOS = int(int32(binary.NativeEndian.Uint32(data)))
		}
	case level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO:
		if len(data) >= 12 {
			m.IfIndex = int(int32(binary.NativeEndian.Uint32(data)))
			m.Dst = netip.AddrFrom4([4]byte(data[8:12]))
		}
	case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO:
		if len(data) >= 20 {
			m.Dst = netip.AddrFrom16([16]byte(data[0:16]))
			m.IfIndex = int(binary.NativeEndian.Uint32(data[16:]))
		}
	case level == unix.IPPROTO_IP && typ == unix.IP_RECVERR, level == unix.IPPROTO_IPV6 && typ == unix.IPV6_RECVERR:
		parseExtendedErr(data, m)
	}
}

// parseExtendedErr reads a struct sock_extended_err and the offender's
// address that follows it.
func parseExtendedErr(data []byte, m *Meta) {
	if len(data) < 16 {
		return
	}
	m.HasErr = true
	m.ErrErrno = binary.NativeEndian.Uint32(data[0:])
	m.ErrOrig = data[4]
	m.ErrType = data[5]
	m.ErrCode = data[6]
	m.ErrInfo = binary.NativeEndian.Uint32(data[8:])
	sa := data[16:]
	if len(sa) < 2 {
		return
	}
	switch binary.NativeEndian.Uint16(sa) {
	case unix.AF_INET:
		if len(sa) >= 8 {
			m.Offender = netip.AddrFrom4([4]byte(sa[4:8]))
		}
	case unix.AF_INET6:
		if len(sa) >= 24 {
			m.Offender = netip.AddrFrom16([16]byte(sa[8:24]))
		}
	}
}
