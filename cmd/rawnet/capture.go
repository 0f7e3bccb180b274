package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/capture"
	"github.com/rawnet/rawnet/pcap"
)

func captureCommand() *cli.Command {
	return &cli.Command{
		Name:      "capture",
		Usage:     "capture packets live (AF_PACKET ring), print them like tcpdump -nn or write pcap/pcapng",
		ArgsUsage: "[FILTER...]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "i", Aliases: []string{"interface"}, Value: "any", Usage: "capture on `IFACE`; any: all interfaces (Linux cooked SLL2 headers)"},
			&cli.IntFlag{Name: "s", Aliases: []string{"snaplen"}, Value: pcap.DefaultSnaplen, Usage: "keep the first `BYTES` of each packet (0: 262144)"},
			&cli.BoolFlag{Name: "p", Aliases: []string{"no-promiscuous-mode"}, Usage: "do not put the interface in promiscuous mode"},
			&cli.IntFlag{Name: "c", Aliases: []string{"count"}, Usage: "stop after `N` packets"},
			&cli.GenericFlag{Name: "duration", Aliases: []string{"d"}, Value: &seconds{}, Usage: "stop after `SECONDS`"},
			&cli.IntFlag{Name: "B", Aliases: []string{"buffer-size"}, Usage: "kernel ring of `KIB` KiB (default 16384)"},
			&cli.StringFlag{Name: "Q", Aliases: []string{"direction"}, Value: "inout", Usage: "capture packets going `in`, out or inout"},
			&cli.StringFlag{Name: "w", Aliases: []string{"write"}, Usage: "write packets to `FILE` instead of printing them (pcapng for *.pcapng)"},
			&cli.BoolFlag{Name: "pcapng", Usage: "write pcapng whatever the file name"},
			&cli.Float64Flag{Name: "C", Aliases: []string{"file-size"}, Usage: "with -w, start a new file when the current one would pass `MB` (1,000,000 bytes): FILE, FILE1, FILE2..."},
			&cli.IntFlag{Name: "G", Aliases: []string{"rotate-seconds"}, Usage: "with -w, start a new file every `SECONDS` (strftime %Y%m%d%H%M%S... in FILE)"},
			&cli.IntFlag{Name: "W", Aliases: []string{"file-count"}, Usage: "with -C keep a ring of `N` files; with -G stop after N files"},
			&cli.BoolFlag{Name: "U", Aliases: []string{"packet-buffered"}, Usage: "write each packet to the file as it comes"},
			&cli.BoolFlag{Name: "v", Aliases: []string{"verbose"}, Usage: "every field of every layer"},
			&cli.BoolFlag{Name: "x", Aliases: []string{"hex"}, Usage: "hex dump of each packet"},
			&cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "JSON Lines: one object per packet, then the counts"},
			&cli.BoolFlag{Name: "q", Aliases: []string{"quiet"}, Usage: "no packet output, only the counts"},
			&cli.BoolFlag{Name: "n", Usage: "accepted for tcpdump users: rawnet never resolves names"},
			&cli.BoolFlag{Name: "nn", Usage: "accepted for tcpdump users: rawnet never resolves names or ports"},
		}, decoderFlags()...),
		Action: runCapture,
	}
}

// captureJob is what the flags ask for.
type captureJob struct {
	cfg      capture.Config
	count    int
	duration time.Duration
	rot      pcap.RotateConfig // Path "" without -w
	out      outputMode
	dec      capture.DecoderConfig
}

