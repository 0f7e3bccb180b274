package capture

import (
	"encoding/binary"
	"errors"
	"time"
)

// The TPACKET_V3 ring as linux/if_packet.h lays it out, in host byte
// order: blocks of tp_block_size bytes, each a block descriptor followed
// by packets, each packet a tpacket3_hdr, a sockaddr_ll, the room asked
// for with PACKET_RESERVE and the packet itself at tp_mac.
const (
	blockStatusOff  = 8  // tpacket_block_desc.hdr.bh1.block_status
	blockNumPktsOff = 12 // .num_pkts
	blockFirstOff   = 16 // .offset_to_first_pkt
	blockHeaderLen  = 48

	tpNextOff     = 0 // tpacket3_hdr.tp_next_offset
	tpSecOff      = 4
	tpNsecOff     = 8
	tpSnaplenOff  = 12
	tpLenOff      = 16
	tpStatusOff   = 20
	tpMacOff      = 24
	tpVlanTCIOff  = 32 // hv1.tp_vlan_tci
	tpVlanTPIDOff = 36 // hv1.tp_vlan_tpid
	tpHeaderLen   = 48

	sllOff         = 48 // sockaddr_ll, at TPACKET_ALIGN(sizeof(tpacket3_hdr))
	sllLen         = 20
	sllProtocolOff = 2 // network byte order
	sllIfindexOff  = 4
	sllHatypeOff   = 8
	sllPkttypeOff  = 10
	sllHalenOff    = 11
	sllAddrOff     = 12

	statusUser          = 1    // TP_STATUS_USER: the block is user space's
	statusVlanValid     = 0x10 // TP_STATUS_VLAN_VALID
	statusVlanTPIDValid = 0x40 // TP_STATUS_VLAN_TPID_VALID
	pktOutgoing         = 4    // PACKET_OUTGOING

	sll2HeaderLen = 20 // LINKTYPE_LINUX_SLL2 header
	vlanTagLen    = 4
	etherTypeVLAN = 0x8100
)

var (
	hostOrder = binary.NativeEndian // the ring's headers
	netOrder  = binary.BigEndian    // protocol fields, the SLL2 header
)

// errBadBlock reports a block whose packet headers point outside it: a
// kernel that lays the ring out differently, never a normal event.
var errBadBlock = errors.New("capture: malformed ring block")

// framing turns the packets of a block into what the link type says a
// packet starts with.
type framing struct {
	// cooked: the socket is SOCK_DGRAM (no link-layer header); an SLL2
	// header is written in front of each packet, in the reserved room.
	cooked  bool
	snaplen int
}

// reserve is the room framing needs in front of each packet
// (PACKET_RESERVE): a VLAN tag the kernel took out, and the SLL2 header.
func (f *framing) reserve() int {
	if f.cooked {
		return sll2HeaderLen + vlanTagLen
	}
	return vlanTagLen
}

// walkBlock hands the packets of block b to fn, one at a time, through p.
// It returns how many it handed over, and fn's first error (which ends
// the walk) or errBadBlock.
func (f *framing) walkBlock(b []byte, p *Packet, fn func(*Packet) error) (int, error) {
	if len(b) < blockHeaderLen {
		return 0, errBadBlock
	}
	num := int(hostOrder.Uint32(b[blockNumPktsOff:]))
	off := int(hostOrder.Uint32(b[blockFirstOff:]))
	for i := range num {
		if off < blockHeaderLen || off > len(b)-(sllOff+sllLen) {
			return i, errBadBlock
		}
		h := b[off:]
		if !f.frame(h, p) {
			return i, errBadBlock
		}
		if err := fn(p); err != nil {
			return i + 1, err
		}
		next := int(hostOrder.Uint32(h[tpNextOff:]))
		if next == 0 && i < num-1 {
			return i + 1, errBadBlock
		}
		off += next
	}
	return num, nil
}

// frame fills p from the packet whose tpacket3_hdr starts h, writing a
// VLAN tag and the cooked header in front of it as needed. It reports
// false for a header that points outside h.
func (f *framing) frame(h []byte, p *Packet) bool {
	mac := int(hostOrder.Uint16(h[tpMacOff:]))
	snap := int(hostOrder.Uint32(h[tpSnaplenOff:]))
	wire := int(hostOrder.Uint32(h[tpLenOff:]))
	status := hostOrder.Uint32(h[tpStatusOff:])
	if mac < sllOff+sllLen+f.reserve() || snap > len(h)-mac {
		return false
	}
	start, end := mac, mac+snap
	sll := h[sllOff : sllOff+sllLen]
	proto := netOrder.Uint16(sll[sllProtocolOff:])
	if status&statusVlanValid != 0 {
		tpid := uint16(etherTypeVLAN)
		if status&statusVlanTPIDValid != 0 {
			tpid = uint16(hostOrder.Uint32(h[tpVlanTPIDOff:]))
		}
		tci := uint16(hostOrder.Uint32(h[tpVlanTCIOff:]))
		if f.cooked {
			// SLL2 header (protocol = TPID), tag, inner protocol, packet.
			start -= vlanTagLen
			netOrder.PutUint16(h[start:], tci)
			netOrder.PutUint16(h[start+2:], proto)
			proto = tpid
			wire += vlanTagLen
		} else if snap >= 12 {
			// Put the tag back between the MAC addresses and the type.
			copy(h[mac-vlanTagLen:], h[mac:mac+12])
			start -= vlanTagLen
			netOrder.PutUint16(h[start+12:], tpid)
			netOrder.PutUint16(h[start+14:], tci)
			wire += vlanTagLen
		}
	}
	if f.cooked {
		start -= sll2HeaderLen
		writeSLL2(h[start:start+sll2HeaderLen], sll, proto)
		wire += sll2HeaderLen
	}
	p.Data = h[start:min(end, start+f.snaplen)]
	p.Length = wire
	p.Timestamp = time.Unix(int64(hostOrder.Uint32(h[tpSecOff:])), int64(hostOrder.Uint32(h[tpNsecOff:])))
	p.IfIndex = int(int32(hostOrder.Uint32(sll[sllIfindexOff:])))
	p.Outgoing = sll[sllPkttypeOff] == pktOutgoing
	return true
}

// writeSLL2 writes a LINKTYPE_LINUX_SLL2 header from a sockaddr_ll.
func writeSLL2(dst, sll []byte, proto uint16) {
	netOrder.PutUint16(dst[0:], proto)
	netOrder.PutUint16(dst[2:], 0)
	netOrder.PutUint32(dst[4:], hostOrder.Uint32(sll[sllIfindexOff:]))
	netOrder.PutUint16(dst[8:], hostOrder.Uint16(sll[sllHatypeOff:]))
	dst[10] = sll[sllPkttypeOff]
	halen := min(sll[sllHalenOff], 8)
	dst[11] = halen
	copy(dst[12:20], sll[sllAddrOff:sllAddrOff+8])
	clear(dst[12+halen : 20])
}
