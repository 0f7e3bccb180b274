package main

import (
	"bufio"
	"encoding/json"

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
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		out.Write(b)
		return out.WriteByte('\n')
	}
	r.print(out)
	return nil
}
