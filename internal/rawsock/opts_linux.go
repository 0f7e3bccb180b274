package rawsock

import (
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// EnableTimestamps asks for kernel receive timestamps (SO_TIMESTAMPNS_NEW,
// or SO_TIMESTAMPNS on kernels without it), which internal/cmsg parses.
func EnableTimestamps(fd int) error {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_NEW, 1) == nil {
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fmt.Errorf("enable kernel timestamps (SO_TIMESTAMPNS): %w", err)
	}
	return nil
}

// SetRecvBuffer and SetSendBuffer set a socket buffer to n bytes: past
// the system maximum when the process may (CAP_NET_ADMIN), else as far as
// the maximum allows. n <= 0 leaves it alone.
func SetRecvBuffer(fd, n int) { setBuffer(fd, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, n) }

// SetSendBuffer: see SetRecvBuffer.
func SetSendBuffer(fd, n int) { setBuffer(fd, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, n) }

func setBuffer(fd, force, plain, n int) {
	if n <= 0 {
		return
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, n) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, plain, n)
	}
}

// AttachFilter assembles a classic BPF program and attaches it to the
// socket fd (SO_ATTACH_FILTER).
func AttachFilter(fd int, prog []bpf.Instruction) error {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return fmt.Errorf("assemble BPF program: %w", err)
	}
	return AttachRawFilter(fd, raw)
}

// AttachRawFilter attaches an assembled program. Packets queued before it
// are not filtered: attach a reject-all program first, Drain, then attach
// the real one (as libpcap does), or attach before the socket can receive.
func AttachRawFilter(fd int, prog []bpf.RawInstruction) error {
	if len(prog) == 0 {
		return fmt.Errorf("attach BPF program: empty program")
	}
	ins := make([]unix.SockFilter, len(prog))
	for i, r := range prog {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fp := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		return fmt.Errorf("attach BPF program: %w", err)
	}
	return nil
}

// RejectAll is the BPF program that passes nothing.
var RejectAll = []bpf.Instruction{bpf.RetConstant{Val: 0}}

// Drain discards what a socket queued before its filter was attached (a
// raw socket receives from the moment it exists), at most 10,000 packets.
func Drain(fd int) {
	var buf [1500]byte
	for i := 0; i < 10000; i++ {
		n, _, err := unix.Recvfrom(fd, buf[:], unix.MSG_DONTWAIT)
		if err != nil || n < 0 {
			return
		}
	}
}
