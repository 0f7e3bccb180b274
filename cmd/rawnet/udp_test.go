package main

import (
	"strings"
	"testing"
)

func TestUDPBadInputExitsTwoWithOneLine(t *testing.T) {
	t.Parallel()
	n := isolatedNode(t) // were the checks to break, nothing leaves the machine
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"udp", "serve"}, "[ADDR]:PORT"},
		{[]string{"udp", "serve", "nonsense"}, "nonsense"},
		{[]string{"udp", "serve", "1.2.3:7"}, "1.2.3"},
		{[]string{"udp", "serve", ":99999"}, "99999"},
		{[]string{"udp", "serve", "--mode", "mirror", ":7"}, "--mode mirror"},
		{[]string{"udp", "serve", "--max-rate", "-5", ":7"}, "--max-rate"},
		{[]string{"udp", "serve", "--max-clients", "0", ":7"}, "--max-clients"},
		{[]string{"udp", "serve", "--report", "0", ":7"}, "--report"},
		{[]string{"udp", "probe"}, "HOST:PORT"},
		{[]string{"udp", "probe", "127.0.0.1"}, "127.0.0.1"},
		{[]string{"udp", "probe", "127.0.0.1:0"}, "port"},
		{[]string{"udp", "probe", "-s", "10", "127.0.0.1:7"}, "-s 10"},
		{[]string{"udp", "probe", "-c", "0", "127.0.0.1:7"}, "-c 0"},
		{[]string{"udp", "probe", "--rate", "-1", "127.0.0.1:7"}, "--rate"},
		{[]string{"udp", "probe", "--max-loss", "200%", "127.0.0.1:7"}, "--max-loss 200%"},
		{[]string{"udp", "probe", "--max-rtt-p99", "soon", "127.0.0.1:7"}, "soon"},
		{[]string{"udp", "probe", "--window", "0", "127.0.0.1:7"}, "--window"},
		{[]string{"udp", "probe", "-6", "127.0.0.1:7"}, "127.0.0.1"},
		{[]string{"udp", "probe", "--bogus", "127.0.0.1:7"}, "bogus"},
		{[]string{"udp", "scan", "127.0.0.1"}, "PORTS"},
		{[]string{"udp", "scan", "127.0.0.1", "0-10"}, "0-10"},
		{[]string{"udp", "scan", "127.0.0.1", "20-10"}, "20-10"},
		{[]string{"udp", "scan", "not_an..address", "53"}, "not_an..address"},
		{[]string{"udp", "scan", "198.18.0.0/24", "53"}, "198.18.0.0/24"},
		{[]string{"udp", "scan", "--retries", "-1", "127.0.0.1", "53"}, "--retries"},
		{[]string{"udp", "scan", "--rate", "0", "127.0.0.1", "53"}, "--rate"},
		{[]string{"udp", "frobnicate"}, "frobnicate"},
	} {
		r := inNS(t, n, tc.args...)
		line := strings.TrimSpace(r.stderr)
		if r.code != 2 || strings.Count(line, "\n") != 0 || !strings.Contains(line, tc.want) {
			t.Errorf("%v: exit %d, stderr %q: want 2 and one line naming %q", tc.args, r.code, r.stderr, tc.want)
		}
		if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine") {
			t.Errorf("%v: %s", tc.args, r.stderr)
		}
	}
}
