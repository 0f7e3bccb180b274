package pcap

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rawnet/rawnet/tap"
)

// packetWriter is what a File needs from Writer and NgWriter.
type packetWriter interface {
	writePacket(ts time.Time, data []byte, length int, dir Direction) error
	Flush() error
}

// File is a capture file being recorded. Its methods are safe for
// concurrent use, so one File can take the packets of several engines and
// be closed from a signal handler while they run.
type File struct {
	mu        sync.Mutex
	f         *os.File
	w         packetWriter
	format    Format
	flushEach bool
	count     int
	err       error // first write error
	closed    bool
	closeErr  error
}

type fileOptions struct {
	format    Format
	snaplen   int
	ifName    string
	flushEach bool
}

// Option configures Create.
type Option func(*fileOptions)

// FlushEach makes every packet reach the file (the kernel) as soon as it is
// written, so that a process killed without a chance to Close still leaves
// every packet it recorded readable. It costs one write(2) per packet.
func FlushEach() Option { return func(o *fileOptions) { o.flushEach = true } }

// WithFormat forces the file format instead of choosing it by name.
func WithFormat(f Format) Option { return func(o *fileOptions) { o.format = f } }

// WithSnaplen sets the snapshot length (DefaultSnaplen when 0).
func WithSnaplen(n int) Option { return func(o *fileOptions) { o.snaplen = n } }

// WithInterfaceName sets the pcapng if_name option, which Wireshark shows
// for each packet; classic pcap has no place for it.
func WithInterfaceName(name string) Option { return func(o *fileOptions) { o.ifName = name } }

// Create creates (or truncates) the file at path and writes the header of a
// capture of link-type packets: pcapng when the name ends in ".pcapng" (in
// any case) or WithFormat(FormatPcapng) is given, classic pcap otherwise.
// Writes are buffered until Flush or Close, or FlushEach is given.
func Create(path string, link LinkType, opts ...Option) (*File, error) {
	o := fileOptions{format: FormatAuto}
	for _, opt := range opts {
		opt(&o)
	}
	if o.format == FormatAuto {
		o.format = formatForName(path)
	}
	if err := o.check(link); err != nil {
		return nil, err // before creating anything
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	w, err := newPacketWriter(f, link, o)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &File{f: f, w: w, format: o.format, flushEach: o.flushEach}, nil
}

// check rejects what the writers would reject.
func (o *fileOptions) check(link LinkType) error {
	if _, err := checkSnaplen(o.snaplen); err != nil {
		return err
	}
	switch o.format {
	case FormatPcap:
		return nil
	case FormatPcapng:
		return checkNg(link, o.ifName)
	}
	return fmt.Errorf("pcap: unknown format %d", o.format)
}

func formatForName(path string) Format {
	if strings.HasSuffix(strings.ToLower(path), ".pcapng") {
		return FormatPcapng
	}
	return FormatPcap
}

func newPacketWriter(f *os.File, link LinkType, o fileOptions) (packetWriter, error) {
	if o.format == FormatPcapng {
		return NewNgWriter(f, link, o.snaplen, o.ifName)
	}
	return NewWriter(f, link, o.snaplen)
}

// Name is the path the file was created with.
func (f *File) Name() string { return f.f.Name() }

// Format is the format being written, FormatPcap or FormatPcapng.
func (f *File) Format() Format { return f.format }

// WritePacket records one packet with no direction. After Close it returns
// ErrClosed.
func (f *File) WritePacket(ts time.Time, data []byte) error {
	return f.WritePacketDirection(ts, data, DirUnknown)
}

// WritePacketDirection records one packet and, in pcapng, its direction.
// After Close it returns ErrClosed.
func (f *File) WritePacketDirection(ts time.Time, data []byte, dir Direction) error {
	return f.WriteCaptured(ts, data, len(data), dir)
}

// WriteCaptured records one packet of which data holds the first bytes and
// length is the length it had on the wire (as read from another capture
// file), with its direction in pcapng. After Close it returns ErrClosed.
func (f *File) WriteCaptured(ts time.Time, data []byte, length int, dir Direction) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	err := f.w.writePacket(ts, data, length, dir)
	if err == nil {
		f.count++
		if f.flushEach {
			err = f.w.Flush()
		}
	}
	if err != nil && f.err == nil {
		f.err = err
	}
	return err
}

// Tap returns a hook for engines (see package tap) that records every packet
// reported to it, with its direction in pcapng. The packets are IP packets,
// so the file's link type should be Raw (or IPv4/IPv6 when all are of one
// family). A hook cannot return errors: the first one is kept and reported
// by Err and Close. Packets reported after Close are dropped.
func (f *File) Tap() tap.Func {
	return func(dir tap.Dir, ts time.Time, data []byte) {
		d := DirInbound
		if dir == tap.Out {
			d = DirOutbound
		}
		f.WritePacketDirection(ts, data, d) // error kept in f.err
	}
}

// Count is the number of packets recorded.
func (f *File) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// Err is the first error any write met, nil if none did.
func (f *File) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Flush writes buffered packets to the file.
func (f *File) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	return f.w.Flush()
}

// Close flushes and closes the file. It returns the first error met by any
// write (including those made through Tap), by the flush or by closing.
// Calling it again does nothing and returns the same result, so it may be
// called both from a signal handler and a deferred cleanup.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return f.closeErr
	}
	f.closed = true
	flushErr := f.w.Flush()
	closeErr := f.f.Close()
	if closeErr != nil {
		closeErr = fmt.Errorf("pcap: %w", closeErr)
	}
	f.closeErr = firstError(f.err, flushErr, closeErr)
	return f.closeErr
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
