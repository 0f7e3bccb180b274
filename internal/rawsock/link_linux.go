package rawsock

import (
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/cmsg"
)

// Link is an AF_PACKET socket (SOCK_RAW: whole Ethernet frames) bound to
// one interface and one EtherType, for protocols below IP or beside it
// (ARP, neighbour discovery) whose frames rawnet writes whole. Inbound
// frames are filtered in the kernel (LinkConfig.Filter) behind a
// reject-all program and a drain, so nothing queued before the filter
// slips through. Outbound frames are never read: a packet socket bound to
// one protocol hangs off the kernel's per-protocol receive list, which
// outbound frames do not pass (only ETH_P_ALL taps see them).
// Receive stamps are the kernel's (SO_TIMESTAMPNS), transmit stamps too
// where the device stamps (LinkConfig.TxStamps).
//
// One goroutine may read while another writes. Reads and writes allocate
// nothing.
type Link struct {
	c     *Conn
	ifc   *net.Interface
	rmsg  unix.Msghdr
	riov  unix.Iovec
	oob   [128]byte
	meta  cmsg.Meta
	wmsg  unix.Msghdr
	wiov  unix.Iovec
	proto uint16
}

// ErrNoInterface: OpenLink was given no interface, or one without an
// Ethernet address.
var ErrNoInterface = errors.New("a link-layer socket needs an Ethernet interface")

// OpenLink opens a Link on cfg.Interface. It needs CAP_NET_RAW.
func OpenLink(cfg LinkConfig) (*Link, error) {
	if cfg.Interface == "" {
		return nil, ErrNoInterface
	}
	ifc, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", cfg.Interface, err)
	}
	if len(ifc.HardwareAddr) != 6 {
		return nil, fmt.Errorf("interface %s: %w", ifc.Name, ErrNoInterface)
	}
	l := &Link{ifc: ifc, proto: Htons(cfg.EtherType)}
	c, err := Open(unix.AF_PACKET, unix.SOCK_RAW, int(l.proto), Config{
		Name: "link-" + ifc.Name, Blocking: cfg.Blocking, TxStamps: cfg.TxStamps,
		Setup: func(fd int) error { return l.setup(fd, cfg.Filter) },
	})
	if err != nil {
		return nil, err
	}
	l.c = c
	return l, nil
}

func (l *Link) setup(fd int, filter []bpf.Instruction) error {
	if err := AttachFilter(fd, RejectAll); err != nil {
		return err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: l.proto, Ifindex: l.ifc.Index}); err != nil {
		return fmt.Errorf("bind to %s: %w", l.ifc.Name, err)
	}
	Drain(fd)
	if len(filter) == 0 {
		filter = acceptAll
	}
	if err := AttachFilter(fd, filter); err != nil {
		return err
	}
	return EnableTimestamps(fd)
}

// acceptAll passes every frame whole.
var acceptAll = []bpf.Instruction{bpf.RetConstant{Val: 1 << 18}}

// Interface is the interface the Link is bound to.
func (l *Link) Interface() *net.Interface { return l.ifc }

// HardwareAddr is the interface's Ethernet address, the source of the
// frames the Link sends.
func (l *Link) HardwareAddr() [6]byte { return [6]byte(l.ifc.HardwareAddr) }

// WriteFrame sends one whole frame (Ethernet header first) on the
// interface.
func (l *Link) WriteFrame(frame []byte) error {
	l.wiov.Base = &frame[0]
	l.wiov.SetLen(len(frame))
	l.wmsg = unix.Msghdr{Iov: &l.wiov}
	l.wmsg.SetIovlen(1)
	_, err := l.c.SendMsg(&l.wmsg)
	return err
}

// ReadFrame waits for the next frame the filter passes (or the read
// deadline, os.ErrDeadlineExceeded) and fills f; f.Data aliases buf.
func (l *Link) ReadFrame(buf []byte, f *LinkFrame) error {
	l.riov.Base = &buf[0]
	l.riov.SetLen(len(buf))
	l.rmsg = unix.Msghdr{Iov: &l.riov, Control: &l.oob[0]}
	l.rmsg.SetIovlen(1)
	l.rmsg.SetControllen(len(l.oob))
	n, _, err := l.c.RecvMsg(&l.rmsg, nil)
	if err != nil {
		return err
	}
	l.meta.Reset()
	cmsg.Parse(l.oob[:l.rmsg.Controllen], &l.meta)
	f.Data = buf[:min(n, len(buf))]
	f.Received, f.KernelStamp = l.meta.Stamp, !l.meta.Stamp.IsZero()
	if !f.KernelStamp {
		f.Received = time.Now()
	}
	return nil
}

// SetReadDeadline sets when a waiting ReadFrame gives up.
func (l *Link) SetReadDeadline(t time.Time) error { return l.c.SetReadDeadline(t) }

// TxKey, TxStamp and TxStampErr are the socket's transmit stamps (see
// Conn and TxStamper).
func (l *Link) TxKey() (uint32, bool) { return l.c.TxKey() }

// TxStamp: see Conn.TxStamp.
func (l *Link) TxStamp(key uint32) (int64, bool) { return l.c.TxStamp(key) }

// TxStampErr: see Conn.TxStampErr.
func (l *Link) TxStampErr() error { return l.c.TxStampErr() }

// Close closes the socket.
func (l *Link) Close() error { return l.c.Close() }
