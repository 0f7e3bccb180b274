package capture

import (
	"github.com/gopacket/gopacket/layers"
)

// Tunnels: the packet that VXLAN, Geneve, GRE or IP in IP carries is
// decoded into the Decoder's tunnel stack, one level deep (a tunnel in a
// tunnel is left as payload), so that the outer packet's layers stay as
// they are for its summary, as with the packet an ICMP error quotes.

// decodeTunnel decodes a tunnel header of kind k from data and the packet
// after it.
func (s *stack) decodeTunnel(k kind, data []byte) (kind, []byte, error) {
	df := &s.fb
	switch k {
	case kindGRE:
		if err := s.gre.DecodeFromBytes(data, df); err != nil {
			return 0, nil, err
		}
		s.add(k, 0)
		if s.gre.Version != 0 {
			return kindPayload, s.gre.Payload, nil
		}
		inner := etherTunnelKind(s.gre.Protocol)
		if inner == kindARP { // tcpdump's GRE printer knows IP, IPv6 and bridged Ethernet
			inner = kindNone
		}
		s.encap(s.gre.Payload, inner, s.l4Len-len(s.gre.Contents))
		return kindNone, nil, nil
	case kindESP:
		if err := s.esp.DecodeFromBytes(data, df); err != nil {
			return 0, nil, err
		}
		s.add(k, 0)
		return kindNone, nil, nil
	case kindEncap:
		s.add(k, 0)
		inner := kindIPv4
		if s.ipProto == layers.IPProtocolIPv6 {
			inner = kindIPv6
		}
		s.encap(data, inner, s.l4Len)
		return kindNone, nil, nil
	case kindVXLAN:
		if len(data) < 8 {
			return kindPayload, data, nil
		}
		if err := s.vxlan.DecodeFromBytes(data, df); err != nil {
			return 0, nil, err
		}
		s.add(k, 0)
		s.encap(s.vxlan.Payload, kindEthernet, s.udpLen()-16)
		return kindNone, nil, nil
	case kindGeneve:
		if len(data) < 8 {
			return kindPayload, data, nil
		}
		g := &s.geneve
		s.decodeGeneve(data)
		if int(g.OptionsLength) > len(data)-8 {
			df.truncated = true
			return 0, nil, errTruncated
		}
		s.add(k, 0)
		if g.Version == 0 {
			s.encap(g.Payload, etherTunnelKind(g.Protocol), s.udpLen()-16-int(g.OptionsLength))
		}
		return kindNone, nil, nil
	}
	return kindPayload, data, nil
}

// decodeGeneve fills the Geneve layer's fixed header; its options stay in
// Contents (gopacket's DecodeFromBytes allocates two objects per option).
func (s *stack) decodeGeneve(data []byte) {
	g := &s.geneve
	g.Version = data[0] >> 6
	g.OptionsLength = (data[0] & 0x3f) * 4
	g.OAMPacket = data[1]&0x80 != 0
	g.CriticalOption = data[1]&0x40 != 0
	g.Protocol = layers.EthernetType(be.Uint16(data[2:]))
	g.VNI = be.Uint32(data[4:]) >> 8
	g.Options = nil
	n := min(8+int(g.OptionsLength), len(data))
	g.Contents, g.Payload = data[:n], data[n:]
}

// udpLen is the UDP length the headers declare, as tcpdump takes it.
func (s *stack) udpLen() int {
	n := s.l4Len
	if u := int(s.udp.Length); u != 0 && u < n {
		n = u
	}
	return n
}

// encap decodes the packet a tunnel carries into the tunnel stack.
func (s *stack) encap(data []byte, first kind, length int) {
	if s.tunnel == nil || first == kindNone {
		if len(data) > 0 {
			s.payload = data
			s.add(kindPayload, 0)
		}
		return
	}
	s.tunnel.decode(data, first, false)
	s.hasTunnel = true
	s.tunLen = length
}

// etherTunnelKind is the first layer of a tunnel payload of the given
// protocol (an Ethernet type; 0x6558 is a whole Ethernet frame): etherKind's
// IPv4, IPv6 and ARP, but no VLAN tag and nothing for other types.
func etherTunnelKind(t layers.EthernetType) kind {
	if t == layers.EthernetTypeTransparentEthernetBridging {
		return kindEthernet
	}
	if k := etherKind(t); k != kindDot1Q && k != kindPayload {
		return k
	}
	return kindNone
}
