package main

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"

	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/internal/jsonl"
	"github.com/rawnet/rawnet/udp"
)

func udpScanCommand() *cli.Command {
	return &cli.Command{
		Name:      "scan",
		Usage:     "tell open, closed and open|filtered UDP ports apart",
		ArgsUsage: "HOST PORTS (e.g. 53,123,161,1000-2000)",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "retries", Value: udp.DefaultRetries, Usage: "retry a silent port `N` times before calling it open|filtered"},
			&cli.Float64Flag{Name: "rate", Value: udp.DefaultScanRate, Usage: "start at `PPS` probes per second (the scan slows to what the target answers)"},
			&cli.Float64Flag{Name: "min-rate", Value: udp.DefaultMinRate, Usage: "never go slower than `PPS` probes per second"},
			&cli.GenericFlag{Name: "wait", Value: &seconds{}, Usage: "wait at most `SECONDS` for an answer (default 1; less once answers show the round trip)"},
			&cli.BoolFlag{Name: "open", Usage: "list only the ports that are open (or may be)"},
			&cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "JSON Lines output: a line per port, then the summary"},
			&cli.StringFlag{Name: "write", Usage: "write every probe and answer to `FILE` (pcap, or pcapng for *.pcapng)"},
			&cli.BoolFlag{Name: "4", Usage: "IPv4 only (for host names)"},
			&cli.BoolFlag{Name: "6", Usage: "IPv6 only (for host names)"},
			&cli.BoolFlag{Name: "v", Aliases: []string{"verbose"}, Usage: "say whether the capabilities were dropped"},
		},
		Action: runUDPScan,
	}
}

func runUDPScan(c *cli.Context) error {
	if c.NArg() != 2 {
		return usageErrorf("scan: want HOST and PORTS, e.g. rawnet udp scan 198.18.1.2 53,123,1000-2000 (got %d arguments)", c.NArg())
	}
	host, err := resolveHost(c, c.Args().Get(0))
	if err != nil {
		return err
	}
	ports, err := udp.ParsePorts(c.Args().Get(1))
	if err != nil {
		return usageErrorf("scan: %s", err)
	}
	cfg := udp.ScanConfig{Target: host, Ports: ports, Retries: c.Int("retries")}
	if cfg.Retries < 0 || cfg.Retries > 20 {
		return usageErrorf("--retries %d: want 0..20", cfg.Retries)
	}
	if cfg.Retries == 0 {
		cfg.Retries = -1 // the engine's "none"
	}
	if cfg.Rate, err = rateFlag(c, "rate", false); err != nil {
		return err
	}
	if cfg.MinRate, err = rateFlag(c, "min-rate", false); err != nil {
		return err
	}
	if err := durationFlag(c, "wait", &cfg.Wait); err != nil {
		return err
	}
	conn, err := udp.ListenErrors(udp.ListenConfig{Remote: netip.AddrPort{}, Addr: anyAddr(host)})
	if err != nil {
		return err
	}
	defer conn.Close()
	file, tapFn, err := openPcap(c)
	if err != nil {
		return err
	}
	dropPrivileges(c.App.ErrWriter, c.Bool("v"))
	cfg.Tap = tapFn
	cfg.Conn = conn
	s, err := udp.NewScanner(cfg)
	if err != nil {
		return usageErrorf("%s", err)
	}
	out := newScanOutput(c.App.Writer, c.Bool("json"), c.Bool("open"))
	out.start(host, len(ports))
	if err := flushOutput(out.w); err != nil {
		return err
	}
	sum, err := s.Run(c.Context, out.event)
	if err != nil {
		return err
	}
	out.summary(&sum)
	if err := flushOutput(out.w); err != nil {
		return err
	}
	if err := closePcap(file); err != nil {
		return err
	}
	if sum.Count(udp.Open)+sum.Count(udp.Closed)+sum.Count(udp.Filtered) == 0 {
		return exitError(1)
	}
	return nil
}

