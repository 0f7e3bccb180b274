package pcap

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/testenv"
	"github.com/rawnet/rawnet/tap"
)

// These tests check the files against the reference tools: tcpdump and
// tshark must read what the writers write, and the Reader must read what
// tcpdump, text2pcap, editcap and mergecap write.

// needTools skips a test when a tool is missing, except under CI
// where a skip would hide a broken setup.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	testenv.NeedTools(t, names...)
}

// tool runs a command and returns its standard output.
func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// epoch formats t as tshark's frame.time_epoch does.
func epoch(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }

// recordSample writes the packets every tool test uses through a File's
// Tap: echo request and reply, an ICMPv6 echo, and an echo request longer
// than the snaplen of 200.
func recordSample(t *testing.T, path string) {
	t.Helper()
	f, err := Create(path, Raw, WithSnaplen(200), WithInterfaceName("rawnet0"))
	if err != nil {
		t.Fatal(err)
	}
	hook := f.Tap()
	hook(tap.Out, ts0, icmpEcho(t, false, 1, 56))
	hook(tap.In, ts0.Add(1234567*time.Nanosecond), icmpEcho(t, true, 1, 56))
	hook(tap.Out, ts0.Add(time.Second+time.Nanosecond), icmp6Echo(t, 2))
	hook(tap.Out, ts0.Add(2*time.Second), icmpEcho(t, false, 3, 272))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTsharkReadsOurFiles(t *testing.T) {
	needTools(t, "tshark")
	want := map[string][]string{
		"sample.pcap": {
			"1700000000.123456789\traw:ip:icmp:data\t84\t84\t8\t1\t\t\t",
			"1700000000.124691356\traw:ip:icmp:data\t84\t84\t0\t1\t\t\t",
			"1700000001.123456790\traw:ipv6:icmpv6:data\t54\t54\t\t\t128\t\t",
			"1700000002.123456789\traw:ip:icmp:data\t300\t200\t8\t2\t\t\t",
		},
		"sample.pcapng": {
			"1700000000.123456789\traw:ip:icmp:data\t84\t84\t8\t1\t\trawnet0\t0x00000002",
			"1700000000.124691356\traw:ip:icmp:data\t84\t84\t0\t1\t\trawnet0\t0x00000001",
			"1700000001.123456790\traw:ipv6:icmpv6:data\t54\t54\t\t\t128\trawnet0\t0x00000002",
			"1700000002.123456789\traw:ip:icmp:data\t300\t200\t8\t2\t\trawnet0\t0x00000002",
		},
	}
	for name, rows := range want {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), name)
			recordSample(t, path)
			// icmp.checksum.status: 1 good, 2 unverified (the packet is cut).
			out := tool(t, "tshark", "-r", path, "-T", "fields",
				"-e", "frame.time_epoch", "-e", "frame.protocols", "-e", "frame.len", "-e", "frame.cap_len",
				"-e", "icmp.type", "-e", "icmp.checksum.status", "-e", "icmpv6.type",
				"-e", "frame.interface_name", "-e", "frame.packet_flags_direction")
			if got := lines(out); strings.Join(got, "\n") != strings.Join(rows, "\n") {
				t.Errorf("tshark sees\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(rows, "\n"))
			}
		})
	}
}

func TestTcpdumpReadsOurFiles(t *testing.T) {
	needTools(t, "tcpdump")
	want := []string{
		"1700000000.123456789 IP 198.18.0.1 > 198.18.0.2: ICMP echo request, id 4660, seq 1, length 64",
		"1700000000.124691356 IP 198.18.0.2 > 198.18.0.1: ICMP echo reply, id 4660, seq 1, length 64",
		"1700000001.123456790 IP6 fd00::1 > fd00::2: ICMP6, echo request, id 4660, seq 2, length 14",
		"1700000002.123456789 IP 198.18.0.1 > 198.18.0.2: ICMP echo request, id 4660, seq 3, length 280",
	}
	for _, name := range []string{"sample.pcap", "sample.pcapng"} {
		path := filepath.Join(t.TempDir(), name)
		recordSample(t, path)
		out := tool(t, "tcpdump", "-r", path, "-nn", "-tt", "--time-stamp-precision=nano")
		if got := lines(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: tcpdump prints\n%s\nwant\n%s", name, out, strings.Join(want, "\n"))
		}
	}
}

