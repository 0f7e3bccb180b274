// Package arp is rawnet's ARP codec (RFC 826, with the probe and
// announcement of RFC 5227) for IPv4 over Ethernet: pure functions over
// byte slices that build and parse whole Ethernet frames carrying ARP. It
// never opens a socket and allocates nothing.
package arp

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Sizes of what this package writes and reads.
const (
	EthHeaderLen = 14                       // destination, source, EtherType
	PacketLen    = 28                       // ARP for IPv4 over Ethernet
	FrameLen     = EthHeaderLen + PacketLen // 42; the wire pads it to 60
	EtherType    = 0x0806
)

// Operations (RFC 826).
const (
	OpRequest = 1
	OpReply   = 2
)

// MAC is an Ethernet address.
type MAC [6]byte

// Broadcast is the Ethernet broadcast address, where requests go.
var Broadcast = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// String writes the address as 02:00:00:00:00:01.
func (m MAC) String() string { return string(m.AppendText(nil)) }

// AppendText appends the address as String writes it.
func (m MAC) AppendText(b []byte) []byte {
	const hex = "0123456789abcdef"
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hex[x>>4], hex[x&15])
	}
	return b
}

// Packet is an ARP message for IPv4 over Ethernet.
type Packet struct {
	Op        uint16
	SenderMAC MAC
	SenderIP  netip.Addr // IPv4; 0.0.0.0 in an RFC 5227 probe
	TargetMAC MAC
	TargetIP  netip.Addr // IPv4
}

// Frame is a parsed Ethernet frame carrying ARP.
type Frame struct {
	Dst, Src MAC // the Ethernet header's addresses
	Packet
}

// Errors of Parse.
var (
	ErrShort     = errors.New("arp: frame too short")
	ErrEtherType = errors.New("arp: not an ARP frame")
	ErrFormat    = errors.New("arp: not ARP for IPv4 over Ethernet")
)

// Request is the who-has request from (mac, ip) for target.
func Request(mac MAC, ip, target netip.Addr) Packet {
	return Packet{Op: OpRequest, SenderMAC: mac, SenderIP: ip, TargetIP: target}
}

// Probe is the RFC 5227 duplicate address probe for addr: a request with
// sender address 0.0.0.0, so that no neighbour learns anything from it,
// which a host holding addr answers.
func Probe(mac MAC, addr netip.Addr) Packet {
	return Packet{Op: OpRequest, SenderMAC: mac, SenderIP: netip.IPv4Unspecified(), TargetIP: addr}
}

// Announcement is the gratuitous ARP of RFC 5227 section 2.3: a request
// whose sender and target address are both addr, which updates the
// neighbours' caches and asks for no reply.
func Announcement(mac MAC, addr netip.Addr) Packet {
	return Packet{Op: OpRequest, SenderMAC: mac, SenderIP: addr, TargetIP: addr}
}

// AppendFrame appends an Ethernet frame from src to dst carrying p (42
// bytes, unpadded: the driver pads short frames). Addresses that are not
// IPv4 are written as 0.0.0.0.
func AppendFrame(b []byte, dst, src MAC, p Packet) []byte {
	b = append(b, dst[:]...)
	b = append(b, src[:]...)
	b = binary.BigEndian.AppendUint16(b, EtherType)
	b = append(b, 0, 1, 0x08, 0x00, 6, 4) // Ethernet, IPv4, their lengths
	b = binary.BigEndian.AppendUint16(b, p.Op)
	b = append(b, p.SenderMAC[:]...)
	b = appendIPv4(b, p.SenderIP)
	b = append(b, p.TargetMAC[:]...)
	return appendIPv4(b, p.TargetIP)
}

func appendIPv4(b []byte, a netip.Addr) []byte {
	if !a.Is4() {
		return append(b, 0, 0, 0, 0)
	}
	v := a.As4()
	return append(b, v[:]...)
}

// Parse parses an Ethernet frame carrying ARP for IPv4 over Ethernet.
// Bytes after the 42 (the padding of short frames) are ignored.
func Parse(b []byte) (Frame, error) {
	if len(b) < EthHeaderLen {
		return Frame{}, ErrShort
	}
	if binary.BigEndian.Uint16(b[12:]) != EtherType {
		return Frame{}, ErrEtherType
	}
	if len(b) < FrameLen {
		return Frame{}, ErrShort
	}
	a := b[EthHeaderLen:]
	if binary.BigEndian.Uint16(a) != 1 || binary.BigEndian.Uint16(a[2:]) != 0x0800 || a[4] != 6 || a[5] != 4 {
		return Frame{}, ErrFormat
	}
	f := Frame{Dst: MAC(b[0:6]), Src: MAC(b[6:12])}
	f.Op = binary.BigEndian.Uint16(a[6:])
	f.SenderMAC = MAC(a[8:14])
	f.SenderIP = netip.AddrFrom4([4]byte(a[14:18]))
	f.TargetMAC = MAC(a[18:24])
	f.TargetIP = netip.AddrFrom4([4]byte(a[24:28]))
	return f, nil
}
