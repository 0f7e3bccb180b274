package main

import (
	"bufio"

	"github.com/rawnet/rawnet/capture"
	"github.com/rawnet/rawnet/pcap"
)

// readStats summarizes the packets of a file for rawnet read --stats: the
// analysis is capture.Analysis; this prints what it found.
type readStats struct {
	top      int
	json     bool
	analysis *capture.Analysis
}

func newReadStats(cfg readConfig) *readStats {
	return &readStats{top: cfg.top, json: cfg.json, analysis: capture.NewAnalysis()}
}

func (s *readStats) packet(_ int, p *pcap.Packet, d *capture.Decoder) error {
	s.analysis.Add(p.Timestamp, p.OrigLen, d)
	return nil
}

func (s *readStats) finish(out *bufio.Writer) error {
	r := newStatsReport(s.analysis.Result(), s.top)
	r.Type = "stats"
	if s.json {
		return emitStats(out, r)
	}
	r.print(out)
	return writeError(out)
}
