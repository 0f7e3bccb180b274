package capture

import (
	"testing"

	"github.com/rawnet/rawnet/internal/testtraffic"
	"github.com/rawnet/rawnet/pcap"
)

func benchFormat(b *testing.B, format func(d *Decoder, dst []byte) []byte) {
	benchFrames(b, testPackets(b), format)
}

func benchFrames(b *testing.B, frames [][]byte, format func(d *Decoder, dst []byte) []byte) {
	d := NewDecoder(pcap.Ethernet)
	buf := make([]byte, 0, 64<<10)
	for _, f := range frames { // grow option slices
		d.Decode(f)
		buf = format(d, buf[:0])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Decode(frames[i%len(frames)])
		buf = format(d, buf[:0])
	}
}

func BenchmarkDecodeLine(b *testing.B) {
	benchFormat(b, (*Decoder).AppendLine)
}

func BenchmarkDecodeVerbose(b *testing.B) {
	benchFormat(b, (*Decoder).AppendVerbose)
}

func BenchmarkDecodeJSON(b *testing.B) {
	benchFormat(b, (*Decoder).AppendJSON)
}

// BenchmarkDecodeLineApp formats DNS, mDNS and DNS over TCP.
func BenchmarkDecodeLineApp(b *testing.B) {
	benchFrames(b, testtraffic.AppFrames(), (*Decoder).AppendLine)
}

// BenchmarkDecodeLineTunnel formats VXLAN, Geneve, GRE, ESP, IP in IP.
func BenchmarkDecodeLineTunnel(b *testing.B) {
	benchFrames(b, testtraffic.TunnelFrames(), (*Decoder).AppendLine)
}

// BenchmarkDecodeVerboseApp formats every field of DNS, NTP and DHCP
// (gopacket's layers).
func BenchmarkDecodeVerboseApp(b *testing.B) {
	benchFrames(b, testtraffic.AppFrames(), (*Decoder).AppendVerbose)
}

func BenchmarkDecodeOnly(b *testing.B) {
	benchFormat(b, func(_ *Decoder, dst []byte) []byte { return dst })
}

func BenchmarkFilter(b *testing.B) {
	prog, err := CompileFilter("host 198.18.5.2 and (udp port 5001 or icmp)", pcap.Ethernet, 0)
	if err != nil {
		b.Skip(err)
	}
	f, err := NewFilter(prog)
	if err != nil {
		b.Fatal(err)
	}
	frames := testPackets(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		fr := frames[i%len(frames)]
		f.Match(fr, len(fr))
	}
}

// TestDecodeAllocations makes the zero-allocation promise part of the tests.
func TestDecodeAllocations(t *testing.T) {
	frames := append(append(testPackets(t), testtraffic.AppFrames()...), testtraffic.TunnelFrames()...)
	d := NewDecoder(pcap.Ethernet)
	buf := make([]byte, 0, 64<<10)
	formats := map[string]func(*Decoder, []byte) []byte{
		"line": (*Decoder).AppendLine, "verbose": (*Decoder).AppendVerbose, "json": (*Decoder).AppendJSON,
	}
	for name, format := range formats {
		for _, f := range frames {
			d.Decode(f)
			buf = format(d, buf[:0])
		}
		for i, f := range frames {
			n := testing.AllocsPerRun(20, func() {
				d.Decode(f)
				buf = format(d, buf[:0])
			})
			if n != 0 && (name == "line" || !dnsMayAllocate(d) || n > 2) {
				t.Errorf("%s: packet %d: %v allocations", name, i+1, n)
			}
		}
	}
}

// dnsMayAllocate says whether -v and --json of the packet last decoded
// may allocate: inside gopacket's DNS decoder, for DNS messages (at most
// two allocations, checked by the caller).
func dnsMayAllocate(d *Decoder) bool {
	return d.outer.has(kindUDP) && (d.outer.udpApp == AppDNS || d.outer.udpApp == AppMDNS) ||
		d.outer.has(kindTCP) && d.conf.tcpApp(uint16(d.outer.tcp.SrcPort), uint16(d.outer.tcp.DstPort)) == AppDNS
}
