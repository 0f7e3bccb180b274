package craft

import (
	"errors"
	"testing"
)

// FuzzParse: any text either parses, and then builds packets whose length
// fields and checksums hold up, or fails with a SpecError that points into
// the text; nothing panics.
func FuzzParse(f *testing.F) {
	for _, c := range goldenCases {
		f.Add(c.spec)
	}
	for _, s := range []string{"ip(dst=1.2.3.4,ttl=1..5)/udp(dport=53,80)", "ip(dst=1.2.3.4)/raw(len=100,rand)",
		"eth/vlan/ip6(dst=fd00::1)/hbh/rh(addrs=fd00::2)/frag6/dstopt/icmp6(type=1)/ip6(src=fd00::1,dst=fd00::2)/udp",
		"ip(dst=1.2.3.0/30,flags=DF+MF)/tcp(sack=1:2;3:4,ts=1:2,opts=0101)", `ip(dst=1.2.3.4)/raw(text="a\"b,)")`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse(text)
		if err != nil {
			var se *SpecError
			if !errors.As(err, &se) || se.Col < 1 || se.Col > len(text)+1 {
				t.Fatalf("Parse(%q): %v (column out of the text)", text, err)
			}
			return
		}
		if s.Count() < 1 {
			t.Fatalf("Parse(%q): Count %d", text, s.Count())
		}
		b := NewBuilder(s, testEnv, 1)
		buf := make([]byte, 0, 256)
		for i := uint64(0); i < 3; i++ {
			pkt := b.Build(buf, i)
			if len(pkt) == 0 {
				t.Fatalf("Parse(%q): empty packet", text)
			}
			if fp, err := planFragments(pkt, 64); err == nil {
				for k := 0; k < fp.count && k < 4; k++ {
					writeFragment(nil, nil, pkt, fp, k, 1)
				}
			}
			sentKey(pkt)
			answerKey(pkt)
		}
	})
}

// FuzzAnswerKey: matching reads received packets of any shape, including
// cut-short quotes in ICMP errors, without panicking.
func FuzzAnswerKey(f *testing.F) {
	for _, c := range goldenCases {
		if c.link == 0 {
			s, _ := Parse(c.spec)
			f.Add(NewBuilder(s, testEnv, 1).Build(nil, 0))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Nothing shorter than an IPv4 header is an answer, and an ICMP
		// error's quote holds at least another one.
		if _, isErr, ok := answerKey(b); ok && (len(b) < 20 || isErr && len(b) < 20+8+20) {
			t.Fatalf("answerKey accepted %d bytes (ICMP error %v)", len(b), isErr)
		}
		if _, ok := sentKey(b); ok && len(b) < 20 {
			t.Fatalf("sentKey accepted %d bytes", len(b))
		}
		if ip := stripEthernet(b); ip != nil && len(ip) > len(b)-14 {
			t.Fatalf("stripEthernet returned %d of %d bytes", len(ip), len(b))
		}
	})
}
