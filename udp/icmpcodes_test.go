package udp

import "testing"

func TestClassifyUnreachable(t *testing.T) {
	for _, tc := range []struct {
		v4         bool
		typ, code  uint8
		st         PortState
		reason     string
		conclusive bool
	}{
		{true, 3, 3, Closed, "port-unreach", true},
		{true, 3, 13, Filtered, "admin-prohibited", true},
		{true, 3, 1, Filtered, "host-unreach", true},
		{true, 3, 5, Filtered, "unreachable", true},
		{true, 3, 200, Filtered, "unreachable", true},
		{true, 11, 0, 0, "", false},
		{false, 1, 4, Closed, "port-unreach", true},
		{false, 1, 1, Filtered, "admin-prohibited", true},
		{false, 1, 6, Filtered, "reject-route", true},
		{false, 1, 7, Filtered, "unreachable", true},
		{false, 3, 0, 0, "", false},
		{false, 3, 3, 0, "", false}, // an ICMPv4 port unreachable's numbers mean time exceeded in ICMPv6
	} {
		st, reason, ok := classify(tc.v4, tc.typ, tc.code)
		if st != tc.st || reason != tc.reason || ok != tc.conclusive {
			t.Errorf("classify(v4 %v, %d, %d) = %v %q %v, want %v %q %v", tc.v4, tc.typ, tc.code, st, reason, ok, tc.st, tc.reason, tc.conclusive)
		}
	}
}
