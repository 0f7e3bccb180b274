package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rawnet/rawnet/capture"
	"github.com/rawnet/rawnet/internal/jsonl"
	"github.com/rawnet/rawnet/internal/testtraffic"
	"github.com/rawnet/rawnet/pcap"
)

// mixedFile returns the bytes of a pcap holding the mixed test traffic
// repeated n times.
func mixedFile(tb testing.TB, n int) []byte {
	tb.Helper()
	var frames [][]byte
	for i := 0; i < n; i++ {
		frames = append(frames, testtraffic.Frames()...)
	}
	path := filepath.Join(tb.TempDir(), "mixed.pcap")
	if err := testtraffic.WritePcap(path, pcap.Ethernet, frames); err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkReadLines is rawnet read's loop (read, filter, decode, print a
// line) over an in-memory file; allocations are per file, not per packet.
func BenchmarkReadLines(b *testing.B) {
	file := mixedFile(b, 100)
	out := bufio.NewWriterSize(io.Discard, 256<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(file)))
	for i := 0; i < b.N; i++ {
		rd := newPacketReader(readConfig{})
		if err := rd.run(bytes.NewReader(file), newPrintSink(readConfig{}, out)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(testtraffic.Frames())*100), "ns/packet")
}

// TestReadLoopAllocations checks that printing more packets costs no more
// allocations: none per packet, in lines and in JSON.
func TestReadLoopAllocations(t *testing.T) {
	out := bufio.NewWriterSize(io.Discard, 256<<10)
	for _, cfg := range []readConfig{{}, {json: true}} {
		allocs := func(file []byte) float64 {
			return testing.AllocsPerRun(5, func() {
				rd := newPacketReader(cfg)
				if err := rd.run(bytes.NewReader(file), newPrintSink(cfg, out)); err != nil {
					t.Fatal(err)
				}
			})
		}
		small, large := allocs(mixedFile(t, 1)), allocs(mixedFile(t, 50))
		if large > small {
			t.Errorf("json %v: %v allocations for 1 copy of the traffic, %v for 50: allocations per packet", cfg.json, small, large)
		}
	}
}

// TestCaptureJSONAllocatesNothing prints captured packets as JSON Lines
// through capture's sink: no allocation per packet.
func TestCaptureJSONAllocatesNothing(t *testing.T) {
	w := bufio.NewWriterSize(io.Discard, 64<<10)
	s := &captureSink{w: w, json: jsonl.NewBuffered(w), dec: capture.NewDecoder(pcap.Ethernet),
		mode: outputMode{json: true}, buf: make([]byte, 0, 64<<10), names: map[int]string{1: "eth0"}}
	frames := testtraffic.Frames()
	now := time.Now()
	allocs := testing.AllocsPerRun(20, func() {
		for i, f := range frames {
			p := capture.Packet{Data: f, Length: len(f), Timestamp: now, IfIndex: 1, Outgoing: i%2 == 0}
			if err := s.packet(&p); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per %d packets, want 0", allocs, len(frames))
	}
}
