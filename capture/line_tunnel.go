package capture

import (
	"strconv"

	"github.com/gopacket/gopacket/layers"
)

// Tunnel lines as tcpdump -nn prints them: the outer header, then the
// packet inside on the same line (GRE, IP in IP, Geneve) or on the next
// (VXLAN, whose printer ends its header with a newline).

// appendIPTunnel writes what follows "IP a > b: " for GRE, ESP and IP in IP.
func (s *stack) appendIPTunnel(b []byte, k kind) []byte {
	switch k {
	case kindESP:
		return appendESP(b, s.l4, s.l4Len)
	case kindGRE:
		return s.appendGRE(b)
	}
	return s.appendInner(b)
}

// appendInner writes the packet the tunnel carries.
func (s *stack) appendInner(b []byte) []byte {
	if !s.hasTunnel {
		return b
	}
	return s.tunnel.appendLine(b, s.tunLen)
}

func appendESP(b []byte, data []byte, length int) []byte {
	if len(data) <= 8 {
		return append(b, " [|esp]"...)
	}
	b = append(b, "ESP(spi=0x"...)
	spi := be.Uint32(data)
	for i := 28; i >= 0; i -= 4 {
		b = append(b, hexDigits[spi>>uint(i)&15])
	}
	b = append(b, ",seq=0x"...)
	b = strconv.AppendUint(b, uint64(be.Uint32(data[4:])), 16)
	b = append(b, "), length "...)
	return strconv.AppendInt(b, int64(length), 10)
}

// appendUDPESP writes UDP port 4500: NAT keepalives and ESP in UDP
// (RFC 3948). IKE after a zero marker is not decoded.
func appendUDPESP(b []byte, data []byte, length int) []byte {
	switch {
	case length == 1 && len(data) >= 1 && data[0] == 0xff:
		return append(b, "isakmp-nat-keep-alive"...)
	case length < 4 || len(data) < 4:
		return append(b, " [|isakmp_rfc3948]"...)
	case be.Uint32(data) == 0:
		b = append(b, "NONESP-encap: isakmp, length "...)
		return strconv.AppendInt(b, int64(length-4), 10)
	}
	b = append(b, "UDP-encap: "...)
	return appendESP(b, data, length)
}

func (s *stack) appendGRE(b []byte) []byte {
	g := &s.gre
	b = append(b, "GREv"...)
	b = strconv.AppendUint(b, uint64(g.Version), 10)
	if g.Version != 0 { // PPTP's enhanced GRE: not decoded further
		b = append(b, ", length "...)
		return strconv.AppendInt(b, int64(s.l4Len), 10)
	}
	if g.ChecksumPresent || g.RoutingPresent {
		b = append(b, ", off 0x"...)
		b = strconv.AppendUint(b, uint64(g.Offset), 16)
	}
	if g.KeyPresent {
		b = append(b, ", key=0x"...)
		b = strconv.AppendUint(b, uint64(g.Key), 16)
	}
	if g.SeqPresent {
		b = append(b, ", seq "...)
		b = strconv.AppendUint(b, uint64(g.Seq), 10)
	}
	b = append(b, ", length "...)
	b = strconv.AppendInt(b, int64(s.l4Len), 10)
	b = append(b, ": "...)
	switch g.Protocol {
	case layers.EthernetTypeIPv4, layers.EthernetTypeIPv6, layers.EthernetTypeTransparentEthernetBridging:
		return s.appendInner(b)
	}
	b = append(b, "gre-proto-0x"...)
	return strconv.AppendUint(b, uint64(g.Protocol), 16)
}

// appendVXLAN writes "VXLAN, flags [I] (0x08), vni 100" and, on the next
// line, the frame inside; length is the UDP payload's.
func (s *stack) appendVXLAN(b []byte, length int) []byte {
	b = append(b, "VXLAN"...)
	if length < 8 {
		return append(b, " (invalid)"...)
	}
	data := s.udp.Payload
	if len(data) < 1 {
		return append(b, " [|vxlan]"...)
	}
	b = append(b, ", flags ["...)
	if data[0]&0x08 != 0 {
		b = append(b, 'I')
	} else {
		b = append(b, "invalid"...)
	}
	b = append(b, "] (0x"...)
	b = append(b, hexDigits[data[0]>>4], hexDigits[data[0]&15])
	b = append(b, "), "...)
	if len(data) < 7 {
		return append(b, " [|vxlan]"...)
	}
	b = append(b, "vni "...)
	b = strconv.AppendUint(b, uint64(data[4])<<16|uint64(data[5])<<8|uint64(data[6]), 10)
	b = append(b, '\n')
	if len(data) < 8 {
		return append(b, " [|vxlan]"...)
	}
	return s.appendInner(b)
}

// appendGeneve writes "Geneve, Flags [none], vni 0x64: " and the packet
// inside; length is the UDP payload's.
func (s *stack) appendGeneve(b []byte, length int) []byte {
	b = append(b, "Geneve"...)
	if length < 8 {
		b = append(b, " [length "...)
		b = strconv.AppendInt(b, int64(length), 10)
		return append(b, " < 8] (invalid)"...)
	}
	data := s.udp.Payload
	if len(data) < 8 {
		return append(b, " [|geneve]"...)
	}
	if v := data[0] >> 6; v != 0 {
		b = append(b, " ERROR: unknown-version "...)
		return strconv.AppendUint(b, uint64(v), 10)
	}
	b = append(b, ", Flags ["...)
	switch f := data[1]; {
	case f&0xc0 == 0:
		b = append(b, "none"...)
	default:
		if f&0x80 != 0 {
			b = append(b, 'O')
		}
		if f&0x40 != 0 {
			b = append(b, 'C')
		}
	}
	b = append(b, "], vni 0x"...)
	b = strconv.AppendUint(b, uint64(be.Uint32(data[4:])>>8), 16)
	if data[7] != 0 {
		b = append(b, ", rsvd 0x"...)
		b = strconv.AppendUint(b, uint64(data[7]), 16)
	}
	opts := int(data[0]&0x3f) * 4
	if rest := length - 8; rest < opts {
		b = append(b, " truncated-geneve - "...)
		b = strconv.AppendInt(b, int64(opts-rest), 10)
		return append(b, " bytes missing"...)
	}
	if len(data) < 8+opts {
		return append(b, " [|geneve]"...)
	}
	if opts > 0 {
		b = append(b, ", options ["...)
		b = strconv.AppendInt(b, int64(opts), 10)
		b = append(b, " bytes]"...)
	}
	b = append(b, ": "...)
	if s.hasTunnel {
		return s.appendInner(b)
	}
	b = append(b, "geneve-proto-0x"...)
	return strconv.AppendUint(b, uint64(be.Uint16(data[2:])), 16)
}
