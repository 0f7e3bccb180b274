package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rawnet/rawnet/icmp"
	"github.com/rawnet/rawnet/internal/arp"
	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/jsonl"
	"github.com/rawnet/rawnet/internal/target"
)

// pingOutput prints ping events as iputils/fping-style text or JSON Lines.
type pingOutput struct {
	w       *bufio.Writer
	errw    io.Writer
	json    *jsonl.Writer
	o       pingOptions
	targets []target.Target
	socket  string
	flood   bool
}

func newPingOutput(w, errw io.Writer, o pingOptions, targets []target.Target, v4, v6 icmp.Conn) *pingOutput {
	out := &pingOutput{w: bufio.NewWriter(w), errw: errw, o: o, targets: targets, flood: o.flood && !o.json && !o.quiet}
	if o.json {
		out.json = jsonl.New(out.w)
	}
	out.socket = "raw"
	if o.link != nil {
		out.socket = "packet"
		tx := "kernel transmit timestamps (SO_TIMESTAMPING)"
		if on, err := icmp.TxStamps(o.link.conn); !on {
			tx = fmt.Sprintf("no kernel transmit timestamps (%v)", err)
		}
		out.verbosef("AF_PACKET socket on %s (%s), kernel receive timestamps (SO_TIMESTAMPNS), %s",
			o.link.conn.Interface().Name, o.link.conn.Interface().HardwareAddr, tx)
	}
	for _, c := range []icmp.Conn{v4, v6} {
		if c == nil {
			continue
		}
		kind := "raw"
		if c.Datagram() {
			kind, out.socket = "datagram", "datagram"
		}
		w := c.Wire()
		tx := "kernel transmit timestamps (SO_TIMESTAMPING)"
		if on, err := icmp.TxStamps(c); !on {
			tx = fmt.Sprintf("no kernel transmit timestamps (%v): RTTs run from the time read before sending", err)
		}
		proto, id := map[bool]string{false: "ICMP", true: "ICMPv6"}[c.V6()], "echo id"
		switch o.proto {
		case icmp.ProtoTCP:
			proto, id = map[bool]string{false: "TCP", true: "TCPv6"}[c.V6()], "source port (held by a bound TCP socket; the kernel resets half-open connections)"
		case icmp.ProtoUDP:
			proto, id = map[bool]string{false: "UDP", true: "UDPv6"}[c.V6()], "source port"
		}
		out.verbosef("%s %s socket, %s %d, ttl %d, tos %#x, kernel receive timestamps (SO_TIMESTAMPNS), %s",
			kind, proto, id, c.ID(), w.TTL, w.TOS, tx)
	}
	return out
}

func (out *pingOutput) verbosef(format string, a ...any) {
	if out.o.verbose {
		fmt.Fprintf(out.errw, "rawnet: "+format+"\n", a...)
	}
}

