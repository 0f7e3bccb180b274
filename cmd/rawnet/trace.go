package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/internal/target"
	"github.com/rawnet/rawnet/trace"
)

func traceCommand() *cli.Command {
	return &cli.Command{
		Name:      "trace",
		Aliases:   []string{"traceroute"},
		Usage:     "path probing over UDP, ICMP or TCP, Paris and multipath aware",
		ArgsUsage: "TARGET... (host names or addresses; several are traced at once)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "P", Aliases: []string{"protocol"}, Value: "udp", Usage: "probe `METHOD`: udp, icmp or tcp"},
			&cli.BoolFlag{Name: "4", Usage: "IPv4 only"},
			&cli.BoolFlag{Name: "6", Usage: "IPv6 only"},
			&cli.IntFlag{Name: "q", Aliases: []string{"queries"}, Value: 3, Usage: "`N` probes per hop (and per flow)"},
			&cli.IntFlag{Name: "f", Aliases: []string{"first"}, Value: 1, Usage: "start at TTL `N`"},
			&cli.IntFlag{Name: "m", Aliases: []string{"max-hops"}, Value: 30, Usage: "stop at TTL `N`"},
			&cli.IntFlag{Name: "p", Aliases: []string{"port"}, Usage: "destination `PORT`", DefaultText: "udp 33434, tcp 80"},
			&cli.IntFlag{Name: "sport", Usage: "first source `PORT` (udp, tcp)", DefaultText: "random"},
			&cli.StringFlag{Name: "W", Aliases: []string{"w", "wait"}, Value: "5,3,10", Usage: "wait `MAX[,HERE,NEAR]`: at most MAX seconds for an answer, but no more than HERE times the round trip of an answer from the same hop or NEAR times one from a farther hop (0 turns a rule off)"},
			&cli.IntFlag{Name: "N", Aliases: []string{"sim-queries"}, Usage: "at most `N` probes in flight", DefaultText: "every probe of the trace"},
			&cli.IntFlag{Name: "s", Aliases: []string{"size"}, Usage: "probe size `BYTES`, whole IP packet", DefaultText: "60 IPv4, 80 IPv6"},
			&cli.StringFlag{Name: "t", Aliases: []string{"tos"}, Usage: "IP TOS / IPv6 traffic class `TOS` (decimal or 0x hex)"},
			&cli.BoolFlag{Name: "F", Aliases: []string{"dont-fragment"}, Usage: "set the IPv4 don't-fragment bit"},
			&cli.StringFlag{Name: "I", Aliases: []string{"interface"}, Usage: "send from interface `IFACE` or source address"},
			&cli.BoolFlag{Name: "n", Aliases: []string{"numeric"}, Usage: "do not look up host names"},
			&cli.BoolFlag{Name: "v", Aliases: []string{"verbose"}, Usage: "say whether the capabilities were dropped"},
			&cli.IntFlag{Name: "flows", Value: 1, Usage: "trace `K` flows (consecutive source ports; ICMP checksums)"},
			&cli.BoolFlag{Name: "multipath", Usage: "find every interface at every TTL and the links between them (MDA)"},
			&cli.Float64Flag{Name: "confidence", Value: 0.95, Usage: "multipath: confidence `P` of the stopping rule"},
			&cli.IntFlag{Name: "max-flows", Value: 128, Usage: "multipath: at most `K` flows"},
			&cli.BoolFlag{Name: "report", Aliases: []string{"r"}, Usage: "mtr-style report: run -c cycles and print per-hop loss and round trips"},
			&cli.BoolFlag{Name: "live", Usage: "full-screen mtr-style view, refreshed as answers come (rawnet mtr); keys: q quit, p pause, r reset, d display, n names, f flow, Enter hop detail, Tab target, ? help"},
			&cli.IntFlag{Name: "c", Aliases: []string{"count"}, Value: 10, Usage: "report, live: `N` cycles", DefaultText: "10, live: until quit"},
			&cli.GenericFlag{Name: "i", Aliases: []string{"interval"}, Value: &seconds{d: time.Second, set: false}, Usage: "report, live: `SECONDS` between cycles", DefaultText: "1"},
			&cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "JSON Lines output: one object per hop, then a summary per target"},
			&cli.StringFlag{Name: "json-file", Usage: "write the JSON Lines to `FILE` instead of standard output (with --live: every hop of every cycle, then the report)"},
			&cli.StringFlag{Name: "write", Usage: "write every probe and answer to `FILE` (pcap, or pcapng for *.pcapng)"},
		},
		Action: runTrace,
	}
}

