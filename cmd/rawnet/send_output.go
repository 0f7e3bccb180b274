package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/rawnet/rawnet/capture"
	"github.com/rawnet/rawnet/craft"
	"github.com/rawnet/rawnet/internal/jsonl"
	"github.com/rawnet/rawnet/pcap"
)

// sendOutput prints what rawnet send built, sent and got back.
type sendOutput struct {
	w    *bufio.Writer
	errw io.Writer
	o    sendOptions
	json *jsonl.Writer
	dec  *capture.Decoder
	buf  []byte
}

func newSendOutput(stdout, stderr io.Writer, o sendOptions, plan *craft.Plan) *sendOutput {
	out := &sendOutput{w: bufio.NewWriterSize(stdout, 64<<10), errw: stderr, o: o}
	link := pcap.Raw
	if plan.L2() {
		link = pcap.Ethernet
	}
	out.dec = capture.NewDecoderConfig(link, o.dec)
	if o.json {
		out.json = jsonl.New(out.w)
	}
	return out
}

// flush writes out what is buffered; it returns the first failed write.
func (out *sendOutput) flush() error { return flushOutput(out.w) }

type jsonPacket struct {
	Type   string          `json:"type"`
	Index  uint64          `json:"index"`
	Length int             `json:"length"`
	Hex    string          `json:"hex"`
	Layers json.RawMessage `json:"layers"`
}

// dryRun shows every packet of the plan: every field of every layer, like
// tshark -V, and with --hex a hex dump.
func (out *sendOutput) dryRun(plan *craft.Plan) error {
	return plan.Each(0, func(i uint64, frame []byte) error {
		_ = out.dec.Decode(frame)
		if out.json != nil {
			return jsonError(out.json.Emit(jsonPacket{Type: "packet", Index: i, Length: len(frame),
				Hex: hex.EncodeToString(frame), Layers: out.dec.AppendJSON(nil)}))
		}
		fmt.Fprintf(out.w, "#%d  %d bytes\n", i, len(frame))
		out.buf = out.dec.AppendVerbose(out.buf[:0])
		out.w.Write(out.buf)
		if out.o.hex {
			out.buf = capture.AppendHexDump(out.buf[:0], frame)
			out.w.Write(out.buf)
		}
		return outputError(out.w.WriteByte('\n'))
	})
}

type jsonAnswer struct {
	Type   string          `json:"type"`
	Probe  uint64          `json:"probe"`
	Time   string          `json:"time"`
	RTTMs  float64         `json:"rtt_ms"`
	Error  bool            `json:"icmp_error"`
	TSSrc  string          `json:"ts_source"`
	Length int             `json:"length"`
	Layers json.RawMessage `json:"layers"`
}

// answer prints one answer: the sent packet's number, the round trip and a
// tcpdump-style line (every field with -v).
func (out *sendOutput) answer(a craft.Answer) error {
	if out.o.quiet {
		return nil
	}
	_ = out.dec.Decode(a.Frame)
	if out.json != nil {
		return jsonError(out.json.Emit(jsonAnswer{Type: "answer", Probe: a.Probe, Time: jsonl.Time(a.Time), RTTMs: jsonl.Ms(a.RTT),
			Error: a.Error, TSSrc: rttSource(a.KernelStamp, a.KernelTxStamp), Length: len(a.Frame), Layers: out.dec.AppendJSON(nil)}))
	}
	b := fmt.Appendf(out.buf[:0], "#%d  %.3f ms  ", a.Probe, float64(a.RTT)/float64(time.Millisecond))
	b = out.dec.AppendLine(b)
	b = append(b, '\n')
	if out.o.verb {
		b = out.dec.AppendVerbose(b)
	}
	if out.o.hex {
		b = capture.AppendHexDump(b, a.Frame)
	}
	out.buf = b
	_, err := out.w.Write(b)
	return outputError(err)
}

type jsonSendSummary struct {
	Type        string  `json:"type"`
	Packets     uint64  `json:"packets"`
	Sent        uint64  `json:"sent"`
	Failed      uint64  `json:"failed"`
	Bytes       uint64  `json:"bytes"`
	TimeMs      float64 `json:"time_ms"`
	RatePPS     float64 `json:"rate_pps"`
	Error       string  `json:"error,omitempty"`
	Answered    *uint64 `json:"answered,omitempty"`
	Unanswered  *uint64 `json:"unanswered,omitempty"`
	Answers     *uint64 `json:"answers,omitempty"`
	Interrupted bool    `json:"interrupted,omitempty"`
}

func (out *sendOutput) summary(s craft.Summary, interrupted bool) {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Sent) / s.Elapsed.Seconds()
	}
	if out.json != nil {
		j := jsonSendSummary{Type: "summary", Packets: s.Packets, Sent: s.Sent, Failed: s.Failed, Bytes: s.Bytes,
			TimeMs: jsonl.Ms(s.Elapsed), RatePPS: rate, Interrupted: interrupted}
		if s.FirstError != nil {
			j.Error = s.FirstError.Error()
		}
		if s.Waited {
			un := s.Unanswered()
			j.Answered, j.Unanswered, j.Answers = &s.Answered, &un, &s.Answers
		}
		out.json.Emit(j) // a failed write sticks: flush reports it
		return
	}
	fmt.Fprintf(out.w, "sent %d packets", s.Sent)
	if s.Sent != s.Packets {
		fmt.Fprintf(out.w, " (%d built)", s.Packets)
	}
	fmt.Fprintf(out.w, ", %d bytes in %.3f s (%.0f packets/s)\n", s.Bytes, s.Elapsed.Seconds(), rate)
	if s.Failed > 0 {
		fmt.Fprintf(out.w, "%d refused by the kernel: %v\n", s.Failed, s.FirstError)
	}
	if s.Waited {
		plural := "s"
		if s.Answers == 1 {
			plural = ""
		}
		fmt.Fprintf(out.w, "answered %d, unanswered %d (%d answer%s received)\n", s.Answered, s.Unanswered(), s.Answers, plural)
	}
}
