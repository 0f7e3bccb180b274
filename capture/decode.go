package capture

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gopacket/gopacket/layers"
	"github.com/rawnet/rawnet/internal/icmpmsg"

	"github.com/rawnet/rawnet/pcap"
)

// kind names a layer the Decoder knows.
type kind uint8

const (
	kindNone kind = iota
	kindEthernet
	kindDot1Q
	kindLinuxSLL
	kindLinuxSLL2
	kindLoopback
	kindARP
	kindIPv4
	kindIPv6
	kindIPv6Ext // hop-by-hop (after the first), routing, destination options
	kindIPv6Fragment
	kindICMPv4
	kindICMPv6
	kindICMPv6Echo
	kindNeighborSolicitation
	kindNeighborAdvertisement
	kindRouterSolicitation
	kindRouterAdvertisement
	kindUDP
	kindTCP
	kindFragment // a non-first fragment: bytes of an upper layer that cannot be decoded alone
	kindPayload
	kindRawIP // dispatch on the version nibble; never stored
	kindGRE
	kindESP
	kindEncap  // IPv4 or IPv6 in IP (protocol 4 or 41): the tunnel stack holds it
	kindVXLAN  // after UDP
	kindGeneve // after UDP
)

const (
	maxVLAN   = 2
	maxExt    = 4
	maxLayers = 16
)

// entry is one decoded layer: its kind and, for kinds that can repeat, which one.
type entry struct {
	kind kind
	idx  uint8
}

// ip6Ext is an IPv6 extension header (hop-by-hop, routing or destination
// options) kept as its raw bytes.
type ip6Ext struct {
	proto layers.IPProtocol // which header this is
	next  layers.IPProtocol
	data  []byte // the whole header
}

// feedback collects gopacket's truncation notices.
type feedback struct{ truncated bool }

func (f *feedback) SetTruncated() { f.truncated = true }

// stack holds one set of preallocated layers and the order in which a
// packet filled them.
type stack struct {
	eth    layers.Ethernet
	vlan   [maxVLAN]layers.Dot1Q
	nvlan  int
	sll    layers.LinuxSLL
	sll2   layers.LinuxSLL2
	loop   layers.Loopback
	arp    layers.ARP
	ip4    layers.IPv4
	ip6    layers.IPv6
	ext    [maxExt]ip6Ext
	next   int
	frag6  layers.IPv6Fragment
	icmp4  layers.ICMPv4
	icmp6  layers.ICMPv6
	echo6  layers.ICMPv6Echo
	ns     layers.ICMPv6NeighborSolicitation
	na     layers.ICMPv6NeighborAdvertisement
	rs     layers.ICMPv6RouterSolicitation
	ra     layers.ICMPv6RouterAdvertisement
	udp    layers.UDP
	tcp    layers.TCP
	gre    layers.GRE
	esp    layers.IPSecESP
	vxlan  layers.VXLAN
	geneve layers.Geneve
	// Protocols above UDP and TCP, decoded for -v and --json only (the
	// line reads their bytes itself).
	dns     layers.DNS
	ntp     layers.NTP
	dhcp4   layers.DHCPv4
	dhcp6   layers.DHCPv6
	appFb   feedback // their truncation notes, apart from the packet's
	payload []byte   // kindPayload or kindFragment bytes

	order [maxLayers]entry
	n     int
	fb    feedback
	err   error // why decoding stopped early, nil if it did not
	failK kind  // the layer that failed
	// netData is where the network layer starts (what tcpdump -x dumps).
	netOff int
	// ipProto is the protocol of the transport layer (after extension headers).
	ipProto layers.IPProtocol
	// l4Len is the transport length the IP header(s) declare, after
	// extension headers: the lengths tcpdump prints.
	l4Len int
	// l4 is the packet from the transport header on (as captured).
	l4 []byte
	// fragment is set for fragmented IP packets (first or not).
	fragment bool
	// quoted is the packet quoted by an ICMP error, when this is the outer stack.
	quoted    *stack
	hasQuoted bool
	// tunnel is the packet a tunnel carries (VXLAN, Geneve, GRE, IP in
	// IP), when this is the outer stack; tunLen is its length as the
	// headers declare it.
	tunnel    *stack
	hasTunnel bool
	tunLen    int
	// udpApp and tcpApp are the protocols chosen for the UDP or TCP payload.
	udpApp, tcpApp AppProto
	// conf is the Decoder's configuration, shared by its stacks.
	conf *appConf
	// tcpNum is how the TCP layer's numbers print (relative or absolute).
	tcpNum relTCP
}

