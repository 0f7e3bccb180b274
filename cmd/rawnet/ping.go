package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/icmp"
	"github.com/rawnet/rawnet/internal/priv"
	"github.com/rawnet/rawnet/internal/target"
)

func pingCommand() *cli.Command {
	return &cli.Command{
		Name:      "ping",
		Usage:     "ICMP echo, TCP SYN or UDP probes to one host or thousands (IPv4 and IPv6)",
		ArgsUsage: "TARGET... (host name, address, or CIDR prefix)",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "c", Aliases: []string{"count"}, Usage: "stop after `N` probes per target (default: until interrupted; 1 with several targets); with -w, after N replies"},
			&cli.GenericFlag{Name: "i", Aliases: []string{"interval"}, Value: &seconds{}, Usage: "wait `SECONDS` (0.2 or 200ms) between probes to a target (default 1s)"},
			&cli.StringFlag{Name: "P", Aliases: []string{"protocol"}, Value: "icmp", Usage: "probe `KIND`: icmp (echo), tcp (a SYN per probe; SYN-ACK or RST replies) or udp (a datagram per probe; an answer or port unreachable replies)"},
			&cli.IntFlag{Name: "port", Usage: "destination `PORT` of -P tcp and -P udp (default tcp 80, udp 33434); -p PORT is the same with those kinds"},
			&cli.IntFlag{Name: "s", Aliases: []string{"size"}, Value: icmp.DefaultSize, Usage: "payload `BYTES` of an echo request or UDP datagram (data on the SYN with -P tcp, default 0)"},
			&cli.IntFlag{Name: "t", Aliases: []string{"ttl"}, Usage: "IP TTL / IPv6 hop limit `N` (1..255)"},
			&cli.GenericFlag{Name: "W", Aliases: []string{"timeout"}, Value: &seconds{}, Usage: "wait `SECONDS` for each reply; later replies count as lost (default 2s)"},
			&cli.GenericFlag{Name: "w", Aliases: []string{"deadline"}, Value: &seconds{}, Usage: "stop after `SECONDS` whatever has been sent or received"},
			&cli.BoolFlag{Name: "f", Aliases: []string{"flood"}, Usage: "flood: send each probe as soon as the previous is answered or 10ms have passed; with -i, pace by -i and print dots (needs CAP_NET_RAW)"},
			&cli.BoolFlag{Name: "q", Aliases: []string{"quiet"}, Usage: "quiet: print only statistics (with several targets, only those that lost probes, and the totals)"},
			&cli.StringFlag{Name: "I", Aliases: []string{"interface"}, Usage: "send from interface `IFACE` or source address"},
			&cli.StringFlag{Name: "Q", Aliases: []string{"tos"}, Usage: "IP TOS / IPv6 traffic class `TOS` (decimal or 0x hex)"},
			&cli.StringFlag{Name: "p", Usage: "with -P icmp: fill the payload with `HEX` bytes (up to 16), as iputils ping; with -P tcp or udp: the destination PORT, as hping3 and nping"},
			&cli.StringFlag{Name: "pattern", Usage: "fill the payload with `HEX` bytes (up to 16), whatever the kind"},
			&cli.StringFlag{Name: "M", Aliases: []string{"pmtudisc"}, Usage: "path MTU discovery `MODE`: do (set DF), dont, want, probe"},
			&cli.BoolFlag{Name: "b", Aliases: []string{"broadcast"}, Usage: "allow pinging an IPv4 broadcast address (SO_BROADCAST)"},
			&cli.BoolFlag{Name: "4", Usage: "IPv4 only"},
			&cli.BoolFlag{Name: "6", Usage: "IPv6 only"},
			&cli.BoolFlag{Name: "D", Aliases: []string{"timestamp"}, Usage: "print a unix timestamp before each line"},
			&cli.BoolFlag{Name: "O", Usage: "report probes that got no reply (no answer yet for icmp_seq=N)"},
			&cli.BoolFlag{Name: "n", Aliases: []string{"numeric"}, Usage: "numeric output (rawnet never looks up reply names; accepted for ping compatibility)"},
			&cli.Float64Flag{Name: "rate", Usage: "cap probes per second over all targets (default 20000 with several targets)"},
			&cli.IntFlag{Name: "id", Usage: "echo identifier `N` for raw sockets (default random; replies are matched by a per-run cookie as well)"},
			&cli.StringFlag{Name: "socket", Value: "auto", Usage: "ICMP socket `KIND`: auto, raw (root/CAP_NET_RAW) or datagram (net.ipv4.ping_group_range)"},
			&cli.IntFlag{Name: "max-targets", Value: 65536, Usage: "refuse prefixes that expand to more than `N` addresses"},
			&cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "JSON Lines output: one object per event, then summaries"},
			&cli.StringFlag{Name: "write", Usage: "write every probe and reply to `FILE` (pcap, or pcapng for *.pcapng)"},
			&cli.BoolFlag{Name: "v", Aliases: []string{"verbose"}, Usage: "say which socket and timestamps are used"},
		},
		Action: runPing,
	}
}

