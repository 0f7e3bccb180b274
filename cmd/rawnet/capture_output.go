package main

import (
	"bufio"
	"io"
	"net"

	"github.com/rawnet/rawnet/capture"
	"github.com/rawnet/rawnet/internal/jsonl"
	"github.com/rawnet/rawnet/pcap"
)

// outputMode is how packets are printed.
type outputMode struct{ verbose, hex, json, quiet bool }

// captureSink takes every captured packet: into the -w files, or printed
// to a buffered stdout that is flushed whenever the capture waits for the
// kernel. Nothing in it allocates per packet.
type captureSink struct {
	w        *bufio.Writer
	json     *jsonl.Writer // --json, on w
	rot      *pcap.Rotator
	dec      *capture.Decoder
	mode     outputMode
	count    int
	captured int
	buf      []byte
	names    map[int]string // interface index -> name, for --json
}

func newCaptureSink(stdout io.Writer, h *capture.Handle, job *captureJob) (*captureSink, error) {
	s := &captureSink{
		w:     bufio.NewWriterSize(stdout, 64<<10),
		mode:  job.out,
		count: job.count,
		buf:   make([]byte, 0, 64<<10),
		names: map[int]string{},
	}
	if job.rot.Path != "" {
		rc := job.rot
		rc.Link, rc.IfName = h.LinkType(), h.Interface()
		r, err := pcap.NewRotator(rc)
		if err != nil {
			return nil, err
		}
		s.rot = r
		return s, nil
	}
	s.dec = capture.NewDecoderConfig(h.LinkType(), job.dec)
	if s.mode.json {
		s.json = jsonl.NewBuffered(s.w)
	}
	if ifs, err := net.Interfaces(); err == nil {
		for _, ifi := range ifs {
			s.names[ifi.Index] = ifi.Name
		}
	}
	return s, nil
}

// packet is the capture's callback.
func (s *captureSink) packet(p *capture.Packet) error {
	if s.rot != nil {
		if err := s.rot.WritePacket(p.Timestamp, p.Data, p.Length, p.Direction()); err != nil {
			return err
		}
	} else if !s.mode.quiet {
		if err := s.print(p); err != nil {
			return err
		}
	}
	s.captured++
	if s.count > 0 && s.captured >= s.count {
		return capture.ErrStop
	}
	return nil
}

func (s *captureSink) print(p *capture.Packet) error {
	s.dec.Decode(p.Data) // a partial decode is shown as such
	b := s.buf[:0]
	if s.mode.json {
		s.buf = s.appendJSON(b, p)
		return jsonError(s.json.WriteLine(s.buf))
	}
	b = appendClock(b, p.Timestamp)
	b = append(b, ' ')
	b = s.dec.AppendLine(b) // on -i any with the interface and direction
	b = append(b, '\n')
	if s.mode.verbose {
		b = s.dec.AppendVerbose(b)
	}
	if s.mode.hex { // tcpdump -x: without the link-layer header
		b = capture.AppendHexDump(b, s.dec.NetworkData())
	}
	s.buf = b
	_, err := s.w.Write(b)
	return outputError(err)
}

func (s *captureSink) appendJSON(b []byte, p *capture.Packet) []byte {
	m := packetMeta{time: p.Timestamp, caplen: len(p.Data), length: p.Length, live: true,
		ifindex: p.IfIndex, iface: s.names[p.IfIndex], out: p.Outgoing}
	return appendPacketJSON(b, &m, s.dec)
}

type jsonCaptureSummary struct {
	Type     string `json:"type"`
	Captured int    `json:"captured"`
	Received uint64 `json:"received"`
	Dropped  uint64 `json:"dropped"`
}

// writeCounts ends --json output with the counts.
func (s *captureSink) writeCounts(st capture.Stats) error {
	if err := s.json.Emit(jsonCaptureSummary{Type: "summary", Captured: s.captured, Received: st.Packets, Dropped: st.Drops}); err != nil {
		return jsonError(err)
	}
	return flushOutput(s.w)
}

// flush pushes printed packets out; the capture calls it when idle.
// Files are left to their buffers, as tcpdump does (-U writes each
// packet at once).
func (s *captureSink) flush() error {
	if s.rot != nil {
		return nil
	}
	return flushOutput(s.w)
}

// close completes the files (or the output).
func (s *captureSink) close() error {
	if s.rot != nil {
		return s.rot.Close()
	}
	return flushOutput(s.w)
}