// JSON event shapes (documented in cmd/rawnet/doc/ping.txt, the man page).
type (
	jsonStart struct {
		Type       string  `json:"type"`
		Targets    int     `json:"targets"`
		Size       int     `json:"size"`
		Count      int     `json:"count"`
		IntervalMs float64 `json:"interval_ms"`
		TimeoutMs  float64 `json:"timeout_ms"`
		Socket     string  `json:"socket"`
		Protocol   string  `json:"protocol"`
		Port       uint16  `json:"port,omitempty"`
	}
	jsonProbe struct {
		Type     string   `json:"type"`
		Time     string   `json:"time"`
		Target   string   `json:"target"`
		Name     string   `json:"name,omitempty"`
		From     string   `json:"from,omitempty"`
		Seq      uint32   `json:"seq"`
		TTL      *int     `json:"ttl,omitempty"`
		Size     int      `json:"size,omitempty"`
		RTTMs    *float64 `json:"rtt_ms,omitempty"`
		Dup      *bool    `json:"dup,omitempty"`
		TSSource string   `json:"ts_source,omitempty"`
		ICMPType *uint8   `json:"icmp_type,omitempty"`
		ICMPCode *uint8   `json:"icmp_code,omitempty"`
		Error    string   `json:"error,omitempty"`
		MTU      uint32   `json:"mtu,omitempty"`
		MAC      string   `json:"mac,omitempty"`       // -P arp, ndp: the MAC that answered
		OtherMAC bool     `json:"other_mac,omitempty"` // ... and it is not the target's first
		Port     uint16   `json:"port,omitempty"`
		Flags    string   `json:"flags,omitempty"`
		State    string   `json:"state,omitempty"`
	}
	jsonSummary struct {
		Type        string  `json:"type"`
		Target      string  `json:"target"`
		Name        string  `json:"name,omitempty"`
		Transmitted int     `json:"transmitted"`
		Received    int     `json:"received"`
		Duplicates  int     `json:"duplicates"`
		Errors      int     `json:"errors"`
		Late        int     `json:"late"`
		SendErrors  int     `json:"send_errors"`
		LossPct     float64 `json:"loss_pct"`
		jsonRTT
		TimeMs float64 `json:"time_ms"`
	}
	jsonTotal struct {
		Type        string  `json:"type"`
		Targets     int     `json:"targets"`
		Alive       int     `json:"alive"`
		Transmitted int     `json:"transmitted"`
		Received    int     `json:"received"`
		LossPct     float64 `json:"loss_pct"`
		TimeMs      float64 `json:"time_ms"`
	}
)

func (out *pingOutput) start() error {
	c := out.o.cfg
	size := c.Size
	if size == icmp.NoPayload {
		size = 0
	} else if size == 0 {
		size = icmp.DefaultSize
	}
	if out.json != nil {
		iv := c.Interval
		switch {
		case iv == 0 && c.Flood:
			iv = icmp.FloodInterval
		case iv == 0:
			iv = icmp.DefaultInterval
		}
		to := c.Timeout
		if to == 0 {
			to = icmp.DefaultTimeout
		}
		out.emit(jsonStart{Type: "start", Targets: len(out.targets), Size: size, Count: c.Count,
			IntervalMs: jsonl.Ms(iv), TimeoutMs: jsonl.Ms(to), Socket: out.socket, Protocol: out.protocol(), Port: out.o.port})
		return writeError(out.w)
	}
	kind, hdr := "", 8
	switch out.o.proto {
	case icmp.ProtoTCP:
		kind, hdr = fmt.Sprintf(" tcp port %d:", out.o.port), 24
	case icmp.ProtoUDP:
		kind = fmt.Sprintf(" udp port %d:", out.o.port)
	}
	if out.o.link != nil {
		fmt.Fprintln(out.w, out.o.link.header(out.targets))
	} else if len(out.targets) == 1 {
		t := out.targets[0]
		fmt.Fprintf(out.w, "PING %s (%s)%s %d(%d) bytes of data.\n", t.Name, t.Addr, kind, size, size+hdr+ipHeaderLen(t))
	} else {
		n4 := 0
		for _, t := range out.targets {
			if t.Addr.Is4() {
				n4++
			}
		}
		fmt.Fprintf(out.w, "PING %d targets (%d IPv4, %d IPv6)%s with %d bytes of data.\n", len(out.targets), n4, len(out.targets)-n4, strings.TrimSuffix(kind, ":"), size)
	}
	return flushOutput(out.w)
}

func ipHeaderLen(t target.Target) int {
	if t.Addr.Is4() {
		return 20
	}
	return 40
}

// emit writes one JSON event. A failed write is kept by the writers and
// stops the run at the next check (writeError); an event that does not
// encode is a bug, said on stderr.
func (out *pingOutput) emit(v any) {
	if err := out.json.Emit(v); err != nil && !errors.Is(err, jsonl.ErrWrite) {
		fmt.Fprintf(out.errw, "rawnet: %v\n", err)
	}
}