// pingOptions is everything the ping command reads from its flags.
type pingOptions struct {
	cfg      icmp.Config
	proto    icmp.Proto // -P
	port     uint16     // -P tcp|udp: the destination port
	family   target.Family
	listen   icmp.ListenConfig
	deadline time.Duration
	flood    bool // -f: dots, and (without -i) a probe per reply
	quiet    bool
	stamps   bool
	reportNo bool
	json     bool
	verbose  bool
	multi    bool
}

func runPing(c *cli.Context) error {
	o, err := pingFlags(c)
	if err != nil {
		return err
	}
	ctx := c.Context
	maxTargets := c.Int("max-targets")
	if maxTargets < 1 {
		return usageErrorf("--max-targets %d: must be at least 1", maxTargets)
	}
	targets, err := target.Expand(ctx, c.Args().Slice(), target.Options{Family: o.family, Max: maxTargets})
	if err != nil {
		if errors.Is(err, target.ErrTooMany) {
			return usageErrorf("%s (raise --max-targets)", err)
		}
		return usageErrorf("%s", err)
	}
	targets = target.Dedup(targets)
	for _, t := range targets {
		o.cfg.Targets = append(o.cfg.Targets, t.Addr)
	}
	o.multi = len(targets) > 1
	if !o.multi && icmp.IsBroadcast(targets[0].Addr) {
		// As iputils: refuse before sending, unless -b says it is meant.
		if !o.listen.Broadcast {
			return usageErrorf("ping: Do you want to ping broadcast? Then -b. If not, check your local firewall rules")
		}
		fmt.Fprintln(c.App.ErrWriter, "WARNING: pinging broadcast address")
	}
	if o.multi && !c.IsSet("c") {
		o.cfg.Count = 1
	}
	v4, v6, err := openSockets(o, targets)
	if err != nil {
		return err
	}
	defer closeAll(v4, v6)
	file, tapFn, err := openPcap(c)
	if err != nil {
		return err
	}
	defer closePcap(file)
	o.cfg.Tap = tapFn
	out := newPingOutput(c.App.Writer, c.App.ErrWriter, o, targets, v4, v6)
	dropPrivileges(c.App.ErrWriter, o.verbose)
	for _, c := range []icmp.Conn{v4, v6} {
		if c != nil {
			o.cfg.Conns = append(o.cfg.Conns, c)
		}
	}
	p, err := icmp.New(o.cfg)
	if err != nil {
		return err
	}
	if o.deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.deadline)
		defer cancel()
	}
	if o.cfg.Flood {
		// A flood is one thread sending and reading in turn; with a single
		// P the runtime keeps no second thread spinning or waking beside it
		// (measured: about 3% more round trips per second).
		runtime.GOMAXPROCS(1)
	}
	if err := out.start(); err != nil {
		return err
	}
	sum, err := p.Run(ctx, out.event)
	if err != nil {
		return err
	}
	if err := out.summary(&sum); err != nil {
		return err
	}
	if err := closePcap(file); err != nil {
		return err
	}
	if sum.Received() == 0 {
		return exitError(1)
	}
	return nil
}

func pingFlags(c *cli.Context) (pingOptions, error) {
	var o pingOptions
	if c.NArg() == 0 {
		return o, usageErrorf("ping: missing TARGET (a host name, address or CIDR prefix)")
	}
	o.cfg.Count = c.Int("c")
	if c.IsSet("c") && o.cfg.Count < 1 {
		return o, usageErrorf("-c %d: count must be at least 1", o.cfg.Count)
	}
	o.flood = c.Bool("f")
	if err := intervalFlag(c, &o); err != nil {
		return o, err
	}
	if err := kindFlags(c, &o); err != nil {
		return o, err
	}
	o.cfg.Size = c.Int("s")
	if o.cfg.Size < 0 || o.cfg.Size > 65507 {
		return o, usageErrorf("-s %d: payload size must be 0..65507", o.cfg.Size)
	}
	if o.proto == icmp.ProtoTCP && !c.IsSet("s") {
		o.cfg.Size = 0 // a SYN carries no data unless asked, as hping3 and nmap send it
	}
	if o.cfg.Size == 0 {
		o.cfg.Size = icmp.NoPayload
	}
	if c.IsSet("t") {
		o.listen.TTL = c.Int("t")
		if o.listen.TTL < 1 || o.listen.TTL > 255 {
			return o, usageErrorf("-t %d: TTL must be 1..255", o.listen.TTL)
		}
	}
	if err := timeFlags(c, &o); err != nil {
		return o, err
	}
	if err := socketFlags(c, &o); err != nil {
		return o, err
	}
	o.quiet, o.stamps, o.reportNo = c.Bool("q"), c.Bool("D"), c.Bool("O")
	o.json, o.verbose = c.Bool("json"), c.Bool("v")
	o.cfg.ReportSent = o.flood && !o.quiet && !o.json      // for the dots
	o.cfg.UntilReplies = o.deadline > 0 && o.cfg.Count > 0 // ping -c N -w D waits for N replies
	return o, nil
}

