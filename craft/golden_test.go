package craft

import (
	"bytes"
	"encoding/hex"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/testenv"
	"github.com/rawnet/rawnet/pcap"
)

// testEnv is what the golden packets' defaults come from.
var testEnv = Env{
	Src4:   netip.MustParseAddr("198.18.0.1"),
	Src6:   netip.MustParseAddr("fd00::1"),
	SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1},
	DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
}

// A golden case is a spec and what tshark must read in its first packet:
// field values as `tshark -T fields` prints them (repeated fields, as in a
// quoted packet, joined by commas). Checksum status 1 is Good, 0 Bad, 3
// not present.
var goldenCases = []struct {
	spec string
	want map[string]string
	link pcap.LinkType
}{
	{spec: "ip(dst=198.18.5.2,ttl=3,id=7,df)/udp(sport=4000,dport=53)/raw(hex=deadbeef)", want: map[string]string{
		"ip.version": "4", "ip.hdr_len": "20", "ip.len": "32", "ip.id": "0x0007", "ip.flags.df": "1", "ip.flags.mf": "0",
		"ip.ttl": "3", "ip.proto": "17", "ip.src": "198.18.0.1", "ip.dst": "198.18.5.2", "ip.checksum.status": "1",
		"udp.srcport": "4000", "udp.dstport": "53", "udp.length": "12", "udp.checksum.status": "1"}},
	{spec: "ip(dst=198.18.5.2,tos=0xb8,id=0x1234,flags=evil+MF,frag=100,ttl=255,proto=99,chksum=0xbeef)/raw(text=hello)", want: map[string]string{
		"ip.dsfield.dscp": "46", "ip.dsfield.ecn": "0", "ip.flags.rb": "1", "ip.flags.mf": "1", "ip.frag_offset": "100",
		"ip.ttl": "255", "ip.proto": "99", "ip.checksum": "0xbeef", "ip.checksum.status": "0", "ip.len": "25"}},
	{spec: "ip(dst=198.18.5.2,dscp=10,ecn=3,rr=3)/icmp(id=0x4242,seq=9)/raw(len=24,fill=0xaa)", want: map[string]string{
		"ip.dsfield.dscp": "10", "ip.dsfield.ecn": "3", "ip.hdr_len": "36", "ip.opt.type": "7,0",
		"icmp.type": "8", "icmp.code": "0", "icmp.ident": "16962", "icmp.seq": "9", "icmp.checksum.status": "1",
		"ip.checksum.status": "1", "ip.len": "68"}},
	{spec: "ip(dst=198.18.5.2)/udp(sport=1,dport=2,chksum=0)/raw(text=x)", want: map[string]string{
		"udp.checksum": "0x0000", "udp.checksum.status": "3", "udp.length": "9"}},
	{spec: "ip(dst=198.18.5.2)/udp(sport=7,dport=7,len=100,chksum=0x1111)", want: map[string]string{
		"udp.length": "100", "udp.checksum": "0x1111", "ip.len": "28", "ip.checksum.status": "1"}},
	{spec: "ip(dst=198.18.5.2,id=1)/tcp(sport=40000,dport=80,seq=1000,ack=2000,flags=SAPUFRECN,win=1234,urp=5,mss=1460,sackok,ts=11:22,nop,ws=7)", want: map[string]string{
		"tcp.srcport": "40000", "tcp.dstport": "80", "tcp.seq_raw": "1000", "tcp.ack_raw": "2000", "tcp.flags": "0x01ff",
		"tcp.window_size_value": "1234", "tcp.urgent_pointer": "5", "tcp.options.mss_val": "1460", "tcp.options.wscale.shift": "7",
		"tcp.options.timestamp.tsval": "11", "tcp.options.timestamp.tsecr": "22", "tcp.hdr_len": "40", "tcp.checksum.status": "1"}},
	{spec: "ip(dst=198.18.5.2)/tcp(dport=443,syn,ece,cwr,sack=100:200;300:400,chksum=0xdead,off=15)", want: map[string]string{
		"tcp.flags": "0x00c2", "tcp.options.sack_le": "100,300", "tcp.checksum": "0xdead", "tcp.hdr_len": "60",
		"tcp.checksum.status": "0"}},
	{spec: "ip(dst=198.18.5.2)/icmp(type=3,code=3)/ip(src=198.18.5.2,dst=198.18.0.1,id=2,ttl=1)/udp(sport=33434,dport=33435)", want: map[string]string{
		"icmp.type": "3", "icmp.code": "3", "icmp.checksum.status": "1", "ip.checksum.status": "1,1", "ip.ttl": "64,1",
		"ip.len": "56,28", "udp.srcport": "33434", "udp.dstport": "33435", "udp.length": "8"}},
	{spec: "ip(dst=198.18.5.2)/icmp(type=3,code=4,mtu=1280)/ip(src=198.18.0.1,dst=198.18.9.9)/tcp(sport=1,dport=2)", want: map[string]string{
		"icmp.type": "3", "icmp.code": "4", "icmp.mtu": "1280", "icmp.checksum.status": "1"}},
	{spec: "ip6(dst=fd00::2,tc=0x2e,fl=0x12345,hlim=7)/udp(sport=5,dport=6)/raw(hex=00112233)", want: map[string]string{
		"ipv6.tclass": "0x0000002e", "ipv6.flow": "0x012345", "ipv6.hlim": "7", "ipv6.plen": "12", "ipv6.nxt": "17",
		"ipv6.src": "fd00::1", "ipv6.dst": "fd00::2", "udp.checksum.status": "1", "udp.length": "12"}},
	{spec: "ip6(dst=fd00::2)/hbh(ra=0)/dstopt/frag6(id=5,offset=0)/icmp6(id=1,seq=2)/raw(text=\"hi, there\")", want: map[string]string{
		"ipv6.nxt": "0", "ipv6.fraghdr.ident": "0x00000005", "ipv6.fraghdr.more": "0", "icmpv6.type": "128",
		"icmpv6.echo.identifier": "0x0001", "icmpv6.echo.sequence_number": "2", "icmpv6.checksum.status": "1", "ipv6.plen": "41"}},
	{spec: "ip6(dst=fd00::2)/icmp6(type=2,mtu=1400)/ip6(src=fd00::2,dst=fd00::1,hlim=1)/udp(sport=9,dport=10)", want: map[string]string{
		"icmpv6.type": "2", "icmpv6.mtu": "1400", "icmpv6.checksum.status": "1", "ipv6.hlim": "64,1"}},
	{spec: "ip6(dst=fd00::2,plen=999,nh=58)/icmp6(chksum=0x1234)", want: map[string]string{
		"ipv6.plen": "999", "icmpv6.checksum": "0x1234"}},
	{spec: "ip6(dst=fd00::2)/rh(type=0,segleft=0,addrs=fd00::9;fd00::a)/udp(dport=53)", want: map[string]string{
		"ipv6.routing.type": "0", "ipv6.routing.segleft": "0", "udp.checksum.status": "1"}},
	// ICMP queries and neighbour discovery with their bodies filled in.
	{spec: "ip(dst=198.18.5.2)/icmp(type=13,id=5,seq=1,orig=1000,xmit=3000)", want: map[string]string{
		"icmp.type": "13", "icmp.ident": "5", "icmp.seq": "1", "icmp.originate_timestamp": "1000", "icmp.receive_timestamp": "0",
		"icmp.transmit_timestamp": "3000", "ip.len": "40", "icmp.checksum.status": "1", "_ws.malformed": ""}},
	{spec: "ip(dst=198.18.5.2)/icmp(type=18,id=2,seq=3,mask=255.255.252.0)", want: map[string]string{
		"icmp.type": "18", "icmp.address_mask": "255.255.252.0", "ip.len": "32", "icmp.checksum.status": "1", "_ws.malformed": ""}},
	{spec: "ip6(dst=fd00::2)/icmp6(type=135)", want: map[string]string{
		"ipv6.hlim": "255", "ipv6.plen": "32", "icmpv6.type": "135", "icmpv6.nd.ns.target_address": "fd00::2",
		"icmpv6.opt.type": "1", "icmpv6.opt.linkaddr": "02:00:00:00:00:01", "icmpv6.checksum.status": "1", "_ws.malformed": ""}},
	{spec: "ip6(dst=ff02::1)/icmp6(type=136,router)", want: map[string]string{
		"ipv6.hlim": "255", "icmpv6.nd.na.target_address": "fd00::1", "icmpv6.nd.na.flag.r": "1", "icmpv6.nd.na.flag.s": "0",
		"icmpv6.nd.na.flag.o": "1", "icmpv6.opt.type": "2", "icmpv6.checksum.status": "1", "_ws.malformed": ""}},
	{spec: "ip6(dst=ff02::2)/icmp6(type=133)", want: map[string]string{
		"ipv6.hlim": "255", "ipv6.plen": "16", "icmpv6.type": "133", "icmpv6.opt.type": "1", "icmpv6.checksum.status": "1", "_ws.malformed": ""}},
	{spec: "eth(dst=02:aa:bb:cc:dd:ee)/vlan(id=100,pcp=5,dei=1)/ip(dst=198.18.5.2,chksum=0)/udp(dport=9)", link: pcap.Ethernet, want: map[string]string{
		"eth.dst": "02:aa:bb:cc:dd:ee", "eth.src": "02:00:00:00:00:01", "eth.type": "0x8100", "vlan.id": "100",
		"vlan.priority": "5", "vlan.dei": "1", "ip.checksum": "0x0000", "ip.checksum.status": "0", "udp.checksum.status": "1"}},
	{spec: "eth/ip6(dst=fd00::2)/tcp(dport=22)", link: pcap.Ethernet, want: map[string]string{
		"eth.dst": "02:00:00:00:00:02", "eth.type": "0x86dd", "tcp.dstport": "22", "tcp.checksum.status": "1", "tcp.flags": "0x0002"}},
}

