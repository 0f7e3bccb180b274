package pcap

import (
	"fmt"
	"math"
	"time"
)

// Live capture keeps only the first snaplen bytes of a packet but records
// its length on the wire: these write a packet whose original length is
// more than the bytes given.

// WriteCaptured writes one packet captured at ts of which data holds the
// first bytes and length is the length on the wire (len(data) when
// smaller). At most snaplen bytes are stored. It allocates nothing.
func (w *Writer) WriteCaptured(ts time.Time, data []byte, length int) error {
	sec := ts.Unix()
	if sec < 0 || sec > math.MaxUint32 {
		return timeRangeError(ts)
	}
	length = max(length, len(data))
	if uint64(length) > math.MaxUint32 {
		return fmt.Errorf("pcap: packet of %d bytes is too long", length)
	}
	capLen := min(len(data), w.snaplen)
	le.PutUint32(w.hdr[0:], uint32(sec))
	le.PutUint32(w.hdr[4:], uint32(ts.Nanosecond()))
	le.PutUint32(w.hdr[8:], uint32(capLen))
	le.PutUint32(w.hdr[12:], uint32(length))
	if _, err := w.bw.Write(w.hdr[:]); err != nil {
		return writeError(err)
	}
	if _, err := w.bw.Write(data[:capLen]); err != nil {
		return writeError(err)
	}
	return nil
}

// WriteCaptured is Writer.WriteCaptured for pcapng, with the packet's
// direction in epb_flags (left out for DirUnknown).
func (w *NgWriter) WriteCaptured(ts time.Time, data []byte, length int, dir Direction) error {
	ticks, ok := nanoTicks(ts)
	if !ok {
		return timeRangeError(ts)
	}
	length = max(length, len(data))
	if uint64(length) > math.MaxUint32 {
		return fmt.Errorf("pcap: packet of %d bytes is too long", length)
	}
	capLen := min(len(data), w.snaplen)
	tail := w.appendTail(w.tail[:0], dir)
	total := epbFixedLen + pad4(capLen) + len(tail) + 4
	le.PutUint32(w.hdr[0:], blockEPB)
	le.PutUint32(w.hdr[4:], uint32(total))
	le.PutUint32(w.hdr[8:], 0) // interface 0
	le.PutUint32(w.hdr[12:], uint32(ticks>>32))
	le.PutUint32(w.hdr[16:], uint32(ticks))
	le.PutUint32(w.hdr[20:], uint32(capLen))
	le.PutUint32(w.hdr[24:], uint32(length))
	tail = le.AppendUint32(tail, uint32(total))
	return w.write(data[:capLen], tail)
}

// recordLen is the number of bytes a packet of capLen stored bytes takes
// in a file of format f.
func recordLen(f Format, capLen int, dir Direction) int {
	if f == FormatPcapng {
		n := epbFixedLen + pad4(capLen) + 4
		if dir != DirUnknown {
			n += 12
		}
		return n
	}
	return recordHeadLen + capLen
}

// capWriter is what a Rotator needs from Writer and NgWriter.
type capWriter interface {
	writeCaptured(ts time.Time, data []byte, length int, dir Direction) error
	Flush() error
}

func (w *Writer) writeCaptured(ts time.Time, data []byte, length int, _ Direction) error {
	return w.WriteCaptured(ts, data, length)
}

func (w *NgWriter) writeCaptured(ts time.Time, data []byte, length int, dir Direction) error {
	return w.WriteCaptured(ts, data, length, dir)
}
