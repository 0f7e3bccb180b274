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
// raw socket receives from the moment it exists), at most 65,536 packets.
// It reads from the socket queue only, whatever the socket's kind and
// blocking mode: a packet socket with a ring keeps the ring's blocks to
// itself (capture releases those).
func Drain(fd int) {
	var buf [64]byte // MSG_TRUNC: a longer packet is discarded whole all the same
	for range 1 << 16 {
		if _, _, err := unix.Recvfrom(fd, buf[:], unix.MSG_DONTWAIT|unix.MSG_TRUNC); err != nil {
			return
		}
	}
}

// Opt is one integer socket option to set, What naming it in errors.
type Opt struct {
	Level, Name, Value int
	What               string
}

// IPOpt is the option of the socket's family: name4 at IPPROTO_IP, or
// name6 at IPPROTO_IPV6.
func IPOpt(v6 bool, name4, name6, value int, what string) Opt {
	if v6 {
		return Opt{unix.IPPROTO_IPV6, name6, value, what}
	}
	return Opt{unix.IPPROTO_IP, name4, value, what}
}

// SetOpts sets opts in order and stops at the first the kernel refuses.
func SetOpts(fd int, opts []Opt) error {
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.Level, o.Name, o.Value); err != nil {
			return fmt.Errorf("set %s to %d: %w", o.What, o.Value, err)
		}
	}
	return nil
}

// RecvInfo says which ancillary data a socket reports with each packet
// it receives (internal/cmsg parses it).
type RecvInfo uint8

const (
	RecvDest     RecvInfo = 1 << iota // destination and interface: IP_PKTINFO, IPV6_RECVPKTINFO
	RecvHopLimit                      // TTL or hop limit: IP_RECVTTL, IPV6_RECVHOPLIMIT
	RecvTOS                           // TOS or traffic class: IP_RECVTOS, IPV6_RECVTCLASS
	RecvErrors                        // ICMP errors in the error queue: IP_RECVERR, IPV6_RECVERR
)

// AppendRecvOpts appends to opts the options of the family that make a
// socket report want.
func AppendRecvOpts(opts []Opt, v6 bool, want RecvInfo) []Opt {
	for _, o := range [...]struct {
		bit          RecvInfo
		name4, name6 int
		what4, what6 string
	}{
		{RecvHopLimit, unix.IP_RECVTTL, unix.IPV6_RECVHOPLIMIT, "IP_RECVTTL", "IPV6_RECVHOPLIMIT"},
		{RecvDest, unix.IP_PKTINFO, unix.IPV6_RECVPKTINFO, "IP_PKTINFO", "IPV6_RECVPKTINFO"},
		{RecvTOS, unix.IP_RECVTOS, unix.IPV6_RECVTCLASS, "IP_RECVTOS", "IPV6_RECVTCLASS"},
		{RecvErrors, unix.IP_RECVERR, unix.IPV6_RECVERR, "IP_RECVERR", "IPV6_RECVERR"},
	} {
		if want&o.bit == 0 {
			continue
		}
		what := o.what4
		if v6 {
			what = o.what6
		}
		opts = append(opts, IPOpt(v6, o.name4, o.name6, 1, what))
	}
	return opts
}

// SetRecvInfo makes the socket report want (AppendRecvOpts).
func SetRecvInfo(fd int, v6 bool, want RecvInfo) error {
	var buf [4]Opt
	return SetOpts(fd, AppendRecvOpts(buf[:0], v6, want))
}

// SetICMPFilter sets the kernel's ICMP filter on a raw ICMP socket so
// that only the message types in pass reach it (ICMP_FILTER on IPv4,
// where only types below 32 can pass; ICMP6_FILTER on IPv6). A raw ICMP
// socket otherwise receives every ICMP message the host gets.
func SetICMPFilter(fd int, v6 bool, pass []uint8) error {
	if v6 {
		var f unix.ICMPv6Filter
		for i := range f.Data {
			f.Data[i] = ^uint32(0) // a set bit blocks the type
		}
		for _, t := range pass {
			f.Data[t>>5] &^= 1 << (t & 31)
		}
		if err := unix.SetsockoptICMPv6Filter(fd, unix.SOL_ICMPV6, unix.ICMPV6_FILTER, &f); err != nil {
			return fmt.Errorf("set ICMP6_FILTER: %w", err)
		}
		return nil
	}
	var passed uint32
	for _, t := range pass {
		if t < 32 {
			passed |= 1 << t
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_RAW, unix.ICMP_FILTER, int(int32(^passed))); err != nil {
		return fmt.Errorf("set ICMP_FILTER: %w", err)
	}
	return nil
}

// FieldFilter describes a BPF program for a raw socket that passes only
// packets whose transport header has Val in the Size-byte (1, 2 or 4)
// field at Off: the echo identifier of ICMP replies, the source port of
// TCP segments. With ForType set the check applies to messages whose
// first byte (the ICMP type) is Type only; other messages pass. Raw IPv4
// sockets see the IP header first, which the program skips (its length
// from the IHL); raw IPv6 sockets start at the transport header.
type FieldFilter struct {
	V6      bool
	Off     uint32
	Size    int
	Val     uint32
	ForType bool
	Type    uint8
}

// Program assembles f's instructions.
func (f FieldFilter) Program() []bpf.Instruction {
	const accept, drop = 0x40000, 0
	load := func(off uint32, size int) bpf.Instruction {
		if f.V6 {
			return bpf.LoadAbsolute{Off: off, Size: size}
		}
		return bpf.LoadIndirect{Off: off, Size: size}
	}
	prog := make([]bpf.Instruction, 0, 7)
	if !f.V6 {
		prog = append(prog, bpf.LoadMemShift{Off: 0}) // X = IP header length
	}
	if f.ForType {
		prog = append(prog, load(0, 1), bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(f.Type), SkipTrue: 2})
	}
	return append(prog,
		load(f.Off, f.Size),
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: f.Val, SkipTrue: 1},
		bpf.RetConstant{Val: accept},
		bpf.RetConstant{Val: drop})
}