// TestGoldenAgainstTshark builds every golden spec, writes the packets to a
// pcap and has tshark read them field by field: checksums left out must be
// valid, and fields given must be exactly as given.
func TestGoldenAgainstTshark(t *testing.T) {
	needTool(t, "tshark")
	dir := t.TempDir()
	var fields []string
	seen := map[string]bool{}
	for _, c := range goldenCases {
		for f := range c.want {
			if !seen[f] {
				seen[f] = true
				fields = append(fields, f)
			}
		}
	}
	// One file per link type, one packet per case, one tshark run per file.
	for _, link := range []pcap.LinkType{pcap.Raw, pcap.Ethernet} {
		name := filepath.Join(dir, link.String()+".pcap")
		f, err := pcap.Create(name, link)
		if err != nil {
			t.Fatal(err)
		}
		var cases []int
		var pkts [][]byte
		for i, c := range goldenCases {
			if c.link != link && !(c.link == 0 && link == pcap.Raw) {
				continue
			}
			spec, err := Parse(c.spec)
			if err != nil {
				t.Fatalf("%s: %v", c.spec, err)
			}
			pkt := NewBuilder(spec, testEnv, 1).Build(nil, 0)
			if err := f.WritePacket(time.Unix(1, 0), pkt); err != nil {
				t.Fatal(err)
			}
			cases, pkts = append(cases, i), append(pkts, pkt)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		rows := tsharkFields(t, name, fields)
		if len(rows) != len(cases) {
			t.Fatalf("tshark read %d packets of %s, want %d", len(rows), link, len(cases))
		}
		for k, i := range cases {
			c := goldenCases[i]
			for field, want := range c.want {
				if got := rows[k][field]; got != want {
					t.Errorf("%s\n  %s = %q, want %q (packet %x)", c.spec, field, got, want, pkts[k])
				}
			}
		}
	}
}

func tsharkFields(t *testing.T, name string, fields []string) []map[string]string {
	t.Helper()
	args := []string{"-r", name, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-o", "tcp.check_checksum:TRUE", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command("tshark", args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark: %v\n%s", err, errb.String())
	}
	var rows []map[string]string
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		vals := strings.Split(line, "|")
		m := map[string]string{}
		for i, f := range fields {
			if i < len(vals) {
				m[f] = vals[i]
			}
		}
		rows = append(rows, m)
	}
	return rows
}