func TestTsharkDecodesEthernet(t *testing.T) {
	needTools(t, "tshark")
	for _, format := range []Format{FormatPcap, FormatPcapng} {
		path := filepath.Join(t.TempDir(), "eth."+format.String())
		os.WriteFile(path, writeFile(t, format, Ethernet, 0, []sample{{ts0, ethernet(t, icmpEcho(t, false, 9, 8)), DirInbound}}), 0o644)
		out := tool(t, "tshark", "-r", path, "-T", "fields", "-e", "frame.protocols", "-e", "eth.src", "-e", "icmp.seq")
		if want := "eth:ethertype:ip:icmp:data\t02:00:00:00:00:01\t9\n"; out != want {
			t.Errorf("%v: tshark sees %q, want %q", format, out, want)
		}
	}
}

// toolPacket is a packet handed to text2pcap.
type toolPacket struct {
	dir  string // "I" or "O"
	ts   time.Time
	data []byte
}

// text2pcap makes a capture file of the given type and link type from a
// text listing of the packets.
func text2pcap(t *testing.T, dir, name, fileType string, link LinkType, ps []toolPacket) string {
	t.Helper()
	var text strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&text, "%s %s %s\n", p.dir, epoch(p.ts), hex.EncodeToString(p.data))
	}
	in, out := filepath.Join(dir, name+".txt"), filepath.Join(dir, name)
	if err := os.WriteFile(in, []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tool(t, "text2pcap", "-q", "-F", fileType, "-l", fmt.Sprint(uint32(link)), "-D", "-N", "eth9",
		"-t", "%s.%f", "-r", `^(?<dir>[IO])\s(?<time>\d+\.\d+)\s(?<data>[0-9a-f]+)$`, in, out)
	return out
}

// TestReadToolMadeFiles reads files written by text2pcap, editcap,
// tcpdump and mergecap and compares every packet with what went in and
// with what tshark reads from the same file.
func TestReadToolMadeFiles(t *testing.T) {
	needTools(t, "text2pcap", "editcap", "mergecap", "tcpdump", "tshark")
	dir := t.TempDir()
	raw := []toolPacket{
		{"O", ts0, icmpEcho(t, false, 1, 56)},
		{"I", ts0.Add(1234567 * time.Nanosecond), icmpEcho(t, true, 1, 56)},
		{"O", ts0.Add(time.Second + time.Nanosecond), icmp6Echo(t, 2)},
	}
	eth := []toolPacket{{"I", ts0.Add(500 * time.Millisecond), ethernet(t, icmpEcho(t, true, 7, 8))}}
	ng := text2pcap(t, dir, "t2p.pcapng", "pcapng", Raw, raw)
	us := text2pcap(t, dir, "t2p.pcap", "pcap", Raw, raw)
	ethPcap := text2pcap(t, dir, "eth.pcap", "pcap", Ethernet, eth)
	ns := filepath.Join(dir, "editcap-nsec.pcap")
	tool(t, "editcap", "-F", "nsecpcap", ng, ns)
	ngFromUs := filepath.Join(dir, "editcap.pcapng")
	tool(t, "editcap", "-F", "pcapng", us, ngFromUs)
	td := filepath.Join(dir, "tcpdump.pcap")
	tool(t, "tcpdump", "-r", ng, "-w", td)
	tdNano := filepath.Join(dir, "tcpdump-nano.pcap")
	tool(t, "tcpdump", "--time-stamp-precision=nano", "-r", ng, "-w", tdNano)
	merged := filepath.Join(dir, "merged.pcapng")
	tool(t, "mergecap", "-F", "pcapng", "-w", merged, ng, ethPcap)

	micro := func(ps []toolPacket) []toolPacket {
		out := append([]toolPacket(nil), ps...)
		for i := range out {
			out[i].ts = out[i].ts.Truncate(time.Microsecond)
			out[i].dir = ""
		}
		return out
	}
	withoutDir := func(ps []toolPacket) []toolPacket {
		out := append([]toolPacket(nil), ps...)
		for i := range out {
			out[i].dir = ""
		}
		return out
	}
	// mergecap interleaves by time and keeps the pcapng directions.
	mergedWant := []toolPacket{raw[0], raw[1], micro(eth)[0], raw[2]}
	tests := []struct {
		path   string
		format Format
		want   []toolPacket
		links  []LinkType
		ifaces []int
	}{
		{ng, FormatPcapng, raw, []LinkType{Raw, Raw, Raw}, []int{0, 0, 0}},
		{us, FormatPcap, micro(raw), []LinkType{Raw, Raw, Raw}, []int{0, 0, 0}},
		{ns, FormatPcap, withoutDir(raw), []LinkType{Raw, Raw, Raw}, []int{0, 0, 0}},
		{ngFromUs, FormatPcapng, micro(raw), []LinkType{Raw, Raw, Raw}, []int{0, 0, 0}},
		{td, FormatPcap, micro(raw), []LinkType{Raw, Raw, Raw}, []int{0, 0, 0}},
		{tdNano, FormatPcap, withoutDir(raw), []LinkType{Raw, Raw, Raw}, []int{0, 0, 0}},
		{merged, FormatPcapng, mergedWant, []LinkType{Raw, Raw, Ethernet, Raw}, []int{0, 0, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			t.Parallel()
			format, ps, err := readFile(t, tt.path)
			if err != nil || format != tt.format || len(ps) != len(tt.want) {
				t.Fatalf("format %v, %d packets, %v; want %v, %d packets", format, len(ps), err, tt.format, len(tt.want))
			}
			for i, w := range tt.want {
				want := Packet{Timestamp: w.ts, Data: w.data, OrigLen: len(w.data), LinkType: tt.links[i],
					Interface: tt.ifaces[i], Direction: map[string]Direction{"I": DirInbound, "O": DirOutbound}[w.dir]}
				assertPacket(t, fmt.Sprintf("packet %d", i+1), ps[i], want)
			}
			assertMatchesTshark(t, tt.path, format, ps)
		})
	}
}

