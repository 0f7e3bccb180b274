package main

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/udp"
)

func udpProbeCommand() *cli.Command {
	return &cli.Command{
		Name:      "probe",
		Usage:     "measure loss, duplicates, reordering, RTT percentiles and jitter against a UDP echo or reflect server",
		ArgsUsage: "HOST:PORT",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "c", Aliases: []string{"count"}, Usage: "send `N` datagrams (default: until --duration or Ctrl-C)"},
			&cli.Float64Flag{Name: "rate", Aliases: []string{"r"}, Usage: "send `PPS` datagrams per second; 0: as fast as replies come back, --window in flight"},
			&cli.GenericFlag{Name: "i", Aliases: []string{"interval"}, Value: &seconds{}, Usage: "wait `SECONDS` between datagrams (default 1s; --rate wins)"},
			&cli.IntFlag{Name: "s", Aliases: []string{"size"}, Value: udp.DefaultSize, Usage: "UDP payload `BYTES` (56..65507)"},
			&cli.GenericFlag{Name: "duration", Aliases: []string{"d"}, Value: &seconds{}, Usage: "stop sending after `SECONDS`"},
			&cli.GenericFlag{Name: "W", Aliases: []string{"timeout"}, Value: &seconds{}, Usage: "a datagram without reply for `SECONDS` is lost (default 1s); later replies are late"},
			&cli.IntFlag{Name: "window", Value: udp.DefaultWindow, Usage: "with --rate 0, keep `N` datagrams in flight"},
			&cli.GenericFlag{Name: "interval-report", Value: &seconds{}, Usage: "print the figures of every `SECONDS` interval"},
			&cli.StringFlag{Name: "max-loss", Usage: "fail (exit 1) when loss is over `PCT` (e.g. 1%)"},
			&cli.GenericFlag{Name: "max-rtt-avg", Value: &seconds{}, Usage: "fail when the average RTT is over `DURATION` (5ms or 0.005)"},
			&cli.GenericFlag{Name: "max-rtt-p50", Value: &seconds{}, Usage: "fail when the median RTT is over `DURATION`"},
			&cli.GenericFlag{Name: "max-rtt-p90", Value: &seconds{}, Usage: "fail when the 90th percentile RTT is over `DURATION`"},
			&cli.GenericFlag{Name: "max-rtt-p99", Value: &seconds{}, Usage: "fail when the 99th percentile RTT is over `DURATION`"},
			&cli.GenericFlag{Name: "max-rtt", Value: &seconds{}, Usage: "fail when the largest RTT is over `DURATION`"},
			&cli.GenericFlag{Name: "max-jitter", Value: &seconds{}, Usage: "fail when the RFC 3550 jitter is over `DURATION`"},
			&cli.IntFlag{Name: "max-reordered", Value: -1, Usage: "fail when more than `N` replies came out of order"},
			&cli.IntFlag{Name: "max-duplicates", Value: -1, Usage: "fail when more than `N` duplicate replies came"},
			&cli.BoolFlag{Name: "q", Aliases: []string{"quiet"}, Usage: "statistics only"},
			&cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "JSON Lines output: an event per datagram, then the summary"},
			&cli.StringFlag{Name: "write", Usage: "write every datagram sent and received to `FILE` (pcap, or pcapng for *.pcapng)"},
			&cli.BoolFlag{Name: "4", Usage: "IPv4 only (for host names)"},
			&cli.BoolFlag{Name: "6", Usage: "IPv6 only (for host names)"},
			// Puts sockperf's 14-byte header in front of the probe's, so
			// that sockperf's server answers (benchmarks only).
			&cli.BoolFlag{Name: "sockperf", Hidden: true},
		},
		Action: runUDPProbe,
	}
}

func runUDPProbe(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErrorf("probe: want one HOST:PORT (got %d arguments)", c.NArg())
	}
	remote, err := parseHostPort(c, c.Args().First())
	if err != nil {
		return err
	}
	cfg, th, err := probeFlags(c)
	if err != nil {
		return err
	}
	cfg.Remote = remote
	conn, err := udp.Dial(udp.ListenConfig{Remote: remote, RecvBuf: 4 << 20, SendBuf: 4 << 20, Blocking: true, TxStamps: true})
	if err != nil {
		return err
	}
	defer conn.Close()
	if on, err := udp.TxStamps(conn); !on && err != nil {
		// ts_source says it per reply too (kernel_rx).
		fmt.Fprintf(c.App.ErrWriter, "rawnet: no kernel transmit timestamps (%v): RTTs start at the time read before sending\n", err)
	}
	file, tapFn, err := openPcap(c)
	if err != nil {
		return err
	}
	cfg.Tap = tapFn
	cfg.Conn = conn
	p, err := udp.NewProbe(cfg)
	if err != nil {
		return usageErrorf("%s", err)
	}
	if cfg.Unpaced {
		runtime.GOMAXPROCS(1) // one thread sends and reads in turn
	}
	out := newProbeOutput(c.App.Writer, c.Bool("json"), c.Bool("q"))
	out.start(conn.LocalAddr(), &cfg)
	if err := flushOutput(out.w); err != nil {
		return err
	}
	// --duration is the engine's: it stops sending, then waits for the
	// replies in flight.
	sum, err := p.Run(c.Context, out.event)
	if err != nil {
		return err
	}
	breaches := th.check(&sum)
	out.summary(&sum, breaches)
	if err := flushOutput(out.w); err != nil {
		return err
	}
	if err := closePcap(file); err != nil {
		return err
	}
	if sum.Received == 0 || len(breaches) > 0 {
		return exitError(1)
	}
	return nil
}