func needTool(t *testing.T, name string) {
	t.Helper()
	testenv.NeedTools(t, name)
}

// TestGoldenBytes pins whole packets, worked out by hand from the RFCs.
// Where the IPv4 header checksum is left to the check (ipSum false), the
// expected bytes hold 0000 there and the checksum must verify.
func TestGoldenBytes(t *testing.T) {
	cases := []struct {
		spec, want string
		ipSum      bool // want holds the header checksum too
	}{
		// IPv4 header 45 00 0020 0007 4000 03 11 csum c6120001 c6120502,
		// UDP 0fa0 0035 000c csum, payload deadbeef.
		{"ip(dst=198.18.5.2,ttl=3,id=7,df)/udp(sport=4000,dport=53)/raw(hex=deadbeef)",
			"45000020000740000311e69ec6120001c61205020fa00035000cc13bdeadbeef", true},
		// ICMP echo request id 1 seq 2, no payload: checksum ~(0x0800+1+2).
		{"ip(dst=198.18.5.2,id=1,ttl=64)/icmp(id=1,seq=2)",
			"4500001c000100004001" + "0000" + "c6120001c6120502" + "0800f7fc00010002", false},
	}
	for _, c := range cases {
		spec, err := Parse(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		got := NewBuilder(spec, testEnv, 1).Build(nil, 0)
		want, _ := hex.DecodeString(c.want)
		if checksum(got[:20]) != 0 {
			t.Errorf("%s: IPv4 header checksum does not verify", c.spec)
		}
		if !c.ipSum {
			got = append([]byte(nil), got...)
			got[10], got[11] = 0, 0
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s\n got %x\nwant %x", c.spec, got, want)
		}
	}
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