// event is the sink the engine calls for every event, from one goroutine.
func (out *pingOutput) event(ev icmp.Event) error {
	if out.json != nil {
		out.jsonEvent(ev)
		return writeError(out.w)
	}
	if out.flood {
		out.floodEvent(ev)
		return writeError(out.w)
	}
	t := out.targets[ev.Target]
	switch ev.Kind {
	case icmp.EventSent:
		if ev.Err != nil {
			fmt.Fprintf(out.errw, "rawnet: %v\n", ev.Err)
		}
		return writeError(out.w)
	case icmp.EventLocalError:
		if !out.o.quiet {
			fmt.Fprintf(out.errw, "rawnet: %s\n", localError(ev))
		}
		return writeError(out.w)
	case icmp.EventReply, icmp.EventLate:
		if out.o.quiet {
			return nil
		}
		out.stamp(ev.Time)
		out.replyLine(ev)
		if ev.Dup {
			out.w.WriteString(" (DUP!)")
		}
		if ev.Kind == icmp.EventLate {
			out.w.WriteString(" (late: counted as lost)")
		}
		out.w.WriteByte('\n')
	case icmp.EventError:
		if out.o.quiet {
			return nil
		}
		out.stamp(ev.Time)
		fmt.Fprintf(out.w, "From %s %s=%d %s", ev.From, out.seqName(), ev.Seq, icmpmsg.Describe(!t.Addr.Is4(), ev.ICMPType, ev.ICMPCode, ev.Info))
		if len(out.targets) > 1 {
			fmt.Fprintf(out.w, " (probe to %s)", t.Addr)
		}
		out.w.WriteByte('\n')
	case icmp.EventTimeout:
		if !out.o.reportNo || out.o.quiet {
			return nil
		}
		out.stamp(ev.Time)
		if len(out.targets) > 1 {
			fmt.Fprintf(out.w, "no answer yet from %s for %s=%d\n", t.Addr, out.seqName(), ev.Seq)
		} else {
			fmt.Fprintf(out.w, "no answer yet for %s=%d\n", out.seqName(), ev.Seq)
		}
	}
	return flushOutput(out.w)
}

// linkReply writes the reply line of -P arp and ndp: arping's
// "42 bytes from MAC (address)", then ping's sequence and time in ms, and
// a flag when the target answered from another MAC before.
func (out *pingOutput) linkReply(ev icmp.Event) {
	lp, mac := out.o.link, arp.MAC(ev.MAC)
	fmt.Fprintf(out.w, "%d bytes from %s (%s): %s=%d time=%s ms", ev.Size, mac, ev.From.WithZone(""), lp.seqName(), ev.Seq, formatRTT(ev.RTT))
	if other, first := lp.note(ev.Target, mac); other {
		fmt.Fprintf(out.w, " (other MAC: first reply from %s)", first)
	}
}

// floodEvent prints a dot per probe sent and takes one back per reply, as
// ping -f does: the dots left standing are the probes that got no reply.
func (out *pingOutput) floodEvent(ev icmp.Event) {
	switch ev.Kind {
	case icmp.EventSent:
		out.w.WriteByte('.')
	case icmp.EventReply:
		if !ev.Dup {
			out.w.WriteByte('\b')
		}
	case icmp.EventError:
		out.w.WriteString("\bE") // the probe's dot becomes an E
	case icmp.EventLocalError:
		out.w.WriteByte('E') // no dot went out for it
	}
	if out.w.Buffered() > 512 {
		out.w.Flush()
	}
}

func (out *pingOutput) stamp(t time.Time) {
	if out.o.stamps {
		fmt.Fprintf(out.w, "[%d.%06d] ", t.Unix(), t.Nanosecond()/1000)
	}
}

