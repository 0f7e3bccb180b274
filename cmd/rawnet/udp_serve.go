package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/internal/jsonl"
	"github.com/rawnet/rawnet/udp"
)

func udpServeCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "answer (echo, reflect) or count (sink) datagrams from any number of clients",
		ArgsUsage: "[ADDR]:PORT (no address: every IPv4 and IPv6 address)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "mode", Aliases: []string{"m"}, Value: "echo", Usage: "`MODE`: echo, sink or reflect"},
			&cli.Float64Flag{Name: "max-rate", Usage: "answer at most `PPS` datagrams per second over all clients (0: no cap)"},
			&cli.Float64Flag{Name: "client-rate", Usage: "answer at most `PPS` datagrams per second per client (default with --max-rate: an equal share of it per active client)"},
			&cli.IntFlag{Name: "max-clients", Value: udp.DefaultMaxClients, Usage: "track at most `N` clients one by one (more are counted together); bounds memory"},
			&cli.GenericFlag{Name: "idle", Value: &seconds{}, Usage: "forget a client silent for `SECONDS` after reporting it (default 60)"},
			&cli.GenericFlag{Name: "report", Value: &seconds{}, Usage: "report per-client counters every `SECONDS`"},
			&cli.GenericFlag{Name: "duration", Value: &seconds{}, Usage: "stop after `SECONDS`"},
			&cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "JSON Lines output"},
			&cli.StringFlag{Name: "write", Usage: "write every datagram received and sent to `FILE` (pcap, or pcapng for *.pcapng)"},
			// A server that takes this long over each datagram (tests of
			// the reflector's stamps).
			&cli.GenericFlag{Name: "delay", Value: &seconds{}, Hidden: true},
		},
		Action: runUDPServe,
	}
}

func runUDPServe(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErrorf("serve: want one [ADDR]:PORT, e.g. :7 (got %d arguments)", c.NArg())
	}
	addr, err := parseListen(c.Args().First())
	if err != nil {
		return err
	}
	cfg, err := serveFlags(c)
	if err != nil {
		return err
	}
	ctx, cancel, err := withDuration(c)
	if err != nil {
		return err
	}
	defer cancel()
	conn, err := udp.Listen(udp.ListenConfig{Addr: addr, RecvBuf: 4 << 20, SendBuf: 4 << 20, Blocking: true})
	if err != nil {
		return bindHint(err, addr.Port())
	}
	defer conn.Close()
	file, tapFn, err := openPcap(c)
	if err != nil {
		return err
	}
	cfg.Tap = tapFn
	cfg.Conn = conn
	s, err := udp.NewServer(cfg)
	if err != nil {
		return err
	}
	out := newServeOutput(c.App.Writer, c.Bool("json"))
	out.listen(conn, cfg.Mode)
	if err := flushOutput(out.w); err != nil {
		return err
	}
	sum, err := s.Run(ctx, out.event)
	out.summary(&sum)
	if oerr := flushOutput(out.w); err == nil {
		err = oerr
	}
	if cerr := closePcap(file); err == nil {
		err = cerr
	}
	return err
}

func serveFlags(c *cli.Context) (udp.ServerConfig, error) {
	var cfg udp.ServerConfig
	mode, err := udp.ParseMode(c.String("mode"))
	if err != nil {
		return cfg, usageErrorf("--mode %s: want echo, sink or reflect", c.String("mode"))
	}
	cfg.Mode = mode
	if cfg.MaxRate, err = rateFlag(c, "max-rate", true); err != nil {
		return cfg, err
	}
	if cfg.ClientRate, err = rateFlag(c, "client-rate", true); err != nil {
		return cfg, err
	}
	if cfg.MaxClients = c.Int("max-clients"); cfg.MaxClients < 1 || cfg.MaxClients > 1_000_000 {
		return cfg, usageErrorf("--max-clients %d: want 1..1000000", cfg.MaxClients)
	}
	for _, name := range []string{"idle", "report", "delay"} {
		if v := c.Generic(name).(*seconds); v.set && v.d <= 0 {
			return cfg, usageErrorf("--%s %s: must be above zero", name, v.d)
		}
	}
	cfg.IdleTimeout = c.Generic("idle").(*seconds).d
	cfg.ReportEvery = c.Generic("report").(*seconds).d
	cfg.Delay = c.Generic("delay").(*seconds).d
	return cfg, nil
}

// serveOutput prints a server's reports as text or JSON Lines.
type serveOutput struct {
	w    *bufio.Writer
	json *jsonl.Writer
}

func newServeOutput(w io.Writer, json bool) *serveOutput {
	out := &serveOutput{w: bufio.NewWriter(w)}
	if json {
		out.json = jsonl.New(out.w)
	}
	return out
}

