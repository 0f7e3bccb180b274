package icmpmsg

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/rawnet/rawnet/internal/inet"
)

const (
	// HeaderLen is the length of the header every ICMP and ICMPv6
	// message starts with: type, code, checksum and 32 bits that depend
	// on the type (identifier and sequence, MTU, pointer, unused).
	HeaderLen = 8
	// ProbeLen is the length of the probe fields rawnet writes at the
	// start of an echo payload (Probe).
	ProbeLen = 16
)

// ErrShort reports a message too short for the header it should hold.
var ErrShort = errors.New("icmpmsg: message too short")

// Echo is the header of an ICMP or ICMPv6 echo request or reply (and of
// the ICMPv4 queries, which share its layout).
type Echo struct {
	Type uint8
	Code uint8
	ID   uint16
	Seq  uint16
}

// Probe is what rawnet writes at the start of an echo payload so that a
// reply (or the datagram an ICMP error quotes) can be tied to exactly one
// probe of one run: a random per-run cookie, the target's index and the
// full 32-bit sequence number.
type Probe struct {
	Cookie uint64
	Target uint32
	Seq    uint32
}

// MarshalEcho writes an echo message (header, probe fields, then payload
// filled with pattern) into b, which must be exactly the message length,
// and returns b. The probe fields are written only when the payload has
// room for them (len(b) >= HeaderLen+ProbeLen). For ICMPv4 the checksum
// is computed; for ICMPv6 it is left zero, because the kernel computes it
// for ICMPv6 sockets (it covers a pseudo header that user space may not
// know; Checksum6 computes it where it must be known).
func MarshalEcho(b []byte, e Echo, p Probe, pattern []byte) []byte {
	if len(b) < HeaderLen {
		panic("icmpmsg: MarshalEcho buffer shorter than the echo header")
	}
	putEchoHeader(b, e)
	payload := b[HeaderLen:]
	fillFrom := 0
	if len(payload) >= ProbeLen {
		putProbe(payload, p)
		fillFrom = ProbeLen
	}
	fillPattern(payload[fillFrom:], pattern)
	if e.Type == TypeEchoRequest4 || e.Type == TypeEchoReply4 {
		binary.BigEndian.PutUint16(b[2:], Checksum(b, 0))
	}
	return b
}

// putEchoHeader writes e with a zero checksum.
func putEchoHeader(b []byte, e Echo) {
	b[0], b[1] = e.Type, e.Code
	b[2], b[3] = 0, 0
	binary.BigEndian.PutUint16(b[4:], e.ID)
	binary.BigEndian.PutUint16(b[6:], e.Seq)
}

func putProbe(b []byte, p Probe) {
	binary.BigEndian.PutUint64(b[0:], p.Cookie)
	binary.BigEndian.PutUint32(b[8:], p.Target)
	binary.BigEndian.PutUint32(b[12:], p.Seq)
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
// probe fields. ok reports whether the probe fields were present. It does
// not look at the type: callers classify first.
func ParseEcho(b []byte) (e Echo, p Probe, ok bool, err error) {
	if len(b) < HeaderLen {
		return e, p, false, ErrShort
	}
	e = Echo{Type: b[0], Code: b[1], ID: binary.BigEndian.Uint16(b[4:]), Seq: binary.BigEndian.Uint16(b[6:])}
	payload := b[HeaderLen:]
	if len(payload) < ProbeLen {
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

// Checksum6 returns the checksum of ICMPv6 message msg sent from src to
// dst (its pseudo header included); msg's own checksum field must be zero.
func Checksum6(msg []byte, src, dst netip.Addr) uint16 {
	return Checksum(msg, inet.PseudoSum(src, dst, inet.ProtoICMPv6, len(msg)))
}

// EchoTemplate marshals a run of echo messages that differ only in their
// header and probe fields: the payload after the probe fields is written,
// and its share of the checksum summed, once.
type EchoTemplate struct {
	buf     []byte
	pattern []byte
	tailSum uint32 // one's complement sum of buf[HeaderLen+ProbeLen:]
}

// NewEchoTemplate prepares echo messages with size payload bytes filled
// with pattern after the probe fields.
func NewEchoTemplate(size int, pattern []byte) *EchoTemplate {
	return EchoTemplateIn(make([]byte, HeaderLen+size), pattern)
}

// EchoTemplateIn is NewEchoTemplate over the caller's buffer b, whose
// length is the message length (at least HeaderLen): Marshal writes into
// b and returns it.
func EchoTemplateIn(b []byte, pattern []byte) *EchoTemplate {
	t := &EchoTemplate{buf: b, pattern: pattern}
	MarshalEcho(t.buf, Echo{}, Probe{}, pattern)
	if len(b) >= HeaderLen+ProbeLen {
		t.tailSum = inet.Sum(t.buf[HeaderLen+ProbeLen:], 0)
	}
	return t
}

// Len is the length of the messages the template marshals.
func (t *EchoTemplate) Len() int { return len(t.buf) }

// Marshal writes e and p into the template and returns the message, which
// stays valid until the next call; it is the same as MarshalEcho with the
// template's payload.
func (t *EchoTemplate) Marshal(e Echo, p Probe) []byte {
	b := t.buf
	if len(b) < HeaderLen+ProbeLen {
		return MarshalEcho(b, e, p, t.pattern) // too short for probe fields
	}
	putEchoHeader(b, e)
	putProbe(b[HeaderLen:], p)
	if e.Type == TypeEchoRequest4 || e.Type == TypeEchoReply4 {
		binary.BigEndian.PutUint16(b[2:], inet.Checksum(b[:HeaderLen+ProbeLen], t.tailSum))
	}
	return b
}
