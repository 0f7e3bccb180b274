package pcap

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// Classic pcap constants.
const (
	magicMicro     = 0xa1b2c3d4
	magicNano      = 0xa1b23c4d
	fileHeaderLen  = 24
	recordHeadLen  = 16
	writeBufferLen = 64 << 10
)

// le is the byte order the writers use; readers accept both.
var le = binary.LittleEndian

// Writer writes classic pcap with nanosecond timestamps (magic 0xa1b23c4d),
// little-endian. It buffers: call Flush to push what was written to the
// underlying io.Writer. A Writer is not safe for concurrent use (a File is).
type Writer struct {
	bw      *bufio.Writer
	snaplen int
	hdr     [recordHeadLen]byte
}

// NewWriter writes a pcap file header for link and snaplen (DefaultSnaplen
// when snaplen is 0) to w, flushes it, and returns a Writer for the packets.
func NewWriter(w io.Writer, link LinkType, snaplen int) (*Writer, error) {
	snaplen, err := checkSnaplen(snaplen)
	if err != nil {
		return nil, err
	}
	pw := &Writer{bw: bufio.NewWriterSize(w, writeBufferLen), snaplen: snaplen}
	var h [fileHeaderLen]byte
	le.PutUint32(h[0:], magicNano)
	le.PutUint16(h[4:], 2) // version 2.4
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[16:], uint32(snaplen))
	le.PutUint32(h[20:], uint32(link))
	if _, err := pw.bw.Write(h[:]); err != nil {
		return nil, fmt.Errorf("pcap: write file header: %w", err)
	}
	return pw, pw.Flush()
}

// WritePacket writes one packet captured at ts: its original length is
// len(data) and at most snaplen bytes of it are stored. It allocates nothing.
// ts must lie between 1970 and 2106.
func (w *Writer) WritePacket(ts time.Time, data []byte) error {
	return w.WriteCaptured(ts, data, len(data))
}

func (w *Writer) writePacket(ts time.Time, data []byte, length int, _ Direction) error {
	return w.WriteCaptured(ts, data, length)
}

// Flush writes buffered packets to the underlying io.Writer.
func (w *Writer) Flush() error {
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("pcap: flush: %w", err)
	}
	return nil
}

func checkSnaplen(snaplen int) (int, error) {
	switch {
	case snaplen == 0:
		return DefaultSnaplen, nil
	case snaplen < 0 || snaplen > MaxPacketLen:
		return 0, fmt.Errorf("pcap: snaplen %d out of range 1..%d (0 for the default %d)",
			snaplen, MaxPacketLen, DefaultSnaplen)
	}
	return snaplen, nil
}

func timeRangeError(ts time.Time) error {
	return fmt.Errorf("%w: %s", ErrTimeRange, ts.UTC().Format(time.RFC3339Nano))
}

func writeError(err error) error {
	return fmt.Errorf("pcap: write packet: %w", err)
}