type traceOptions struct {
	cfg     trace.Config
	family  target.Family
	listen  trace.ListenConfig
	numeric bool
	report  bool
	json    bool
	live    bool
	verbose bool
}

func runTrace(c *cli.Context) error {
	o, err := traceFlags(c)
	if err != nil {
		return err
	}
	ctx := c.Context
	targets, err := target.Expand(ctx, c.Args().Slice(), target.Options{Family: o.family, Max: 4096})
	if err != nil {
		return usageErrorf("%s", err)
	}
	targets = target.Dedup(targets)
	for _, t := range targets {
		o.cfg.Targets = append(o.cfg.Targets, t.Addr)
	}
	conns, err := openTraceConns(o, targets)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	file, tapFn, err := openPcap(c)
	if err != nil {
		return err
	}
	defer closePcap(file)
	// --json-file is opened while privileges are held, like --write: it
	// may be in a directory only root can write.
	w, jf, err := traceWriter(c)
	if err != nil {
		return err
	}
	defer closeFile(jf)
	dropPrivileges(c.App.ErrWriter, o.verbose)
	o.cfg.Tap = tapFn
	o.cfg.Conns = conns
	if o.live {
		return runTraceLive(c, o, targets, conns, file, jf)
	}
	tr, err := trace.New(o.cfg)
	if err != nil {
		if errors.Is(err, trace.ErrConfig) {
			return usageErrorf("%s", strings.TrimPrefix(err.Error(), "trace: bad configuration: "))
		}
		return err
	}
	out := newTraceOutput(w, o, targets)
	out.start()
	sum, err := tr.Run(ctx, out.event)
	if outErr := out.finish(); outErr != nil {
		return outErr
	}
	if err != nil {
		return err
	}
	if err := closePcap(file); err != nil {
		return err
	}
	if ctx.Err() == nil && sum.Reached < sum.Targets {
		return exitError(1)
	}
	return nil
}

