package icmp

import (
	"net/netip"

	"github.com/rawnet/rawnet/internal/arp"
	"github.com/rawnet/rawnet/internal/ndp"
)

// LinkMode says what the link-layer kinds (ARP, NDP) send.
type LinkMode uint8

const (
	// LinkRequest asks for the target's link-layer address: an ARP
	// who-has from the interface's address, or a neighbour solicitation
	// to the target's solicited-node multicast address. The answer is a
	// reply.
	LinkRequest LinkMode = iota
	// LinkDAD is duplicate address detection: an RFC 5227 ARP probe
	// (sender 0.0.0.0) or an RFC 4862 solicitation from ::, which teach
	// no neighbour anything; any answer means the address is in use.
	LinkDAD
	// LinkUnsolicited announces the target address (one of the
	// interface's own) at the interface's MAC: a gratuitous ARP (RFC 5227
	// announcement) or an unsolicited neighbour advertisement to all
	// nodes. Nothing answers it.
	LinkUnsolicited
)

// ARP is the kind of ping -P arp: ARP requests broadcast on the link,
// matched to the replies addressed to this interface's MAC by the
// replying address (ARP carries no identifier, so a reply answers the
// latest request to its sender, as arping matches them; another program
// asking for the same address at the same moment on the same interface,
// the kernel's own neighbour resolution included, can be answered by
// the same reply). Probes are whole Ethernet frames (see LinkConn).
type ARP struct {
	mac  arp.MAC
	mode LinkMode
}

// NewARP returns the ARP kind for the interface whose address is mac.
func NewARP(mac [6]byte, mode LinkMode) *ARP { return &ARP{mac: mac, mode: mode} }

// Proto is 0: frames go to the tap whole.
func (k *ARP) Proto(bool) uint8            { return 0 }
func (k *ARP) Len(int) int                 { return arp.FrameLen }
func (k *ARP) Prepare([]byte, int, []byte) {}
func (k *ARP) Build(b []byte, pr *Probe) []byte {
	return arp.AppendFrame(b[:0], arp.Broadcast, k.mac, k.packet(pr))
}

func (k *ARP) packet(pr *Probe) arp.Packet {
	switch k.mode {
	case LinkDAD:
		return arp.Probe(k.mac, pr.Dst)
	case LinkUnsolicited:
		return arp.Announcement(k.mac, pr.Dst)
	}
	return arp.Request(k.mac, pr.Src, pr.Dst)
}

// Match takes ARP replies to this interface's MAC; in DAD mode only those
// to a probe (target address 0.0.0.0, as a host that holds the address
// answers one).
func (k *ARP) Match(_ Conn, pkt *Packet, _ uint64, m *Match) bool {
	f, err := arp.Parse(pkt.Data)
	if err != nil || f.Op != arp.OpReply || f.TargetMAC != k.mac || k.mode == LinkUnsolicited {
		return false
	}
	if k.mode == LinkDAD && !f.TargetIP.IsUnspecified() {
		return false
	}
	*m = Match{Kind: EventReply, By: ByLatest, Peer: f.SenderIP, MAC: f.SenderMAC}
	return true
}

// NDP is the kind of ping -P ndp: neighbour solicitations, matched to the
// advertisements for their target address (by address, the latest
// probe, as for ARP). An advertisement must arrive with hop limit 255
// and a valid checksum (RFC 4861 7.1.2); in request mode it must be
// addressed to this interface, in DAD mode it goes to all nodes. The
// MAC reported is the advertisement's target link-layer address option,
// or the frame's source without one.
type NDP struct {
	mac  [6]byte
	mode LinkMode
}

// NewNDP returns the NDP kind for the interface whose address is mac.
func NewNDP(mac [6]byte, mode LinkMode) *NDP { return &NDP{mac: mac, mode: mode} }

// Proto is 0: frames go to the tap whole.
func (k *NDP) Proto(bool) uint8            { return 0 }
func (k *NDP) Len(int) int                 { return ndp.MaxFrameLen }
func (k *NDP) Prepare([]byte, int, []byte) {}

func (k *NDP) Build(b []byte, pr *Probe) []byte {
	switch k.mode {
	case LinkDAD:
		return ndp.AppendSolicit(b[:0], k.mac, netip.IPv6Unspecified(), pr.Dst)
	case LinkUnsolicited:
		return ndp.AppendAdvert(b[:0], k.mac, pr.Src, pr.Dst)
	}
	return ndp.AppendSolicit(b[:0], k.mac, pr.Src, pr.Dst)
}

func (k *NDP) Match(_ Conn, pkt *Packet, _ uint64, m *Match) bool {
	a, err := ndp.ParseAdvert(pkt.Data)
	if err != nil || k.mode == LinkUnsolicited {
		return false
	}
	if k.mode == LinkRequest && (a.EthDst != k.mac || a.Dst.IsMulticast() || !a.Solicited) {
		return false
	}
	if k.mode == LinkDAD && a.Dst != ndp.AllNodes {
		return false
	}
	*m = Match{Kind: EventReply, By: ByLatest, Peer: a.Target, MAC: a.MAC}
	return true
}
