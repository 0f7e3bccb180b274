package udp

import (
	"net/netip"
	"time"

	"github.com/rawnet/rawnet/internal/ipwrap"
	"github.com/rawnet/rawnet/tap"
)

// A socket hands over UDP payloads only; these helpers rebuild the IP
// packets around them for the tap (pcap files), as they were on the wire
// as far as rawnet knows (TTL 64, the kernel's usual).

var tapHeader = ipwrap.Header{TTL: 64}

// tapLen is the tap buffer for datagrams of up to n bytes: room for an
// ICMP error quoting one.
func tapLen(n int) int { return 2 * (2*ipwrap.IPv6HeaderLen + 16 + n) }

// tapUDP records one datagram from src to dst.
func tapUDP(f tap.Func, buf []byte, dir tap.Dir, ts time.Time, src, dst netip.AddrPort, payload []byte) {
	if f == nil || len(buf) < ipwrap.IPv6HeaderLen+ipwrap.UDPHeaderLen+len(payload) {
		return
	}
	f(dir, ts, ipwrap.UDP(buf, src, dst, tapHeader, payload))
}

// tapError records an ICMP error from the error queue, rebuilt around
// the datagram from local to m.Addr it reports on.
func tapError(f tap.Func, buf []byte, local netip.AddrPort, m *Message) {
	if f == nil || !m.Offender.IsValid() {
		return
	}
	need := 2*ipwrap.IPv6HeaderLen + 16 + m.N
	if len(buf) < 2*need {
		return
	}
	inner := ipwrap.UDP(buf[need:], local, m.Addr, tapHeader, m.Data())
	f(tap.In, m.Time, ipwrap.ICMPError(buf, m.Offender, local.Addr(), m.ICMPType, m.ICMPCode, inner))
}

func (p *Probe) tapOut(m *Message, ts time.Time) {
	tapUDP(p.cfg.Tap, p.tapBuf, tap.Out, ts, p.sum.Local, p.sum.Remote, m.Data())
}

func (p *Probe) tapIn(m *Message) {
	tapUDP(p.cfg.Tap, p.tapBuf, tap.In, m.Time, m.Addr, p.sum.Local, m.Data())
}

func (p *Probe) tapICMP(m *Message) {
	tapError(p.cfg.Tap, p.tapBuf, p.sum.Local, m)
}
