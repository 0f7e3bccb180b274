package icmp

import (
	"encoding/binary"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rxMeta is what the control messages of one received packet say. Parsing
// fills a caller-owned value and allocates nothing.
type rxMeta struct {
	stamp    time.Time // kernel receive time (SO_TIMESTAMPNS); zero if none
	ttl      int       // IP TTL / hop limit; -1 if unknown
	tos      int       // TOS / traffic class; -1 if unknown
	dst      netip.Addr
	ifIndex  int
	hasErr   bool // an extended error from the error queue (datagram sockets)
	errOrig  uint8
	errType  uint8
	errCode  uint8
	errInfo  uint32
	offender netip.Addr
}

func (m *rxMeta) reset() {
	*m = rxMeta{ttl: -1, tos: -1}
}

// parseCmsgs walks the control messages in oob and fills m.
func parseCmsgs(oob []byte, m *rxMeta) {
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

func parseCmsg(level, typ int32, data []byte, m *rxMeta) {
	switch {
	case level == unix.SOL_SOCKET && (typ == unix.SO_TIMESTAMPNS || typ == unix.SO_TIMESTAMPNS_NEW):
		if len(data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(data[0:]))
			nsec := int64(binary.NativeEndian.Uint64(data[8:]))
			m.stamp = time.Unix(sec, nsec)
		}
	case level == unix.IPPROTO_IP && typ == unix.IP_TTL, level == unix.IPPROTO_IPV6 && typ == unix.IPV6_HOPLIMIT:
		if len(data) >= 4 {
			m.ttl = int(int32(binary.NativeEndian.Uint32(data)))
		}
	case level == unix.IPPROTO_IP && typ == unix.IP_TOS:
		if len(data) >= 1 {
			m.tos = int(data[0])
		}
	case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_TCLASS:
		if len(data) >= 4 {
			m.tos = int(int32(binary.NativeEndian.Uint32(data)))
		}
	case level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO:
		if len(data) >= 12 {
			m.ifIndex = int(int32(binary.NativeEndian.Uint32(data)))
			m.dst = netip.AddrFrom4([4]byte(data[8:12]))
		}
	case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO:
		if len(data) >= 20 {
			m.dst = netip.AddrFrom16([16]byte(data[0:16]))
			m.ifIndex = int(binary.NativeEndian.Uint32(data[16:]))
		}
	case level == unix.IPPROTO_IP && typ == unix.IP_RECVERR, level == unix.IPPROTO_IPV6 && typ == unix.IPV6_RECVERR:
		parseExtendedErr(data, m)
	}
}

// parseExtendedErr reads a struct sock_extended_err and the offender's
// address that follows it.
func parseExtendedErr(data []byte, m *rxMeta) {
	if len(data) < 16 {
		return
	}
	m.hasErr = true
	m.errOrig = data[4]
	m.errType = data[5]
	m.errCode = data[6]
	m.errInfo = binary.NativeEndian.Uint32(data[8:])
	sa := data[16:]
	if len(sa) < 2 {
		return
	}
	switch binary.NativeEndian.Uint16(sa) {
	case unix.AF_INET:
		if len(sa) >= 8 {
			m.offender = netip.AddrFrom4([4]byte(sa[4:8]))
		}
	case unix.AF_INET6:
		if len(sa) >= 24 {
			m.offender = netip.AddrFrom16([16]byte(sa[8:24]))
		}
	}
}