func (out *pingOutput) jsonEvent(ev icmp.Event) {
	t := out.targets[ev.Target]
	j := jsonProbe{Type: ev.Kind.String(), Time: jsonl.Time(ev.Time), Target: t.Addr.String(), Seq: ev.Seq}
	if t.Name != t.Addr.String() {
		j.Name = t.Name
	}
	if ev.From.IsValid() {
		j.From = ev.From.String()
	}
	if ev.TTL >= 0 {
		j.TTL = &ev.TTL
	}
	switch ev.Kind {
	case icmp.EventSent:
		if ev.Err == nil {
			return
		}
		j.Type, j.Error = "send_error", ev.Err.Error()
	case icmp.EventLocalError:
		if out.o.quiet {
			return
		}
		j.Error, j.MTU = localErrorText(ev.Err), ev.Info
	case icmp.EventReply, icmp.EventLate:
		if out.o.quiet {
			return
		}
		rtt, dup := jsonl.Ms(ev.RTT), ev.Dup
		j.Size, j.RTTMs, j.Dup, j.TSSource = ev.Size, &rtt, &dup, rttSource(ev.KernelStamp, ev.KernelTxStamp)
		if out.o.link != nil {
			mac := arp.MAC(ev.MAC)
			j.MAC = mac.String()
			j.OtherMAC, _ = out.o.link.note(ev.Target, mac)
		}
		if out.o.proto != icmp.ProtoICMP {
			j.Port, j.State = out.o.port, portState(ev)
			if out.o.proto == icmp.ProtoTCP {
				j.Flags = tcpFlags(ev.Flags)
			} else if ev.Closed {
				j.ICMPType, j.ICMPCode = &ev.ICMPType, &ev.ICMPCode
			}
		}
	case icmp.EventError:
		if out.o.quiet {
			return
		}
		j.Size, j.ICMPType, j.ICMPCode = ev.Size, &ev.ICMPType, &ev.ICMPCode
		j.Error = icmpmsg.Describe(!t.Addr.Is4(), ev.ICMPType, ev.ICMPCode, ev.Info)
		j.TSSource = rttSource(ev.KernelStamp, ev.KernelTxStamp)
	case icmp.EventTimeout:
		if out.o.quiet {
			return
		}
	}
	out.emit(j)
}

// localError is what iputils ping prints for a probe the kernel refused
// as too long: "local error: message too long, mtu=1500".
func localError(ev icmp.Event) string {
	msg := "local error: " + localErrorText(ev.Err)
	if ev.Info > 0 {
		msg += fmt.Sprintf(", mtu=%d", ev.Info)
	}
	return msg
}

// localErrorText is the kernel's words for a local error ("message too
// long"), without the address rawnet's send error adds.
func localErrorText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

// rttSource is an RTT's ts_source: "kernel" when it runs from the
// kernel's transmit stamp to its receive stamp, "kernel_rx" when it
// starts at the time read before sending (no transmit stamp) and ends at
// the kernel's receive stamp, "kernel_tx" for the reverse, "user" when
// both ends are times rawnet read.
func rttSource(rx, tx bool) string {
	switch {
	case rx && tx:
		return "kernel"
	case rx:
		return "kernel_rx"
	case tx:
		return "kernel_tx"
	}
	return "user"
}

// formatRTT prints a round-trip time in milliseconds with three
// significant digits or more, as iputils does (0.045, 1.23, 12.3, 123).
func formatRTT(d time.Duration) string {
	us := (d + time.Microsecond/2).Microseconds() // rounded, as the statistics are
	switch {
	case us >= 100000:
		return fmt.Sprintf("%d", us/1000)
	case us >= 10000:
		return fmt.Sprintf("%d.%01d", us/1000, us%1000/100)
	case us >= 1000:
		return fmt.Sprintf("%d.%02d", us/1000, us%1000/10)
	}
	return fmt.Sprintf("%d.%03d", us/1000, us%1000)
}

func ms3(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/1e6) }

