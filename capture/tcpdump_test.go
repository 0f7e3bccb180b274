package capture

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rawnet/rawnet/internal/testenv"
	"github.com/rawnet/rawnet/internal/testtraffic"
	"github.com/rawnet/rawnet/pcap"
)

// tcpdumpLines runs tcpdump -nn -S -r on path (with extra arguments) and
// returns its lines without the timestamps.
func tcpdumpLines(t *testing.T, path string, args ...string) []string {
	t.Helper()
	return tcpdumpRun(t, append([]string{"-S", "-r", path}, args...)...)
}

// tcpdumpRun runs tcpdump -nn with args and returns its lines without the
// timestamps.
func tcpdumpRun(t *testing.T, args ...string) []string {
	t.Helper()
	testenv.NeedTools(t, "tcpdump")
	cmd := exec.Command("tcpdump", append([]string{"-nn"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l == "" {
			continue
		}
		if !stampRE.MatchString(l) && len(lines) > 0 { // VXLAN prints the inner frame on a line of its own
			lines[len(lines)-1] += "\n" + l
			continue
		}
		_, rest, _ := strings.Cut(l, " ") // the timestamp
		lines = append(lines, rest)
	}
	return lines
}

var stampRE = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{6} `)

// stripQuote removes the bracketed quoted packet rawnet appends to ICMP
// errors, which tcpdump -nn does not print.
func stripQuote(line string) string {
	if i := strings.Index(line, " [IP"); i >= 0 && strings.HasSuffix(line, "]") {
		return line[:i]
	}
	return line
}

// TestLinesMatchTcpdump decodes the mixed test traffic and compares every
// line with tcpdump -nn -S on the same file.
func TestLinesMatchTcpdump(t *testing.T) {
	frames := testPackets(t)
	path := filepath.Join(t.TempDir(), "mixed.pcap")
	writeTestPcap(t, path, pcap.Ethernet, frames)
	want := tcpdumpLines(t, path)
	if len(want) != len(frames) {
		t.Fatalf("tcpdump printed %d lines for %d packets", len(want), len(frames))
	}
	d := NewDecoderConfig(pcap.Ethernet, DecoderConfig{AbsoluteSeq: true})
	for i, f := range frames {
		d.Decode(f)
		got := string(d.AppendLine(nil))
		if stripQuote(got) != want[i] {
			t.Errorf("packet %d:\n got  %s\n want %s", i+1, got, want[i])
		}
	}
}

// TestRelativeSeqMatchesTcpdump compares the mixed test traffic, read
// twice in a row, with tcpdump -nn's default relative TCP numbers.
func TestRelativeSeqMatchesTcpdump(t *testing.T) {
	frames := testPackets(t)
	frames = append(frames, frames...)
	path := filepath.Join(t.TempDir(), "mixed.pcap")
	writeTestPcap(t, path, pcap.Ethernet, frames)
	want := tcpdumpRun(t, "-r", path)
	if len(want) != len(frames) {
		t.Fatalf("tcpdump printed %d lines for %d packets", len(want), len(frames))
	}
	d := NewDecoder(pcap.Ethernet)
	tcp := 0
	for i, f := range frames {
		d.Decode(f)
		got := stripQuote(string(d.AppendLine(nil)))
		if got != want[i] {
			t.Errorf("packet %d:\n got  %s\n want %s", i+1, got, want[i])
		}
		if strings.Contains(got, ", ack ") {
			tcp++
		}
	}
	if tcp < 8 {
		t.Errorf("only %d packets with acknowledgements: the test shows little", tcp)
	}
}

// TestAppLinesMatchTcpdump compares the lines of what runs above UDP and
// TCP (DNS, mDNS, DNS over TCP, ...) with tcpdump -nn's, relative TCP
// numbers and absolute (-S).
func TestAppLinesMatchTcpdump(t *testing.T) {
	frames := append(testtraffic.AppFrames(), testtraffic.TunnelFrames()...)
	path := filepath.Join(t.TempDir(), "app.pcap")
	writeTestPcap(t, path, pcap.Ethernet, frames)
	for _, abs := range []bool{false, true} {
		args := []string{"-r", path}
		if abs {
			args = append(args, "-S")
		}
		want := tcpdumpRun(t, args...)
		if len(want) != len(frames) {
			t.Fatalf("tcpdump printed %d lines for %d packets", len(want), len(frames))
		}
		d := NewDecoderConfig(pcap.Ethernet, DecoderConfig{AbsoluteSeq: abs})
		for i, f := range frames {
			d.Decode(f)
			if got := string(d.AppendLine(nil)); got != want[i] {
				t.Errorf("-S %v packet %d:\n got  %s\n want %s", abs, i+1, got, want[i])
			}
		}
	}
}

// TestDecodeAsMatchesTcpdumpT checks DecodeAs against tcpdump -T, which
// decodes every UDP packet as the type named: DNS on port 5300 and VXLAN
// on 8472 (Linux's historical VXLAN port).
func TestDecodeAsMatchesTcpdumpT(t *testing.T) {
	for _, c := range []struct {
		tcpdumpType, spec string
		frames            [][]byte
	}{
		{"domain", "udp:5300=dns", testtraffic.OnPort(testtraffic.AppFrames()[:14], 53, 5300)},
		{"vxlan", "udp:8472=vxlan", testtraffic.OnPort(testtraffic.TunnelFrames()[:3], 4789, 8472)},
	} {
		m, err := ParseDecodeAs(c.spec)
		if err != nil || len(c.frames) < 3 {
			t.Fatalf("%s: %v, %d frames", c.spec, err, len(c.frames))
		}
		path := filepath.Join(t.TempDir(), c.tcpdumpType+".pcap")
		writeTestPcap(t, path, pcap.Ethernet, c.frames)
		want := tcpdumpRun(t, "-T", c.tcpdumpType, "-r", path)
		plain := NewDecoder(pcap.Ethernet)
		d := NewDecoderConfig(pcap.Ethernet, DecoderConfig{DecodeAs: []DecodeAs{m}})
		for i, f := range c.frames {
			d.Decode(f)
			if got := string(d.AppendLine(nil)); got != want[i] {
				t.Errorf("%s packet %d:\n got  %s\n want %s", c.spec, i+1, got, want[i])
			}
			plain.Decode(f)
			if got := string(plain.AppendLine(nil)); !strings.Contains(got, "UDP, length") {
				t.Errorf("%s packet %d without DecodeAs: %s", c.spec, i+1, got)
			}
		}
	}
}

func TestParseDecodeAs(t *testing.T) {
	for in, want := range map[string]DecodeAs{
		"udp:5300=dns": {Port: 5300, Proto: AppDNS}, "TCP:53=DNS": {TCP: true, Port: 53, Proto: AppDNS},
		"udp:8472=vxlan": {Port: 8472, Proto: AppVXLAN}, "udp:53=none": {Port: 53, Proto: AppNone},
	} {
		if got, err := ParseDecodeAs(in); err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "udp", "udp:53", "sctp:53=dns", "udp:x=dns", "udp:65536=dns", "udp:53=http", "tcp:53=ntp"} {
		if _, err := ParseDecodeAs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