// intervalFlag checks -i and -f against what is allowed, as iputils does:
// without CAP_NET_RAW no interval below 2ms and no flood; with it, 0.1ms
// (or anything above zero with -f). -f alone sends each probe when the
// previous is answered (or 10ms later); -f with -i paces probes by -i and
// only prints the flood dots.
func intervalFlag(c *cli.Context, o *pingOptions) error {
	iv := c.Generic("i").(*seconds)
	privileged := hasNetRaw()
	if o.flood && !iv.set && !privileged {
		return usageErrorf("-f: cannot flood without CAP_NET_RAW; the smallest interval allowed is 2ms (-f -i 0.002)")
	}
	o.cfg.Flood = o.flood && !iv.set
	if !iv.set {
		return nil
	}
	min := 100 * time.Microsecond
	if !privileged {
		min = 2 * time.Millisecond
	}
	if iv.d < min && !(o.flood && iv.d > 0 && privileged) {
		return usageErrorf("-i %s: interval must be at least %s (use -f to flood)", iv.d, min)
	}
	o.cfg.Interval = iv.d
	return nil
}

func timeFlags(c *cli.Context, o *pingOptions) error {
	if w := c.Generic("W").(*seconds); w.set {
		if w.d <= 0 {
			return usageErrorf("-W %s: timeout must be above zero", w.d)
		}
		o.cfg.Timeout = w.d
	}
	if w := c.Generic("w").(*seconds); w.set {
		if w.d <= 0 {
			return usageErrorf("-w %s: deadline must be above zero", w.d)
		}
		o.deadline = w.d
	}
	if c.IsSet("rate") {
		o.cfg.Rate = c.Float64("rate")
		if o.cfg.Rate <= 0 || o.cfg.Rate > 10_000_000 {
			return usageErrorf("--rate %g: must be above 0 and at most 10000000 probes/s", o.cfg.Rate)
		}
	}
	return nil
}

func socketFlags(c *cli.Context, o *pingOptions) error {
	if c.Bool("4") && c.Bool("6") {
		return usageErrorf("-4 and -6 exclude each other")
	}
	switch {
	case c.Bool("4"):
		o.family = target.V4
	case c.Bool("6"):
		o.family = target.V6
	}
	if s := c.String("Q"); s != "" {
		tos, err := parseByte("-Q", s)
		if err != nil {
			return err
		}
		o.listen.TOS = tos
	}
	for _, f := range []string{"p", "pattern"} {
		s := c.String(f)
		if s == "" || (f == "p" && o.proto != icmp.ProtoICMP) {
			continue
		}
		b, err := hex.DecodeString(s)
		if err != nil || len(b) == 0 || len(b) > 16 {
			return usageErrorf("%s %s: pattern must be 1 to 16 bytes of hex digits", flagName(f), s)
		}
		o.cfg.Pattern = b
	}
	o.listen.Broadcast = c.Bool("b")
	switch m := c.String("M"); m {
	case "", "do", "dont", "want", "probe":
		o.listen.PMTU = m
	default:
		return usageErrorf("-M %s: want do, dont, want or probe", m)
	}
	switch s := c.String("socket"); s {
	case "auto":
		o.listen.Mode = icmp.ModeAuto
	case "raw":
		o.listen.Mode = icmp.ModeRaw
	case "datagram", "dgram":
		o.listen.Mode = icmp.ModeDatagram
	default:
		return usageErrorf("--socket %s: want auto, raw or datagram", s)
	}
	if c.IsSet("id") {
		id := c.Int("id")
		if id < 1 || id > 65535 {
			return usageErrorf("--id %d: identifier must be 1..65535", id)
		}
		o.listen.ID = uint16(id)
	}
	if s := c.String("I"); s != "" {
		if a, err := netip.ParseAddr(s); err == nil {
			o.listen.Source = a.Unmap()
		} else {
			o.listen.Interface = s
		}
	}
	return nil
}

