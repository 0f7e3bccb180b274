package udp

import (
	"encoding/binary"
	"errors"
	"time"
)

// The probe datagram. Every field is big-endian:
//
//	off len field
//	  0   4 magic "rnU1"
//	  4   1 version (1)
//	  5   1 flags: bit 0 set by a reflector that filled the server fields
//	  6   2 header length (56): data after it is padding, never read
//	  8   8 session cookie, random per probe run
//	 16   8 sequence number, from 0
//	 24   8 client send time, unix nanoseconds (client clock)
//	 32   8 server receive time, unix nanoseconds (server clock)  | zero
//	 40   8 server send time, unix nanoseconds (server clock)     | unless
//	 48   4 datagrams the server has received of this session     | reflected
//	 52   4 reserved, zero
//
// A plain RFC 862 echo server returns the datagram unchanged: the client
// still finds its cookie, sequence and send time in it. A reflector
// (Server in ModeReflect) fills the server fields in place and sets the
// flag, in the manner of STAMP / TWAMP-light, so the client can take the
// server's own time out of the round trip.
const (
	HeaderLen = 56
	Version   = 1
	magic     = 0x726e5531 // "rnU1"

	flagReflected = 1
)

// Header is the decoded probe header.
type Header struct {
	Cookie    uint64
	Seq       uint64
	Sent      int64 // client send time, unix ns
	Reflected bool  // the server fields below are set
	ServerRx  int64 // server receive time, unix ns
	ServerTx  int64 // server send time, unix ns
	ServerN   uint32
}

// Errors of Parse; they wrap ErrMalformed.
var (
	ErrMalformed  = errors.New("udp: malformed probe datagram")
	errShort      = wireError("shorter than the 56-byte header")
	errMagic      = wireError("no rawnet magic")
	errVersion    = wireError("unknown version")
	errHeaderSize = wireError("bad header length")
)

type wireError string

func (e wireError) Error() string        { return ErrMalformed.Error() + ": " + string(e) }
func (e wireError) Is(target error) bool { return target == ErrMalformed }

// ClaimsProbe reports whether b starts with the rawnet magic: a datagram
// that claims to be a probe, so that one Parse refuses is malformed rather
// than some other program's (plain) datagram.
func ClaimsProbe(b []byte) bool {
	return len(b) >= 4 && binary.BigEndian.Uint32(b) == magic
}

// Put writes h as a fresh probe header (not reflected) into b, which must
// hold at least HeaderLen bytes. Bytes after the header are left alone.
func Put(b []byte, h *Header) {
	_ = b[HeaderLen-1]
	binary.BigEndian.PutUint32(b[0:], magic)
	b[4], b[5] = Version, 0
	binary.BigEndian.PutUint16(b[6:], HeaderLen)
	binary.BigEndian.PutUint64(b[8:], h.Cookie)
	binary.BigEndian.PutUint64(b[16:], h.Seq)
	binary.BigEndian.PutUint64(b[24:], uint64(h.Sent))
	clear(b[32:HeaderLen])
}

// PutSeq rewrites only the sequence number and send time of a header that
// Put wrote before: the send path's per-datagram work.
func PutSeq(b []byte, seq uint64, sent int64) {
	_ = b[HeaderLen-1]
	binary.BigEndian.PutUint64(b[16:], seq)
	binary.BigEndian.PutUint64(b[24:], uint64(sent))
}

// Parse decodes the probe header at the start of b.
func Parse(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderLen {
		return h, errShort
	}
	if binary.BigEndian.Uint32(b[0:]) != magic {
		return h, errMagic
	}
	if b[4] != Version {
		return h, errVersion
	}
	if binary.BigEndian.Uint16(b[6:]) != HeaderLen {
		return h, errHeaderSize
	}
	h.Cookie = binary.BigEndian.Uint64(b[8:])
	h.Seq = binary.BigEndian.Uint64(b[16:])
	h.Sent = int64(binary.BigEndian.Uint64(b[24:]))
	if b[5]&flagReflected != 0 {
		h.Reflected = true
		h.ServerRx = int64(binary.BigEndian.Uint64(b[32:]))
		h.ServerTx = int64(binary.BigEndian.Uint64(b[40:]))
		h.ServerN = binary.BigEndian.Uint32(b[48:])
	}
	return h, nil
}

// Reflect fills the server fields of the probe header in b in place: the
// receive and send times and the number of datagrams of this session the
// server has received. b must hold a header that Parse accepted.
func Reflect(b []byte, rx, tx time.Time, n uint32) {
	_ = b[HeaderLen-1]
	b[5] |= flagReflected
	binary.BigEndian.PutUint64(b[32:], uint64(rx.UnixNano()))
	binary.BigEndian.PutUint64(b[40:], uint64(tx.UnixNano()))
	binary.BigEndian.PutUint32(b[48:], n)
}

// StampTx rewrites only the server send time of a reflected header, for a
// reflector that learns its send time after Reflect.
func StampTx(b []byte, tx time.Time) {
	binary.BigEndian.PutUint64(b[40:], uint64(tx.UnixNano()))
}
