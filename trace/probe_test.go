package trace

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// decoded is what gopacket reads from a probe.
type decoded struct {
	ip4   *layers.IPv4
	ip6   *layers.IPv6
	udp   *layers.UDP
	tcp   *layers.TCP
	icmp4 *layers.ICMPv4
	icmp6 *layers.ICMPv6
	echo6 *layers.ICMPv6Echo
}

// decodeProbe decodes a probe with gopacket and checks every checksum in
// it, upper layers with their pseudo header.
func decodeProbe(t *testing.T, pkt []byte, v6 bool) decoded {
	t.Helper()
	first := layers.LayerTypeIPv4
	if v6 {
		first = layers.LayerTypeIPv6
	}
	p := gopacket.NewPacket(pkt, first, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("gopacket cannot decode the probe: %v", el.Error())
	}
	var d decoded
	var nl gopacket.NetworkLayer
	if v6 {
		d.ip6, _ = p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		nl = d.ip6
	} else {
		d.ip4, _ = p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		nl = d.ip4
		if err, res := d.ip4.VerifyChecksum(); err != nil || !res.Valid {
			t.Errorf("IPv4 header checksum: %+v %v", res, err)
		}
	}
	type verifier interface {
		VerifyChecksum() (error, gopacket.ChecksumVerificationResult)
	}
	check := func(name string, l verifier) {
		t.Helper()
		if err, res := l.VerifyChecksum(); err != nil || !res.Valid {
			t.Errorf("%s checksum does not verify: %+v %v", name, res, err)
		}
	}
	if d.udp, _ = p.Layer(layers.LayerTypeUDP).(*layers.UDP); d.udp != nil {
		_ = d.udp.SetNetworkLayerForChecksum(nl)
		check("UDP", d.udp)
		if d.udp.Checksum == 0 {
			t.Errorf("UDP checksum is 0 (no checksum)")
		}
	}
	if d.tcp, _ = p.Layer(layers.LayerTypeTCP).(*layers.TCP); d.tcp != nil {
		_ = d.tcp.SetNetworkLayerForChecksum(nl)
		check("TCP", d.tcp)
	}
	if d.icmp4, _ = p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); d.icmp4 != nil {
		check("ICMPv4", d.icmp4)
	}
	if d.icmp6, _ = p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); d.icmp6 != nil {
		_ = d.icmp6.SetNetworkLayerForChecksum(nl)
		check("ICMPv6", d.icmp6)
		d.echo6, _ = p.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo)
	}
	return d
}

func probeSizes(m Method, v6 bool) []int {
	min := MinSize(m, v6)
	s := []int{min, min + 1, DefaultSize(v6), DefaultSize(v6) + 1, 129, 1500}
	if m == TCP {
		s = append(s, min+tcpOptionsLen-1, min+tcpOptionsLen, min+tcpOptionsLen+1)
	}
	return s
}

func TestBuildDecodesWithValidChecksums(t *testing.T) {
	for _, m := range methods {
		for _, v6 := range []bool{false, true} {
			for _, size := range probeSizes(m, v6) {
				t.Run(fmt.Sprintf("%s/%s/%d", m, famName(v6), size), func(t *testing.T) {
					fp := testParams(m, v6, size)
					src, dst, _ := testAddrs(v6)
					buf := make([]byte, 2000)
					for i := range buf {
						buf[i] = 0xee // stale bytes must not leak into the probe
					}
					for _, c := range []struct {
						ttl      uint8
						id, flow uint16
					}{{1, 1, 0}, {17, 0x1234, 3}, {255, maxID, 255}} {
						pkt := fp.build(buf, src, dst, c.ttl, c.id, c.flow)
						if len(pkt) != size {
							t.Fatalf("probe is %d bytes, want %d", len(pkt), size)
						}
						d := decodeProbe(t, pkt, v6)
						checkIP(t, d, fp, src, dst, c.ttl, c.id, c.flow)
						checkTransport(t, d, fp, c.id, c.flow)
					}
				})
			}
		}
	}
}

func checkIP(t *testing.T, d decoded, fp *flowParams, src, dst netip.Addr, ttl uint8, id, flow uint16) {
	t.Helper()
	proto := layers.IPProtocol(fp.method.proto(fp.v6))
	if fp.v6 {
		ip := d.ip6
		if ip.HopLimit != ttl || ip.TrafficClass != fp.tos || ip.FlowLabel != fp.flowLabel(flow) ||
			int(ip.Length) != fp.size-40 || ip.NextHeader != proto ||
			!ip.SrcIP.Equal(net.IP(src.AsSlice())) || !ip.DstIP.Equal(net.IP(dst.AsSlice())) {
			t.Errorf("IPv6 header: hop limit %d tc %#x label %#x len %d next %v %v->%v; want %d %#x %#x %d %v",
				ip.HopLimit, ip.TrafficClass, ip.FlowLabel, ip.Length, ip.NextHeader, ip.SrcIP, ip.DstIP,
				ttl, fp.tos, fp.flowLabel(flow), fp.size-40, proto)
		}
		if want := (0x5a5a1 + uint32(flow)) & 0xfffff; ip.FlowLabel != want {
			t.Errorf("flow %d has label %#x, want %#x (run label + flow)", flow, ip.FlowLabel, want)
		}
		return
	}
	ip := d.ip4
	if ip.TTL != ttl || ip.TOS != fp.tos || ip.Id != id || int(ip.Length) != fp.size || ip.IHL != 5 ||
		ip.Protocol != proto || (ip.Flags&layers.IPv4DontFragment != 0) != fp.df ||
		!ip.SrcIP.Equal(net.IP(src.AsSlice())) || !ip.DstIP.Equal(net.IP(dst.AsSlice())) {
		t.Errorf("IPv4 header: ttl %d tos %#x id %d len %d proto %v flags %v %v->%v; want ttl %d tos %#x id %d len %d",
			ip.TTL, ip.TOS, ip.Id, ip.Length, ip.Protocol, ip.Flags, ip.SrcIP, ip.DstIP, ttl, fp.tos, id, fp.size)
	}
}