// openSockets opens one ICMP socket per address family the targets need.
func openSockets(o pingOptions, targets []target.Target) (v4, v6 icmp.Conn, err error) {
	need4, need6 := false, false
	for _, t := range targets {
		need4 = need4 || t.Addr.Is4()
		need6 = need6 || !t.Addr.Is4()
	}
	lc := o.listen
	lc.Proto = o.proto
	if o.multi {
		lc.RecvBuf = 8 << 20 // replies to a sweep arrive in bursts
	}
	if o.cfg.Flood {
		// One thread reads, matches and sends, as ping -f does; a read
		// times out when a reply is overdue, and the next probe leaves.
		lc.Blocking = true
		// Small IPv4 probes fit any link (576 bytes): write their header
		// ourselves, for the kernel's shorter IP_HDRINCL path.
		lc.HeaderIncluded = o.proto == icmp.ProtoICMP && o.cfg.Size >= 0 && o.cfg.Size+28 <= 576
		// Short slices: a read blocked in the kernel notices the end of
		// the run (Ctrl-C, -w) within 2ms.
		lc.BlockingSlice = 2 * time.Millisecond
	}
	if src := lc.Source; src.IsValid() && ((src.Is4() && need6) || (!src.Is4() && need4)) {
		return nil, nil, usageErrorf("-I %s: source address family does not match every target", src)
	}
	if need4 {
		if v4, err = icmp.Listen(lc); err != nil {
			return nil, nil, err
		}
	}
	if need6 {
		lc.V6 = true
		if v6, err = icmp.Listen(lc); err != nil {
			closeAll(v4, nil)
			return nil, nil, err
		}
	}
	return v4, v6, nil
}

// hasNetRaw reports whether the process holds CAP_NET_RAW.
func hasNetRaw() bool {
	const capNetRaw = 13
	eff, err := priv.Effective()
	return err == nil && eff&(1<<capNetRaw) != 0
}

func closeAll(cs ...icmp.Conn) {
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}

// Default destination ports of -P tcp (HTTP, what hping3 -S users probe
// first) and -P udp (traceroute's first port, which nothing listens on:
// the port unreachable says the host is up, as nping's 40125 does).
const (
	defaultTCPPort = 80
	defaultUDPPort = 33434
)

// kindFlags reads -P and the port. ping's -p is iputils' payload pattern;
// hping3 and nping users type -p for the destination port. Both hold: -p
// is the pattern with -P icmp and the port with -P tcp and udp, whose
// pattern is --pattern; --port is the port whatever the kind, and is
// refused with -P icmp.
func kindFlags(c *cli.Context, o *pingOptions) error {
	switch p := c.String("P"); p {
	case "icmp":
		o.proto = icmp.ProtoICMP
	case "tcp":
		o.proto, o.port = icmp.ProtoTCP, defaultTCPPort
	case "udp":
		o.proto, o.port = icmp.ProtoUDP, defaultUDPPort
	default:
		return usageErrorf("-P %s: want icmp, tcp or udp", p)
	}
	if o.proto == icmp.ProtoICMP {
		if c.IsSet("port") {
			return usageErrorf("--port %d: a port needs -P tcp or -P udp (with -P icmp, -p is the payload pattern)", c.Int("port"))
		}
		return nil
	}
	for _, f := range []string{"socket", "id"} {
		if c.IsSet(f) {
			return usageErrorf("--%s: only with -P icmp", f)
		}
	}
	if c.IsSet("port") && c.IsSet("p") {
		return usageErrorf("-p %s and --port %d: give the port once", c.String("p"), c.Int("port"))
	}
	port, flag := c.Int("port"), "--port"
	if c.IsSet("p") {
		n, err := strconv.Atoi(c.String("p"))
		if err != nil {
			return usageErrorf("-p %s: with -P %s, -p is the destination port (1..65535); the payload pattern is --pattern", c.String("p"), c.String("P"))
		}
		port, flag = n, "-p"
	}
	if c.IsSet("port") || c.IsSet("p") {
		if port < 1 || port > 65535 {
			return usageErrorf("%s %d: port must be 1..65535", flag, port)
		}
		o.port = uint16(port)
	}
	if o.proto == icmp.ProtoTCP && c.String("pattern") != "" && !c.IsSet("s") {
		return usageErrorf("--pattern %s: a SYN carries no payload unless -s gives its length", c.String("pattern"))
	}
	switch o.proto {
	case icmp.ProtoTCP:
		o.cfg.Kind = icmp.NewTCPProbe(o.port)
	case icmp.ProtoUDP:
		o.cfg.Kind = icmp.NewUDPProbe(o.port)
	}
	return nil
}

// flagName is how a flag is written on the command line.
func flagName(f string) string {
	if len(f) == 1 {
		return "-" + f
	}
	return "--" + f
}
