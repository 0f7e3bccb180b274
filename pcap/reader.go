package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// Packet is one packet read from a capture file.
type Packet struct {
	// Timestamp is when the packet was captured, in UTC; the zero Time for
	// pcapng simple packet blocks, which carry none.
	Timestamp time.Time
	// Data holds the captured bytes. It aliases a buffer of the Reader that
	// the next call to Next overwrites: copy it to keep it.
	Data []byte
	// OrigLen is the length of the packet on the wire, which is more than
	// len(Data) when the capture cut it at the snapshot length.
	OrigLen int
	// LinkType says what Data starts with.
	LinkType LinkType
	// Interface is the pcapng interface index within its section; 0 for pcap.
	Interface int
	// Direction is from the pcapng epb_flags option, DirUnknown without it.
	Direction Direction
}

// endian reads integers in a file's byte order.
type endian bool

const (
	littleEndian endian = false
	bigEndian    endian = true
)

func (e endian) u16(b []byte) uint16 {
	if e == bigEndian {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (e endian) u32(b []byte) uint32 {
	if e == bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (e endian) u64(b []byte) uint64 {
	if e == bigEndian {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

const readBufferLen = 64 << 10

// Reader reads packets from a classic pcap or a pcapng file, telling them
// apart by their first bytes. It reads classic pcap with microsecond or
// nanosecond timestamps, and pcapng with any number of sections and
// interfaces (each with its own link type, if_tsresol and if_tsoffset) and
// packets in enhanced, simple or obsolete packet blocks, skipping block
// types it does not know; both formats in either byte order. Reading
// allocates nothing per packet. A Reader is not safe for concurrent use.
//
// When the input is cut off or damaged, Next returns a *ReadError naming
// the packet number and the offset of the record or block at fault, which
// wraps ErrTruncated or ErrCorrupt; the packets before it are returned as
// usual. A length above MaxPacketLen counts as corrupt, and a buffer grows
// only as the data arrives, so a damaged header cannot make the Reader
// allocate much more than the input holds.
type Reader struct {
	br     *bufio.Reader
	format Format
	order  endian
	err    error // sticky: io.EOF or the first failure
	off    int64 // bytes consumed so far
	n      int   // packets returned so far
	buf    []byte
	hdr    [fileHeaderLen]byte

	// classic pcap
	link    LinkType
	nano    bool
	snaplen uint32

	// pcapng: the interfaces of the current section
	ifaces []iface
}

// NewReader reads the file header (pcap) or the first section header
// (pcapng) from r and returns a Reader for the packets. Input in neither
// format gives an error wrapping ErrUnknownFormat.
func NewReader(r io.Reader) (*Reader, error) {
	pr := &Reader{br: bufio.NewReaderSize(r, readBufferLen)}
	magic, err := pr.readFull(pr.hdr[:4])
	if err != nil {
		return nil, pr.fail(0, readFault(err, "file header", fileHeaderLen, len(magic)))
	}
	switch le.Uint32(magic) {
	case magicMicro, magicNano, 0xd4c3b2a1, 0x4d3cb2a1:
		err = pr.readFileHeader(magic)
	case blockSHB:
		err = pr.readFirstSection()
	default:
		return nil, fmt.Errorf("%w: starts with %#x", ErrUnknownFormat, magic)
	}
	if err != nil {
		return nil, err
	}
	return pr, nil
}

// Format is the format of the file, FormatPcap or FormatPcapng.
func (r *Reader) Format() Format { return r.format }

// Next returns the next packet, or io.EOF after the last one. Packet.Data
// is valid only until the next call. After an error Next keeps returning
// that error.
func (r *Reader) Next() (Packet, error) {
	if r.err != nil {
		return Packet{}, r.err
	}
	var p Packet
	var err error
	if r.format == FormatPcap {
		p, err = r.nextRecord()
	} else {
		p, err = r.nextBlock()
	}
	if err != nil {
		r.err = err
		return Packet{}, err
	}
	r.n++
	return p, nil
}

// readFileHeader reads the rest of a classic pcap file header.
func (r *Reader) readFileHeader(magic []byte) error {
	r.order = littleEndian
	if magic[0] == 0xa1 {
		r.order = bigEndian
	}
	r.nano = r.order.u32(magic) == magicNano
	h, err := r.readFull(r.hdr[4:fileHeaderLen])
	if err != nil {
		return r.fail(0, readFault(err, "file header", fileHeaderLen, 4+len(h)))
	}
	if major := r.order.u16(h[0:]); major != 2 {
		return r.fail(0, corrupt("unsupported pcap version %d.%d", major, r.order.u16(h[2:])))
	}
	r.snaplen = r.order.u32(h[12:])
	r.link = LinkType(r.order.u32(h[16:]) & 0xffff) // upper bits: FCS length flags
	r.format = FormatPcap
	return nil
}

// nextRecord reads one classic pcap record.
func (r *Reader) nextRecord() (Packet, error) {
	start := r.off
	h, err := r.readFull(r.hdr[:recordHeadLen])
	if err != nil {
		if len(h) == 0 && errors.Is(err, io.EOF) {
			return Packet{}, io.EOF
		}
		return Packet{}, r.fail(start, readFault(err, "record header", recordHeadLen, len(h)))
	}
	capLen, origLen := r.order.u32(h[8:]), r.order.u32(h[12:])
	if capLen > MaxPacketLen {
		return Packet{}, r.fail(start, corrupt("record length %d exceeds the %d-byte limit", capLen, MaxPacketLen))
	}
	sec, frac := r.order.u32(h[0:]), r.order.u32(h[4:])
	data, err := r.readData(int(capLen))
	if err != nil {
		return Packet{}, r.fail(start, readFault(err, "record", int(capLen), len(data)))
	}
	if !r.nano {
		frac *= 1000
	}
	return Packet{
		Timestamp: time.Unix(int64(sec), int64(frac)).UTC(),
		Data:      data,
		OrigLen:   int(origLen),
		LinkType:  r.link,
	}, nil
}

// readFull reads len(b) bytes into b and returns what it got.
func (r *Reader) readFull(b []byte) ([]byte, error) {
	n, err := io.ReadFull(r.br, b)
	r.off += int64(n)
	return b[:n], err
}

// readData reads n bytes into the Reader's buffer. A buffer too small for
// them grows step by step as the data arrives, so that a bogus length in a
// short file costs no more memory than the file holds.
func (r *Reader) readData(n int) ([]byte, error) {
	if n <= cap(r.buf) {
		return r.readFull(r.buf[:n])
	}
	b := r.buf[:0]
	for len(b) < n {
		step := min(n-len(b), max(len(b), readBufferLen))
		b = slices.Grow(b, step)
		got, err := r.readFull(b[len(b) : len(b)+step])
		b = b[:len(b)+len(got)]
		if err != nil {
			r.buf = b[:0]
			return b, err
		}
	}
	r.buf = b[:0]
	return b, nil
}

// skip discards n bytes and returns how many it discarded.
func (r *Reader) skip(n int) (int, error) {
	got, err := r.br.Discard(n)
	r.off += int64(got)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return got, err
}

// fail wraps err with the packet number (0 while reading the file header)
// and offset.
func (r *Reader) fail(off int64, err error) error {
	packet := r.n + 1
	if r.format == FormatAuto { // still reading the file header
		packet = 0
	}
	return &ReadError{Packet: packet, Offset: off, Err: err}
}

// readFault turns an error of io.ReadFull into a truncation fault, or
// passes an I/O error through.
func readFault(err error, what string, want, have int) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return truncated(what, want, have)
	}
	return err
}
