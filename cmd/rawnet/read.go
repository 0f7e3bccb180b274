package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/capture"
	"github.com/rawnet/rawnet/internal/jsonl"
	"github.com/rawnet/rawnet/pcap"
)

func readCommand() *cli.Command {
	return &cli.Command{
		Name:      "read",
		Usage:     "print, filter, copy or summarize the packets of a pcap or pcapng file, like tcpdump -r",
		ArgsUsage: "FILE|- [FILTER...]",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print every field of every layer after each line"},
			&cli.BoolFlag{Name: "hex", Aliases: []string{"x"}, Usage: "print each packet (without its link-layer header) in hex, like tcpdump -x"},
			&cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "one JSON object per packet (with --stats: the summary as JSON)"},
			&cli.IntFlag{Name: "count", Aliases: []string{"c"}, Usage: "stop after `N` matching packets"},
			&cli.StringFlag{Name: "write", Aliases: []string{"w"}, Usage: "write the matching packets to `FILE` (pcap, or pcapng for *.pcapng or with --pcapng) instead of printing them"},
			&cli.BoolFlag{Name: "pcapng", Usage: "write --write as pcapng whatever its name"},
			&cli.BoolFlag{Name: "stats", Usage: "print a summary of the matching packets instead of the packets"},
			&cli.IntFlag{Name: "top", Value: 10, Usage: "with --stats, list the `N` busiest talkers"},
		}, decoderFlags()...),
		Action: runRead,
	}
}

// readConfig is what the flags of rawnet read ask for.
type readConfig struct {
	path    string
	filter  string
	verbose bool
	hex     bool
	json    bool
	count   int
	write   string
	format  pcap.Format
	stats   bool
	top     int
	dec     capture.DecoderConfig
}

func readFlags(c *cli.Context) (readConfig, error) {
	if c.NArg() < 1 {
		return readConfig{}, usageErrorf("read: want a FILE to read")
	}
	cfg := readConfig{
		path:    c.Args().First(),
		filter:  strings.TrimSpace(strings.Join(c.Args().Slice()[1:], " ")),
		verbose: c.Bool("verbose"),
		hex:     c.Bool("hex"),
		json:    c.Bool("json"),
		count:   c.Int("count"),
		write:   c.String("write"),
		stats:   c.Bool("stats"),
		top:     c.Int("top"),
	}
	var err error
	if cfg.dec, err = decoderConfig(c); err != nil {
		return cfg, err
	}
	if cfg.count < 0 {
		return cfg, usageErrorf("-c %d: want a count of 0 (all) or more", cfg.count)
	}
	if cfg.top < 1 {
		return cfg, usageErrorf("--top %d: want 1 or more", cfg.top)
	}
	if c.Bool("pcapng") {
		if cfg.write == "" {
			return cfg, usageErrorf("--pcapng: only with --write FILE")
		}
		cfg.format = pcap.FormatPcapng
	}
	if cfg.write != "" && cfg.stats {
		return cfg, usageErrorf("--write and --stats: choose one")
	}
	return cfg, checkFilter(cfg.filter)
}

// checkFilter reports a build without cgo, and syntax errors, before
// anything is read; other errors can depend on the file's link type.
func checkFilter(expr string) error {
	if expr == "" {
		return nil
	}
	_, err := capture.CompileFilter(expr, pcap.Ethernet, 0)
	if err != nil && (!errors.Is(err, capture.ErrBadFilter) || strings.Contains(err.Error(), "syntax error")) {
		return usageErrorf("%v", err)
	}
	return nil
}

func runRead(c *cli.Context) error {
	cfg, err := readFlags(c)
	if err != nil {
		return err
	}
	var in io.Reader = os.Stdin
	if cfg.path != "-" {
		f, err := os.Open(cfg.path)
		if err != nil {
			return usageErrorf("read: %v", err)
		}
		defer f.Close()
		in = f
	}
	out := bufio.NewWriterSize(c.App.Writer, 256<<10)
	rd := newPacketReader(cfg)
	rd.stop = c.Context.Done()
	var sink packetSink
	switch {
	case cfg.stats:
		sink = newReadStats(cfg)
	case cfg.write != "":
		sink = &writeSink{cfg: cfg}
	default:
		sink = newPrintSink(cfg, out)
	}
	readErr := rd.run(in, sink)
	if errors.Is(readErr, errOutput) {
		return readErr // stop at once: nothing more can be printed
	}
	err = sink.finish(out)
	if ferr := flushOutput(out); err == nil {
		err = ferr
	}
	if errors.Is(err, errOutput) {
		return err
	}
	if readErr != nil {
		if errors.Is(readErr, errUsage) {
			return readErr
		}
		fmt.Fprintf(c.App.ErrWriter, "rawnet: read %s: %v\n", cfg.path, readErr)
		return exitError(1)
	}
	if err != nil {
		return err
	}
	if cfg.write != "" {
		fmt.Fprintf(c.App.ErrWriter, "%d packets written to %s\n", rd.matched, cfg.write)
	}
	return nil
}

// packetSink takes the packets that pass the filter.
type packetSink interface {
	packet(index int, p *pcap.Packet, d *capture.Decoder) error
	finish(out *bufio.Writer) error
}

// packetReader reads a file and hands the decoded packets that match the
// filter to a sink, with one decoder and compiled filter per link type.
type packetReader struct {
	cfg      readConfig
	decoders map[pcap.LinkType]*capture.Decoder
	filters  map[pcap.LinkType]*capture.Filter
	index    int // packets read
	matched  int
	// stop ends reading early and cleanly (Ctrl-C, SIGTERM): what was read
	// is printed, summarized or written as usual.
	stop <-chan struct{}
}

