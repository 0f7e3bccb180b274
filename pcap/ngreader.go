package pcap

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"
)

// maxBlockLen bounds the pcapng blocks the Reader buffers: a packet of
// MaxPacketLen bytes plus room for options. Blocks it skips may be longer.
const maxBlockLen = MaxPacketLen + 64<<10

// iface is what the Reader keeps of an interface description block.
type iface struct {
	link    LinkType
	snaplen uint32
	pow2    bool   // timestamps count 2^-exp s, else 10^-exp s
	exp     uint8  // resolution exponent
	unit    uint64 // ticks per second, for decimal resolutions
	offset  int64  // if_tsoffset, seconds
}

var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// setResolution applies an if_tsresol value.
func (ifc *iface) setResolution(v byte) error {
	exp := v & 0x7f
	if v&0x80 != 0 {
		if exp > 63 {
			return corrupt("if_tsresol 2^-%d is out of range", exp)
		}
		ifc.pow2, ifc.exp = true, exp
		return nil
	}
	if int(exp) >= len(pow10) {
		return corrupt("if_tsresol 10^-%d is out of range", exp)
	}
	ifc.pow2, ifc.exp, ifc.unit = false, exp, pow10[exp]
	return nil
}

// time converts a timestamp in the interface's units.
func (ifc *iface) time(ticks uint64) time.Time {
	sec, nsec := ifc.split(ticks)
	return time.Unix(int64(sec)+ifc.offset, int64(nsec)).UTC()
}

// split divides a timestamp into seconds and nanoseconds.
func (ifc *iface) split(ticks uint64) (sec, nsec uint64) {
	switch {
	case ifc.pow2 && ifc.exp == 0:
		return ticks, 0
	case ifc.pow2:
		frac := ticks & (1<<ifc.exp - 1)
		hi, lo := bits.Mul64(frac, 1e9) // frac·10^9 / 2^exp, in 128 bits
		return ticks >> ifc.exp, lo>>ifc.exp | hi<<(64-ifc.exp)
	case ifc.exp <= 9:
		return ticks / ifc.unit, ticks % ifc.unit * pow10[9-ifc.exp]
	default:
		return ticks / ifc.unit, ticks % ifc.unit / pow10[ifc.exp-9]
	}
}

var blockNames = map[uint32]string{
	blockSHB: "section header block", blockIDB: "interface description block",
	blockPB: "packet block", blockSPB: "simple packet block", blockEPB: "enhanced packet block",
}

func blockName(typ uint32) string {
	if s, ok := blockNames[typ]; ok {
		return s
	}
	return fmt.Sprintf("block of type %#x", typ)
}

// readFirstSection reads the section header that starts a pcapng file; its
// first four bytes are already in r.hdr.
func (r *Reader) readFirstSection() error {
	h, err := r.readFull(r.hdr[4:8])
	if err != nil {
		return r.fail(0, readFault(err, "section header block", 28, 4+len(h)))
	}
	if err := r.readSection(0); err != nil {
		return err
	}
	r.format = FormatPcapng
	return nil
}

// readSection reads a section header block whose type and length fields
// are in r.hdr[:8], and starts a new section.
func (r *Reader) readSection(start int64) error {
	bom, err := r.readFull(r.hdr[8:12])
	if err != nil {
		return r.fail(start, readFault(err, "section header block", 28, 8+len(bom)))
	}
	switch le.Uint32(bom) {
	case byteOrderMagic:
		r.order = littleEndian
	case 0x4D3C2B1A:
		r.order = bigEndian
	default:
		return r.fail(start, corrupt("bad byte-order magic %#x in section header block", bom))
	}
	length := r.order.u32(r.hdr[4:])
	body, err := r.readBody(start, blockSHB, length, 28, 12)
	if err != nil {
		return err
	}
	if major := r.order.u16(body); major != 1 {
		return r.fail(start, corrupt("unsupported pcapng version %d.%d", major, r.order.u16(body[2:])))
	}
	r.ifaces = r.ifaces[:0]
	return nil
}

// nextBlock reads blocks until one holds a packet.
func (r *Reader) nextBlock() (Packet, error) {
	for {
		start := r.off
		h, err := r.readFull(r.hdr[:8])
		if err != nil {
			if len(h) == 0 && errors.Is(err, io.EOF) {
				return Packet{}, io.EOF
			}
			return Packet{}, r.fail(start, readFault(err, "block header", 8, len(h)))
		}
		typ, length := r.order.u32(h), r.order.u32(h[4:])
		switch typ {
		case blockSHB:
			err = r.readSection(start)
		case blockIDB:
			err = r.readInterface(start, length)
		case blockEPB, blockPB, blockSPB:
			return r.readPacket(start, typ, length)
		default:
			err = r.skipBlock(start, typ, length)
		}
		if err != nil {
			return Packet{}, err
		}
	}
}

// checkLength validates a block's total length.
func (r *Reader) checkLength(start int64, typ, length, minLen uint32) error {
	switch {
	case length < minLen:
		return r.fail(start, corrupt("%s length %d is less than %d", blockName(typ), length, minLen))
	case length%4 != 0:
		return r.fail(start, corrupt("%s length %d is not a multiple of 4", blockName(typ), length))
	}
	return nil
}

