package icmp

import (
	"encoding/binary"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/inet"
)

// tcpOptions is the one option every SYN carries, MSS 1460, as nmap's
// SYN probes do: a SYN without options looks crafted to some firewalls.
var tcpOptions = [4]byte{2, 4, 0x05, 0xb4}

const synHeaderLen = tcpHeaderLen + len(tcpOptions)

// TCPProbe is the TCP SYN kind (ping -P tcp): a SYN per probe from the
// conn's port (Conn.ID, a ProtoTCP conn) to Port. A SYN-ACK (open port)
// and an RST (closed) are both replies; an ICMP error about the SYN is an
// error, as for ICMP ping. The probe's identity rides in the sequence
// number, as trace -P tcp carries it: its high half is the run's cookie,
// its low half the probe's sequence (answers acknowledge it plus one,
// errors quote it), and the target is the answering address. Together
// with the source port, which the conn holds for the run, concurrent
// runs, traces and exporters never take each other's answers.
type TCPProbe struct {
	Port uint16
	size int
}

// NewTCPProbe returns the TCP SYN kind for destination port port.
func NewTCPProbe(port uint16) *TCPProbe { return &TCPProbe{Port: port} }

func (k *TCPProbe) Proto(v6 bool) uint8 { return protoTCP }

func (k *TCPProbe) Len(size int) int { return synHeaderLen + size }

// Prepare writes the header fields every SYN shares and the payload (none
// by default; -s adds data, as hping3 -d does).
func (k *TCPProbe) Prepare(b []byte, size int, pattern []byte) {
	k.size = size
	clear(b[:synHeaderLen])
	binary.BigEndian.PutUint16(b[2:], k.Port)
	b[12] = byte(synHeaderLen/4) << 4
	b[13] = TCPSyn
	binary.BigEndian.PutUint16(b[14:], 64240) // the window Linux offers
	copy(b[tcpHeaderLen:], tcpOptions[:])
	fill(b[synHeaderLen:], pattern)
}

func (k *TCPProbe) Build(b []byte, pr *Probe) []byte {
	binary.BigEndian.PutUint16(b[0:], pr.ID)
	binary.BigEndian.PutUint32(b[4:], uint32(tcpCookie(pr.Cookie))<<16|pr.Seq&0xffff)
	b[16], b[17] = 0, 0
	binary.BigEndian.PutUint16(b[16:], inet.Checksum(b, inet.PseudoSum(pr.Src, pr.Dst, protoTCP, len(b))))
	return b
}

// tcpCookie is the 16 bits of the run's cookie a SYN's sequence number
// carries.
func tcpCookie(cookie uint64) uint16 { return uint16(cookie >> 48) }

// Match takes SYN-ACKs and RSTs from Port acknowledging one of the run's
// SYNs, and ICMP errors (from the raw socket's error queue) quoting one.
func (k *TCPProbe) Match(c Conn, pkt *Packet, cookie uint64, m *Match) bool {
	b := pkt.Data
	ck := tcpCookie(cookie)
	if pkt.QueuedError { // b is our SYN as the error quotes it (8 bytes or more)
		if len(b) < 8 || binary.BigEndian.Uint16(b[0:]) != c.ID() || binary.BigEndian.Uint16(b[2:]) != k.Port {
			return false
		}
		seq := binary.BigEndian.Uint32(b[4:])
		if uint16(seq>>16) != ck {
			return false
		}
		*m = Match{Kind: EventError, By: BySeq16, Seq: seq & 0xffff, Peer: pkt.OrigDst,
			ICMPType: pkt.ErrType, ICMPCode: pkt.ErrCode, Info: pkt.ErrInfo}
		return true
	}
	if len(b) < tcpHeaderLen || binary.BigEndian.Uint16(b[0:]) != k.Port || binary.BigEndian.Uint16(b[2:]) != c.ID() {
		return false
	}
	flags := b[13]
	if flags&TCPAck == 0 || flags&(TCPSyn|TCPRst) == 0 {
		return false
	}
	seq := binary.BigEndian.Uint32(b[8:]) - 1 // SYN-ACK and RST acknowledge the SYN
	if flags&TCPRst != 0 {
		seq -= uint32(k.size) // an RST acknowledges the SYN's data too (RFC 9293: SEG.SEQ+SEG.LEN)
	}
	if uint16(seq>>16) != ck {
		return false
	}
	*m = Match{Kind: EventReply, By: BySeq16, Seq: seq & 0xffff, Peer: pkt.From, Flags: flags & 0x3f, Closed: flags&TCPRst != 0}
	return true
}

// fill repeats pattern over b (zeros when it is empty).
func fill(b, pattern []byte) {
	if len(pattern) == 0 {
		clear(b)
		return
	}
	for i := 0; i < len(b); i += copy(b[i:], pattern) {
	}
}

// isPortUnreachable reports an ICMP or ICMPv6 port unreachable.
func isPortUnreachable(v6 bool, typ, code uint8) bool {
	if v6 {
		return typ == icmpmsg.TypeDestUnreachable6 && code == 4
	}
	return typ == icmpmsg.TypeDestUnreachable4 && code == 3
}