func checkTransport(t *testing.T, d decoded, fp *flowParams, id, flow uint16) {
	t.Helper()
	switch fp.method {
	case UDP:
		u := d.udp
		if u == nil {
			t.Fatal("no UDP layer")
		}
		if u.Checksum != id || uint16(u.SrcPort) != fp.sport+flow || uint16(u.DstPort) != fp.dport || int(u.Length) != fp.size-hdrLen(fp.v6) {
			t.Errorf("UDP: checksum %#x ports %d->%d len %d; want checksum %#x (the id) ports %d->%d len %d",
				u.Checksum, u.SrcPort, u.DstPort, u.Length, id, fp.sport+flow, fp.dport, fp.size-hdrLen(fp.v6))
		}
	case TCP:
		c := d.tcp
		if c == nil {
			t.Fatal("no TCP layer")
		}
		if c.Seq != uint32(fp.cookie)<<16|uint32(id) || !c.SYN || c.ACK || c.RST || c.FIN || c.Ack != 0 ||
			uint16(c.SrcPort) != fp.sport+flow || uint16(c.DstPort) != fp.dport {
			t.Errorf("TCP: seq %#x flags syn=%v ack=%v ports %d->%d; want seq %#x, SYN only, ports %d->%d",
				c.Seq, c.SYN, c.ACK, c.SrcPort, c.DstPort, uint32(fp.cookie)<<16|uint32(id), fp.sport+flow, fp.dport)
		}
		l4 := fp.size - hdrLen(fp.v6)
		wantOff := 5
		if l4 >= tcpHeaderLen+tcpOptionsLen {
			wantOff = 10
			kinds := []layers.TCPOptionKind{}
			for _, o := range c.Options {
				kinds = append(kinds, o.OptionType)
				if o.OptionType == layers.TCPOptionKindMSS && binary.BigEndian.Uint16(o.OptionData) != 1460 {
					t.Errorf("MSS option %d, want 1460", binary.BigEndian.Uint16(o.OptionData))
				}
			}
			want := []layers.TCPOptionKind{layers.TCPOptionKindMSS, layers.TCPOptionKindSACKPermitted,
				layers.TCPOptionKindTimestamps, layers.TCPOptionKindNop, layers.TCPOptionKindWindowScale}
			if fmt.Sprint(kinds) != fmt.Sprint(want) {
				t.Errorf("TCP options %v, want %v", kinds, want)
			}
		}
		if int(c.DataOffset) != wantOff || len(c.Payload) != l4-4*wantOff {
			t.Errorf("TCP data offset %d payload %d, want %d and %d", c.DataOffset, len(c.Payload), wantOff, l4-4*wantOff)
		}
	case ICMP:
		if fp.v6 {
			if d.icmp6 == nil || d.echo6 == nil {
				t.Fatal("no ICMPv6 echo layer")
			}
			if d.icmp6.TypeCode.Type() != tEcho6 || d.echo6.Identifier != fp.icmpID || d.echo6.SeqNumber != id ||
				d.icmp6.Checksum != fp.flowChecksum(flow) {
				t.Errorf("ICMPv6: %v id %#x seq %d checksum %#x; want echo request id %#x seq %d checksum %#x",
					d.icmp6.TypeCode, d.echo6.Identifier, d.echo6.SeqNumber, d.icmp6.Checksum, fp.icmpID, id, fp.flowChecksum(flow))
			}
			return
		}
		c := d.icmp4
		if c == nil {
			t.Fatal("no ICMPv4 layer")
		}
		if c.TypeCode.Type() != tEcho4 || c.Id != fp.icmpID || c.Seq != id || c.Checksum != fp.flowChecksum(flow) {
			t.Errorf("ICMPv4: %v id %#x seq %d checksum %#x; want echo id %#x seq %d checksum %#x",
				c.TypeCode, c.Id, c.Seq, c.Checksum, fp.icmpID, id, fp.flowChecksum(flow))
		}
	}
}