// Decoder decodes one packet at a time into preallocated gopacket layers
// and formats it. It allocates nothing per packet once its layers have
// grown to the packets' option counts. A Decoder is not safe for concurrent
// use; what it decoded stays valid until the next Decode, and aliases the
// data passed to Decode.
//
// It works as gopacket's DecodingLayerParser with IgnoreUnsupported does
// (each layer's DecodeFromBytes into a preallocated layer, unknown
// protocols left as payload), but chooses the next layer itself: so that a
// first fragment is decoded on (gopacket stops at every fragment), the
// packet an ICMPv4/ICMPv6 error quotes is decoded into a second set of
// layers, and headers too short for their layer stop decoding without the
// allocation of a formatted gopacket error. IPv6 extension headers are
// kept as raw headers (gopacket's allocate per option).
type Decoder struct {
	link  pcap.LinkType
	first kind
	data  []byte
	outer stack
	inner stack // the packet an ICMP error quotes
	tun   stack // the packet a tunnel carries
	// ifNames caches interface names by index for Linux cooked v2 lines.
	ifNames map[uint32]string
	// linkErr is Decode's error for every packet of an unsupported link type.
	linkErr error
	conf    appConf
	// seq holds each TCP conversation's first numbers (relative numbers).
	seq seqTable
}

// ErrUnsupportedLink is returned (wrapped) by Decode for a link type the
// Decoder does not know; the packet is then shown as raw bytes.
var ErrUnsupportedLink = errors.New("capture: unsupported link type")

// NewDecoder returns a Decoder for packets that start with the given link
// layer. Ethernet, Linux cooked capture v1 and v2, BSD/OpenBSD loopback and
// raw IP (101, 228, 229) are decoded; other link types are shown as bytes.
func NewDecoder(link pcap.LinkType) *Decoder {
	d := &Decoder{link: link, first: firstKind(link)}
	d.outer.quoted = &d.inner
	d.outer.tunnel = &d.tun
	d.outer.conf, d.inner.conf, d.tun.conf = &d.conf, &d.conf, &d.conf
	if d.first == kindNone {
		d.linkErr = fmt.Errorf("%w: %v", ErrUnsupportedLink, link)
	}
	return d
}

func firstKind(link pcap.LinkType) kind {
	switch link {
	case pcap.Ethernet:
		return kindEthernet
	case pcap.LinuxSLL:
		return kindLinuxSLL
	case pcap.LinuxSLL2:
		return kindLinuxSLL2
	case pcap.Null, pcap.Loop:
		return kindLoopback
	case pcap.Raw:
		return kindRawIP
	case pcap.IPv4:
		return kindIPv4
	case pcap.IPv6:
		return kindIPv6
	}
	return kindNone
}

// LinkType is the link type the Decoder was made for.
func (d *Decoder) LinkType() pcap.LinkType { return d.link }

// Decode decodes data, one captured packet. A packet that is truncated or
// malformed is decoded as far as it goes; the error then says where it
// stopped, and the output formats show the truncation. The error is nil
// for a packet decoded to its end.
func (d *Decoder) Decode(data []byte) error {
	d.data = data
	if d.first == kindNone {
		d.outer.reset()
		d.outer.add(kindPayload, 0)
		d.outer.payload = data
		return d.linkErr
	}
	d.outer.decode(data, d.first, true)
	d.numberTCP(&d.outer)
	if d.outer.hasTunnel {
		d.numberTCP(&d.tun)
	}
	return d.outer.err
}