// anyAddr is the unspecified address of host's family.
func anyAddr(host netip.Addr) netip.AddrPort {
	if host.Is4() {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
}

// scanOutput prints verdicts as they come (text sorted at the end, as
// nmap does) or JSON Lines.
type scanOutput struct {
	w        *bufio.Writer
	json     *jsonl.Writer
	openOnly bool
	target   netip.Addr
}

func newScanOutput(w io.Writer, json, openOnly bool) *scanOutput {
	o := &scanOutput{w: bufio.NewWriter(w), openOnly: openOnly}
	if json {
		o.json = jsonl.New(o.w)
	}
	return o
}

type (
	jsonScanStart struct {
		Type   string `json:"type"`
		Target string `json:"target"`
		Ports  int    `json:"ports"`
	}
	jsonPort struct {
		Type    string   `json:"type"`
		Target  string   `json:"target"`
		Port    uint16   `json:"port"`
		State   string   `json:"state"`
		Reason  string   `json:"reason"`
		Tries   int      `json:"tries"`
		RTTMs   *float64 `json:"rtt_ms,omitempty"`
		From    string   `json:"from,omitempty"`
		Size    int      `json:"size,omitempty"`
		RatePPS float64  `json:"rate_pps"`
	}
	jsonScanSummary struct {
		Type         string  `json:"type"`
		Target       string  `json:"target"`
		Ports        int     `json:"ports"`
		Open         int     `json:"open"`
		Closed       int     `json:"closed"`
		Filtered     int     `json:"filtered"`
		OpenFiltered int     `json:"open_filtered"`
		Sent         int     `json:"sent"`
		TimeMs       float64 `json:"time_ms"`
		RatePPS      float64 `json:"rate_pps"`
		RateLimited  bool    `json:"rate_limited"`
	}
)

func (o *scanOutput) start(target netip.Addr, n int) {
	o.target = target
	if o.json != nil {
		o.json.Emit(jsonScanStart{Type: "start", Target: target.String(), Ports: n}) // a failed write sticks
		return
	}
	fmt.Fprintf(o.w, "UDP SCAN %s: %d ports\n", target, n)
	o.w.Flush()
}

func (o *scanOutput) shown(st udp.PortState) bool {
	return !o.openOnly || st == udp.Open || st == udp.OpenFiltered
}

func (o *scanOutput) event(ev udp.ScanEvent) error {
	p := ev.Port
	if o.json == nil || !o.shown(p.State) {
		return nil
	}
	j := jsonPort{Type: "port", Target: o.target.String(), Port: p.Port, State: p.State.String(), Reason: p.Reason, Tries: p.Tries,
		Size: p.Size, RatePPS: ev.Rate}
	if p.RTT > 0 {
		j.RTTMs = msp(p.RTT)
	}
	if p.From.IsValid() {
		j.From = p.From.String()
	}
	return jsonError(o.json.Emit(j))
}

func (o *scanOutput) summary(s *udp.ScanSummary) {
	defer o.w.Flush()
	if o.json != nil {
		o.json.Emit(jsonScanSummary{Type: "scan_summary", Target: s.Target.String(), Ports: len(s.Ports), Open: s.Count(udp.Open),
			Closed: s.Count(udp.Closed), Filtered: s.Count(udp.Filtered), OpenFiltered: s.Count(udp.OpenFiltered), Sent: s.Sent,
			TimeMs: jsonl.Ms(s.Elapsed), RatePPS: s.Rate, RateLimited: s.Limited})
		return
	}
	fmt.Fprintf(o.w, "%-10s %-14s %s\n", "PORT", "STATE", "REASON")
	for _, p := range s.Ports {
		if !o.shown(p.State) {
			continue
		}
		reason := p.Reason
		if p.From.IsValid() && p.From != s.Target {
			reason += " from " + p.From.String()
		}
		fmt.Fprintf(o.w, "%-10s %-14s %s\n", fmt.Sprintf("%d/udp", p.Port), p.State, reason)
	}
	limited := ""
	if s.Limited {
		limited = " (the target rate-limits its ICMP errors)"
	}
	fmt.Fprintf(o.w, "\n%d ports in %.1f s: %d open, %d closed, %d filtered, %d open|filtered; %d datagrams, final rate %.0f/s%s\n",
		len(s.Ports), s.Elapsed.Seconds(), s.Count(udp.Open), s.Count(udp.Closed), s.Count(udp.Filtered), s.Count(udp.OpenFiltered),
		s.Sent, s.Rate, limited)
}
