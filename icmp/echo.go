package icmp

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/rawnet/rawnet/internal/inet"
)

// ICMP types rawnet sends and expects.
const (
	TypeEchoReply4       = 0
	TypeDestUnreachable4 = 3
	TypeSourceQuench4    = 4
	TypeRedirect4        = 5
	TypeEchoRequest4     = 8
	TypeTimeExceeded4    = 11
	TypeParamProblem4    = 12
	TypeDestUnreachable6 = 1
	TypePacketTooBig6    = 2
	TypeTimeExceeded6    = 3
	TypeParamProblem6    = 4
	TypeEchoRequest6     = 128
	TypeEchoReply6       = 129
	protoICMP4           = 1
	protoICMP6           = 58
	echoHeaderLen        = 8
	cookieLen            = 8
	probeHeaderLen       = cookieLen + 8 // cookie, target index, sequence
	ipv4HeaderLen        = 20
	ipv6HeaderLen        = 40
	maxPayload4          = 65535 - ipv4HeaderLen - echoHeaderLen
)

// ErrShort reports a message too short for the header it should hold.
var ErrShort = errors.New("icmp: message too short")

// Echo is the header of an ICMP or ICMPv6 echo request or reply.
type Echo struct {
	Type uint8
	Code uint8
	ID   uint16
	Seq  uint16
}

// Probe is what rawnet writes at the start of an echo payload so that a
// reply (or the datagram an ICMP error quotes) can be tied to exactly one
// probe of this run: a random per-run cookie, the target's index and the
// full 32-bit sequence number.
type Probe struct {
	Cookie uint64
	Target uint32
	Seq    uint32
}

// MarshalEcho writes an echo message (header, probe fields, then payload
// filled with pattern) into b, which must be exactly the message length,
// and returns b. The probe fields are written only when the payload has
// room for them (len(b) >= 8+16). For ICMPv4 the checksum is computed; for
// ICMPv6 it is left zero, because the kernel computes it for ICMPv6 sockets
// (it covers a pseudo header that user space may not know).
func MarshalEcho(b []byte, e Echo, p Probe, pattern []byte) []byte {
	if len(b) < echoHeaderLen {
		panic("icmp: MarshalEcho buffer shorter than the echo header")
	}
	b[0], b[1] = e.Type, e.Code
	b[2], b[3] = 0, 0
	binary.BigEndian.PutUint16(b[4:], e.ID)
	binary.BigEndian.PutUint16(b[6:], e.Seq)
	payload := b[echoHeaderLen:]
	fillFrom := 0
	if len(payload) >= probeHeaderLen {
		binary.BigEndian.PutUint64(payload[0:], p.Cookie)
		binary.BigEndian.PutUint32(payload[8:], p.Target)
		binary.BigEndian.PutUint32(payload[12:], p.Seq)
		fillFrom = probeHeaderLen
	}
	fillPattern(payload[fillFrom:], pattern)
	if e.Type == TypeEchoRequest4 || e.Type == TypeEchoReply4 {
		binary.BigEndian.PutUint16(b[2:], Checksum(b, 0))
	}
	return b
}

// fillPattern repeats pattern over b (zero bytes when pattern is empty).
func fillPattern(b, pattern []byte) {
	if len(pattern) == 0 {
		clear(b)
		return
	}
	for i := 0; i < len(b); i += copy(b[i:], pattern) {
	}
}

// ParseEcho reads an echo header and, when the payload holds them, the
// probe fields. ok reports whether the probe fields were present.
func ParseEcho(b []byte) (e Echo, p Probe, ok bool, err error) {
	if len(b) < echoHeaderLen {
		return e, p, false, ErrShort
	}
	e = Echo{Type: b[0], Code: b[1], ID: binary.BigEndian.Uint16(b[4:]), Seq: binary.BigEndian.Uint16(b[6:])}
	payload := b[echoHeaderLen:]
	if len(payload) < probeHeaderLen {
		return e, p, false, nil
	}
	p = Probe{
		Cookie: binary.BigEndian.Uint64(payload[0:]),
		Target: binary.BigEndian.Uint32(payload[8:]),
		Seq:    binary.BigEndian.Uint32(payload[12:]),
	}
	return e, p, true, nil
}

// Checksum returns the Internet checksum (RFC 1071) of b, starting from a
// partial sum (for pseudo headers).
func Checksum(b []byte, initial uint32) uint16 {
	return inet.Checksum(b, initial)
}

// EchoChecksum6 returns the ICMPv6 checksum of msg sent from src to dst.
func EchoChecksum6(msg []byte, src, dst netip.Addr) uint16 {
	return Checksum(msg, inet.PseudoSum(src, dst, protoICMP6, len(msg)))
}

// echoTemplate marshals a run of echo messages that differ only in their
// header and probe fields: the payload after the probe fields is written,
// and its share of the checksum summed, once.
type echoTemplate struct {
	buf     []byte
	pattern []byte
	tailSum uint32 // one's complement sum of buf[echoHeaderLen+probeHeaderLen:]
}

func newEchoTemplate(size int, pattern []byte) *echoTemplate {
	t := &echoTemplate{buf: make([]byte, echoHeaderLen+size), pattern: pattern}
	MarshalEcho(t.buf, Echo{}, Probe{}, pattern)
	if size >= probeHeaderLen {
		t.tailSum = inet.Sum(t.buf[echoHeaderLen+probeHeaderLen:], 0)
	}
	return t
}

// marshal writes e and p into the template and returns the message; it
// is the same as MarshalEcho with the template's payload.
func (t *echoTemplate) marshal(e Echo, p Probe) []byte {
	b := t.buf
	if len(b) < echoHeaderLen+probeHeaderLen {
		return MarshalEcho(b, e, p, t.pattern) // too short for probe fields

	}
	b[0], b[1] = e.Type, e.Code
	b[2], b[3] = 0, 0
	binary.BigEndian.PutUint16(b[4:], e.ID)
	binary.BigEndian.PutUint16(b[6:], e.Seq)
	binary.BigEndian.PutUint64(b[8:], p.Cookie)
	binary.BigEndian.PutUint32(b[16:], p.Target)
	binary.BigEndian.PutUint32(b[20:], p.Seq)
	if e.Type == TypeEchoRequest4 || e.Type == TypeEchoReply4 {
		binary.BigEndian.PutUint16(b[2:], inet.Checksum(b[:echoHeaderLen+probeHeaderLen], t.tailSum))
	}
	return b
}