// numberTCP works out how the TCP numbers of the packet in s print:
// relative to its conversation's first unless the configuration says
// absolute (only packets with ACK set are relative, as in tcpdump).
func (d *Decoder) numberTCP(s *stack) {
	t := &s.tcp
	if d.conf.abs || !t.ACK || !s.has(kindTCP) {
		return
	}
	src, dst := s.srcDst()
	s.tcpNum = d.seq.lookup(src, dst, uint16(t.SrcPort), uint16(t.DstPort), t.Seq, t.Ack, t.SYN)
}

// Data is the packet last passed to Decode.
func (d *Decoder) Data() []byte { return d.data }

// NetworkData is the packet without its link-layer header(s): what
// tcpdump -x dumps. It is the whole packet when no link layer was decoded.
func (d *Decoder) NetworkData() []byte {
	if d.outer.netOff > len(d.data) {
		return nil
	}
	return d.data[d.outer.netOff:]
}

func (s *stack) reset() {
	s.n = 0
	s.nvlan = 0
	s.next = 0
	s.payload = nil
	s.fb.truncated = false
	s.err = nil
	s.failK = kindNone
	s.netOff = 0
	s.ipProto = 0
	s.l4Len = 0
	s.l4 = nil
	s.fragment = false
	s.hasQuoted = false
	s.hasTunnel = false
	s.tunLen = 0
	s.udpApp = AppNone
	s.tcpApp = AppNone
}

func (s *stack) add(k kind, idx int) {
	s.order[s.n] = entry{kind: k, idx: uint8(idx)}
	s.n++
}

// decode runs the layers from first on; outer says whether ICMP errors may
// have their quoted packet decoded (only one level deep).
func (s *stack) decode(data []byte, first kind, outer bool) {
	s.reset()
	k := first
	start := len(data)
	for k != kindNone {
		if k == kindRawIP {
			k = rawIPKind(data)
			if k == kindNone {
				break
			}
		}
		if isNetwork(k) && s.netOff == 0 {
			s.netOff = start - len(data)
		}
		if s.n == maxLayers-1 {
			k = kindPayload
		}
		next, rest, err := s.decodeOne(k, data, outer)
		if err != nil {
			s.err = err
			s.failK = k
			if len(data) > 0 {
				s.payload = data
			}
			return
		}
		k, data = next, rest
		if len(data) == 0 && k != kindNone && k != kindPayload && k != kindFragment {
			// The header says another layer follows but no bytes are left.
			if s.fb.truncated || k == kindUDP || k == kindTCP || k == kindICMPv4 || k == kindICMPv6 {
				s.err = errTruncated
				s.failK = k
			}
			return
		}
		if len(data) == 0 {
			return
		}
	}
	if len(data) > 0 && (s.n == 0 || s.order[s.n-1].kind != kindPayload) {
		s.payload = data
		s.add(kindPayload, 0)
	}
}

var errTruncated = errors.New("capture: truncated packet")

// minLen is the header length of the layers whose decoders fail on less.
var minLen = [...]int{
	kindEthernet: 14, kindDot1Q: 4, kindLinuxSLL: 16, kindLinuxSLL2: 20, kindLoopback: 4,
	kindARP: 8, kindIPv4: 20, kindIPv6: 40, kindIPv6Fragment: 8, kindICMPv4: 8, kindICMPv6: 4,
	kindUDP: 8, kindTCP: 20, kindPayload: 0, kindGRE: 4, kindESP: 8,
}

// short reports a packet too short for layer k's fixed header, or for the
// TCP header its data offset announces.
func short(k kind, data []byte) bool {
	if int(k) < len(minLen) && len(data) < minLen[k] {
		return true
	}
	return k == kindTCP && int(data[12]>>4)*4 > len(data)
}

func isNetwork(k kind) bool {
	return k == kindIPv4 || k == kindIPv6 || k == kindARP
}