type (
	jsonListen struct {
		Type string `json:"type"`
		Addr string `json:"addr"`
		Mode string `json:"mode"`
	}
	// jsonServeCounts are the datagram counts a client line and the
	// totals share; embedded, their keys stay where they are.
	jsonServeCounts struct {
		Received    uint64 `json:"received"`
		Bytes       uint64 `json:"bytes"`
		Replied     uint64 `json:"replied"`
		RateLimited uint64 `json:"rate_limited"`
		Plain       uint64 `json:"plain"`
		Malformed   uint64 `json:"malformed"`
	}
	jsonClient struct {
		Type  string `json:"type"`
		Event string `json:"event"`
		Addr  string `json:"addr"`
		First string `json:"first"`
		Last  string `json:"last"`
		jsonServeCounts
		Session    string  `json:"session,omitempty"`
		Probes     uint64  `json:"probes"`
		Lost       uint64  `json:"lost"`
		LossPct    float64 `json:"loss_pct"`
		Duplicates uint64  `json:"duplicates"`
		Reordered  uint64  `json:"reordered"`
	}
	jsonServerTotals struct {
		Type string `json:"type"`
		jsonServeCounts
		SendErrors uint64  `json:"send_errors"`
		Clients    uint64  `json:"clients"`
		Untracked  uint64  `json:"untracked"`
		TimeMs     float64 `json:"time_ms,omitempty"`
	}
)

func (o *serveOutput) emit(v any) {
	o.json.Emit(v) // a failed write sticks: writeError and flushOutput report it
}

func (o *serveOutput) listen(conn udp.Conn, mode udp.Mode) {
	a := conn.LocalAddr()
	if o.json != nil {
		o.emit(jsonListen{Type: "listen", Addr: a.String(), Mode: mode.String()})
		return
	}
	dual := ""
	if a.Addr().IsUnspecified() && a.Addr().Is6() {
		dual = " (IPv4 and IPv6)"
	}
	fmt.Fprintf(o.w, "UDP %s server on %s%s\n", mode, a, dual)
	o.w.Flush()
}

func (o *serveOutput) event(ev udp.ServerEvent) error {
	name := map[udp.ServerEventKind]string{udp.ServerReport: "report", udp.ClientGone: "gone"}[ev.Kind]
	if o.json == nil {
		fmt.Fprintf(o.w, "-- %s %s --\n", name, ev.Time.Format("15:04:05"))
	}
	for i := range ev.Clients {
		o.client(name, &ev.Clients[i])
	}
	if ev.Kind == udp.ServerReport {
		o.totals("totals", &ev.Totals, 0)
	}
	return flushOutput(o.w)
}

func (o *serveOutput) client(event string, cs *udp.ClientStats) {
	loss := cs.LossPct()
	if o.json != nil {
		j := jsonClient{Type: "client", Event: event, Addr: cs.Addr.String(), First: jsonl.Time(cs.First), Last: jsonl.Time(cs.Last),
			jsonServeCounts: jsonServeCounts{cs.Received, cs.Bytes, cs.Replied, cs.RateLimited, cs.Plain, cs.Malformed},
			Probes:          cs.Probes, Lost: cs.Lost(), LossPct: loss, Duplicates: cs.Duplicates, Reordered: cs.Reordered}
		if !cs.Addr.IsValid() {
			j.Addr = "others"
		}
		if cs.Probes > 0 {
			j.Session = fmt.Sprintf("%016x", cs.Session)
		}
		o.emit(j)
		return
	}
	addr := cs.Addr.String()
	if !cs.Addr.IsValid() {
		addr = "(others)"
	}
	fmt.Fprintf(o.w, "%-24s rcvd %d (%d bytes), replied %d, rate-limited %d, plain %d, malformed %d",
		addr, cs.Received, cs.Bytes, cs.Replied, cs.RateLimited, cs.Plain, cs.Malformed)
	if cs.Probes > 0 {
		fmt.Fprintf(o.w, "; probes %d, lost on the way %d (%g%%), dup %d, reordered %d", cs.Probes, cs.Lost(), roundLoss(loss), cs.Duplicates, cs.Reordered)
	}
	o.w.WriteByte('\n')
}

func (o *serveOutput) totals(typ string, t *udp.ServerTotals, ms float64) {
	if o.json != nil {
		o.emit(jsonServerTotals{Type: typ, jsonServeCounts: jsonServeCounts{t.Received, t.Bytes, t.Replied, t.RateLimited, t.Plain, t.Malformed},
			SendErrors: t.SendErrors, Clients: t.Clients, Untracked: t.Untracked, TimeMs: ms})
		return
	}
	fmt.Fprintf(o.w, "%s: %d datagrams (%d bytes) from %d clients, %d replied, %d rate-limited, %d plain, %d malformed, %d send errors",
		strings.ReplaceAll(typ, "_", " "), t.Received, t.Bytes, t.Clients, t.Replied, t.RateLimited, t.Plain, t.Malformed, t.SendErrors)
	if t.Untracked > 0 {
		fmt.Fprintf(o.w, ", %d from clients beyond --max-clients", t.Untracked)
	}
	o.w.WriteByte('\n')
}

func (o *serveOutput) summary(sum *udp.ServerSummary) {
	defer o.w.Flush()
	if o.json == nil {
		fmt.Fprintf(o.w, "\n--- %s udp server statistics ---\n", sum.Local)
	}
	for i := range sum.Clients {
		o.client("final", &sum.Clients[i])
	}
	o.totals("server_summary", &sum.Totals, jsonl.Ms(sum.Elapsed))
}
