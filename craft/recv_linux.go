package craft

import (
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/cmsg"
	"github.com/rawnet/rawnet/internal/priv"
	"github.com/rawnet/rawnet/internal/rawsock"
)

// replyConn receives what comes in while rawnet sends: an AF_PACKET socket
// that sees every inbound IP packet, on all interfaces as bare IP packets
// (SOCK_DGRAM), or as whole frames on the one interface an L2 send uses.
// It is a blocking rawsock.Conn: the receiving goroutine waits in the
// kernel until a packet arrives or the runner interrupts it.
type replyConn struct {
	c    *rawsock.Conn
	buf  []byte
	oob  [256]byte
	iov  unix.Iovec
	msg  unix.Msghdr
	meta cmsg.Meta
}

// replyFilter accepts inbound IPv4 and IPv6 (the kernel's protocol and
// packet type, so the check costs nothing per packet in user space).
func replyFilter() []bpf.Instruction {
	const adPkttype, adProtocol = 0xfffff004, 0xfffff000
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: adPkttype, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 4},
		bpf.LoadAbsolute{Off: adProtocol, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.ETH_P_IP, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.ETH_P_IPV6, SkipFalse: 1},
		bpf.RetConstant{Val: 1 << 18},
		bpf.RetConstant{Val: 0},
	}
}

func openReplies(ifc *net.Interface, l2 bool) (*replyConn, error) {
	typ := unix.SOCK_DGRAM
	if l2 {
		typ = unix.SOCK_RAW
	}
	proto := int(rawsock.Htons(unix.ETH_P_ALL))
	r := &replyConn{buf: make([]byte, 65536+64)}
	c, err := rawsock.Open(unix.AF_PACKET, typ, proto, rawsock.Config{Name: "craft-replies", Blocking: true,
		Setup: func(fd int) error { return setupReplies(fd, ifc, l2, proto) }})
	if errno, ok := err.(unix.Errno); ok {
		return nil, priv.Hint(fmt.Errorf("craft: AF_PACKET socket for replies: %w", errno))
	}
	if err != nil {
		return nil, err
	}
	r.c = c
	r.iov.Base = &r.buf[0]
	r.iov.SetLen(len(r.buf))
	return r, nil
}

func setupReplies(fd int, ifc *net.Interface, l2 bool, proto int) error {
	// Reject everything, empty what was queued, then filter for real, so
	// that nothing from before the filter slips through.
	if err := rawsock.AttachFilter(fd, rawsock.RejectAll); err != nil {
		return fmt.Errorf("craft: %w", err)
	}
	if ifc != nil && l2 {
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifc.Index}); err != nil {
			return fmt.Errorf("craft: bind to %s: %w", ifc.Name, err)
		}
	}
	rawsock.Drain(fd)
	if err := rawsock.AttachFilter(fd, replyFilter()); err != nil {
		return fmt.Errorf("craft: %w", err)
	}
	rawsock.SetRecvBuffer(fd, 4<<20)
	if err := rawsock.EnableTimestamps(fd); err != nil {
		return fmt.Errorf("craft: %w", err)
	}
	return nil
}

// read returns the next packet (valid until the next read) and the kernel's
// receive time, or errTimeout once interrupt was called.
func (r *replyConn) read() ([]byte, time.Time, bool, error) {
	r.msg = unix.Msghdr{Iov: &r.iov, Control: &r.oob[0]}
	r.msg.SetIovlen(1)
	r.msg.SetControllen(len(r.oob))
	n, _, err := r.c.RecvMsg(&r.msg, nil)
	if err == os.ErrDeadlineExceeded {
		return nil, time.Time{}, false, errTimeout
	}
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("craft: receive: %w", err)
	}
	ts := time.Now()
	r.meta.Reset()
	if cmsg.Parse(r.oob[:r.msg.Controllen], &r.meta); !r.meta.Stamp.IsZero() {
		return r.buf[:n], r.meta.Stamp, true, nil
	}
	return r.buf[:n], ts, false, nil
}

// interrupt makes a waiting read, and every later one, return errTimeout
// (within rawsock's slice).
func (r *replyConn) interrupt() { _ = r.c.SetReadDeadline(time.Unix(1, 0)) }

func (r *replyConn) close() error { return r.c.Close() }
