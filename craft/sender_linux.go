package craft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/priv"
	"github.com/rawnet/rawnet/internal/rawsock"
)

// MaxBatch is how many packets one sendmmsg call carries at most.
const MaxBatch = 64

// rawSender sends whole IP packets (IPPROTO_RAW, IPV6_HDRINCL) or whole
// frames (AF_PACKET bound to one interface) with sendmmsg on a blocking
// rawsock.Conn: a full send buffer makes it wait, so --rate 0 sends as
// fast as the kernel takes packets.
type rawSender struct {
	c     *rawsock.Conn
	l2    bool
	v6    bool
	link  string // the interface of link-local destinations (rawsock's zone policy)
	index int32  // the interface of an L2 sender
	hdrs  [MaxBatch]unix.Mmsghdr
	iovs  [MaxBatch]unix.Iovec
	names [MaxBatch][rawsock.SockaddrLen]byte // large enough for a sockaddr_ll too
}

// openL3 opens a raw IP socket that sends packets with their own header,
// bound to iface when one is given; link-local destinations go out of
// link (their zone, else iface).
func openL3(v6 bool, iface, link string, stamps bool) (*rawSender, error) {
	c, err := openRaw("raw IP socket", func(cfg rawsock.Config) (*rawsock.Conn, error) {
		cfg.Device = iface
		return rawsock.OpenHeaderIncluded(v6, cfg)
	}, stamps, nil)
	if err != nil {
		return nil, err
	}
	return &rawSender{c: c, v6: v6, link: link}, nil
}

// openL2 opens an AF_PACKET socket that sends whole frames on ifc.
func openL2(ifc *net.Interface, stamps bool) (*rawSender, error) {
	c, err := openRaw("AF_PACKET socket", func(cfg rawsock.Config) (*rawsock.Conn, error) {
		return rawsock.Open(unix.AF_PACKET, unix.SOCK_RAW, 0, cfg)
	}, stamps, func(fd int) error {
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifc.Index}); err != nil {
			return fmt.Errorf("craft: bind to %s: %w", ifc.Name, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &rawSender{c: c, l2: true, index: int32(ifc.Index)}, nil
}

// openRaw opens a blocking raw socket for sending through open (what
// names it in errors), set up by setup (nil: nothing more), with a large
// send buffer.
func openRaw(what string, open func(rawsock.Config) (*rawsock.Conn, error), stamps bool, setup func(fd int) error) (*rawsock.Conn, error) {
	var setupErr error
	c, err := open(rawsock.Config{Name: "craft-send", Blocking: true, TxStamps: stamps,
		Setup: func(fd int) error {
			if setup != nil {
				if setupErr = setup(fd); setupErr != nil {
					return setupErr
				}
			}
			rawsock.SetSendBuffer(fd, sendBuffer)
			return nil
		}})
	if err != nil && err != setupErr { // setup's errors say what failed already
		return nil, priv.Hint(fmt.Errorf("craft: %s: %w", what, err))
	}
	return c, err
}

const sendBuffer = 4 << 20

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
		h.Name = &s.names[i][0]
		if s.l2 {
			h.Namelen = s.linkaddr(i, p)
		} else {
			h.Namelen = s.sockaddr(i, dsts[i])
		}
	}
	at, busy := 0, 0
	for at < n {
		k, e := s.c.SendMsgs(s.hdrs[at:n])
		at += k
		ok += k
		if k > 0 {
			busy = 0
		}
		var errno unix.Errno
		switch {
		case e == nil:
		case !errors.As(e, &errno):
			return ok, failed + n - at, e // the socket is gone
		case errno == unix.ENOBUFS && busy < maxBusy:
			busy++
			time.Sleep(busyPause)
		default:
			if err == nil {
				err = errno
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
	// A link-local destination without a zone or -I is refused by the
	// kernel (EINVAL), which then says so for this packet.
	scope, _ := rawsock.ScopeID(dst, s.link)
	return rawsock.PutSockaddr(s.names[i][:], netip.AddrPortFrom(dst, 0), scope, s.v6)
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

func (s *rawSender) close() error { return s.c.Close() }

// TxKey and TxStamp give the kernel's transmit stamps (rawsock.TxStamper).
func (s *rawSender) TxKey() (uint32, bool)            { return s.c.TxKey() }
func (s *rawSender) TxStamp(key uint32) (int64, bool) { return s.c.TxStamp(key) }
