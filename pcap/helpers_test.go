package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ts0 is a timestamp with all nine fractional digits significant.
var ts0 = time.Date(2023, 11, 14, 22, 13, 20, 123456789, time.UTC) // 1700000000.123456789

// icmpEcho builds a real IPv4 ICMP echo request (or reply) from 198.18.0.1
// to 198.18.0.2 with correct checksums and a payload of n bytes.
func icmpEcho(t testing.TB, reply bool, seq uint16, n int) []byte {
	t.Helper()
	src, dst := net.IPv4(198, 18, 0, 1), net.IPv4(198, 18, 0, 2)
	typ := uint8(layers.ICMPv4TypeEchoRequest)
	if reply {
		typ, src, dst = layers.ICMPv4TypeEchoReply, dst, src
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: src, DstIP: dst}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: 0x1234, Seq: seq}
	return serialize(t, ip, icmp, gopacket.Payload(bytes.Repeat([]byte{0xa5}, n)))
}

// icmp6Echo builds an IPv6 ICMPv6 echo request between fd00::1 and fd00::2.
func icmp6Echo(t testing.TB, seq uint16) []byte {
	t.Helper()
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6,
		SrcIP: net.ParseIP("fd00::1"), DstIP: net.ParseIP("fd00::2")}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
	if err := icmp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	echo := &layers.ICMPv6Echo{Identifier: 0x1234, SeqNumber: seq}
	return serialize(t, ip, icmp, echo, gopacket.Payload("rawnet"))
}

// ethernet wraps an IPv4 packet in an Ethernet II frame.
func ethernet(t testing.TB, ip []byte) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1},
		DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	return serialize(t, eth, gopacket.Payload(ip))
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAll reads every packet, copying the data, until EOF or an error.
func readAll(t testing.TB, r io.Reader) ([]Packet, error) {
	t.Helper()
	pr, err := NewReader(r)
	if err != nil {
		return nil, err
	}
	var ps []Packet
	for {
		p, err := pr.Next()
		if errors.Is(err, io.EOF) {
			return ps, nil
		}
		if err != nil {
			return ps, err
		}
		p.Data = bytes.Clone(p.Data)
		ps = append(ps, p)
	}
}

// ng builds pcapng files by hand, in either byte order, including block
// types and layouts that NgWriter never produces.
type ng struct {
	order binary.AppendByteOrder
	b     []byte
}

func newNg(order binary.AppendByteOrder) *ng { return &ng{order: order} }

func (n *ng) block(typ uint32, body []byte) *ng {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n.b = n.order.AppendUint32(n.b, typ)
	n.b = n.order.AppendUint32(n.b, uint32(len(body)+12))
	n.b = append(n.b, body...)
	n.b = n.order.AppendUint32(n.b, uint32(len(body)+12))
	return n
}

func (n *ng) opt(b []byte, code uint16, val []byte) []byte {
	b = n.order.AppendUint16(b, code)
	b = n.order.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (n *ng) shb() *ng {
	body := n.order.AppendUint32(nil, byteOrderMagic)
	body = n.order.AppendUint16(body, 1)
	body = n.order.AppendUint16(body, 0)
	body = n.order.AppendUint64(body, ^uint64(0))
	body = n.opt(body, 3, []byte("test-os")) // shb_os
	return n.block(blockSHB, n.opt(body, optEnd, nil))
}

// idb adds an interface; tsresol < 0 leaves the option out (microseconds).
func (n *ng) idb(link LinkType, snaplen uint32, tsresol int, tsoffset int64) *ng {
	body := n.order.AppendUint16(nil, uint16(link))
	body = n.order.AppendUint16(body, 0)
	body = n.order.AppendUint32(body, snaplen)
	body = n.opt(body, optIfName, []byte("test0"))
	if tsresol >= 0 {
		body = n.opt(body, optTSResol, []byte{byte(tsresol)})
	}
	if tsoffset != 0 {
		body = n.opt(body, optTSOffset, n.order.AppendUint64(nil, uint64(tsoffset)))
	}
	return n.block(blockIDB, n.opt(body, optEnd, nil))
}

// epb adds an enhanced packet block; flags < 0 leaves epb_flags out.
func (n *ng) epb(ifid uint32, ticks uint64, data []byte, origLen uint32, flags int) *ng {
	body := n.order.AppendUint32(nil, ifid)
	body = n.order.AppendUint32(body, uint32(ticks>>32))
	body = n.order.AppendUint32(body, uint32(ticks))
	body = n.order.AppendUint32(body, uint32(len(data)))
	body = n.order.AppendUint32(body, origLen)
	body = append(body, data...)
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	body = n.opt(body, 1, []byte("a comment")) // opt_comment before the flags
	if flags >= 0 {
		body = n.opt(body, optEPBFlags, n.order.AppendUint32(nil, uint32(flags)))
	}
	return n.block(blockEPB, n.opt(body, optEnd, nil))
}

// pb adds an obsolete packet block.
func (n *ng) pb(ifid uint16, ticks uint64, data []byte) *ng {
	body := n.order.AppendUint16(nil, ifid)
	body = n.order.AppendUint16(body, 0) // drops
	body = n.order.AppendUint32(body, uint32(ticks>>32))
	body = n.order.AppendUint32(body, uint32(ticks))
	body = n.order.AppendUint32(body, uint32(len(data)))
	body = n.order.AppendUint32(body, uint32(len(data)))
	return n.block(blockPB, append(body, data...))
}

// spb adds a simple packet block.
func (n *ng) spb(data []byte, origLen uint32) *ng {
	return n.block(blockSPB, append(n.order.AppendUint32(nil, origLen), data...))
}

// classic builds a classic pcap file by hand in either byte order with
// microsecond or nanosecond timestamps.
type classic struct {
	order binary.AppendByteOrder
	nano  bool
	b     []byte
}

func newClassic(order binary.AppendByteOrder, nano bool, link LinkType, snaplen uint32) *classic {
	c := &classic{order: order, nano: nano}
	magic := uint32(magicMicro)
	if nano {
		magic = magicNano
	}
	c.b = order.AppendUint32(c.b, magic)
	c.b = order.AppendUint16(c.b, 2)
	c.b = order.AppendUint16(c.b, 4)
	c.b = order.AppendUint32(c.b, 0)
	c.b = order.AppendUint32(c.b, 0)
	c.b = order.AppendUint32(c.b, snaplen)
	c.b = order.AppendUint32(c.b, uint32(link))
	return c
}

func (c *classic) record(sec, frac uint32, data []byte, origLen uint32) *classic {
	c.b = c.order.AppendUint32(c.b, sec)
	c.b = c.order.AppendUint32(c.b, frac)
	c.b = c.order.AppendUint32(c.b, uint32(len(data)))
	c.b = c.order.AppendUint32(c.b, origLen)
	c.b = append(c.b, data...)
	return c
}
