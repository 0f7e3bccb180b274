package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/capture"
)

// seconds is a duration flag that takes what ping users type: a plain
// number of seconds ("0.2", "1") or a Go duration ("200ms", "1m").
type seconds struct {
	d   time.Duration
	set bool
}

func (s *seconds) Set(v string) error {
	d, err := parseSeconds(v)
	if err != nil {
		return err
	}
	s.d, s.set = d, true
	return nil
}

func (s *seconds) String() string {
	if s == nil || !s.set {
		return ""
	}
	return s.d.String()
}

func parseSeconds(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if f, err := strconv.ParseFloat(v, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if !(f >= 0 && f <= 1e9) { // NaN and infinities fail too
			return 0, fmt.Errorf("%q is out of range", v)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is neither seconds (0.2) nor a duration (200ms)", v)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", v)
	}
	return d, nil
}

// parseByte reads a number 0..255 in decimal or 0x hex (TOS values).
func parseByte(flag, v string) (int, error) {
	n, err := strconv.ParseUint(v, 0, 8)
	if err != nil {
		return 0, usageErrorf("%s %s: want a number 0..255 (decimal or 0x hex)", flag, v)
	}
	return int(n), nil
}

// decoderFlags are the flags of the commands that print decoded packets
// (read, capture, decode, send): how TCP numbers print and which protocol
// a port carries.
func decoderFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "S", Aliases: []string{"absolute-tcp-sequence-numbers"}, Usage: "print absolute TCP sequence numbers (default: relative to each connection's first, as tcpdump)"},
		&cli.StringSliceFlag{Name: "decode-as", Usage: "decode `udp:PORT=PROTO` (or tcp:PORT=dns): the payload of PORT as PROTO, one of dns, mdns, ntp, dhcp, dhcp6, vxlan, geneve, esp, none; repeatable"},
	}
}

// decoderConfig reads the flags of decoderFlags.
func decoderConfig(c *cli.Context) (capture.DecoderConfig, error) {
	cfg := capture.DecoderConfig{AbsoluteSeq: c.Bool("S")}
	for _, s := range c.StringSlice("decode-as") {
		m, err := capture.ParseDecodeAs(s)
		if err != nil {
			return cfg, usageErrorf("--decode-as %v", err)
		}
		cfg.DecodeAs = append(cfg.DecodeAs, m)
	}
	return cfg, nil
}
