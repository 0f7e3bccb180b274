package capture

import (
	"errors"
	"fmt"
	"math/bits"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/priv"
	"github.com/rawnet/rawnet/internal/rawsock"
	"github.com/rawnet/rawnet/pcap"
)

// Handle is an open live capture: an AF_PACKET socket and its TPACKET_V3
// ring. ReadPackets, Run, SetFilter and Stats belong to one goroutine;
// Interrupt may be called from any.
type Handle struct {
	fd        int
	file      *os.File
	rc        syscall.RawConn
	ring      []byte
	blockSize int
	numBlocks int
	cur       int // the next block to read
	tov       time.Duration

	link    pcap.LinkType
	ifName  string
	ifIndex int
	loIndex int // the loopback interface's index, 0 if none
	frm     framing
	dir     Direction

	pkt    Packet
	readyF func(uintptr) bool // h.ready, as RawConn.Read wants it, made once
	stats  Stats
	closed bool
}

const ethPAll = 0x0003 // ETH_P_ALL

// Open opens a live capture as cfg says. Packets reach the ring only once
// the filter (and the direction test) is in place: the socket is created
// without a protocol, which the kernel delivers nothing to, and bound to
// all protocols last.
func Open(cfg Config) (*Handle, error) {
	h := &Handle{dir: cfg.Direction, tov: cfg.BlockTimeout}
	if h.tov <= 0 {
		h.tov = DefaultBlockTimeout
	}
	snaplen := cfg.Snaplen
	if snaplen == 0 {
		snaplen = MaxSnaplen
	}
	if snaplen < 1 || snaplen > MaxSnaplen {
		return nil, fmt.Errorf("capture: snaplen %d out of range 1..%d", snaplen, MaxSnaplen)
	}
	if cfg.Direction > DirOut {
		return nil, fmt.Errorf("capture: unknown direction %d", cfg.Direction)
	}
	h.frm.snaplen = snaplen
	if err := h.open(cfg); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

func (h *Handle) open(cfg Config) error {
	h.ifName = cfg.Interface
	if h.ifName == "" {
		h.ifName = "any"
	}
	if lo, err := net.InterfaceByName("lo"); err == nil {
		h.loIndex = lo.Index
	}
	hatype := -1
	if h.ifName != "any" {
		ifi, err := net.InterfaceByName(h.ifName)
		if err != nil {
			return fmt.Errorf("capture: interface %s: %w", h.ifName, noSuchInterface(err))
		}
		h.ifIndex = ifi.Index
		if hatype, err = hardwareType(h.ifName); err != nil {
			return err
		}
	}
	typ := unix.SOCK_RAW
	switch hatype {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
		h.link = pcap.Ethernet
	case unix.ARPHRD_NONE:
		h.link = pcap.Raw // tun devices and the like: bare IP packets
	default:
		h.link = pcap.LinuxSLL2 // "any", and link types rawnet cannot decode
		h.frm.cooked = true
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_PACKET, typ|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return priv.Hint(fmt.Errorf("capture: open packet socket: %w", err))
	}
	h.fd = fd
	if err := h.setupRing(cfg.BufferSize); err != nil {
		return err
	}
	prog := cfg.Filter
	if cfg.Expr != "" {
		if prog != nil {
			return errors.New("capture: both a filter expression and a filter program")
		}
		if prog, err = CompileFilter(cfg.Expr, h.link, h.frm.snaplen); err != nil {
			return err
		}
	}
	if err := h.SetFilter(prog); err != nil {
		return err
	}
	if !cfg.NoPromisc && h.ifIndex != 0 {
		mreq := unix.PacketMreq{Ifindex: int32(h.ifIndex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return priv.Hint(fmt.Errorf("capture: promiscuous mode on %s: %w", h.ifName, err))
		}
	}
	sa := unix.SockaddrLinklayer{Protocol: rawsock.Htons(ethPAll), Ifindex: h.ifIndex}
	if err := unix.Bind(fd, &sa); err != nil {
		return priv.Hint(fmt.Errorf("capture: bind to %s: %w", h.ifName, err))
	}
	h.file = os.NewFile(uintptr(fd), "afpacket:"+h.ifName)
	if h.rc, err = h.file.SyscallConn(); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	h.readyF = func(uintptr) bool { return h.ready() }
	return nil
}

func noSuchInterface(err error) error {
	var nerr *net.OpError
	if errors.As(err, &nerr) {
		return nerr.Err
	}
	return err
}

// hardwareType is the ARPHRD_ type of interface name.
func hardwareType(name string) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("capture: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, fmt.Errorf("capture: interface %s: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return 0, fmt.Errorf("capture: interface %s: hardware type: %w", name, err)
	}
	return int(ifr.Uint16()), nil
}

// setupRing asks for a TPACKET_V3 ring of about size bytes and maps it.
// A block holds at least one packet of the snapshot length with its
// headers; blocks are a power of two, 128 KiB at least.
func (h *Handle) setupRing(size int) error {
	if size <= 0 {
		size = DefaultBufferSize
	}
	if err := unix.SetsockoptInt(h.fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("capture: TPACKET_V3: %w", err)
	}
	if err := unix.SetsockoptInt(h.fd, unix.SOL_PACKET, unix.PACKET_RESERVE, h.frm.reserve()); err != nil {
		return fmt.Errorf("capture: PACKET_RESERVE: %w", err)
	}
	need := blockHeaderLen + 128 + h.frm.reserve() + h.frm.snaplen
	h.blockSize = max(1<<bits.Len(uint(need-1)), 128<<10)
	h.numBlocks = max(size/h.blockSize, 2)
	req := unix.TpacketReq3{
		Block_size:     uint32(h.blockSize),
		Block_nr:       uint32(h.numBlocks),
		Frame_size:     uint32(h.blockSize),
		Frame_nr:       uint32(h.numBlocks),
		Retire_blk_tov: uint32(max(h.tov.Milliseconds(), 1)),
	}
	if err := unix.SetsockoptTpacketReq3(h.fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("capture: ring of %d blocks of %d bytes (-B): %w", h.numBlocks, h.blockSize, err)
	}
	ring, err := unix.Mmap(h.fd, 0, h.blockSize*h.numBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("capture: map ring of %d bytes (-B): %w", h.blockSize*h.numBlocks, err)
	}
	h.ring = ring
	return nil
}

// LinkType is what each packet starts with: Ethernet on Ethernet and
// loopback interfaces, LinuxSLL2 on "any".
func (h *Handle) LinkType() pcap.LinkType { return h.link }

// Interface is the name of the interface captured on ("any" for all).
func (h *Handle) Interface() string { return h.ifName }

// Snaplen is the most bytes of a packet kept.
func (h *Handle) Snaplen() int { return h.frm.snaplen }

// SetFilter puts a classic BPF program (nil for none) in place in the
// kernel, as libpcap does it: a program that rejects everything first,
// then whatever the ring and the socket queue hold is thrown away, then
// the real program, so that no packet that got in before it is ever
// delivered.
func (h *Handle) SetFilter(prog []bpf.RawInstruction) error {
	kprog, err := kernelProgram(prog, h.dir, h.loIndex, &h.frm)
	if err != nil {
		return err
	}
	if err := attach(h.fd, rejectAll); err != nil {
		return err
	}
	h.drain()
	return attach(h.fd, kprog)
}

func attach(fd int, prog []bpf.RawInstruction) error {
	if err := rawsock.AttachRawFilter(fd, prog); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	return nil
}

// drain throws away what got in before the reject-all filter: the socket
// queue (empty with a ring, but cheap to make sure of), every block handed
// to user space, and the block the kernel is filling once it retires it
// (within a block timeout; packets never reach an empty block now).
func (h *Handle) drain() {
	rawsock.Drain(h.fd)
	h.skipReady()
	if atomic.LoadUint32(h.word(h.cur, blockNumPktsOff)) == 0 {
		return
	}
	deadline := time.Now().Add(2*h.tov + 100*time.Millisecond)
	for !h.ready() && time.Now().Before(deadline) {
		fds := []unix.PollFd{{Fd: int32(h.fd), Events: unix.POLLIN}}
		unix.Poll(fds, int(max(time.Until(deadline).Milliseconds(), 1)))
	}
	h.skipReady()
}

// skipReady releases every block user space holds, unread.
func (h *Handle) skipReady() {
	for h.ready() {
		h.release()
	}
}

// word is the uint32 at off in block i of the ring.
func (h *Handle) word(i, off int) *uint32 {
	return (*uint32)(unsafe.Pointer(&h.ring[i*h.blockSize+off]))
}

// ready tells whether the kernel has handed the next block over.
func (h *Handle) ready() bool {
	return atomic.LoadUint32(h.word(h.cur, blockStatusOff))&statusUser != 0
}

// release gives the current block back to the kernel and moves on.
func (h *Handle) release() {
	atomic.StoreUint32(h.word(h.cur, blockStatusOff), 0) // TP_STATUS_KERNEL
	h.cur++
	if h.cur == h.numBlocks {
		h.cur = 0
	}
}

// Pending tells whether a block of packets is waiting to be read: when it
// is not, the next ReadPackets waits for the kernel.
func (h *Handle) Pending() bool { return h.ready() }

// ReadPackets waits until the kernel hands over a block of packets (at
// most a block timeout after the first packet arrived), then calls fn for
// each packet of every block ready, giving each block back after. It
// returns the number of packets handed to fn, and fn's first error, which
// ends the read, or ErrInterrupted after Interrupt. The Packet and its
// Data are valid only during the call of fn.
func (h *Handle) ReadPackets(fn func(*Packet) error) (int, error) {
	if !h.ready() {
		if err := h.rc.Read(h.readyF); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return 0, ErrInterrupted
			}
			return 0, fmt.Errorf("capture: wait for packets: %w", err)
		}
	}
	total := 0
	for h.ready() {
		block := h.ring[h.cur*h.blockSize : (h.cur+1)*h.blockSize]
		n, err := h.frm.walkBlock(block, &h.pkt, fn)
		h.release()
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Interrupt makes the current and every later wait of ReadPackets return
// ErrInterrupted. It is safe to call from any goroutine, e.g. a signal
// handler or context.AfterFunc.
func (h *Handle) Interrupt() {
	h.file.SetReadDeadline(time.Unix(1, 0))
}

// clearInterrupt undoes Interrupt.
func (h *Handle) clearInterrupt() { h.file.SetReadDeadline(time.Time{}) }

// Stats returns the kernel's counts since Open. The kernel resets its
// counters on every read; the Handle adds them up.
func (h *Handle) Stats() (Stats, error) {
	st, err := unix.GetsockoptTpacketStatsV3(h.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return h.stats, fmt.Errorf("capture: statistics: %w", err)
	}
	h.stats.Packets += uint64(st.Packets)
	h.stats.Drops += uint64(st.Drops)
	h.stats.FreezeQueue += uint64(st.Freeze_q_cnt)
	return h.stats, nil
}

// Close unmaps the ring and closes the socket.
func (h *Handle) Close() error {
	if h.closed {
		return nil
	}
	h.closed = true
	var err error
	if h.ring != nil {
		err = unix.Munmap(h.ring)
		h.ring = nil
	}
	if h.file != nil {
		if cerr := h.file.Close(); err == nil {
			err = cerr
		}
	} else if h.fd > 0 {
		unix.Close(h.fd)
	}
	return err
}
