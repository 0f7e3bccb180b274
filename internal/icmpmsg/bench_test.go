package icmpmsg

import (
	"testing"
)

// parsePaths are the parses the engines run per received packet: ping
// and trace read echo replies and errors with their quote, trace also the
// MPLS labels.
func parsePaths(tb testing.TB) map[string]func() {
	reply := MarshalEcho(make([]byte, 64), Echo{Type: TypeEchoReply4, ID: 1, Seq: 2}, Probe{Cookie: 3}, nil)
	te4 := timeExceededWithLabels(false, true, []MPLSLabel{{Label: 16001, S: true, TTL: 1}})
	te6 := timeExceededWithLabels(true, true, []MPLSLabel{{Label: 16001, S: true, TTL: 1}})
	te6[HeaderLen+6] = 58 // the quoted IPv6 header names ICMPv6
	var labels [8]MPLSLabel
	return map[string]func(){
		"ParseEcho": func() {
			if _, _, ok, err := ParseEcho(reply); !ok || err != nil {
				tb.Fatal("echo not parsed")
			}
		},
		"ParseError4": func() {
			if _, err := ParseError4(te4); err != nil {
				tb.Fatal(err)
			}
		},
		"ParseError6": func() {
			if _, err := ParseError6(te6); err != nil {
				tb.Fatal(err)
			}
		},
		"MPLS": func() {
			if MPLS(te4, false, labels[:]) != 1 {
				tb.Fatal("label not found")
			}
		},
		"Classify": func() {
			if !Classify(true, te6[0]).IsError() {
				tb.Fatal("not an error")
			}
		},
	}
}

func TestParsePathsAllocateNothing(t *testing.T) {
	for name, f := range parsePaths(t) {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per run", name, n)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for name, f := range parsePaths(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f()
			}
		})
	}
}
