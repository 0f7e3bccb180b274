package pcap

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrRotationDone is returned by Rotator.WritePacket when -G with -W has
// written its number of files: the capture is over (tcpdump exits then).
var ErrRotationDone = errors.New("pcap: the last of the -W files is complete")

// RotateConfig says how a Rotator names, splits and bounds its files, as
// tcpdump's -w, -C, -G, -W and -U do.
//
// Names, as tcpdump makes them:
//   - -C alone: FILE, then FILE1, FILE2, ...
//   - -C with -W N: FILE0 .. FILE<N-1>, zero-padded to the digits of N-1,
//     then FILE0 again, overwritten: a ring of N files.
//   - -G: FILE expanded as strftime(3) does at the start of each
//     interval (%Y %m %d %H %M %S %y %j %s %%, local time); with -C as
//     well, a count after it within each interval, as with -C alone.
//     When FILE has no % conversion the files are FILE, FILE1, FILE2, ...
//     (tcpdump would overwrite FILE every interval).
//   - -G with -W N: after N intervals' files the Rotator is done
//     (ErrRotationDone). -W does not bound the -C files of an interval.
type RotateConfig struct {
	// Path is the file name (-w), a strftime pattern with Interval.
	Path string
	// Link, Snaplen and IfName go into every file's header.
	Link    LinkType
	Snaplen int
	IfName  string
	// Format is pcap or pcapng; FormatAuto picks it by Path's name.
	Format Format
	// FileSize (-C, in bytes; tcpdump's unit is 1,000,000) starts a new
	// file when the next packet would take the current one past it. A
	// file always takes at least one packet.
	FileSize int64
	// Interval (-G) starts a new file when a packet comes this long after
	// the current file's interval began.
	Interval time.Duration
	// MaxFiles (-W) bounds the files: a ring with FileSize, a stop with
	// Interval.
	MaxFiles int
	// FlushEach (-U) writes every packet to the file at once.
	FlushEach bool
	// Now gives the time the first interval starts (time.Now when nil).
	Now func() time.Time
}

// Rotator writes a capture into a series of files. It is not safe for
// concurrent use.
type Rotator struct {
	cfg     RotateConfig
	format  Format
	f       *os.File
	w       capWriter
	size    int64 // bytes in the current file
	packets int   // packets in the current file
	start   time.Time
	sizeSeq int // -C files started within this interval (or in all)
	seq     int // files started in all, for names without conversions
	periods int // -G intervals begun
	files   []string
	closed  bool
}

