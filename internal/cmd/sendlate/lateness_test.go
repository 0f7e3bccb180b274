package main

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/pcap"
)

// frame is an Ethernet frame of an IPv4 echo request (or reply) with
// rawnet's probe fields.
func frame(typ uint8, p icmpmsg.Probe) []byte {
	msg := icmpmsg.MarshalEcho(make([]byte, icmpmsg.HeaderLen+icmpmsg.ProbeLen+8), icmpmsg.Echo{Type: typ, ID: 7, Seq: uint16(p.Seq)}, p, nil)
	ip := make([]byte, 20, 20+len(msg))
	ip[0], ip[8], ip[9] = 0x45, 64, 1
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(msg)))
	copy(ip[12:], []byte{198, 18, 0, 2})
	copy(ip[16:], []byte{198, 19, 0, 1})
	eth := make([]byte, 14, 14+20+len(msg))
	binary.BigEndian.PutUint16(eth[12:], 0x0800)
	return append(append(eth, ip...), msg...)
}

// TestLatenessFromCapture writes a capture of two runs' requests, each
// probe sent a known time after its schedule, plus replies and a request
// of another program, and wants those lateness figures back.
func TestLatenessFromCapture(t *testing.T) {
	const period, gap = time.Second, 50 * time.Microsecond
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf, pcap.Ethernet, 256)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Unix(1_800_000_000, 0)
	delays := map[[3]uint32]time.Duration{ // run, target, seq
		{0, 1, 3}: 40 * time.Millisecond,
		{1, 2, 5}: 1500 * time.Millisecond,
		{1, 0, 4}: 3 * time.Millisecond,
	}
	for run := uint32(0); run < 2; run++ {
		start := base.Add(time.Duration(run) * 333 * time.Millisecond) // runs start apart
		for seq := uint32(1); seq <= 5; seq++ {
			for target := uint32(0); target < 3; target++ {
				at := start.Add(time.Duration(seq-1)*period + time.Duration(target)*gap + delays[[3]uint32{run, target, seq}])
				p := icmpmsg.Probe{Cookie: 100 + uint64(run), Target: target, Seq: seq}
				if err := w.WritePacket(at, frame(8, p)); err != nil {
					t.Fatal(err)
				}
				if err := w.WritePacket(at.Add(20*time.Microsecond), frame(0, p)); err != nil { // its reply: not a request
					t.Fatal(err)
				}
			}
		}
	}
	if err := w.WritePacket(base, append(frame(8, icmpmsg.Probe{})[:14+20+8], 1, 2, 3)); err != nil { // iputils ping: no probe fields
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	sent, err := readSent(&buf)
	if err != nil {
		t.Fatal(err)
	}
	r := analyze(sent, period, gap, within(0, 0))
	if r.probes != 30 || r.runs != 2 || r.targets != 6 {
		t.Fatalf("probes %d runs %d targets %d, want 30, 2, 6", r.probes, r.runs, r.targets)
	}
	if over(r.late, 0) != 3 || quantile(r.late, 1) != 1500*time.Millisecond || over(r.late, 39*time.Millisecond) != 2 || over(r.late, time.Second) != 1 {
		t.Errorf("lateness %v, want 27 zeros, 3 ms, 40 ms and 1.5 s", r.late)
	}
	// target 2 of run 1: +1.5 s into seq 5 from seq 4; target 0 of run 1: +3 ms then -3 ms
	if r.gapDev[len(r.gapDev)-1] != 1500*time.Millisecond || r.gapDev[0] != -40*time.Millisecond {
		t.Errorf("gaps minus the period run from %v to %v, want -40ms to 1.5s", r.gapDev[0], r.gapDev[len(r.gapDev)-1])
	}
	if len(r.gapDev) != 24 {
		t.Errorf("%d gaps, want 24", len(r.gapDev))
	}
}

// TestLatenessWithinAWindow keeps the schedule of the whole run: probes
// all 300 ms late inside the window are 300 ms late, not on time.
func TestLatenessWithinAWindow(t *testing.T) {
	const period, gap = time.Second, 50 * time.Microsecond
	var ps []probe
	base := int64(1_800_000_000e9)
	for seq := uint32(1); seq <= 10; seq++ {
		for target := uint32(0); target < 4; target++ {
			at := base + int64(seq-1)*int64(period) + int64(target)*int64(gap)
			if seq > 5 {
				at += int64(300 * time.Millisecond)
			}
			ps = append(ps, probe{at: at, cookie: 1, target: target, seq: seq})
		}
	}
	r := analyze(ps, period, gap, within(1_800_000_005.1, 0))
	if r.probes != 20 || quantile(r.late, 0) != 300*time.Millisecond || quantile(r.late, 1) != 300*time.Millisecond {
		t.Errorf("%d probes late from %v to %v, want 20 all 300ms late", r.probes, quantile(r.late, 0), quantile(r.late, 1))
	}
}
