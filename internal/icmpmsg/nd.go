package icmpmsg

import "net/netip"

// NeighborLen is the length of a neighbour solicitation or advertisement
// without options.
const NeighborLen = HeaderLen + 16

// Neighbor is an ICMPv6 neighbour solicitation or advertisement (RFC 4861
// sections 4.3 and 4.4).
type Neighbor struct {
	Type uint8 // TypeNeighborSolicit6 or TypeNeighborAdvert6
	Code uint8
	// The flags of an advertisement: sent by a router, in answer to a
	// solicitation, to override a cached link-layer address.
	Router, Solicited, Override bool
	Target                      netip.Addr // the address asked or told about
	Options                     []byte     // aliases the message
}

// ParseNeighbor parses a neighbour solicitation or advertisement. It
// allocates nothing and does not verify the checksum.
func ParseNeighbor(b []byte) (Neighbor, error) {
	if len(b) < NeighborLen {
		return Neighbor{}, ErrShort
	}
	if b[0] != TypeNeighborSolicit6 && b[0] != TypeNeighborAdvert6 {
		return Neighbor{}, ErrType
	}
	m := Neighbor{Type: b[0], Code: b[1], Target: netip.AddrFrom16([16]byte(b[HeaderLen:NeighborLen])), Options: b[NeighborLen:]}
	if m.Type == TypeNeighborAdvert6 {
		m.Router, m.Solicited, m.Override = b[4]&0x80 != 0, b[4]&0x40 != 0, b[4]&0x20 != 0
	}
	return m, nil
}

// AppendNeighbor appends m to b with a zero checksum, which the kernel
// fills for ICMPv6 sockets (Checksum6 computes it otherwise). Flags are
// written for advertisements only; Target must be an IPv6 address.
func AppendNeighbor(b []byte, m Neighbor) []byte {
	var flags byte
	if m.Type == TypeNeighborAdvert6 {
		flags = b2u(m.Router)<<7 | b2u(m.Solicited)<<6 | b2u(m.Override)<<5
	}
	b = append(b, m.Type, m.Code, 0, 0, flags, 0, 0, 0)
	t := m.Target.As16()
	b = append(b, t[:]...)
	return append(b, m.Options...)
}

func b2u(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// Neighbour discovery option types that carry a link-layer address.
const (
	OptSourceLinkAddr = 1
	OptTargetLinkAddr = 2
)

// LinkAddrOption returns the link-layer address of the first option of
// type typ (OptSourceLinkAddr, OptTargetLinkAddr) in opts, or nil. It
// stops at a malformed option (length zero or past the end), as RFC 4861
// section 4.6 has receivers do.
func LinkAddrOption(opts []byte, typ uint8) []byte {
	for len(opts) >= 2 {
		n := int(opts[1]) * 8
		if n == 0 || n > len(opts) {
			return nil
		}
		if opts[0] == typ {
			return opts[2:n]
		}
		opts = opts[n:]
	}
	return nil
}

// AppendLinkAddrOption appends a link-layer address option of type typ,
// padded to a multiple of 8 bytes.
func AppendLinkAddrOption(b []byte, typ uint8, addr []byte) []byte {
	n := (2 + len(addr) + 7) / 8 * 8
	b = append(b, typ, byte(n/8))
	b = append(b, addr...)
	return append(b, make([]byte, n-2-len(addr))...)
}
