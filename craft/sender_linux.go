package craft

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/priv"
)

// MaxBatch is how many packets one sendmmsg call carries at most.
const MaxBatch = 64

// rawSender sends whole IP packets (IPPROTO_RAW, IPV6_HDRINCL) or whole
// frames (AF_PACKET bound to one interface) with sendmmsg on a blocking
// socket: a full send buffer makes it wait, so --rate 0 sends as fast as
// the kernel takes packets.
type rawSender struct {
	fd    int
	l2    bool
	v6    bool
	index int32 // the interface of an L2 sender
	hdrs  [MaxBatch]unix.Mmsghdr
	iovs  [MaxBatch]unix.Iovec
	names [MaxBatch]unix.RawSockaddrInet6 // large enough for IPv4 too
}

// openL3 opens a raw IP socket that sends packets with their own header,
// bound to iface when one is given.
func openL3(v6 bool, iface string) (*rawSender, error) {
	family := unix.AF_INET
	if v6 {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return nil, priv.Hint(fmt.Errorf("craft: raw IP socket: %w", err))
	}
	if v6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_HDRINCL, 1); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("craft: IPV6_HDRINCL: %w", err)
		}
	}
	if iface != "" {
		if err := unix.BindToDevice(fd, iface); err != nil {
			unix.Close(fd)
			return nil, priv.Hint(fmt.Errorf("craft: bind to %s: %w", iface, err))
		}
	}
	setSendBuffer(fd)
	return &rawSender{fd: fd, v6: v6}, nil
}

// openL2 opens an AF_PACKET socket that sends whole frames on ifc.
func openL2(ifc *net.Interface) (*rawSender, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, priv.Hint(fmt.Errorf("craft: AF_PACKET socket: %w", err))
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifc.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("craft: bind to %s: %w", ifc.Name, err)
	}
	setSendBuffer(fd)
	return &rawSender{fd: fd, l2: true, index: int32(ifc.Index)}, nil
}

func setSendBuffer(fd int) {
	const size = 4 << 20
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, size)
	}
}

// send sends pkts (at most MaxBatch); dsts give each IP packet's
// destination (ignored on L2). A packet the kernel refuses is skipped and
// counted in failed, with the first such error; the rest are still sent.
func (s *rawSender) send(pkts [][]byte, dsts []netip.Addr) (ok, failed int, err error) {
	n := len(pkts)
	for i := 0; i < n; i++ {
		p := pkts[i]
		s.iovs[i].Base = &p[0]
		s.iovs[i].SetLen(len(p))
		h := &s.hdrs[i].Hdr
		*h = unix.Msghdr{Iov: &s.iovs[i], Iovlen: 1}
		h.Name = (*byte)(unsafe.Pointer(&s.names[i]))
		if s.l2 {
			h.Namelen = s.linkaddr(i, p)
		} else {
			h.Namelen = s.sockaddr(i, dsts[i])
		}
	}
	at, busy := 0, 0
	for at < n {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.hdrs[at])), uintptr(n-at), 0, 0, 0)
		switch {
		case e == 0:
			at += int(r)
			ok += int(r)
			busy = 0
		case e == unix.EINTR:
		case (e == unix.ENOBUFS || e == unix.EAGAIN) && busy < maxBusy:
			busy++
			time.Sleep(busyPause)
		default:
			if err == nil {
				err = e
			}
			at++
			failed++
			busy = 0
		}
	}
	return ok, failed, err
}

// A full device queue (ENOBUFS) is waited out this often before the packet
// counts as failed.
const (
	maxBusy   = 2000
	busyPause = 50 * time.Microsecond
)

func (s *rawSender) sockaddr(i int, dst netip.Addr) uint32 {
	if s.v6 {
		sa := &s.names[i]
		*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: dst.As16()}
		return unix.SizeofSockaddrInet6
	}
	sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&s.names[i]))
	*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: dst.As4()}
	return unix.SizeofSockaddrInet4
}

// linkaddr addresses a frame to the sender's interface with the frame's
// EtherType as protocol: a packet socket sends with protocol 0 into the
// void on some devices (veth among them).
func (s *rawSender) linkaddr(i int, frame []byte) uint32 {
	sa := (*unix.RawSockaddrLinklayer)(unsafe.Pointer(&s.names[i]))
	*sa = unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Ifindex: s.index}
	if len(frame) >= 14 {
		sa.Protocol = binary.NativeEndian.Uint16(frame[12:]) // network order in memory
	}
	return unix.SizeofSockaddrLinklayer
}

func (s *rawSender) close() error { return unix.Close(s.fd) }
