// Package pcap writes and reads packet capture files in the two formats
// that tcpdump, tshark and Wireshark use: classic pcap (libpcap's format,
// written with nanosecond timestamps) and pcapng.
//
// Writers ([Writer], [NgWriter]) and [Reader] work on any io.Writer or
// io.Reader and allocate nothing per packet. [Create] opens a file for
// recording, safe for use from several goroutines, with a [tap.Func] hook
// that rawnet's engines call for every packet they send or receive.
//
// [tap.Func]: https://pkg.go.dev/github.com/rawnet/rawnet/tap#Func
package pcap

import (
	"errors"
	"fmt"
)

// LinkType says what the bytes of each packet start with (libpcap's
// LINKTYPE_ values, not the platform-specific DLT_ numbers).
type LinkType uint32

// Link types rawnet writes or expects to read.
const (
	Null      LinkType = 0   // BSD loopback: 4-byte address family in host order
	Ethernet  LinkType = 1   // Ethernet II frames
	Raw       LinkType = 101 // a bare IPv4 or IPv6 packet, told apart by the version nibble
	Loop      LinkType = 108 // OpenBSD loopback: 4-byte address family, big-endian
	LinuxSLL  LinkType = 113 // Linux "cooked" capture, version 1
	IPv4      LinkType = 228 // a bare IPv4 packet
	IPv6      LinkType = 229 // a bare IPv6 packet
	LinuxSLL2 LinkType = 276 // Linux "cooked" capture, version 2
)

var linkTypeNames = map[LinkType]string{
	Null: "null", Ethernet: "ethernet", Raw: "raw", Loop: "loop",
	LinuxSLL: "linux-sll", IPv4: "ipv4", IPv6: "ipv6", LinuxSLL2: "linux-sll2",
}

func (l LinkType) String() string {
	if s, ok := linkTypeNames[l]; ok {
		return s
	}
	return fmt.Sprintf("linktype-%d", uint32(l))
}

// Format is a capture file format.
type Format uint8

const (
	// FormatAuto, as an option to Create, picks the format from the file
	// name: pcapng for names ending in ".pcapng", classic pcap otherwise.
	FormatAuto Format = iota
	// FormatPcap is classic libpcap format.
	FormatPcap
	// FormatPcapng is pcapng.
	FormatPcapng
)

func (f Format) String() string {
	switch f {
	case FormatPcap:
		return "pcap"
	case FormatPcapng:
		return "pcapng"
	}
	return "auto"
}

// Direction is the direction of a packet as pcapng records it in the
// epb_flags option; classic pcap has no place for it.
type Direction uint8

// The values are those of the two low bits of epb_flags.
const (
	DirUnknown  Direction = 0
	DirInbound  Direction = 1
	DirOutbound Direction = 2
)

func (d Direction) String() string {
	switch d {
	case DirInbound:
		return "inbound"
	case DirOutbound:
		return "outbound"
	}
	return "unknown"
}

// DefaultSnaplen is the snapshot length used when 0 is given: tcpdump's
// default, larger than any packet on a real link.
const DefaultSnaplen = 262144

// MaxPacketLen is the largest captured packet length this package writes
// (as a snaplen) or reads. A larger length in a file is reported as
// corruption rather than allocated.
const MaxPacketLen = 16 << 20

var (
	// ErrTruncated is wrapped by read errors for a file that ends in the
	// middle of a header, record or block.
	ErrTruncated = errors.New("pcap: truncated file")
	// ErrCorrupt is wrapped by read errors for a file whose contents make no
	// sense: impossible lengths, unknown interfaces, bad block trailers.
	ErrCorrupt = errors.New("pcap: corrupt file")
	// ErrUnknownFormat is returned (wrapped) by NewReader for input that is
	// neither pcap nor pcapng.
	ErrUnknownFormat = errors.New("pcap: not a pcap or pcapng file")
	// ErrTimeRange is returned (wrapped) for a timestamp the format cannot
	// hold: before 1970, or after 2106 (pcap) or 2554 (pcapng).
	ErrTimeRange = errors.New("pcap: timestamp out of range")
	// ErrClosed is returned by the methods of a File that has been closed.
	ErrClosed = errors.New("pcap: file closed")
)

// ReadError is the error a Reader returns for a file it cannot read on.
type ReadError struct {
	// Packet is the 1-based number of the packet being read, as Wireshark
	// numbers frames; 0 for the file header.
	Packet int
	// Offset is the byte offset of the record or block at fault.
	Offset int64
	// Err says what is wrong; it wraps ErrTruncated or ErrCorrupt, or is
	// the underlying reader's error.
	Err error
}

func (e *ReadError) Error() string {
	if e.Packet == 0 {
		return fmt.Sprintf("pcap: file header at offset %d: %v", e.Offset, e.Err)
	}
	return fmt.Sprintf("pcap: packet %d at offset %d: %v", e.Packet, e.Offset, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// fault is a detailed message that wraps one of the sentinel errors
// without repeating its text.
type fault struct {
	kind error
	msg  string
}

func (f *fault) Error() string { return f.msg }
func (f *fault) Unwrap() error { return f.kind }

func truncated(what string, want, have int) error {
	return &fault{ErrTruncated, fmt.Sprintf("truncated %s: want %d bytes, have %d", what, want, have)}
}

func corrupt(format string, a ...any) error {
	return &fault{ErrCorrupt, fmt.Sprintf(format, a...)}
}