func rawIPKind(data []byte) kind {
	if len(data) == 0 {
		return kindNone
	}
	switch data[0] >> 4 {
	case 4:
		return kindIPv4
	case 6:
		return kindIPv6
	}
	return kindPayload
}

// decodeOne decodes layer k from data and says what follows.
func (s *stack) decodeOne(k kind, data []byte, outer bool) (kind, []byte, error) {
	df := &s.fb
	if short(k, data) {
		// gopacket would say so with a newly formatted error; truncated
		// quotes in ICMP errors are common enough to avoid that.
		df.truncated = true
		return 0, nil, errTruncated
	}
	switch k {
	case kindEthernet:
		if err := s.eth.DecodeFromBytes(data, df); err != nil {
			return 0, nil, err
		}
		s.add(k, 0)
		return etherKind(s.eth.EthernetType), s.eth.Payload, nil
	case kindDot1Q:
		if s.nvlan == maxVLAN {
			return kindPayload, data, nil
		}
		v := &s.vlan[s.nvlan]
		if err := v.DecodeFromBytes(data, df); err != nil {
			return 0, nil, err
		}
		s.add(k, s.nvlan)
		s.nvlan++
		return etherKind(v.Type), v.Payload, nil
	case kindLinuxSLL:
		if err := s.sll.DecodeFromBytes(data, df); err != nil {
			return 0, nil, err
		}
		s.add(k, 0)
		return etherKind(s.sll.EthernetType), s.sll.Payload, nil
	case kindLinuxSLL2:
		if err := s.sll2.DecodeFromBytes(data, df); err != nil {
			return 0, nil, err
		}
		s.add(k, 0)
		return etherKind(s.sll2.ProtocolType), s.sll2.Payload, nil
	case kindLoopback:
		if err := s.loop.DecodeFromBytes(data, df); err != nil {
			return 0, nil, err
		}
		s.add(k, 0)
		return familyKind(s.loop.Family), s.loop.Payload, nil
	case kindARP:
		if err := s.arp.DecodeFromBytes(data, df); err != nil {
			return 0, nil, err
		}
		s.add(k, 0)
		return kindNone, nil, nil
	case kindIPv4:
		return s.decodeIPv4(data)
	case kindIPv6:
		return s.decodeIPv6(data)
	case kindIPv6Ext:
		return s.decodeExt(data)
	case kindIPv6Fragment:
		if err := s.frag6.DecodeFromBytes(data, df); err != nil {
			return 0, nil, err
		}
		s.add(k, 0)
		s.fragment = true
		s.ipProto = s.frag6.NextHeader
		s.l4Len -= 8
		s.l4 = s.frag6.Payload
		if s.frag6.FragmentOffset != 0 {
			return kindFragment, s.frag6.Payload, nil
		}
		return protoKind(s.frag6.NextHeader), s.frag6.Payload, nil
	case kindICMPv4:
		if err := s.icmp4.DecodeFromBytes(data, df); err != nil {
			return 0, nil, err
		}
		s.add(k, 0)
		if outer && icmpmsg.Classify(false, s.icmp4.TypeCode.Type()) == icmpmsg.ClassError {
			s.quote(s.icmp4.Payload, kindIPv4)
			return kindNone, nil, nil
		}
		return kindPayload, s.icmp4.Payload, nil
	case kindICMPv6:
		return s.decodeICMPv6(data, outer)
	case kindUDP:
		if err := s.udp.DecodeFromBytes(data, df); err != nil {
			return 0, nil, err
		}
		s.add(k, 0)
		s.udpApp = s.conf.udpApp(uint16(s.udp.SrcPort), uint16(s.udp.DstPort))
		switch s.udpApp {
		case AppVXLAN:
			return kindVXLAN, s.udp.Payload, nil
		case AppGeneve:
			return kindGeneve, s.udp.Payload, nil
		}
		return kindPayload, s.udp.Payload, nil
	case kindTCP:
		if err := s.decodeTCP(data); err != nil {
			return 0, nil, err
		}
		s.add(k, 0)
		s.tcpNum = relTCP{seq: s.tcp.Seq, ack: s.tcp.Ack}
		s.tcpApp = s.conf.tcpApp(uint16(s.tcp.SrcPort), uint16(s.tcp.DstPort))
		return kindPayload, s.tcp.Payload, nil
	case kindGRE, kindESP, kindEncap, kindVXLAN, kindGeneve:
		return s.decodeTunnel(k, data)
	case kindFragment, kindPayload:
		s.payload = data
		s.add(k, 0)
		return kindNone, nil, nil
	}
	return kindNone, data, nil
}

