package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/capture"
	"github.com/rawnet/rawnet/craft"
	"github.com/rawnet/rawnet/pcap"
)

func sendCommand() *cli.Command {
	return &cli.Command{
		Name:      "send",
		Aliases:   []string{"craft"},
		Usage:     "craft packets field by field, send them fast, and show the answers",
		ArgsUsage: "SPEC (e.g. 'ip(dst=198.18.5.2,ttl=1..3)/udp(dport=53,80)/raw(hex=deadbeef)')",
		Flags: append([]cli.Flag{
			&cli.Uint64Flag{Name: "c", Aliases: []string{"count"}, Usage: "send the expanded packets `N` times", DefaultText: "1, or until --duration"},
			&cli.Float64Flag{Name: "rate", Usage: "`PPS` packets per second (0: as fast as the kernel takes them)"},
			&cli.StringFlag{Name: "i", Aliases: []string{"interval"}, Usage: "`SECONDS` between packets (or uN for N microseconds, as hping3)"},
			&cli.GenericFlag{Name: "duration", Value: &seconds{}, Usage: "stop sending after `SECONDS`"},
			&cli.StringFlag{Name: "I", Aliases: []string{"interface"}, Usage: "send on `IFACE`: frames go out there (L2), IP packets are bound to it"},
			&cli.BoolFlag{Name: "l2", Usage: "send whole frames through AF_PACKET even when L3 would do"},
			&cli.BoolFlag{Name: "l3", Usage: "keep bulk sends (--rate 0, 1000+ packets) on the kernel's IP path instead of AF_PACKET"},
			&cli.IntFlag{Name: "fragment", Usage: "split the IP payload into fragments of at most `BYTES` (a multiple of 8)"},
			&cli.GenericFlag{Name: "wait", Value: &seconds{}, Usage: "after sending, take answers for `SECONDS`"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "build and show the packets, send nothing"},
			&cli.BoolFlag{Name: "hex", Aliases: []string{"x"}, Usage: "show a hex dump of each packet shown"},
			&cli.BoolFlag{Name: "v", Aliases: []string{"verbose"}, Usage: "every field of every answer; how the packets go out"},
			&cli.BoolFlag{Name: "q", Aliases: []string{"quiet"}, Usage: "only the summary"},
			&cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "JSON Lines: packets (dry run), answers, then a summary"},
			&cli.StringFlag{Name: "write", Aliases: []string{"w"}, Usage: "write what is sent and answered to `FILE` (pcap, or pcapng for *.pcapng)"},
			&cli.Uint64Flag{Name: "seed", Usage: "seed `N` for rand values (repeatable runs)"},
			&cli.BoolFlag{Name: "fields", Usage: "list the layers and fields of the spec language and exit"},
		}, decoderFlags()...),
		Action: runSend,
	}
}

type sendOptions struct {
	cfg   craft.Config
	dry   bool
	hex   bool
	json  bool
	quiet bool
	verb  bool
	write string
	dec   capture.DecoderConfig
}

func sendFlags(c *cli.Context) (sendOptions, error) {
	o := sendOptions{dry: c.Bool("dry-run"), hex: c.Bool("hex"), json: c.Bool("json"), quiet: c.Bool("q"),
		verb: c.Bool("v"), write: c.String("write")}
	var err error
	if o.dec, err = decoderConfig(c); err != nil {
		return o, err
	}
	o.cfg.Count = c.Uint64("c")
	o.cfg.Rate = c.Float64("rate")
	if o.cfg.Rate < 0 || math.IsNaN(o.cfg.Rate) || math.IsInf(o.cfg.Rate, 0) {
		return o, usageErrorf("--rate %v: want packets per second, 0 or more", c.Float64("rate"))
	}
	if s := c.String("i"); s != "" {
		d, err := parseInterval(s)
		if err != nil {
			return o, usageErrorf("-i %s: %v", s, err)
		}
		if c.IsSet("rate") {
			return o, usageErrorf("-i and --rate: give one of them")
		}
		o.cfg.Rate = float64(time.Second) / float64(d)
	}
	o.cfg.Duration = c.Generic("duration").(*seconds).d
	o.cfg.Wait = c.Generic("wait").(*seconds).d
	o.cfg.Iface = c.String("I")
	o.cfg.L2 = c.Bool("l2")
	o.cfg.L3 = c.Bool("l3")
	if o.cfg.L2 && o.cfg.L3 {
		return o, usageErrorf("--l2 and --l3: give one of them")
	}
	o.cfg.Fragment = c.Int("fragment")
	if c.IsSet("fragment") && (o.cfg.Fragment < 8 || o.cfg.Fragment > 65528) {
		return o, usageErrorf("--fragment %d: want 8 to 65528 bytes", o.cfg.Fragment)
	}
	if c.IsSet("c") && o.cfg.Count == 0 && o.cfg.Duration == 0 {
		return o, usageErrorf("-c 0 sends forever: give --duration too")
	}
	o.cfg.Seed = c.Uint64("seed")
	o.cfg.DryRun = o.dry
	if o.dry && o.cfg.Wait > 0 {
		return o, usageErrorf("--wait with --dry-run: a dry run sends nothing")
	}
	return o, nil
}

