package icmp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/bpf"

	"github.com/rawnet/rawnet/internal/arp"
	"github.com/rawnet/rawnet/internal/ndp"
	"github.com/rawnet/rawnet/internal/rawsock"
)

// LinkConn is the Conn of the link-layer kinds (ARP, NDP): a
// rawsock.Link on one Ethernet interface that sends the whole frames the
// kind builds and reads, filtered in the kernel, the ARP replies or
// neighbour advertisements that come in. Packet.Data and Packet.IP are
// both the whole frame, so that the tap records frames as they were on
// the wire (pcap link type Ethernet).
//
// AF_PACKET rather than an ICMPv6 raw socket for NDP: the answering MAC
// comes from the frame even when an advertisement carries no target
// link-layer option, the pcap holds the frames as sent (multicast MACs
// included), ARP and NDP share one socket type, one timing path (kernel
// transmit stamps at the device) and one capture format, and the hop
// limit of 255 is written by rawnet, not left to a socket option.
type LinkConn struct {
	l     *rawsock.Link
	v6    bool
	addrs []netip.Prefix // the interface's addresses of the conn's family
}

// ErrNotOnLink: a link-layer ping target is not on the interface's
// link, or the interface has no address of the target's family.
var ErrNotOnLink = errors.New("not on the interface's link")

// ListenLink opens the link-layer conn of ping -P arp (v6 false) or -P
// ndp (v6 true) on interface iface. It needs CAP_NET_RAW.
func ListenLink(iface string, v6, blocking bool) (*LinkConn, error) {
	cfg := rawsock.LinkConfig{Interface: iface, EtherType: arp.EtherType, Filter: arpReplies, TxStamps: true, Blocking: blocking}
	if v6 {
		cfg.EtherType, cfg.Filter = ndp.EtherType, advertisements
	}
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("icmp: interface %q: %w", iface, err)
	}
	c := &LinkConn{v6: v6}
	as, err := ifc.Addrs()
	if err != nil {
		return nil, fmt.Errorf("icmp: addresses of %s: %w", iface, err)
	}
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok {
			ip, _ := netip.AddrFromSlice(n.IP)
			ones, _ := n.Mask.Size()
			if ip = ip.Unmap(); ip.Is4() != v6 {
				c.addrs = append(c.addrs, netip.PrefixFrom(ip, ones))
			}
		}
	}
	if c.l, err = rawsock.OpenLink(cfg); err != nil {
		return nil, fmt.Errorf("icmp: link-layer socket on %s: %w", iface, err)
	}
	return c, nil
}

// arpReplies passes ARP replies (operation 2 at frame offset 20).
var arpReplies = []bpf.Instruction{
	bpf.LoadAbsolute{Off: 20, Size: 2},
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: arp.OpReply, SkipTrue: 1},
	bpf.RetConstant{Val: 1 << 16},
	bpf.RetConstant{Val: 0},
}

// advertisements passes IPv6 frames whose next header is ICMPv6 (frame
// offset 20) and whose ICMPv6 type (offset 54) is neighbour advertisement.
var advertisements = []bpf.Instruction{
	bpf.LoadAbsolute{Off: 20, Size: 1},
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 58, SkipTrue: 3},
	bpf.LoadAbsolute{Off: 54, Size: 1},
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 136, SkipTrue: 1},
	bpf.RetConstant{Val: 1 << 16},
	bpf.RetConstant{Val: 0},
}

// Interface is the conn's interface.
func (c *LinkConn) Interface() *net.Interface { return c.l.Interface() }

// HardwareAddr is the interface's MAC, the kinds' source address.
func (c *LinkConn) HardwareAddr() [6]byte { return c.l.HardwareAddr() }

// OnLink reports whether dst is in a prefix of the interface's addresses.
func (c *LinkConn) OnLink(dst netip.Addr) bool {
	for _, p := range c.addrs {
		if p.Contains(dst.WithZone("")) || dst.Is6() && dst.IsLinkLocalUnicast() && p.Addr().IsLinkLocalUnicast() {
			return true
		}
	}
	return false
}

// Owns reports whether a is one of the interface's own addresses.
func (c *LinkConn) Owns(a netip.Addr) bool {
	for _, p := range c.addrs {
		if p.Addr().WithZone("") == a.WithZone("") {
			return true
		}
	}
	return false
}

func (c *LinkConn) V6() bool       { return c.v6 }
func (c *LinkConn) Datagram() bool { return false }
func (c *LinkConn) ID() uint16     { return 0 }
func (c *LinkConn) Wire() Wire     { return Wire{TTL: ndp.HopLimit} }

// WriteTo sends msg, a whole frame the kind built; dst is in it already.
func (c *LinkConn) WriteTo(msg []byte, _ netip.Addr) error { return c.l.WriteFrame(msg) }

// ReadPacket reads the next ARP reply or neighbour advertisement frame.
// From is the ARP sender address, or the target address a neighbour
// advertisement speaks for (its IPv6 source may be a link-local one).
func (c *LinkConn) ReadPacket(buf []byte, p *Packet) error {
	var f rawsock.LinkFrame
	if err := c.l.ReadFrame(buf, &f); err != nil {
		return err
	}
	*p = Packet{Data: f.Data, IP: f.Data, TTL: -1, TOS: -1, Received: f.Received, KernelStamp: f.KernelStamp}
	switch b := f.Data; {
	case !c.v6 && len(b) >= arp.FrameLen:
		p.From = netip.AddrFrom4([4]byte(b[28:32]))
	case c.v6 && len(b) >= 78:
		p.From, p.TTL = netip.AddrFrom16([16]byte(b[62:78])), int(b[21])
	}
	return nil
}

func (c *LinkConn) SetReadDeadline(t time.Time) error { return c.l.SetReadDeadline(t) }

// Source is the interface's address in dst's prefix, else its first
// address of the family (for IPv6 its link-local one).
func (c *LinkConn) Source(dst netip.Addr) (netip.Addr, error) {
	var first, ll netip.Addr
	for _, p := range c.addrs {
		a := p.Addr()
		if p.Contains(dst.WithZone("")) {
			return a, nil
		}
		if a.IsLinkLocalUnicast() && !ll.IsValid() {
			ll = a
		} else if !first.IsValid() {
			first = a
		}
	}
	if ll.IsValid() {
		return ll, nil
	}
	if first.IsValid() {
		return first, nil
	}
	return netip.Addr{}, fmt.Errorf("icmp: %s has no address of %s's family", c.l.Interface().Name, dst)
}

func (c *LinkConn) TxKey() (uint32, bool)            { return c.l.TxKey() }
func (c *LinkConn) TxStamp(key uint32) (int64, bool) { return c.l.TxStamp(key) }
func (c *LinkConn) TxStampErr() error                { return c.l.TxStampErr() }
func (c *LinkConn) Close() error                     { return c.l.Close() }