func traceFlags(c *cli.Context) (traceOptions, error) {
	var o traceOptions
	if c.NArg() == 0 {
		return o, usageErrorf("trace: missing TARGET (a host name or address)")
	}
	m, err := trace.ParseMethod(c.String("P"))
	if err != nil {
		return o, usageErrorf("-P %s: want udp, icmp or tcp", c.String("P"))
	}
	cfg := trace.Config{
		Method: m, Queries: c.Int("q"), FirstTTL: c.Int("f"), MaxTTL: c.Int("m"),
		Port: c.Int("p"), SrcPort: c.Int("sport"), InFlight: c.Int("N"), Size: c.Int("s"),
		DF: c.Bool("F"), Flows: c.Int("flows"), Multipath: c.Bool("multipath"),
		Confidence: c.Float64("confidence"), MaxFlows: c.Int("max-flows"),
	}
	if cfg.Port == 0 {
		cfg.Port = 33434
		if m == trace.TCP {
			cfg.Port = 80
		}
	}
	checks := []struct {
		ok  bool
		msg string
	}{
		{cfg.Queries >= 1 && cfg.Queries <= 10, fmt.Sprintf("-q %d: probes per hop must be 1..10", cfg.Queries)},
		{cfg.FirstTTL >= 1 && cfg.FirstTTL <= 255, fmt.Sprintf("-f %d: first TTL must be 1..255", cfg.FirstTTL)},
		{cfg.MaxTTL >= cfg.FirstTTL && cfg.MaxTTL <= 255, fmt.Sprintf("-m %d: max TTL must be %d..255", cfg.MaxTTL, cfg.FirstTTL)},
		{!c.IsSet("p") || (cfg.Port >= 1 && cfg.Port <= 65535), fmt.Sprintf("-p %d: port must be 1..65535", cfg.Port)},
		{!c.IsSet("sport") || (cfg.SrcPort >= 1 && cfg.SrcPort <= 65535), fmt.Sprintf("--sport %d: port must be 1..65535", cfg.SrcPort)},
		{cfg.InFlight >= 0, fmt.Sprintf("-N %d: must be at least 1", cfg.InFlight)},
		{!c.IsSet("s") || (cfg.Size >= 28 && cfg.Size <= 65000), fmt.Sprintf("-s %d: probe size must be 28..65000 bytes", cfg.Size)},
		{cfg.Flows >= 1 && cfg.Flows <= 256, fmt.Sprintf("--flows %d: must be 1..256", cfg.Flows)},
		{cfg.Confidence > 0 && cfg.Confidence < 1, fmt.Sprintf("--confidence %g: must be between 0 and 1", cfg.Confidence)},
		{cfg.MaxFlows >= 1 && cfg.MaxFlows <= 1024, fmt.Sprintf("--max-flows %d: must be 1..1024", cfg.MaxFlows)},
		{!(c.Bool("4") && c.Bool("6")), "-4 and -6 exclude each other"},
		{!(cfg.Multipath && c.Bool("report")), "--multipath and --report exclude each other"},
		{!(c.Bool("live") && c.Bool("report")), "--live and --report exclude each other"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return o, usageErrorf("%s", ch.msg)
		}
	}
	if c.IsSet("sport") && cfg.SrcPort+cfg.Flows > 65536 {
		return o, usageErrorf("--sport %d: no room for %d flows above it", cfg.SrcPort, cfg.Flows)
	}
	w, err := parseWait(c.String("W"))
	if err != nil {
		return o, usageErrorf("-W %s: %v", c.String("W"), err)
	}
	cfg.Wait = w
	if s := c.String("t"); s != "" {
		tos, err := parseByte("-t", s)
		if err != nil {
			return o, err
		}
		cfg.TOS = tos
	}
	o.live = c.Bool("live") || c.Command.Name == "mtr"
	o.verbose = c.Bool("v")
	if err := liveFlags(c, o.live); err != nil {
		return o, err
	}
	if c.Bool("report") || o.live {
		o.report = c.Bool("report")
		cfg.Cycles = c.Int("c")
		if cfg.Cycles < 1 || cfg.Cycles > 1_000_000 {
			return o, usageErrorf("-c %d: cycles must be 1..1000000", cfg.Cycles)
		}
		if !c.IsSet("q") {
			cfg.Queries = 1
		}
		cfg.Interval = time.Second
		if iv := c.Generic("i").(*seconds); iv.set {
			if iv.d < 10*time.Millisecond {
				return o, usageErrorf("-i %s: interval must be at least 10ms", iv.d)
			}
			cfg.Interval = iv.d
		}
		if o.live && !c.IsSet("c") {
			cfg.Cycles = liveForever
		}
	}
	switch {
	case c.Bool("4"):
		o.family = target.V4
	case c.Bool("6"):
		o.family = target.V6
	}
	if s := c.String("I"); s != "" {
		if a, err := netip.ParseAddr(s); err == nil {
			o.listen.Source = a.Unmap()
		} else {
			o.listen.Interface = s
		}
	}
	o.cfg = cfg
	o.numeric, o.json = c.Bool("n"), c.Bool("json") || c.String("json-file") != ""
	return o, nil
}

// parseWait reads -W MAX[,HERE,NEAR]; MAX in seconds or with a unit.
func parseWait(s string) (trace.Wait, error) {
	w := trace.Wait{Here: 3, Near: 10}
	parts := strings.Split(s, ",")
	if len(parts) > 3 {
		return w, errors.New("want MAX[,HERE,NEAR]")
	}
	d, err := parseSeconds(parts[0])
	if err != nil || d <= 0 {
		return w, errors.New("MAX must be a time above zero")
	}
	w.Max = d
	for i, p := range parts[1:] {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f < 0 || f > 1000 {
			return w, fmt.Errorf("factor %q must be a number 0..1000", p)
		}
		if i == 0 {
			w.Here = f
		} else {
			w.Near = f
		}
	}
	return w, nil
}

// openTraceConns opens the sockets for the address families the targets
// need.
func openTraceConns(o traceOptions, targets []target.Target) ([]trace.Conn, error) {
	need := map[bool]bool{}
	for _, t := range targets {
		need[!t.Addr.Is4()] = true
	}
	if src := o.listen.Source; src.IsValid() && need[src.Is4()] {
		return nil, usageErrorf("-I %s: source address family does not match every target", src)
	}
	var conns []trace.Conn
	for _, v6 := range []bool{false, true} {
		if !need[v6] {
			continue
		}
		lc := o.listen
		lc.V6, lc.Method, lc.Port = v6, o.cfg.Method, uint16(o.cfg.Port)
		c, err := trace.Listen(lc)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, c)
	}
	return conns, nil
}
