package udp

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// doBlockingRead reads a blocking socket (ListenConfig.Blocking): the
// thread waits in the kernel, which wakes it when a datagram (or an ICMP
// error) arrives, with no poller in between. A wait longer than the slice
// is a blocking recvmmsg that returns with the first datagram
// (MSG_WAITFORONE) or after the slice (SO_RCVTIMEO); a shorter one, for a
// deadline that matters to the microsecond (a paced probe's next send),
// is a ppoll with that timeout. Between waits it looks at the deadline
// (past: os.ErrDeadlineExceeded, as Go's poller says it) and for Close.
func (c *sockConn) doBlockingRead(fd uintptr) bool {
	for {
		if c.closed.Load() {
			c.rstop = os.ErrClosed
			return true
		}
		wait := c.slice
		if d := c.deadline.Load(); d != 0 {
			left := time.Duration(d - time.Now().UnixNano())
			if left <= 0 {
				c.rstop = os.ErrDeadlineExceeded
				return true
			}
			wait = min(wait, left)
		}
		if wait >= c.slice {
			if c.recv(fd, unix.MSG_WAITFORONE) {
				return true
			}
			continue
		}
		if c.recv(fd, unix.MSG_DONTWAIT) {
			return true
		}
		c.poll(fd, wait)
	}
}

// poll blocks in ppoll until fd is readable (or has an error queued) or d
// passes. The thread's timer slack, 50µs by default, is set to the least
// the kernel allows first, for d is short and meant to the microsecond.
func (c *sockConn) poll(fd uintptr, d time.Duration) {
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	c.pfd = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	c.pts = unix.NsecToTimespec(int64(d))
	// EINTR and a timeout alike send the caller back to look again.
	_, _, _ = unix.Syscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&c.pfd)), 1, uintptr(unsafe.Pointer(&c.pts)), 0, 0, 0)
}