func captureFlags(c *cli.Context) (captureJob, error) {
	var j captureJob
	j.cfg.Interface = c.String("i")
	if j.cfg.Interface == "" {
		return j, usageErrorf("-i: want an interface name or any")
	}
	snap := c.Int("s")
	if snap == 0 {
		snap = pcap.DefaultSnaplen
	}
	if snap < 1 || snap > capture.MaxSnaplen {
		return j, usageErrorf("-s %d: snapshot length must be 0..%d", c.Int("s"), capture.MaxSnaplen)
	}
	j.cfg.Snaplen = snap
	j.cfg.NoPromisc = c.Bool("p")
	j.count = c.Int("c")
	if c.IsSet("c") && j.count < 1 {
		return j, usageErrorf("-c %d: count must be at least 1", j.count)
	}
	if err := durationFlag(c, "duration", &j.duration); err != nil {
		return j, err
	}
	if c.IsSet("B") {
		kib := c.Int("B")
		if kib < 1 || kib > 4<<20 {
			return j, usageErrorf("-B %d: buffer size must be 1..%d KiB", kib, 4<<20)
		}
		j.cfg.BufferSize = kib << 10
	}
	switch q := c.String("Q"); q {
	case "in":
		j.cfg.Direction = capture.DirIn
	case "out":
		j.cfg.Direction = capture.DirOut
	case "inout":
	default:
		return j, usageErrorf("-Q %s: want in, out or inout", q)
	}
	j.cfg.Expr = strings.Join(c.Args().Slice(), " ")
	if err := rotateFlags(c, &j.rot); err != nil {
		return j, err
	}
	j.rot.Snaplen = snap
	j.out = outputMode{verbose: c.Bool("v"), hex: c.Bool("x"), json: c.Bool("json"), quiet: c.Bool("q")}
	var err error
	j.dec, err = decoderConfig(c)
	return j, err
}

func rotateFlags(c *cli.Context, r *pcap.RotateConfig) error {
	r.Path = c.String("w")
	if c.Bool("pcapng") {
		r.Format = pcap.FormatPcapng
	}
	r.FlushEach = c.Bool("U")
	if mb := c.Float64("C"); c.IsSet("C") {
		if !(mb > 0 && mb <= 1e9) {
			return usageErrorf("-C %v: file size must be more than 0 MB", mb)
		}
		r.FileSize = int64(math.Ceil(mb * 1e6))
	}
	if g := c.Int("G"); c.IsSet("G") {
		if g < 1 {
			return usageErrorf("-G %d: interval must be at least 1 second", g)
		}
		r.Interval = time.Duration(g) * time.Second
	}
	if w := c.Int("W"); c.IsSet("W") {
		if w < 1 {
			return usageErrorf("-W %d: file count must be at least 1", w)
		}
		if r.FileSize == 0 && r.Interval == 0 {
			return usageErrorf("-W %d: needs -C or -G", w)
		}
		r.MaxFiles = w
	}
	if r.Path == "" {
		for _, f := range []string{"C", "G", "W", "U", "pcapng"} {
			if c.IsSet(f) {
				return usageErrorf("-%s: needs -w FILE", f)
			}
		}
	}
	return nil
}

func runCapture(c *cli.Context) error {
	job, err := captureFlags(c)
	if err != nil {
		return err
	}
	h, err := capture.Open(job.cfg)
	if err != nil {
		if errors.Is(err, capture.ErrBadFilter) || errors.Is(err, capture.ErrFilterNeedsCgo) {
			return usageErrorf("%s", err)
		}
		return err
	}
	defer h.Close()
	sink, err := newCaptureSink(c.App.Writer, h, &job)
	if err != nil {
		return err
	}
	// Later files of a rotation are created without privileges, as
	// tcpdump -Z does: in a directory root owns, or one open to all.
	dropPrivileges(c.App.ErrWriter, job.out.verbose)
	fmt.Fprintf(c.App.ErrWriter, "rawnet: listening on %s, link-type %s, snapshot length %d bytes\n",
		h.Interface(), h.LinkType(), h.Snaplen())
	ctx := c.Context
	if job.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, job.duration)
		defer cancel()
	}
	runErr := h.Run(ctx, sink.packet, sink.flush)
	if errors.Is(runErr, pcap.ErrRotationDone) {
		runErr = nil
	}
	closeErr := sink.close()
	st, statErr := h.Stats()
	fmt.Fprintf(c.App.ErrWriter, "%d packets captured\n%d packets received by filter\n%d packets dropped by kernel\n",
		sink.captured, st.Packets, st.Drops)
	var countsErr error
	if job.out.json && job.rot.Path == "" && !job.out.quiet && !errors.Is(firstErr(runErr, closeErr), errOutput) {
		countsErr = sink.writeCounts(st)
	}
	return firstErr(runErr, closeErr, statErr, countsErr)
}
