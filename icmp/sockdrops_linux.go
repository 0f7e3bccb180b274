package icmp

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// skMeminfoDrops is SK_MEMINFO_DROPS, the index of sk_drops in what
// SO_MEMINFO returns (linux/sock_diag.h; x/sys has no name for it).
const skMeminfoDrops = 8

// Control runs fn with the socket's fd, for options and lookups outside
// the packet path (SocketDrops).
func (c *sockConn) Control(fn func(fd int) error) error { return c.c.Control(fn) }

// socketDrops reads the kernel's count of packets it dropped at the
// socket (sk_drops: the receive buffer was full, or memory was short; the
// number SO_RXQ_OVFL would report with every packet, and the drops column
// of /proc/net/raw). One getsockopt, off the packet path.
func socketDrops(c Conn) (uint64, bool) {
	cc, ok := c.(interface {
		Control(func(fd int) error) error
	})
	if !ok {
		return 0, false
	}
	var info [skMeminfoDrops + 1]uint32
	err := cc.Control(func(fd int) error {
		n := uint32(unsafe.Sizeof(info))
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&n)), 0)
		if e != 0 {
			return e
		}
		if n < uint32(unsafe.Sizeof(info)) {
			return unix.EINVAL
		}
		return nil
	})
	return uint64(info[skMeminfoDrops]), err == nil
}