func (s *stack) decodeIPv4(data []byte) (kind, []byte, error) {
	if err := s.ip4.DecodeFromBytes(data, &s.fb); err != nil {
		return 0, nil, err
	}
	s.add(kindIPv4, 0)
	s.ipProto = s.ip4.Protocol
	s.l4Len = int(s.ip4.Length) - int(s.ip4.IHL)*4
	s.l4 = s.ip4.Payload
	s.fragment = s.ip4.FragOffset != 0 || s.ip4.Flags&layers.IPv4MoreFragments != 0
	if s.ip4.FragOffset != 0 {
		return kindFragment, s.ip4.Payload, nil
	}
	k := protoKind(s.ip4.Protocol)
	if k == kindIPv6Ext || k == kindIPv6Fragment {
		k = kindPayload
	}
	return k, s.ip4.Payload, nil
}

func (s *stack) decodeIPv6(data []byte) (kind, []byte, error) {
	// The fixed header is filled in here rather than by gopacket's
	// DecodeFromBytes, which decodes a hop-by-hop header as part of the
	// IPv6 layer and allocates for each of its options (every MLD report
	// has one); here it is an extension header like the others.
	ip := &s.ip6
	ip.Version = data[0] >> 4
	ip.TrafficClass = data[0]<<4 | data[1]>>4
	ip.FlowLabel = be.Uint32(data[0:4]) & 0x000fffff
	ip.Length = be.Uint16(data[4:6])
	ip.NextHeader = layers.IPProtocol(data[6])
	ip.HopLimit = data[7]
	ip.SrcIP, ip.DstIP = data[8:24], data[24:40]
	ip.HopByHop = nil
	payload := data[40:]
	switch {
	case ip.Length == 0 && ip.NextHeader != layers.IPProtocolIPv6HopByHop:
		payload = payload[:0] // nothing but link-layer padding
	case ip.Length != 0: // 0 with hop-by-hop: a jumbogram, its length in an option
		if int(ip.Length) <= len(payload) {
			payload = payload[:ip.Length]
		} else {
			s.fb.truncated = true
		}
	}
	ip.Contents, ip.Payload = data[:40], payload
	s.add(kindIPv6, 0)
	s.ipProto = ip.NextHeader
	s.l4Len = int(ip.Length)
	if ip.Length == 0 && ip.NextHeader == layers.IPProtocolIPv6HopByHop {
		s.l4Len = len(payload)
	}
	s.l4 = payload
	return protoKind(ip.NextHeader), payload, nil
}

func (s *stack) decodeExt(data []byte) (kind, []byte, error) {
	if len(data) < 2 {
		s.fb.truncated = true
		return 0, nil, errTruncated
	}
	n := (int(data[1]) + 1) * 8
	if n > len(data) {
		s.fb.truncated = true
		return 0, nil, errTruncated
	}
	if s.next == maxExt {
		return kindPayload, data, nil
	}
	e := &s.ext[s.next]
	e.proto = s.ipProto
	e.next = layers.IPProtocol(data[0])
	e.data = data[:n]
	s.add(kindIPv6Ext, s.next)
	s.next++
	s.ipProto = e.next
	s.l4Len -= n
	s.l4 = data[n:]
	return protoKind(e.next), data[n:], nil
}