// parseInterval reads -i: seconds ("0.01"), or hping3's uN (microseconds).
func parseInterval(s string) (time.Duration, error) {
	var d time.Duration
	if rest, ok := strings.CutPrefix(s, "u"); ok {
		n, err := strconv.ParseUint(rest, 10, 32)
		if err != nil || n == 0 {
			return 0, errors.New("want uN with N microseconds, 1 or more")
		}
		d = time.Duration(n) * time.Microsecond
	} else {
		v, err := parseSeconds(s)
		if err != nil {
			return 0, err
		}
		d = v
	}
	if d <= 0 {
		return 0, errors.New("want more than 0 seconds")
	}
	return d, nil
}

func runSend(c *cli.Context) error {
	if c.Bool("fields") {
		_, err := c.App.Writer.Write([]byte(craft.FieldHelp()))
		return err
	}
	o, err := sendFlags(c)
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		return usageErrorf("send: missing SPEC, e.g. 'ip(dst=198.18.5.2)/udp(dport=53)' (see rawnet send --help)")
	}
	spec, err := craft.Parse(strings.Join(c.Args().Slice(), " "))
	if err != nil {
		return usageErrorf("send: %s", err)
	}
	o.cfg.Spec = spec
	plan, err := craft.New(o.cfg)
	if err != nil {
		return err
	}
	out := newSendOutput(c.App.Writer, c.App.ErrWriter, o, plan)
	if o.verb && !o.json {
		for _, n := range plan.Notes() {
			fmt.Fprintf(c.App.ErrWriter, "rawnet: %s\n", n)
		}
	}
	f, err := createSendPcap(o, plan)
	if err != nil {
		return err
	}
	if f != nil {
		plan.SetTap(f.Tap())
	}
	if !o.dry {
		if err := plan.Open(); err != nil {
			closePcap(f)
			return err
		}
		defer plan.Close()
		dropPrivileges(c.App.ErrWriter, o.verb && !o.json)
	}
	if o.dry {
		err = out.dryRun(plan)
		if errors.Is(err, errOutput) {
			closePcap(f)
			return err
		}
		return firstErr(err, out.flush(), closePcap(f))
	}
	sum, err := plan.Run(c.Context, out.answer)
	if errors.Is(err, errOutput) {
		closePcap(f)
		return err // no summary: nothing more can be printed
	}
	out.summary(sum, c.Context.Err() != nil)
	if oerr := out.flush(); oerr != nil {
		closePcap(f)
		return oerr
	}
	if cerr := closePcap(f); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if sum.Failed > 0 && sum.Sent == 0 {
		return sum.FirstError
	}
	if sum.Waited && sum.Answered == 0 {
		return exitError(1)
	}
	return nil
}

func createSendPcap(o sendOptions, plan *craft.Plan) (*pcap.File, error) {
	if o.write == "" {
		return nil, nil
	}
	link := pcap.Raw
	if plan.L2() {
		link = pcap.Ethernet
	}
	return pcap.Create(o.write, link)
}