func (out *pingOutput) summary(sum *icmp.Summary) error {
	switch {
	case out.json != nil:
		out.jsonSummary(sum)
	case out.o.link != nil && out.o.link.mode == icmp.LinkUnsolicited:
		t := sum.Totals()
		fmt.Fprintf(out.w, "\n--- %d unsolicited %s announcements sent on %s, time %dms ---\n", t.Transmitted,
			strings.ToUpper(out.o.link.proto), out.o.link.conn.Interface().Name, sum.Elapsed.Milliseconds())
	case len(sum.Targets) == 1:
		out.singleSummary(out.targets[0].Name, &sum.Targets[0], sum.Elapsed)
	default:
		out.multiSummary(sum)
	}
	if out.o.link != nil && out.json == nil {
		for _, l := range out.o.link.conflicts(out.targets) {
			fmt.Fprintln(out.w, l)
		}
	}
	return flushOutput(out.w)
}

func (out *pingOutput) singleSummary(name string, s *icmp.TargetStats, elapsed time.Duration) {
	fmt.Fprintf(out.w, "\n--- %s ping statistics ---\n", name)
	fmt.Fprintf(out.w, "%d packets transmitted, %d received", s.Transmitted, s.Received)
	if s.Duplicates > 0 {
		fmt.Fprintf(out.w, ", +%d duplicates", s.Duplicates)
	}
	if s.Errors > 0 {
		fmt.Fprintf(out.w, ", +%d errors", s.Errors)
	}
	fmt.Fprintf(out.w, ", %g%% packet loss, time %dms\n", roundLoss(s.LossPct()), elapsed.Milliseconds())
	if s.RTT.Count() > 0 {
		fmt.Fprintf(out.w, "rtt min/avg/max/mdev = %s/%s/%s/%s ms", ms3(s.RTT.Min()), ms3(s.RTT.Avg()), ms3(s.RTT.Max()), ms3(s.RTT.Mdev()))
		if out.o.cfg.Flood && s.Transmitted > 0 {
			fmt.Fprintf(out.w, ", ipg %s ms", ms3(elapsed/time.Duration(s.Transmitted)))
		}
		out.w.WriteByte('\n')
	}
}

// roundLoss keeps loss percentages readable (33.3333 rather than
// 33.33333333333333), as iputils' %g does.
func roundLoss(l float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(l, 'g', 6, 64), 64)
	return r
}

func (out *pingOutput) multiSummary(sum *icmp.Summary) {
	fmt.Fprintln(out.w)
	for i := range sum.Targets {
		s := &sum.Targets[i]
		if out.o.quiet && s.Received == s.Transmitted {
			continue
		}
		fmt.Fprintf(out.w, "%-15s : xmt/rcv/%%loss = %d/%d/%g%%", s.Addr, s.Transmitted, s.Received, roundLoss(s.LossPct()))
		if s.Received > 0 {
			fmt.Fprintf(out.w, ", min/avg/max = %s/%s/%s", ms3(s.RTT.Min()), ms3(s.RTT.Avg()), ms3(s.RTT.Max()))
		}
		if s.Errors > 0 {
			fmt.Fprintf(out.w, ", %d errors", s.Errors)
		}
		out.w.WriteByte('\n')
	}
	t := sum.Totals()
	fmt.Fprintf(out.w, "--- %d targets: %d alive, %d without reply ---\n", t.Targets, t.Alive, t.Targets-t.Alive)
	fmt.Fprintf(out.w, "%d packets transmitted, %d received, %g%% packet loss, time %dms\n", t.Transmitted, t.Received, roundLoss(t.LossPct()), sum.Elapsed.Milliseconds())
	if t.Received > 0 {
		fmt.Fprintf(out.w, "rtt min/avg/max = %s/%s/%s ms\n", ms3(t.MinRTT), ms3(t.AvgRTT), ms3(t.MaxRTT))
	}
}

