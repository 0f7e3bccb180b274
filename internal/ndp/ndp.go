// Package ndp builds and parses whole Ethernet frames of IPv6 neighbour
// discovery (RFC 4861) for ping -P ndp: neighbour solicitations to a
// target's solicited-node multicast address, duplicate address detection
// probes (RFC 4862), unsolicited advertisements, and the advertisements
// that answer them. The ND bodies are internal/icmpmsg's, the IPv6
// header internal/inet's; this package adds the Ethernet framing, the
// multicast addresses, the hop limit of 255 that RFC 4861 requires of
// every ND message, and the checks a receiver makes (section 7.1.2). It
// never opens a socket and allocates nothing.
package ndp

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/inet"
	"github.com/rawnet/rawnet/internal/ipwrap"
)

// Sizes and constants.
const (
	EthHeaderLen = 14
	EtherType    = 0x86dd
	HopLimit     = 255 // every ND message is sent with it, and must arrive with it
	optLen       = 8   // a link-layer address option for a 6-byte MAC
	// MaxFrameLen is the longest frame this package writes.
	MaxFrameLen = EthHeaderLen + ipwrap.IPv6HeaderLen + icmpmsg.NeighborLen + optLen
)

// AllNodes is ff02::1, where unsolicited advertisements and the answers
// to duplicate address probes go.
var AllNodes = netip.MustParseAddr("ff02::1")

// SolicitedNode is the solicited-node multicast address of a (RFC 4291
// section 2.7.1): ff02::1:ff00:0/104 with a's low 24 bits.
func SolicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 10: 0, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

// MulticastMAC is the Ethernet address an IPv6 multicast address maps to
// (RFC 2464 section 7): 33:33 and its low 32 bits.
func MulticastMAC(a netip.Addr) [6]byte {
	b := a.As16()
	return [6]byte{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

// AppendSolicit appends a neighbour solicitation for target from (mac,
// src) to target's solicited-node address, with the source link-layer
// address option. An unspecified src (::) makes it a duplicate address
// probe, which RFC 4862 section 5.4.2 sends without the option.
func AppendSolicit(b []byte, mac [6]byte, src, target netip.Addr) []byte {
	dst := SolicitedNode(target)
	var opt []byte
	var o [optLen]byte
	if !src.IsUnspecified() {
		o = linkOpt(icmpmsg.OptSourceLinkAddr, mac)
		opt = o[:]
	}
	return appendND(b, mac, MulticastMAC(dst), src, dst, icmpmsg.Neighbor{Type: icmpmsg.TypeNeighborSolicit6, Target: target}, opt)
}

// AppendAdvert appends an unsolicited neighbour advertisement of target
// at mac, from src to all nodes, with the override flag and the target
// link-layer address option (RFC 4861 section 7.2.6).
func AppendAdvert(b []byte, mac [6]byte, src, target netip.Addr) []byte {
	o := linkOpt(icmpmsg.OptTargetLinkAddr, mac)
	return appendND(b, mac, MulticastMAC(AllNodes), src, AllNodes,
		icmpmsg.Neighbor{Type: icmpmsg.TypeNeighborAdvert6, Override: true, Target: target}, o[:])
}

func linkOpt(typ uint8, mac [6]byte) [optLen]byte {
	return [optLen]byte{typ, 1, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]}
}

func appendND(b []byte, src, dst [6]byte, ipSrc, ipDst netip.Addr, m icmpmsg.Neighbor, opt []byte) []byte {
	b = append(b, dst[:]...)
	b = append(b, src[:]...)
	b = binary.BigEndian.AppendUint16(b, EtherType)
	ip := len(b)
	b = append(b, make([]byte, ipwrap.IPv6HeaderLen)...) // written below, around the message
	msg := len(b)
	b = icmpmsg.AppendNeighbor(b, m)
	b = append(b, opt...)
	binary.BigEndian.PutUint16(b[msg+2:], icmpmsg.Checksum6(b[msg:], ipSrc.WithZone(""), ipDst))
	inet.WriteIPv6(b[ip:], inet.IPv6{HopLimit: HopLimit, Next: inet.ProtoICMPv6, Src: ipSrc.WithZone(""), Dst: ipDst}, len(b)-msg)
	return b
}

// Advert is a parsed neighbour advertisement frame.
type Advert struct {
	EthSrc, EthDst [6]byte
	Src, Dst       netip.Addr // of the IPv6 header
	icmpmsg.Neighbor
	// MAC is the target's link-layer address: the target link-layer
	// option's, or the frame's source when the advertisement has none.
	MAC [6]byte
}

// Errors of ParseAdvert.
var (
	ErrNotND    = errors.New("ndp: not a neighbour advertisement")
	ErrHopLimit = errors.New("ndp: hop limit is not 255 (RFC 4861 7.1.2: not from the link)")
	ErrChecksum = errors.New("ndp: bad ICMPv6 checksum")
)

// ParseAdvert parses a frame holding a neighbour advertisement and makes
// the checks of RFC 4861 section 7.1.2 that concern it: hop limit 255,
// ICMPv6 checksum, code 0, a target that is not multicast. It allocates
// nothing; the Neighbor's Options alias the frame.
func ParseAdvert(f []byte) (Advert, error) {
	const ip = EthHeaderLen
	if len(f) < ip+ipwrap.IPv6HeaderLen+icmpmsg.NeighborLen || binary.BigEndian.Uint16(f[12:]) != EtherType ||
		f[ip]>>4 != 6 || f[ip+6] != ipwrap.ProtoICMP6 {
		return Advert{}, ErrNotND
	}
	plen := int(binary.BigEndian.Uint16(f[ip+4:]))
	msg := f[ip+ipwrap.IPv6HeaderLen:]
	if plen > len(msg) || plen < icmpmsg.NeighborLen {
		return Advert{}, ErrNotND
	}
	msg = msg[:plen]
	n, err := icmpmsg.ParseNeighbor(msg)
	if err != nil || n.Type != icmpmsg.TypeNeighborAdvert6 || n.Code != 0 || n.Target.IsMulticast() {
		return Advert{}, ErrNotND
	}
	if f[ip+7] != HopLimit {
		return Advert{}, ErrHopLimit
	}
	a := Advert{EthDst: [6]byte(f[0:6]), EthSrc: [6]byte(f[6:12]), Neighbor: n,
		Src: netip.AddrFrom16([16]byte(f[ip+8 : ip+24])), Dst: netip.AddrFrom16([16]byte(f[ip+24 : ip+40]))}
	if icmpmsg.Checksum6(msg, a.Src, a.Dst) != 0 {
		return Advert{}, ErrChecksum
	}
	a.MAC = a.EthSrc
	if o := icmpmsg.LinkAddrOption(n.Options, icmpmsg.OptTargetLinkAddr); len(o) == 6 {
		a.MAC = [6]byte(o)
	}
	return a, nil
}
