package craft

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrorsNameColumnAndWhat(t *testing.T) {
	for _, tc := range []struct {
		spec string
		col  int
		want string
	}{
		{"ip(dst=1.2.3.4,ttl=300)", 20, "ip.ttl: 300 is out of range 0..255"},
		{"ip(dst=1.2.3.4,tll=3)", 16, `unknown field "tll" for ip`},
		{"ip(dst=1.2.3.4", 15, "expected ',' or ')' to close the '(' at column 3"},
		{"ip(dst=1.2.3.4)/udp(dport=53,80,70000)", 33, "udp.dport: 70000 is out of range 0..65535"},
		{"ip(dst=1.2.3.4)/udp(sport=70000)", 27, "udp.sport: 70000 is out of range 0..65535"},
		{"foo(x=1)", 1, `unknown layer "foo"`},
		{"ip(dst=1.2.3.4)/icmp6", 17, "icmp6 cannot follow ip"},
		{"udp(dport=1)", 1, "a spec starts with eth, ip or ip6, not udp"},
		{"ip(ttl=1)", 3, "ip.dst is required"},
		{"ip(dst=1.2.3.4) udp", 17, "expected '/'"},
		{"ip(dst=1.2.3.4)/", 17, "expected a layer"},
		{"ip(dst=fd00::1)", 8, `"fd00::1" is not an IPv4 address`},
		{"ip6(dst=1.2.3.4)", 9, `"1.2.3.4" is not an IPv6 address`},
		{"ip(dst=1.2.3.4,ttl=5..1)", 20, "range 5..1 runs backwards"},
		{"ip(dst=1.2.3.4,ttl=3,ttl=4)", 22, "ip.ttl given twice"},
		{"ip(dst=1.2.3.4,ttl)", 16, "ip.ttl needs a value"},
		{"ip(dst=1.2.3.4)/tcp(flags=SX)", 27, "not flag letters"},
		{"ip(dst=1.2.3.4)/raw(hex=abc)", 25, "odd number of digits"},
		{"ip(dst=1.2.3.4)/raw(text=\"open)", 26, "unterminated string"},
		{"ip(dst=1.2.3.4)/raw(rand)", 21, "raw.rand needs a length"},
		{"ip(dst=1.2.3.4,ttl=1,rand)", 22, "ip.ttl: rand cannot be part of a list"},
		{"ip(dst=1.2.3.4,ttl=rand,5)", 25, "rand cannot be part of a list"},
		{"ip(dst=10.0.0.0/4)", 8, "more than 16777216 addresses"},
		{"ip(dst=1.2.3.4,df=2)", 19, `"2" is not 0 or 1`},
		{"eth(src=zz)/ip(dst=1.2.3.4)", 9, "is not a MAC address"},
		{"eth", 4, "expected a layer after eth"},
		{"ip(dst=1.2.3.4)/icmp/ip(dst=1.2.3.5)", 24, "ip.src is required in a quoted or tunnelled packet"},
		{"ip(dst=1.2.3.4)/raw(file=/nonexistent/x)", 26, "no such file"},
		{"ip(dst=1.2.3.4)/tcp(sack=1:2;3)", 26, "is not left:right"},
		{"", 1, "expected a layer"},
	} {
		_, err := Parse(tc.spec)
		var se *SpecError
		if !errors.As(err, &se) || !errors.Is(err, ErrSpec) {
			t.Errorf("Parse(%q) = %v, want a SpecError", tc.spec, err)
			continue
		}
		if se.Col != tc.col || !strings.Contains(se.Msg, tc.want) {
			t.Errorf("Parse(%q) = column %d %q, want column %d %q", tc.spec, se.Col, se.Msg, tc.col, tc.want)
		}
	}
}