// NewRotator checks cfg and creates the first file.
func NewRotator(cfg RotateConfig) (*Rotator, error) {
	if cfg.Path == "" {
		return nil, errors.New("pcap: no file name")
	}
	if cfg.FileSize < 0 || cfg.Interval < 0 || cfg.MaxFiles < 0 {
		return nil, errors.New("pcap: negative file size, interval or file count")
	}
	if cfg.MaxFiles > 0 && cfg.FileSize == 0 && cfg.Interval == 0 {
		return nil, errors.New("pcap: a file count needs a file size or an interval")
	}
	o := fileOptions{format: cfg.Format, snaplen: cfg.Snaplen, ifName: cfg.IfName}
	if o.format == FormatAuto {
		o.format = formatForName(cfg.Path)
	}
	if err := o.check(cfg.Link); err != nil {
		return nil, err
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	r := &Rotator{cfg: cfg, format: o.format, start: now(), periods: 1}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

// Files lists the names of the files created, in order; with a ring
// (FileSize and MaxFiles) each name once.
func (r *Rotator) Files() []string { return r.files }

// Name is the file being written.
func (r *Rotator) Name() string { return r.f.Name() }

// WritePacket records one packet: data is its captured part, length its
// length on the wire. It starts a new file first when the interval is
// over or the current file would grow past the size limit, and returns
// ErrRotationDone (writing nothing) once -G and -W are used up.
func (r *Rotator) WritePacket(ts time.Time, data []byte, length int, dir Direction) error {
	if r.closed {
		return ErrClosed
	}
	if iv := r.cfg.Interval; iv > 0 && ts.Sub(r.start) >= iv {
		if r.cfg.MaxFiles > 0 && r.periods >= r.cfg.MaxFiles {
			return ErrRotationDone
		}
		r.periods++
		r.start = r.start.Add(ts.Sub(r.start) / iv * iv)
		r.sizeSeq = 0
		if err := r.rotate(); err != nil {
			return err
		}
	}
	capLen := min(len(data), r.snaplen())
	rec := int64(recordLen(r.format, capLen, r.dirFor(dir)))
	if r.cfg.FileSize > 0 && r.packets > 0 && r.size+rec > r.cfg.FileSize {
		r.sizeSeq++
		if r.ring() {
			r.sizeSeq %= r.cfg.MaxFiles
		}
		if err := r.rotate(); err != nil {
			return err
		}
	}
	if err := r.w.writeCaptured(ts, data, length, dir); err != nil {
		return err
	}
	r.size += rec
	r.packets++
	if r.cfg.FlushEach {
		return r.w.Flush()
	}
	return nil
}

func (r *Rotator) snaplen() int {
	if r.cfg.Snaplen == 0 {
		return DefaultSnaplen
	}
	return r.cfg.Snaplen
}

// dirFor is the direction as the format records it.
func (r *Rotator) dirFor(d Direction) Direction {
	if r.format != FormatPcapng {
		return DirUnknown
	}
	return d
}

// ring tells whether -C and -W make a ring of files.
func (r *Rotator) ring() bool {
	return r.cfg.MaxFiles > 0 && r.cfg.FileSize > 0 && r.cfg.Interval == 0
}

// Flush writes buffered packets to the current file.
func (r *Rotator) Flush() error {
	if r.closed {
		return ErrClosed
	}
	return r.w.Flush()
}

// Close completes the current file. Calling it again does nothing.
func (r *Rotator) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return r.closeFile()
}

func (r *Rotator) closeFile() error {
	err := r.w.Flush()
	if cerr := r.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("pcap: %w", cerr)
	}
	return err
}

func (r *Rotator) rotate() error {
	r.seq++
	if err := r.closeFile(); err != nil {
		return err
	}
	return r.open()
}

// open creates the file the counters name and writes its header.
func (r *Rotator) open() error {
	name := r.name()
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("pcap: %w", err)
	}
	o := fileOptions{format: r.format, snaplen: r.cfg.Snaplen, ifName: r.cfg.IfName}
	var w capWriter
	if r.format == FormatPcapng {
		w, err = NewNgWriter(f, r.cfg.Link, o.snaplen, o.ifName)
	} else {
		w, err = NewWriter(f, r.cfg.Link, o.snaplen)
	}
	if err != nil {
		f.Close()
		return err
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		f.Close()
		return fmt.Errorf("pcap: %w", err)
	}
	r.f, r.w, r.size, r.packets = f, w, size, 0
	if !r.ring() || len(r.files) < r.cfg.MaxFiles {
		r.files = append(r.files, name)
	}
	return nil
}

// name is the current file's name (see RotateConfig).
func (r *Rotator) name() string {
	if r.cfg.Interval > 0 && strings.Contains(r.cfg.Path, "%") {
		return strftime(r.cfg.Path, r.start.Local()) + r.suffix(r.sizeSeq)
	}
	if r.ring() {
		return r.cfg.Path + r.suffix(r.sizeSeq)
	}
	return r.cfg.Path + r.suffix(r.seq)
}

func (r *Rotator) suffix(n int) string {
	if r.ring() {
		return fmt.Sprintf("%0*d", len(strconv.Itoa(r.cfg.MaxFiles-1)), n)
	}
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// strftime expands the conversions of pattern that tcpdump's -G users
// put in file names; others stay as they are.
func strftime(pattern string, t time.Time) string {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' || i+1 == len(pattern) {
			b.WriteByte(c)
			continue
		}
		i++
		switch pattern[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 's':
			fmt.Fprintf(&b, "%d", t.Unix())
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(pattern[i])
		}
	}
	return b.String()
}
