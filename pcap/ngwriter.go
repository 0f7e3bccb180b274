package pcap

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"time"
)

// pcapng block types and option codes.
const (
	blockSHB = 0x0A0D0D0A // section header
	blockIDB = 0x00000001 // interface description
	blockPB  = 0x00000002 // packet (obsolete)
	blockSPB = 0x00000003 // simple packet
	blockEPB = 0x00000006 // enhanced packet

	byteOrderMagic = 0x1A2B3C4D

	optEnd       = 0
	optUserAppl  = 4 // shb_userappl
	optIfName    = 2 // if_name
	optTSResol   = 9 // if_tsresol
	optTSOffset  = 14
	optEPBFlags  = 2 // epb_flags (also the obsolete pack_flags)
	epbFixedLen  = 28
	epbTailMax   = 16 // epb_flags option, end of options, trailing length
	maxOptionLen = 0xffff
)

// NgWriter writes pcapng: a section header, one interface description
// (link type, snaplen, if_name, if_tsresol=9 so timestamps are in
// nanoseconds) and an enhanced packet block per packet, little-endian. It
// buffers: call Flush to push what was written to the underlying
// io.Writer. An NgWriter is not safe for concurrent use (a File is).
type NgWriter struct {
	bw      *bufio.Writer
	snaplen int
	hdr     [epbFixedLen]byte
	tail    [epbTailMax]byte
}

// NewNgWriter writes a pcapng section header and interface description for
// link, snaplen (DefaultSnaplen when 0) and ifName (left out when empty) to
// w, flushes them, and returns an NgWriter for the packets.
func NewNgWriter(w io.Writer, link LinkType, snaplen int, ifName string) (*NgWriter, error) {
	snaplen, err := checkSnaplen(snaplen)
	if err != nil {
		return nil, err
	}
	if err := checkNg(link, ifName); err != nil {
		return nil, err
	}
	nw := &NgWriter{bw: bufio.NewWriterSize(w, writeBufferLen), snaplen: snaplen}
	head := appendSHB(nil)
	head = appendIDB(head, link, snaplen, ifName)
	if _, err := nw.bw.Write(head); err != nil {
		return nil, fmt.Errorf("pcap: write section header: %w", err)
	}
	return nw, nw.Flush()
}

// checkNg rejects what an interface description block cannot hold.
func checkNg(link LinkType, ifName string) error {
	if link > math.MaxUint16 {
		return fmt.Errorf("pcap: link type %d does not fit pcapng's 16 bits", uint32(link))
	}
	if len(ifName) > maxOptionLen {
		return fmt.Errorf("pcap: interface name of %d bytes is too long", len(ifName))
	}
	return nil
}

// appendBlock appends a block of type typ with the given body (a multiple
// of four bytes long) and its two length fields.
func appendBlock(b []byte, typ uint32, body []byte) []byte {
	total := uint32(12 + len(body))
	b = le.AppendUint32(b, typ)
	b = le.AppendUint32(b, total)
	b = append(b, body...)
	return le.AppendUint32(b, total)
}

// appendOption appends one option with its value padded to four bytes.
func appendOption(b []byte, code uint16, val []byte) []byte {
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	return append(b, make([]byte, pad4(len(val))-len(val))...)
}

func appendSHB(b []byte) []byte {
	body := le.AppendUint32(nil, byteOrderMagic)
	body = le.AppendUint16(body, 1) // version 1.0
	body = le.AppendUint16(body, 0)
	body = le.AppendUint64(body, math.MaxUint64) // section length unknown (-1)
	body = appendOption(body, optUserAppl, []byte("rawnet"))
	body = appendOption(body, optEnd, nil)
	return appendBlock(b, blockSHB, body)
}

func appendIDB(b []byte, link LinkType, snaplen int, ifName string) []byte {
	body := le.AppendUint16(nil, uint16(link))
	body = le.AppendUint16(body, 0)
	body = le.AppendUint32(body, uint32(snaplen))
	if ifName != "" {
		body = appendOption(body, optIfName, []byte(ifName))
	}
	body = appendOption(body, optTSResol, []byte{9}) // 10^-9 s
	body = appendOption(body, optEnd, nil)
	return appendBlock(b, blockIDB, body)
}

func pad4(n int) int { return (n + 3) &^ 3 }

var zeros [4]byte

// WritePacket writes one packet captured at ts with no direction: its
// original length is len(data) and at most snaplen bytes are stored. It
// allocates nothing. ts must lie between 1970 and 2554.
func (w *NgWriter) WritePacket(ts time.Time, data []byte) error {
	return w.WritePacketDirection(ts, data, DirUnknown)
}

// WritePacketDirection is WritePacket recording dir in the epb_flags option
// (left out for DirUnknown), which Wireshark shows as the packet's
// direction.
func (w *NgWriter) WritePacketDirection(ts time.Time, data []byte, dir Direction) error {
	return w.WriteCaptured(ts, data, len(data), dir)
}

// appendTail appends the EPB options for dir, if any.
func (w *NgWriter) appendTail(b []byte, dir Direction) []byte {
	if dir == DirUnknown {
		return b
	}
	b = le.AppendUint16(b, optEPBFlags)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, uint32(dir))
	return le.AppendUint32(b, optEnd) // code 0, length 0
}

func (w *NgWriter) write(data, tail []byte) error {
	for _, part := range [][]byte{w.hdr[:], data, zeros[:pad4(len(data))-len(data)], tail} {
		if _, err := w.bw.Write(part); err != nil {
			return writeError(err)
		}
	}
	return nil
}

func (w *NgWriter) writePacket(ts time.Time, data []byte, length int, dir Direction) error {
	return w.WriteCaptured(ts, data, length, dir)
}

// Flush writes buffered packets to the underlying io.Writer.
func (w *NgWriter) Flush() error {
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("pcap: flush: %w", err)
	}
	return nil
}

// nanoTicks is ts in nanoseconds since 1970 as an unsigned 64-bit count.
func nanoTicks(ts time.Time) (uint64, bool) {
	sec := ts.Unix()
	if sec < 0 || uint64(sec) > (math.MaxUint64-999_999_999)/1_000_000_000 {
		return 0, false
	}
	return uint64(sec)*1e9 + uint64(ts.Nanosecond()), true
}