func probeFlags(c *cli.Context) (udp.ProbeConfig, thresholds, error) {
	var cfg udp.ProbeConfig
	var th thresholds
	cfg.Count = c.Int("c")
	if c.IsSet("c") && cfg.Count < 1 {
		return cfg, th, usageErrorf("-c %d: count must be at least 1", cfg.Count)
	}
	if c.IsSet("rate") {
		r, err := rateFlag(c, "rate", true)
		if err != nil {
			return cfg, th, err
		}
		cfg.Rate, cfg.Unpaced = r, r == 0
	}
	if iv := c.Generic("i").(*seconds); iv.set {
		if iv.d < time.Microsecond {
			return cfg, th, usageErrorf("-i %s: interval must be at least 1µs (--rate 0 for no pacing)", iv.d)
		}
		cfg.Interval = iv.d
	}
	if c.Bool("sockperf") {
		cfg.Prefix = sockperfHeader(c.Int("s"))
	}
	cfg.Size = c.Int("s")
	if min := udp.HeaderLen + len(cfg.Prefix); cfg.Size < min || cfg.Size > 65507 {
		return cfg, th, usageErrorf("-s %d: size must be %d..65507 (the probe header is %d bytes)", cfg.Size, min, min)
	}
	if w := c.Int("window"); w < 1 || w > 32768 {
		return cfg, th, usageErrorf("--window %d: want 1..32768", w)
	}
	cfg.Window = c.Int("window")
	for _, f := range []struct {
		name string
		d    *time.Duration
	}{{"duration", &cfg.Duration}, {"W", &cfg.Timeout}, {"interval-report", &cfg.ReportEvery}} {
		if err := durationFlag(c, f.name, f.d); err != nil {
			return cfg, th, err
		}
	}
	err := th.parse(c)
	return cfg, th, err
}

// sockperfHeader is sockperf's message header for a datagram of size
// bytes: sequence 0, flags client|pong-request, length; its server answers
// such datagrams with the same bytes.
func sockperfHeader(size int) []byte {
	b := make([]byte, 14)
	binary.BigEndian.PutUint16(b[8:], 1|2)
	binary.BigEndian.PutUint32(b[10:], uint32(size))
	return b
}

// thresholds are the --max-* limits; a negative or zero value is unset.
type thresholds struct {
	loss                               float64
	lossSet                            bool
	avg, p50, p90, p99, maxRTT, jitter time.Duration
	reordered, duplicates              int
}

func (th *thresholds) parse(c *cli.Context) error {
	if s := c.String("max-loss"); s != "" {
		v, err := parsePercent("--max-loss", s)
		if err != nil {
			return err
		}
		th.loss, th.lossSet = v, true
	}
	for _, f := range []struct {
		name string
		d    *time.Duration
	}{{"max-rtt-avg", &th.avg}, {"max-rtt-p50", &th.p50}, {"max-rtt-p90", &th.p90}, {"max-rtt-p99", &th.p99},
		{"max-rtt", &th.maxRTT}, {"max-jitter", &th.jitter}} {
		if err := durationFlag(c, f.name, f.d); err != nil {
			return err
		}
	}
	th.reordered, th.duplicates = c.Int("max-reordered"), c.Int("max-duplicates")
	return nil
}

// breach is one threshold a run broke.
type breach struct {
	Flag  string
	Limit string
	Value string
}

func (th *thresholds) check(s *udp.ProbeSummary) []breach {
	var out []breach
	if th.lossSet && s.LossPct() > th.loss {
		out = append(out, breach{"--max-loss", fmt.Sprintf("%g%%", th.loss), fmt.Sprintf("%g%%", roundLoss(s.LossPct()))})
	}
	noReply := s.Received == 0
	for _, d := range []struct {
		flag         string
		limit, value time.Duration
	}{{"--max-rtt-avg", th.avg, s.RTT.Avg()}, {"--max-rtt-p50", th.p50, s.Percentile(50)}, {"--max-rtt-p90", th.p90, s.Percentile(90)},
		{"--max-rtt-p99", th.p99, s.Percentile(99)}, {"--max-rtt", th.maxRTT, s.RTT.Max()}, {"--max-jitter", th.jitter, s.Jitter.Value()}} {
		if d.limit > 0 && (noReply || d.value > d.limit) {
			v := ms3(d.value) + "ms"
			if noReply {
				v = "no reply"
			}
			out = append(out, breach{d.flag, ms3(d.limit) + "ms", v})
		}
	}
	if th.reordered >= 0 && s.Reordered > th.reordered {
		out = append(out, breach{"--max-reordered", fmt.Sprint(th.reordered), fmt.Sprint(s.Reordered)})
	}
	if th.duplicates >= 0 && s.Duplicates > th.duplicates {
		out = append(out, breach{"--max-duplicates", fmt.Sprint(th.duplicates), fmt.Sprint(s.Duplicates)})
	}
	return out
}