func (s *stack) decodeICMPv6(data []byte, outer bool) (kind, []byte, error) {
	df := &s.fb
	if err := s.icmp6.DecodeFromBytes(data, df); err != nil {
		return 0, nil, err
	}
	s.add(kindICMPv6, 0)
	rest := s.icmp6.Payload
	switch t := s.icmp6.TypeCode.Type(); t {
	case layers.ICMPv6TypeEchoRequest, layers.ICMPv6TypeEchoReply:
		if err := s.echo6.DecodeFromBytes(rest, df); err != nil {
			return 0, nil, err
		}
		s.add(kindICMPv6Echo, 0)
		return kindPayload, s.echo6.Payload, nil
	case layers.ICMPv6TypeNeighborSolicitation:
		if err := s.ns.DecodeFromBytes(rest, df); err != nil {
			return 0, nil, err
		}
		s.add(kindNeighborSolicitation, 0)
		return kindNone, nil, nil
	case layers.ICMPv6TypeNeighborAdvertisement:
		if err := s.na.DecodeFromBytes(rest, df); err != nil {
			return 0, nil, err
		}
		s.add(kindNeighborAdvertisement, 0)
		return kindNone, nil, nil
	case layers.ICMPv6TypeRouterSolicitation:
		if err := s.rs.DecodeFromBytes(rest, df); err != nil {
			return 0, nil, err
		}
		s.add(kindRouterSolicitation, 0)
		return kindNone, nil, nil
	case layers.ICMPv6TypeRouterAdvertisement:
		if err := s.ra.DecodeFromBytes(rest, df); err != nil {
			return 0, nil, err
		}
		s.add(kindRouterAdvertisement, 0)
		return kindNone, nil, nil
	default:
		// As tcpdump, decode the quote of the assigned error types only.
		if outer && icmpmsg.Classify(true, t) == icmpmsg.ClassError && len(rest) >= 4 {
			s.quote(rest[4:], kindIPv6)
			return kindNone, nil, nil
		}
	}
	return kindPayload, rest, nil
}

// quote decodes the packet an ICMP error quotes.
func (s *stack) quote(data []byte, first kind) {
	if s.quoted == nil || len(data) == 0 {
		return
	}
	s.quoted.decode(data, first, false)
	s.hasQuoted = true
}

func etherKind(t layers.EthernetType) kind {
	switch t {
	case layers.EthernetTypeIPv4:
		return kindIPv4
	case layers.EthernetTypeIPv6:
		return kindIPv6
	case layers.EthernetTypeDot1Q, layers.EthernetTypeQinQ:
		return kindDot1Q
	case layers.EthernetTypeARP:
		return kindARP
	}
	return kindPayload
}

func familyKind(f layers.ProtocolFamily) kind {
	switch f {
	case layers.ProtocolFamilyIPv4:
		return kindIPv4
	case layers.ProtocolFamilyIPv6BSD, layers.ProtocolFamilyIPv6FreeBSD,
		layers.ProtocolFamilyIPv6Darwin, layers.ProtocolFamilyIPv6Linux:
		return kindIPv6
	}
	return kindPayload
}

func protoKind(p layers.IPProtocol) kind {
	switch p {
	case layers.IPProtocolICMPv4:
		return kindICMPv4
	case layers.IPProtocolICMPv6:
		return kindICMPv6
	case layers.IPProtocolUDP:
		return kindUDP
	case layers.IPProtocolTCP:
		return kindTCP
	case layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Routing, layers.IPProtocolIPv6Destination:
		return kindIPv6Ext
	case layers.IPProtocolIPv6Fragment:
		return kindIPv6Fragment
	case layers.IPProtocolNoNextHeader:
		return kindNone
	case layers.IPProtocolGRE:
		return kindGRE
	case layers.IPProtocolESP:
		return kindESP
	case layers.IPProtocolIPv4, layers.IPProtocolIPv6:
		return kindEncap
	}
	return kindPayload
}

var be = binary.BigEndian