// assertMatchesTshark compares the Reader's packets with tshark's reading
// of the same file: timestamps to the nanosecond, lengths and interfaces.
func assertMatchesTshark(t *testing.T, path string, format Format, ps []Packet) {
	t.Helper()
	out := tool(t, "tshark", "-r", path, "-T", "fields", "-e", "frame.time_epoch",
		"-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.interface_id")
	rows := lines(out)
	if len(rows) != len(ps) {
		t.Fatalf("tshark reads %d packets, we read %d", len(rows), len(ps))
	}
	for i, p := range ps {
		iface := "" // classic pcap has no interfaces
		if format == FormatPcapng {
			iface = fmt.Sprint(p.Interface)
		}
		mine := fmt.Sprintf("%s\t%d\t%d\t%s", epoch(p.Timestamp), p.OrigLen, len(p.Data), iface)
		if rows[i] != mine {
			t.Errorf("packet %d: tshark %q, we %q", i+1, rows[i], mine)
		}
	}
}

// TestTsharkAgreesOnDamagedFiles checks the damaged files in testdata/
// against tshark: it must read as many packets before giving up, and call
// the damage what the Reader calls it.
func TestTsharkAgreesOnDamagedFiles(t *testing.T) {
	needTools(t, "tshark")
	verdict := map[error]string{
		ErrTruncated: "appears to have been cut short",
		ErrCorrupt:   "appears to be damaged or corrupt",
	}
	for _, d := range damagedFiles {
		if d.name == "bad-byte-order.pcapng" {
			continue // not pcapng to tshark either: it falls back to reading it as JSON text
		}
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			cmd := exec.Command("tshark", "-r", filepath.Join("testdata", d.name), "-T", "fields", "-e", "frame.number")
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err == nil {
				t.Fatalf("tshark read the file without complaint:\n%s", stdout.String())
			}
			if got := len(strings.Fields(stdout.String())); got != d.packets {
				t.Errorf("tshark read %d packets, we read %d", got, d.packets)
			}
			if !strings.Contains(stderr.String(), verdict[d.sentinel]) {
				t.Errorf("tshark says %q, we say %v", stderr.String(), d.sentinel)
			}
		})
	}
}
