//go:build cgo

package capture

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rawnet/rawnet/pcap"
)

// filterTable holds tcpdump expressions run over the mixed test traffic.
var filterTable = []string{
	"icmp",
	"icmp6",
	"udp",
	"tcp",
	"ip",
	"ip6",
	"arp",
	"vlan",
	"udp port 5001",
	"port 33434",
	"host 198.18.5.2 and not tcp",
	"ip6 and icmp6[0]==129",
	"icmp[icmptype] == icmp-echo",
	"icmp[icmptype] == icmp-timxceed or icmp[icmptype] == icmp-unreach",
	"tcp[tcpflags] & tcp-syn != 0",
	"tcp[tcpflags] & (tcp-rst|tcp-fin) != 0",
	"net 198.18.0.0/15",
	"src net 198.19.0.0/16",
	"dst host fd00::1",
	"portrange 33000-34000",
	"greater 100",
	"less 80",
	"ip[6:2] & 0x1fff != 0",
	"ip6 proto 44 or ip6 protochain 44",
	"ether broadcast",
	"not ip and not ip6",
	"udp and (dst port 5001 or dst port 5002)",
	"ip proto 253",
}

func TestFilterCountsMatchTcpdump(t *testing.T) {
	frames := testPackets(t)
	path := filepath.Join(t.TempDir(), "mixed.pcap")
	writeTestPcap(t, path, pcap.Ethernet, frames)
	for _, expr := range filterTable {
		prog, err := CompileFilter(expr, pcap.Ethernet, 0)
		if err != nil {
			t.Errorf("%q: %v", expr, err)
			continue
		}
		f, err := NewFilter(prog)
		if err != nil {
			t.Errorf("%q: %v", expr, err)
			continue
		}
		got := 0
		for _, b := range frames {
			if f.Match(b, len(b)) {
				got++
			}
		}
		want := len(tcpdumpLines(t, path, expr))
		if got != want {
			t.Errorf("%q: %d packets match, tcpdump says %d", expr, got, want)
		}
		if want == 0 || want == len(frames) {
			t.Errorf("%q: matches %d of %d packets: the table needs a more telling expression", expr, want, len(frames))
		}
	}
}

func TestCompileFilterError(t *testing.T) {
	_, err := CompileFilter("udp port", pcap.Ethernet, 0)
	if !errors.Is(err, ErrBadFilter) {
		t.Fatalf("err = %v, want ErrBadFilter", err)
	}
	if want := "syntax error"; !strings.Contains(err.Error(), want) {
		t.Errorf("err = %q, want libpcap's %q", err, want)
	}
	// Raw IP files compile against DLT_RAW.
	if _, err := CompileFilter("icmp", pcap.Raw, 0); err != nil {
		t.Errorf("raw: %v", err)
	}
}