// TestICMPChecksumIsTheFlow: an ICMP probe's checksum, which balancers
// may hash, depends on its flow only, and differs between flows.
func TestICMPChecksumIsTheFlow(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		fp := testParams(ICMP, v6, 0)
		src, dst, _ := testAddrs(v6)
		buf := make([]byte, 200)
		seen := map[uint16]uint16{}
		for flow := uint16(0); flow < 300; flow++ {
			var c uint16
			for i, id := range []uint16{1, 2, 77, 0x8000, maxID} {
				pkt := fp.build(buf, src, dst, uint8(1+i), id, flow)
				got := binary.BigEndian.Uint16(pkt[hdrLen(v6)+2:])
				if i == 0 {
					c = got
				} else if got != c {
					t.Fatalf("%s flow %d: checksum %#x for id %d, %#x for id 1", famName(v6), flow, got, id, c)
				}
				if !verifies(pkt[hdrLen(v6):], pseudoFor(v6, src, dst, pkt[hdrLen(v6):])) {
					t.Fatalf("%s flow %d id %d: checksum does not verify", famName(v6), flow, id)
				}
			}
			if c == 0 || c == 0xffff {
				t.Errorf("flow %d checksum %#x", flow, c)
			}
			if f, dup := seen[c]; dup {
				t.Errorf("%s flows %d and %d share checksum %#x", famName(v6), f, flow, c)
			}
			seen[c] = flow
		}
	}
}

func pseudoFor(v6 bool, src, dst netip.Addr, l4 []byte) uint32 {
	if !v6 {
		return 0
	}
	return refPseudo(src, dst, 58, len(l4))
}

// TestFlowFieldsConstant: every probe of a flow keeps the fields a load
// balancer hashes (addresses, protocol, ports, ICMP checksum, flow label,
// TOS); identity and TTL change only where balancers do not look.
func TestFlowFieldsConstant(t *testing.T) {
	for _, m := range methods {
		for _, v6 := range []bool{false, true} {
			fp := testParams(m, v6, 0)
			src, dst, _ := testAddrs(v6)
			hl := hdrLen(v6)
			key := func(p []byte) string {
				l4 := p[hl:]
				k := fmt.Sprintf("%x", l4[0:4]) // ports / ICMP type, code, checksum
				if v6 {
					return k + fmt.Sprintf("|%x|%x", p[0:4], p[6]) // version, class, label; next header
				}
				return k + fmt.Sprintf("|%x|%x", p[1], p[9])
			}
			buf := make([]byte, 200)
			for flow := uint16(0); flow < 4; flow++ {
				want := key(fp.build(buf, src, dst, 1, 1, flow))
				for _, c := range []struct {
					ttl uint8
					id  uint16
				}{{2, 5}, {30, 999}, {64, maxID}} {
					if got := key(fp.build(buf, src, dst, c.ttl, c.id, flow)); got != want {
						t.Errorf("%s/%s flow %d ttl %d id %d: hashed fields %s, want %s", m, famName(v6), flow, c.ttl, c.id, got, want)
					}
				}
				if flow > 0 {
					if prev := key(fp.build(buf, src, dst, 1, 1, flow-1)); prev == want {
						t.Errorf("%s/%s flows %d and %d hash alike", m, famName(v6), flow-1, flow)
					}
				}
			}
		}
	}
}

// TestBuildChecksumAddressCarry builds probes between addresses whose
// pseudo header sum carries out of 32 bits in internal/inet's word-wise
// sum (fd00::1 -> fd00:0:5ff:fffd:: sums to exactly 0xffffffff); the
// checksum must still verify (gopacket's reading).
func TestBuildChecksumAddressCarry(t *testing.T) {
	src, dst := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00:0:5ff:fffd::")
	for _, m := range methods {
		t.Run(m.String(), func(t *testing.T) {
			fp := testParams(m, true, 0)
			d := decodeProbe(t, fp.build(make([]byte, 100), src, dst, 3, 7, 0), true)
			checkTransport(t, d, fp, 7, 0)
		})
	}
}

func TestMinAndDefaultSize(t *testing.T) {
	want := map[Method][2]int{UDP: {30, 50}, ICMP: {30, 50}, TCP: {40, 60}}
	for m, w := range want {
		if MinSize(m, false) != w[0] || MinSize(m, true) != w[1] {
			t.Errorf("MinSize(%s) = %d/%d, want %d/%d", m, MinSize(m, false), MinSize(m, true), w[0], w[1])
		}
	}
	if DefaultSize(false) != 60 || DefaultSize(true) != 80 {
		t.Errorf("DefaultSize = %d/%d, want 60/80", DefaultSize(false), DefaultSize(true))
	}
}

func TestParseMethod(t *testing.T) {
	for _, m := range methods {
		got, err := ParseMethod(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMethod(%q) = %v, %v", m.String(), got, err)
		}
	}
	if got, err := ParseMethod("TCP"); err != nil || got != TCP {
		t.Errorf("ParseMethod(TCP) = %v, %v", got, err)
	}
	if _, err := ParseMethod("sctp"); err == nil {
		t.Error("ParseMethod(sctp) accepted")
	}
}
