package icmp

import (
	"encoding/binary"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/inet"
)

// UDPProbe is the UDP kind (ping -P udp): a datagram per probe from the
// conn's port (Conn.ID, a ProtoUDP conn) to Port, its payload as an echo
// request's (the run's cookie, the target index and the 32-bit sequence
// in the first 16 bytes, then the pattern). A UDP answer from Port (the
// port is open) and an ICMP port unreachable (closed) are replies; other
// ICMP errors about the datagram are errors; silence is loss. An answer
// or a quote that holds the probe fields names its probe exactly; one
// that does not (a service's own answer, a quote cut short) is taken for
// the latest probe sent to the address it names. The kernel hands the
// conn only datagrams and errors for its own port, which no other run
// shares.
type UDPProbe struct {
	Port uint16
}

// NewUDPProbe returns the UDP kind for destination port port.
func NewUDPProbe(port uint16) *UDPProbe { return &UDPProbe{Port: port} }

func (k *UDPProbe) Proto(v6 bool) uint8 { return protoUDP }

func (k *UDPProbe) Len(size int) int { return udpHeaderLen + size }

func (k *UDPProbe) Prepare(b []byte, size int, pattern []byte) {
	clear(b[:udpHeaderLen])
	binary.BigEndian.PutUint16(b[2:], k.Port)
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)))
	payload := b[udpHeaderLen:]
	from := 0
	if len(payload) >= icmpmsg.ProbeLen {
		from = icmpmsg.ProbeLen
	}
	fill(payload[from:], pattern)
}

// Build writes the source port, the probe fields and the checksum (which
// the socket computes again; the tap records this one).
func (k *UDPProbe) Build(b []byte, pr *Probe) []byte {
	binary.BigEndian.PutUint16(b[0:], pr.ID)
	if p := b[udpHeaderLen:]; len(p) >= icmpmsg.ProbeLen {
		binary.BigEndian.PutUint64(p[0:], pr.Cookie)
		binary.BigEndian.PutUint32(p[8:], pr.Target)
		binary.BigEndian.PutUint32(p[12:], pr.Seq)
	}
	b[6], b[7] = 0, 0
	sum := inet.Checksum(b, inet.PseudoSum(pr.Src, pr.Dst, protoUDP, len(b)))
	if sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(b[6:], sum)
	return b
}

// Match takes datagrams from Port and the errors the socket queues about
// the run's datagrams (Packet.Data is then the datagram).
func (k *UDPProbe) Match(c Conn, pkt *Packet, cookie uint64, m *Match) bool {
	b := pkt.Data
	if len(b) < udpHeaderLen {
		return false
	}
	if pkt.QueuedError {
		if binary.BigEndian.Uint16(b[2:]) != k.Port {
			return false
		}
		*m = Match{Kind: EventError, Peer: pkt.OrigDst, ICMPType: pkt.ErrType, ICMPCode: pkt.ErrCode, Info: pkt.ErrInfo}
		if isPortUnreachable(c.V6(), pkt.ErrType, pkt.ErrCode) {
			m.Kind, m.Closed = EventReply, true
		}
	} else {
		if binary.BigEndian.Uint16(b[0:]) != k.Port {
			return false
		}
		*m = Match{Kind: EventReply, Peer: pkt.From}
	}
	m.By = ByLatest
	if p := b[udpHeaderLen:]; len(p) >= icmpmsg.ProbeLen && binary.BigEndian.Uint64(p) == cookie {
		m.By, m.Target, m.Seq = ByProbe, binary.BigEndian.Uint32(p[8:]), binary.BigEndian.Uint32(p[12:])
	}
	return true
}