func newPacketReader(cfg readConfig) *packetReader {
	return &packetReader{cfg: cfg, decoders: map[pcap.LinkType]*capture.Decoder{}, filters: map[pcap.LinkType]*capture.Filter{}}
}

func (r *packetReader) run(in io.Reader, sink packetSink) error {
	pr, err := pcap.NewReader(in)
	if err != nil {
		return err
	}
	var last pcap.LinkType = 1<<32 - 1
	var d *capture.Decoder
	var flt *capture.Filter
	var p pcap.Packet // one for the whole file: the sinks take &p
	for r.cfg.count == 0 || r.matched < r.cfg.count {
		p, err = pr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		r.index++
		if r.index&1023 == 0 && r.stopped() {
			return nil
		}
		if p.LinkType != last {
			if d, flt, err = r.forLink(p.LinkType); err != nil {
				return err
			}
			last = p.LinkType
		}
		if flt != nil && !flt.Match(p.Data, p.OrigLen) {
			continue
		}
		r.matched++
		d.Decode(p.Data)
		if err := sink.packet(r.index, &p, d); err != nil {
			return err
		}
	}
	return nil
}

func (r *packetReader) stopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// forLink returns the decoder and filter for packets of one link type.
func (r *packetReader) forLink(link pcap.LinkType) (*capture.Decoder, *capture.Filter, error) {
	d, ok := r.decoders[link]
	if !ok {
		d = capture.NewDecoderConfig(link, r.cfg.dec)
		r.decoders[link] = d
	}
	if r.cfg.filter == "" {
		return d, nil, nil
	}
	flt, ok := r.filters[link]
	if !ok {
		prog, err := capture.CompileFilter(r.cfg.filter, link, pcap.MaxPacketLen)
		if err != nil {
			return nil, nil, usageErrorf("filter for link type %v: %v", link, err)
		}
		if flt, err = capture.NewFilter(prog); err != nil {
			return nil, nil, err
		}
		r.filters[link] = flt
	}
	return d, flt, nil
}

// printSink prints packets as tcpdump does, or as JSON objects.
type printSink struct {
	cfg  readConfig
	out  *bufio.Writer
	json *jsonl.Writer // --json, on out
	buf  []byte
}

func newPrintSink(cfg readConfig, out *bufio.Writer) *printSink {
	return &printSink{cfg: cfg, out: out, json: jsonl.NewBuffered(out), buf: make([]byte, 0, 64<<10)}
}

func (s *printSink) packet(index int, p *pcap.Packet, d *capture.Decoder) error {
	b := s.buf[:0]
	if s.cfg.json {
		m := packetMeta{index: index, time: p.Timestamp, caplen: len(p.Data), length: p.OrigLen}
		s.buf = appendPacketJSON(b, &m, d)
		return jsonError(s.json.WriteLine(s.buf))
	}
	b = appendClock(b, p.Timestamp)
	b = append(b, ' ')
	b = d.AppendLine(b)
	b = append(b, '\n')
	if s.cfg.verbose {
		b = d.AppendVerbose(b)
	}
	if s.cfg.hex {
		b = capture.AppendHexDump(b, d.NetworkData())
	}
	s.buf = b
	_, err := s.out.Write(b)
	return outputError(err)
}

func (s *printSink) finish(*bufio.Writer) error { return nil }

// appendClock writes the time of day as tcpdump does: HH:MM:SS.micro,
// local time.
func appendClock(b []byte, t time.Time) []byte {
	t = t.In(time.Local)
	h, m, s := t.Clock()
	us := t.Nanosecond() / 1000
	b = append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+s/10), byte('0'+s%10), '.')
	for div := 100000; div > 0; div /= 10 {
		b = append(b, byte('0'+us/div%10))
	}
	return b
}

// jsonStats is read --stats' report as a JSON Lines event: the report's
// fields, then first and last in the one format of every JSON timestamp
// (jsonl.Time); the report's own First and Last are not encoded.
type jsonStats struct {
	*statsReport
	First string `json:"first,omitempty"`
	Last  string `json:"last,omitempty"`
}

// emitStats writes the report as one JSON Lines object.
func emitStats(out *bufio.Writer, r *statsReport) error {
	j := jsonStats{statsReport: r}
	if r.First != nil {
		j.First, j.Last = jsonl.Time(*r.First), jsonl.Time(*r.Last)
	}
	return jsonError(jsonl.NewBuffered(out).Emit(j))
}

// writeSink copies the matching packets to a new file.
type writeSink struct {
	cfg  readConfig
	file *pcap.File
	link pcap.LinkType
}

func (s *writeSink) packet(_ int, p *pcap.Packet, _ *capture.Decoder) error {
	if s.file == nil {
		opts := []pcap.Option{}
		if s.cfg.format != pcap.FormatAuto {
			opts = append(opts, pcap.WithFormat(s.cfg.format))
		}
		f, err := pcap.Create(s.cfg.write, p.LinkType, opts...)
		if err != nil {
			return err
		}
		s.file, s.link = f, p.LinkType
	}
	if p.LinkType != s.link {
		return fmt.Errorf("cannot write a packet of link type %v to %s, which holds %v", p.LinkType, s.cfg.write, s.link)
	}
	return s.file.WriteCaptured(p.Timestamp, p.Data, p.OrigLen, p.Direction)
}

func (s *writeSink) finish(*bufio.Writer) error {
	if s.file == nil {
		// No packet matched: still leave a valid (empty) file.
		f, err := pcap.Create(s.cfg.write, pcap.Ethernet, pcap.WithFormat(s.cfg.format))
		if err != nil {
			return err
		}
		return f.Close()
	}
	return s.file.Close()
}