// readBody reads the rest of a block of the given total length, of which
// `read` bytes are consumed already, checks the trailing length and returns
// the block body (without the trailing length).
func (r *Reader) readBody(start int64, typ, length, minLen, read uint32) ([]byte, error) {
	if err := r.checkLength(start, typ, length, minLen); err != nil {
		return nil, err
	}
	if length > maxBlockLen {
		return nil, r.fail(start, corrupt("%s length %d exceeds the %d-byte limit", blockName(typ), length, maxBlockLen))
	}
	b, err := r.readData(int(length - read))
	if err != nil {
		return nil, r.fail(start, readFault(err, blockName(typ), int(length), int(read)+len(b)))
	}
	if err := r.checkTrailer(start, typ, length, b[len(b)-4:]); err != nil {
		return nil, err
	}
	return b[:len(b)-4], nil
}

func (r *Reader) checkTrailer(start int64, typ, length uint32, trailer []byte) error {
	if t := r.order.u32(trailer); t != length {
		return r.fail(start, corrupt("%s length %d does not match its trailing length %d", blockName(typ), length, t))
	}
	return nil
}

// skipBlock discards a block this Reader has no use for, however long.
func (r *Reader) skipBlock(start int64, typ, length uint32) error {
	if err := r.checkLength(start, typ, length, 12); err != nil {
		return err
	}
	n, err := r.skip(int(length - 12))
	if err == nil {
		var t []byte
		t, err = r.readFull(r.hdr[:4])
		n += len(t)
	}
	if err != nil {
		return r.fail(start, readFault(err, blockName(typ), int(length), 8+n))
	}
	return r.checkTrailer(start, typ, length, r.hdr[:4])
}

func (r *Reader) readInterface(start int64, length uint32) error {
	b, err := r.readBody(start, blockIDB, length, 20, 8)
	if err != nil {
		return err
	}
	ifc := iface{link: LinkType(r.order.u16(b)), snaplen: r.order.u32(b[4:]), exp: 6, unit: 1e6}
	if err := r.interfaceOptions(&ifc, b[8:]); err != nil {
		return r.fail(start, err)
	}
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

func (r *Reader) interfaceOptions(ifc *iface, opts []byte) error {
	v, err := r.option(opts, optTSResol)
	if err != nil {
		return err
	}
	if len(v) > 0 {
		if err := ifc.setResolution(v[0]); err != nil {
			return err
		}
	}
	if v, err = r.option(opts, optTSOffset); len(v) >= 8 {
		ifc.offset = int64(r.order.u64(v))
	}
	return err
}

// option returns the value of the first option with the given code, nil
// if there is none.
func (r *Reader) option(opts []byte, code uint16) ([]byte, error) {
	for len(opts) >= 4 {
		c, n := r.order.u16(opts), int(r.order.u16(opts[2:]))
		if c == optEnd {
			return nil, nil
		}
		if 4+n > len(opts) {
			return nil, corrupt("option %d of %d bytes overruns its block", c, n)
		}
		if c == code {
			return opts[4 : 4+n], nil
		}
		opts = opts[min(4+pad4(n), len(opts)):]
	}
	return nil, nil
}

// readPacket reads an enhanced, simple or obsolete packet block.
func (r *Reader) readPacket(start int64, typ, length uint32) (Packet, error) {
	minLen := uint32(32)
	if typ == blockSPB {
		minLen = 16
	}
	b, err := r.readBody(start, typ, length, minLen, 8)
	if err != nil {
		return Packet{}, err
	}
	var p Packet
	if typ == blockSPB {
		p, err = r.simplePacket(b)
	} else {
		p, err = r.enhancedPacket(typ, b)
	}
	if err != nil {
		return Packet{}, r.fail(start, err)
	}
	return p, nil
}

// enhancedPacket decodes the body of an enhanced packet block or of the
// obsolete packet block, which differ only in the width of the interface id.
func (r *Reader) enhancedPacket(typ uint32, b []byte) (Packet, error) {
	id := r.order.u32(b)
	if typ == blockPB {
		id = uint32(r.order.u16(b))
	}
	if int64(id) >= int64(len(r.ifaces)) {
		return Packet{}, corrupt("packet for interface %d, but the section defines %d", id, len(r.ifaces))
	}
	capLen, origLen := r.order.u32(b[12:]), r.order.u32(b[16:])
	if uint64(capLen) > uint64(len(b)-20) {
		return Packet{}, corrupt("captured length %d exceeds the %d bytes of data in its block", capLen, len(b)-20)
	}
	flags, err := r.option(b[min(20+pad4(int(capLen)), len(b)):], optEPBFlags)
	if err != nil {
		return Packet{}, err
	}
	p := Packet{
		Data:      b[20 : 20+capLen],
		OrigLen:   int(origLen),
		LinkType:  r.ifaces[id].link,
		Interface: int(id),
		Timestamp: r.ifaces[id].time(uint64(r.order.u32(b[4:]))<<32 | uint64(r.order.u32(b[8:]))),
	}
	if len(flags) >= 4 {
		p.Direction = Direction(r.order.u32(flags) & 3)
	}
	return p, nil
}

// simplePacket decodes a simple packet block: interface 0, no timestamp,
// captured length implied by the original length and the snaplen.
func (r *Reader) simplePacket(b []byte) (Packet, error) {
	if len(r.ifaces) == 0 {
		return Packet{}, corrupt("simple packet block, but the section defines no interface")
	}
	origLen := r.order.u32(b)
	capLen := min(uint64(origLen), uint64(len(b)-4))
	if snap := uint64(r.ifaces[0].snaplen); snap != 0 {
		capLen = min(capLen, snap)
	}
	return Packet{Data: b[4 : 4+capLen], OrigLen: int(origLen), LinkType: r.ifaces[0].link}, nil
}
