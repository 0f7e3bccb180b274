package capture

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rawnet/rawnet/pcap"
)

// tcpdumpLines runs tcpdump -nn -S -r on path (with extra arguments) and
// returns its lines without the timestamps.
func tcpdumpLines(t *testing.T, path string, args ...string) []string {
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tcpdump not installed (scripts/deps.sh installs it)")
		}
		t.Skip("tcpdump not installed (scripts/deps.sh installs it)")
	}
	cmd := exec.Command("tcpdump", append([]string{"-nn", "-S", "-r", path}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l == "" {
			continue
		}
		_, rest, _ := strings.Cut(l, " ") // the timestamp
		lines = append(lines, rest)
	}
	return lines
}

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
	d := NewDecoder(pcap.Ethernet)
	for i, f := range frames {
		d.Decode(f)
		got := string(d.AppendLine(nil))
		if stripQuote(got) != want[i] {
			t.Errorf("packet %d:\n got  %s\n want %s", i+1, got, want[i])
		}
	}
}
