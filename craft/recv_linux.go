package craft

import (
	"fmt"
	"net"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/cmsg"
	"github.com/rawnet/rawnet/internal/priv"
	"github.com/rawnet/rawnet/internal/sockfilter"
)

// replyConn receives what comes in while rawnet sends: an AF_PACKET socket
// that sees every inbound IP packet, on all interfaces as bare IP packets
// (SOCK_DGRAM), or as whole frames on the one interface an L2 send uses.
type replyConn struct {
	fd  int
	l2  bool
	buf []byte
	oob []byte
}

// replyFilter accepts inbound IPv4 and IPv6 (the kernel's protocol and
// packet type, so the check costs nothing per packet in user space).
func replyFilter(l2 bool) []bpf.Instruction {
	const adPkttype, adProtocol = 0xfffff004, 0xfffff000
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: adPkttype, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 4},
		bpf.LoadAbsolute{Off: adProtocol, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.ETH_P_IP, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.ETH_P_IPV6, SkipFalse: 1},
		bpf.RetConstant{Val: 1 << 18},
		bpf.RetConstant{Val: 0},
	}
	return prog
}

func openReplies(ifc *net.Interface, l2 bool) (*replyConn, error) {
	typ := unix.SOCK_DGRAM
	if l2 {
		typ = unix.SOCK_RAW
	}
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, priv.Hint(fmt.Errorf("craft: AF_PACKET socket for replies: %w", err))
	}
	c := &replyConn{fd: fd, l2: l2, buf: make([]byte, 65536+64), oob: make([]byte, 256)}
	if err := c.setup(ifc, proto); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return c, nil
}

func (c *replyConn) setup(ifc *net.Interface, proto int) error {
	// Reject everything, empty what was queued, then filter for real, so
	// that nothing from before the filter slips through.
	if err := sockfilter.AttachInstructions(c.fd, []bpf.Instruction{bpf.RetConstant{Val: 0}}); err != nil {
		return err
	}
	if ifc != nil && c.l2 {
		if err := unix.Bind(c.fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifc.Index}); err != nil {
			return fmt.Errorf("craft: bind to %s: %w", ifc.Name, err)
		}
	}
	sockfilter.Drain(c.fd)
	if err := sockfilter.AttachInstructions(c.fd, replyFilter(c.l2)); err != nil {
		return err
	}
	_ = unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	if err := unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fmt.Errorf("craft: SO_TIMESTAMPNS: %w", err)
	}
	tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
	return unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
}

func htons(x uint16) uint16 { return x<<8 | x>>8 }

// read returns the next packet (valid until the next read) and the kernel's
// receive time, or errTimeout after 50 ms without one.
func (c *replyConn) read() ([]byte, time.Time, error) {
	for {
		n, oobn, _, _, err := unix.Recvmsg(c.fd, c.buf, c.oob, 0)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN || err == unix.EWOULDBLOCK {
			return nil, time.Time{}, errTimeout
		}
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("craft: receive: %w", err)
		}
		ts := time.Now()
		var m cmsg.Meta
		if cmsg.Parse(c.oob[:oobn], &m); !m.Stamp.IsZero() {
			ts = m.Stamp
		}
		return c.buf[:n], ts, nil
	}
}

func (c *replyConn) close() error { return unix.Close(c.fd) }