func (out *pingOutput) jsonSummary(sum *icmp.Summary) {
	for i := range sum.Targets {
		s := &sum.Targets[i]
		j := jsonSummary{Type: "summary", Target: s.Addr.String(), Transmitted: s.Transmitted, Received: s.Received,
			Duplicates: s.Duplicates, Errors: s.Errors, Late: s.Late, SendErrors: s.SendErrors, LossPct: s.LossPct(), TimeMs: jsonl.Ms(sum.Elapsed)}
		if name := out.targets[i].Name; name != j.Target {
			j.Name = name
		}
		j.jsonRTT = newJSONRTT(&s.RTT)
		out.emit(j)
	}
	if len(sum.Targets) > 1 {
		t := sum.Totals()
		out.emit(jsonTotal{Type: "total", Targets: t.Targets, Alive: t.Alive, Transmitted: t.Transmitted, Received: t.Received, LossPct: t.LossPct(), TimeMs: jsonl.Ms(sum.Elapsed)})
	}
}

// protocol is the -P kind's name.
func (out *pingOutput) protocol() string {
	if out.o.link != nil {
		return out.o.link.proto
	}
	switch out.o.proto {
	case icmp.ProtoTCP:
		return "tcp"
	case icmp.ProtoUDP:
		return "udp"
	}
	return "icmp"
}

// seqName names the sequence number in lines: icmp_seq as iputils,
// tcp_seq and udp_seq for the other kinds.
func (out *pingOutput) seqName() string { return out.protocol() + "_seq" }

// replyLine prints a reply as iputils ping does, with hping3's TCP flags
// for -P tcp and the port's state for -P udp:
//
//	64 bytes from 198.18.3.2: icmp_seq=1 ttl=64 time=0.045 ms
//	24 bytes from 198.18.3.2: tcp_seq=1 port=80 flags=SA ttl=64 time=0.045 ms
//	64 bytes from 198.18.3.2: udp_seq=1 port=7 ttl=64 time=0.045 ms
//	From 198.18.3.2: udp_seq=1 port=33434 closed (Destination Port Unreachable) time=0.045 ms
func (out *pingOutput) replyLine(ev icmp.Event) {
	switch {
	case out.o.link != nil:
		out.linkReply(ev)
	case out.o.proto == icmp.ProtoTCP:
		fmt.Fprintf(out.w, "%d bytes from %s: tcp_seq=%d port=%d flags=%s ttl=%d time=%s ms", ev.Size, ev.From, ev.Seq, out.o.port, tcpFlags(ev.Flags), ev.TTL, formatRTT(ev.RTT))
	case out.o.proto == icmp.ProtoUDP && ev.Closed:
		t := out.targets[ev.Target]
		fmt.Fprintf(out.w, "From %s: udp_seq=%d port=%d closed (%s) time=%s ms", ev.From, ev.Seq, out.o.port, icmpmsg.Describe(!t.Addr.Is4(), ev.ICMPType, ev.ICMPCode, ev.Info), formatRTT(ev.RTT))
	case out.o.proto == icmp.ProtoUDP:
		fmt.Fprintf(out.w, "%d bytes from %s: udp_seq=%d port=%d ttl=%d time=%s ms", ev.Size, ev.From, ev.Seq, out.o.port, ev.TTL, formatRTT(ev.RTT))
	default:
		fmt.Fprintf(out.w, "%d bytes from %s: icmp_seq=%d ttl=%d time=%s ms", ev.Size, ev.From, ev.Seq, ev.TTL, formatRTT(ev.RTT))
	}
}

// tcpFlags writes TCP flags as hping3 does: FSRPAU in that order (SA, RA).
func tcpFlags(f uint8) string {
	var b [6]byte
	n := 0
	for i, c := range "FSRPAU" {
		if f&(1<<i) != 0 {
			b[n] = byte(c)
			n++
		}
	}
	return string(b[:n])
}

// portState is what a TCP or UDP reply says of the port.
func portState(ev icmp.Event) string {
	if ev.Closed {
		return "closed"
	}
	return "open"
}
