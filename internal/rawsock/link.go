package rawsock

import (
	"time"

	"golang.org/x/net/bpf"
)

// LinkConfig says how OpenLink sets up a link-layer socket.
type LinkConfig struct {
	// Interface is the one network interface the socket sends and
	// receives on (required).
	Interface string
	// EtherType is the protocol of the frames received (0x0806 for ARP,
	// 0x86dd for IPv6); the socket is bound to it.
	EtherType uint16
	// Filter, when set, decides in the kernel which inbound frames of
	// EtherType reach user space (it sees the whole frame, Ethernet header
	// first). Outbound frames never reach it (see Link).
	Filter []bpf.Instruction
	// TxStamps asks for kernel transmit stamps (see Config.TxStamps).
	TxStamps bool
	// Blocking: see Config.Blocking.
	Blocking bool
}

// LinkFrame is one frame a Link received.
type LinkFrame struct {
	// Data is the whole frame from its Ethernet header on; it aliases the
	// caller's buffer.
	Data []byte
	// Received is the kernel's receive stamp when KernelStamp is true,
	// otherwise when user space read the frame.
	Received    time.Time
	KernelStamp bool
}
