package icmpmsg

import (
	"encoding/binary"
	"errors"
)

// ErrType reports a message of another type than the parser reads.
var ErrType = errors.New("icmpmsg: wrong message type")

const (
	// TimestampLen is the length of an ICMPv4 timestamp request or reply.
	TimestampLen = HeaderLen + 12
	// AddrMaskLen is the length of an ICMPv4 address mask request or reply.
	AddrMaskLen = HeaderLen + 4
)

// Timestamp is an ICMPv4 timestamp request or reply (RFC 792): the
// times are milliseconds since midnight UT, or any value with the high
// bit set when the sender has no such clock.
type Timestamp struct {
	Type      uint8 // TypeTimestampRequest4 or TypeTimestampReply4
	Code      uint8
	ID, Seq   uint16
	Originate uint32 // when the sender last touched the request
	Receive   uint32 // when the echoer first touched it
	Transmit  uint32 // when the echoer last touched the reply
}

// ParseTimestamp parses an ICMPv4 timestamp request or reply. It does not
// verify the checksum (a capture of locally sent packets may hold partial
// ones).
func ParseTimestamp(b []byte) (Timestamp, error) {
	if len(b) < TimestampLen {
		return Timestamp{}, ErrShort
	}
	if b[0] != TypeTimestampRequest4 && b[0] != TypeTimestampReply4 {
		return Timestamp{}, ErrType
	}
	return Timestamp{
		Type: b[0], Code: b[1],
		ID: binary.BigEndian.Uint16(b[4:]), Seq: binary.BigEndian.Uint16(b[6:]),
		Originate: binary.BigEndian.Uint32(b[8:]),
		Receive:   binary.BigEndian.Uint32(b[12:]),
		Transmit:  binary.BigEndian.Uint32(b[16:]),
	}, nil
}

// MarshalTimestamp writes m with its checksum into b, which must hold
// TimestampLen bytes, and returns b[:TimestampLen].
func MarshalTimestamp(b []byte, m Timestamp) []byte {
	b = b[:TimestampLen]
	putEchoHeader(b, Echo{Type: m.Type, Code: m.Code, ID: m.ID, Seq: m.Seq})
	binary.BigEndian.PutUint32(b[8:], m.Originate)
	binary.BigEndian.PutUint32(b[12:], m.Receive)
	binary.BigEndian.PutUint32(b[16:], m.Transmit)
	binary.BigEndian.PutUint16(b[2:], Checksum(b, 0))
	return b
}

// AddrMask is an ICMPv4 address mask request or reply (RFC 950).
type AddrMask struct {
	Type    uint8 // TypeAddrMaskRequest4 or TypeAddrMaskReply4
	Code    uint8
	ID, Seq uint16
	Mask    [4]byte // zero in a request
}

// ParseAddrMask parses an ICMPv4 address mask request or reply.
func ParseAddrMask(b []byte) (AddrMask, error) {
	if len(b) < AddrMaskLen {
		return AddrMask{}, ErrShort
	}
	if b[0] != TypeAddrMaskRequest4 && b[0] != TypeAddrMaskReply4 {
		return AddrMask{}, ErrType
	}
	return AddrMask{Type: b[0], Code: b[1], ID: binary.BigEndian.Uint16(b[4:]), Seq: binary.BigEndian.Uint16(b[6:]),
		Mask: [4]byte(b[8:12])}, nil
}

// MarshalAddrMask writes m with its checksum into b, which must hold
// AddrMaskLen bytes, and returns b[:AddrMaskLen].
func MarshalAddrMask(b []byte, m AddrMask) []byte {
	b = b[:AddrMaskLen]
	putEchoHeader(b, Echo{Type: m.Type, Code: m.Code, ID: m.ID, Seq: m.Seq})
	copy(b[8:], m.Mask[:])
	binary.BigEndian.PutUint16(b[2:], Checksum(b, 0))
	return b
}