func TestParseAcceptsTheDocumentedForms(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		count uint64
	}{
		{"ip(dst=198.18.5.2,ttl=3,id=7,df)/udp(sport=4000,dport=53)/raw(hex=deadbeef)", 1},
		{"ip(dst=198.18.5.2,ttl=1..5)/udp(dport=53,80,443)", 15},
		{"ip(dst=198.18.5.0/30)/icmp", 4},
		{"ip(dst=198.18.5.2,198.18.5.3)/udp(sport=rand)", 2},
		{"IP( dst = 198.18.5.2 , TTL = 0x10 )/UDP", 1},
		{"ip6(dst=fd00::1,fd00::2)/tcp(flags=S,SA,R)", 6},
		{"ip(dst=198.18.5.2)/tcp(syn,ack,ack=5,ece=0)", 1},
		{"eth(src=02:00:00:00:00:01,dst=ff:ff:ff:ff:ff:ff)/vlan(id=5)/ip(dst=1.2.3.4)/raw(text=\"a, b) c\")", 1},
		{"ip(dst=1.2.3.4)/raw(len=100,rand)", 1},
		{"ip(dst=1.2.3.4,flags=DF+evil)/icmp(type=13)", 1},
		{"ip6(dst=fd00::1)/hbh(ra=0)/rh(addrs=fd00::2;fd00::3)/frag6(m,id=9)/dstopt(opts=01020000)/udp", 1},
		{"ip(dst=1.2.3.4)/icmp(type=11)/ip(src=1.2.3.4,dst=5.6.7.8,ttl=1)/icmp(seq=1..3)", 3},
	} {
		s, err := Parse(tc.spec)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.spec, err)
			continue
		}
		if s.Count() != tc.count {
			t.Errorf("Parse(%q).Count() = %d, want %d", tc.spec, s.Count(), tc.count)
		}
	}
}

// TestExpansionOrder: the last field varies fastest, every combination
// comes once, and Build wraps around after Count.
func TestExpansionOrder(t *testing.T) {
	s, err := Parse("ip(dst=198.18.5.1,198.18.5.2,ttl=1..2)/udp(dport=53,80,443)")
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuilder(s, testEnv, 1)
	var got []string
	for i := uint64(0); i < 13; i++ {
		p := b.Build(nil, i)
		got = append(got, ipDestination(p).String()+"/"+itoa(int(p[8]))+"/"+itoa(int(p[22])<<8|int(p[23])))
	}
	want := []string{
		"198.18.5.1/1/53", "198.18.5.1/1/80", "198.18.5.1/1/443", "198.18.5.1/2/53", "198.18.5.1/2/80", "198.18.5.1/2/443",
		"198.18.5.2/1/53", "198.18.5.2/1/80", "198.18.5.2/1/443", "198.18.5.2/2/53", "198.18.5.2/2/80", "198.18.5.2/2/443",
		"198.18.5.1/1/53",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("expansion\n got %v\nwant %v", got, want)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

// TestRandStaysInRangeAndVaries: rand fields take new values per packet,
// within the field's range, and a seed repeats them.
func TestRandStaysInRangeAndVaries(t *testing.T) {
	s, err := Parse("ip(dst=1.2.3.4,ttl=rand,tos=rand)/udp(sport=rand)/raw(len=16,rand)")
	if err != nil {
		t.Fatal(err)
	}
	b1, b2 := NewBuilder(s, testEnv, 42), NewBuilder(s, testEnv, 42)
	ttls, ports := map[byte]bool{}, map[uint16]bool{}
	for i := uint64(0); i < 500; i++ {
		p := b1.Build(nil, i)
		q := b2.Build(nil, i)
		if string(p) != string(q) {
			t.Fatal("the same seed built different packets")
		}
		ttls[p[8]] = true
		ports[uint16(p[20])<<8|uint16(p[21])] = true
		if len(p) != 20+8+16 {
			t.Fatalf("length %d", len(p))
		}
	}
	if len(ttls) < 200 || len(ports) < 450 {
		t.Errorf("rand did not vary: %d TTLs, %d ports in 500 packets", len(ttls), len(ports))
	}
}
