package rawsock

import "encoding/binary"

// Htons converts a 16-bit value between host and network byte order, for
// the protocol fields of AF_PACKET sockets and their sockaddrs.
func Htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
