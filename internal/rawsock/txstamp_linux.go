package rawsock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Software transmit timestamps (Config.TxStamps).
//
// The kernel stamps a packet as its driver hands it to the device
// (SOF_TIMESTAMPING_TX_SOFTWARE; veth and loopback do it inside the
// sendmsg call) and queues the stamp on the socket's error queue, without
// the packet (OPT_TSONLY), with the packet's number on the socket in
// ee_data (OPT_ID: 0 for the first packet sent after the option was set,
// then one more per packet). The clock is CLOCK_REALTIME, the clock of
// the receive stamps (SO_TIMESTAMPNS), so that an RTT may run from the
// one kernel stamp to the other.
//
// The writer counts the packets it sent (TxKey says which number the next
// one gets); the reader takes the stamps off the error queue whenever it
// reads and keeps the last txRing of them, by number, for TxStamp. There
// is no goroutine between the send and its stamp: the stamp waits in the
// kernel until the reader asks.

// txStampsOff: RAWNET_TXSTAMPS=off in the environment turns transmit
// stamps off, so that a measurement can compare RTTs from user-space send
// times with kernel ones (scripts/bench-rtt.sh) and a test can prove it
// sees the difference.
var txStampsOff = os.Getenv("RAWNET_TXSTAMPS") == "off"

var errTxStampsOff = errors.New("transmit timestamps turned off (RAWNET_TXSTAMPS=off)")

// txStampsOn: RAWNET_TXSTAMPS=on asks for transmit stamps also where a
// command goes without them by default (a flood ping).
var txStampsOn = os.Getenv("RAWNET_TXSTAMPS") == "on"

// TxStampsForced reports whether RAWNET_TXSTAMPS=on is in the
// environment: the user wants kernel transmit stamps even where they
// cost more than they are worth by default (a flood ping).
func TxStampsForced() bool { return txStampsOn }

// txFlags are the SO_TIMESTAMPING flags Config.TxStamps asks for.
const txFlags = unix.SOF_TIMESTAMPING_TX_SOFTWARE | unix.SOF_TIMESTAMPING_SOFTWARE |
	unix.SOF_TIMESTAMPING_OPT_ID | unix.SOF_TIMESTAMPING_OPT_TSONLY

// optRxFilter (SOF_TIMESTAMPING_OPT_RX_FILTER, Linux 6.0) keeps the
// SOFTWARE reporting flag from adding a second receive stamp to every
// packet: receive stamps stay SO_TIMESTAMPNS's alone.
const optRxFilter = 0x20000

// soEEOriginTimestamping is ee_origin of a timestamp on the error queue.
const soEEOriginTimestamping = 4

// txRing is how many stamps a Conn keeps by default (Config.TxRing):
// more than the probes a run has in flight on one socket before it reads
// again.
const txRing = 4096

// Epochs. A restart of the numbering (ResetTxKey) gives numbers again
// that packets still in flight hold: without more, the stamp of a packet
// sent after the restart could be taken for that of an earlier one of the
// same number whose answer is still awaited, and its RTT would come out
// short by the time between the two sends. So the numbering's restarts
// count epochs, on both sides:
//   - the writer counts a restart that ends an epoch in which it sent
//     something, and notes when it was (resets);
//   - the reader sees an epoch end where a stamp's number is not above the
//     one before (the error queue gives stamps in the order the packets
//     left, and numbers grow within an epoch), while the writer has
//     restarted more often than it has seen;
//   - a stamp is kept with the epoch the reader saw it in, and a lookup
//     for a packet sent at time T takes it only if T falls in that epoch.
//
// A stamp's slot in the ring depends on its epoch too (slot), so that a
// restart's numbers do not push out the stamps of the packets before it
// that are still awaited.
//
// Where the two could disagree (every stamp of an epoch lost, or its first
// ones, say the error queue overflowed; more than txResets restarts
// between a send and its lookup), a stamp taken after its epoch ended is
// refused (lookup) and the probe is timed from user space, as it is
// without stamps: never from another packet's stamp.
const txResets = 64

// slot is the ring index of the stamp numbered key in epoch. Each epoch's
// slots are moved by stride (7/16 of the ring, odd): in the default ring
// the first numbers of consecutive epochs are at least 256 slots apart
// for the first eight.
func (t *txStamps) slot(key, epoch uint32) uint32 { return (key + epoch*t.stride) & t.mask }

type txEntry struct {
	key   uint32
	epoch uint32 // the reader's epoch when it read the stamp
	ns    int64  // unix nanoseconds; 0: empty
}

type txStamps struct {
	// writer side
	next    atomic.Uint32 // OPT_ID number of the next packet sent
	pending atomic.Bool   // a packet was sent whose stamp was not read
	used    bool          // a packet was counted since the last restart
	// epoch counts the restarts that ended an epoch with packets in it;
	// resets[e%txResets] is when epoch e began (unix ns), stored before
	// epoch is.
	epoch  atomic.Uint32
	resets [txResets]atomic.Int64
	dead   atomic.Bool // a restart failed half way: stamps are unnumbered

	// reader side
	msg    unix.Msghdr
	iov    unix.Iovec
	name   [SockaddrLen]byte
	oob    [512]byte
	buf    [2048]byte // an ICMP error's quoted datagram, when one comes between stamps
	held   bool       // buf, name, oob hold an error queue entry for the reader
	heldN  int
	ring   []txEntry // a power of two long
	mask   uint32    // len(ring) - 1
	stride uint32
	got    uint64 // stamps read
	// seen is the epoch of the stamps read now, last the number of the
	// last one read (haveLast: one was).
	seen     uint32
	last     uint32
	haveLast bool
	// want is the key TxStamp looks for while stopAtWant is set: its
	// drain stops once that stamp is read.
	want       uint32
	wantAfter  int64  // and sent at or after this time (unix ns)
	wantEpoch  uint32 // in this epoch
	stopAtWant bool
	// hook, when set, is told every stamp read (SetTxStampHook).
	hook func(key uint32, ns int64)

	flags int // the SO_TIMESTAMPING flags and option the kernel took
	opt   int
}

// enableTxStamps sets SO_TIMESTAMPING on fd and returns the option and
// flags the kernel took; an error means the kernel refused it and the
// Conn goes without (TxStampErr says why).
func enableTxStamps(fd int) (opt, flags int, err error) {
	for _, flags := range []int{txFlags | optRxFilter, txFlags} {
		for _, opt := range []int{unix.SO_TIMESTAMPING_NEW, unix.SO_TIMESTAMPING_OLD} {
			if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, flags); err == nil {
				return opt, flags, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("enable transmit timestamps (SO_TIMESTAMPING): %w", err)
}

func newTxStamps(opt, flags, ring int) *txStamps {
	if ring <= 0 {
		ring = txRing
	}
	n := 1 << bits.Len(uint(max(ring, 2)-1))
	t := &txStamps{opt: opt, flags: flags, ring: make([]txEntry, n), mask: uint32(n - 1), stride: uint32(n*7/16) | 1}
	t.msg.Control = &t.oob[0]
	return t
}

// TxStamps reports whether the kernel stamps the packets this Conn sends
// (Config.TxStamps, and the kernel took the option).
func (c *Conn) TxStamps() bool { return c.tx != nil }

// TxStampErr says why a Conn opened with Config.TxStamps has none (the
// kernel refused SO_TIMESTAMPING); nil otherwise.
func (c *Conn) TxStampErr() error { return c.txErr }

// TxKey is the number the kernel gives the next packet this Conn sends,
// which TxStamp takes. Writer side: call it before SendMsg or SendMsgs
// (the i-th message of a batch gets TxKey()+i). ok is false without TX
// stamps.
func (c *Conn) TxKey() (key uint32, ok bool) {
	if c.tx == nil || c.tx.dead.Load() {
		return 0, false
	}
	return c.tx.next.Load(), true
}

// sent counts n packets the kernel took.
func (c *Conn) sent(n int) {
	if c.tx != nil && n > 0 {
		c.tx.next.Add(uint32(n))
		c.tx.used = true
		c.tx.pending.Store(true)
	}
}

// SetTxStampHook makes the reader tell fn every transmit stamp it takes
// off the error queue (key, unix nanoseconds), as it keeps it for
// TxStamp: a reader that hands stamps on to other goroutines (icmp.Demux)
// learns them without asking for each. fn runs on the reading goroutine,
// inside a read; set it before the first read.
func (c *Conn) SetTxStampHook(fn func(key uint32, ns int64)) {
	if c.tx != nil {
		c.tx.hook = fn
	}
}

// DrainTxStamps takes every transmit stamp queued on the error queue now
// (for the hook and TxStamp), whether or not a send marked one pending:
// a reply can be read before the send that caused it has returned.
// held reports that an ICMP error came first, which the next RecvMsg
// with an errq returns: the stamps after it are read once it has been.
// Reader side.
func (c *Conn) DrainTxStamps() (held bool) {
	if c.tx == nil {
		return false
	}
	_ = c.rc.Read(c.drainFn)
	return c.tx.held && c.readsErrq
}

// ResetTxKey turns the kernel's packet numbering (OPT_ID) off and on
// again, which restarts it at 0, and TxKey with it. After a failed send
// the kernel may or may not have numbered the packet (Linux 6.18: not when
// the route lookup or the size check refuses it, but when a netfilter
// rule drops it on the way out, EPERM, or a queue is full, ENOBUFS; older
// kernels also number a packet refused for its size): a reset makes the
// numbering certain again. Stamps of packets sent before keep their old
// numbers. Writer side.
func (c *Conn) ResetTxKey() error {
	t := c.tx
	if t == nil {
		return nil
	}
	err := c.Control(func(fd int) error {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, t.opt, t.flags&^unix.SOF_TIMESTAMPING_OPT_ID); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, t.opt, t.flags); err != nil {
			// Stamps go on without numbers (all 0): none can be told
			// apart any more, so the Conn has none from now on.
			t.dead.Store(true)
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reset transmit stamp numbering: %w", err)
	}
	t.restarted(time.Now().UnixNano())
	return nil
}

// restarted notes that the numbering restarted at now (unix ns), after
// every send before and before every send after: an epoch with packets
// in it ends. Writer side.
func (t *txStamps) restarted(now int64) {
	t.next.Store(0)
	if !t.used {
		return
	}
	e := t.epoch.Load() + 1
	t.resets[e%txResets].Store(now)
	t.epoch.Store(e)
	t.used = false
}

// RenumberAfter restarts the numbering (ResetTxKey) after a send that
// failed with err, unless the route lookup refused it (Unrouted): the
// kernel may have numbered the failed packet while TxKey did not count it,
// and every later packet would then be looked up under the number of the
// one before it and timed from user space for the rest of the run. Writer
// side, under the lock of the send that failed when the socket is shared.
func (c *Conn) RenumberAfter(err error) error {
	if err == nil || c.tx == nil || Unrouted(err) {
		return nil
	}
	return c.ResetTxKey()
}

// TxStamp returns the kernel's transmit stamp (unix nanoseconds) of the
// packet numbered key, reading the stamps queued since the last read
// first. Reader side: only the goroutine that reads the Conn may call it.
// ok is false when the kernel has not stamped it (yet), or the stamp was
// pushed out by later ones (Config.TxRing).
func (c *Conn) TxStamp(key uint32) (ns int64, ok bool) {
	return c.TxStampAfter(key, math.MinInt64)
}

// TxStampAfter is TxStamp for a packet sent at after (unix nanoseconds) or
// later: a stamp kept under key that is older belongs to an earlier packet
// of that number (the numbering restarted, ResetTxKey) and is not taken
// without reading the stamps queued since, which may hold this packet's.
//
// The packet's epoch is the one its send time falls in (see txResets): a
// stamp of the same number from another epoch is not its. TxStamp, with
// no send time, looks in the epoch of the stamps read last.
func (c *Conn) TxStampAfter(key uint32, after int64) (ns int64, ok bool) {
	t := c.tx
	if t == nil {
		return 0, false
	}
	epoch := t.seen // TxStamp: the epoch read now
	if after != math.MinInt64 {
		epoch = t.epochAt(after)
	}
	if ns, ok := t.lookup(key, epoch, after); ok {
		return ns, true
	}
	// Not read yet: the stamp is queued before sendmsg returns, but the
	// writer may not have marked it pending yet when the reply comes.
	t.want, t.wantAfter, t.wantEpoch, t.stopAtWant = key, after, epoch, true
	_ = c.rc.Read(c.drainFn)
	t.stopAtWant = false
	return t.lookup(key, epoch, after)
}

// lookup finds the stamp of the packet numbered key in epoch, sent at or
// after after, among those read.
func (t *txStamps) lookup(key, epoch uint32, after int64) (int64, bool) {
	e := &t.ring[t.slot(key, epoch)]
	if !e.match(key, epoch, after) {
		return 0, false
	}
	// A stamp taken once the epoch had ended is not one of its packets',
	// whatever the reader made of the numbers: the reader files a later
	// epoch's stamps under an earlier one when it missed where it began
	// (every stamp of an epoch lost, or its first ones, say the error
	// queue overflowed). On veth and loopback a packet is stamped inside
	// sendmsg, so no stamp of the epoch's own is refused; a real device's
	// queue may delay one past the restart, and that probe is timed from
	// user space.
	if now := t.epoch.Load(); epoch < now {
		if now-(epoch+1) >= txResets-1 || e.ns >= t.resets[(epoch+1)%txResets].Load() {
			return 0, false
		}
	}
	return e.ns, true
}

// has reports whether lookup finds the stamp.
func (t *txStamps) has(key, epoch uint32, after int64) bool {
	_, ok := t.lookup(key, epoch, after)
	return ok
}

// noEpoch is the epoch of a send too old to tell, whose stamp is not
// looked for.
const noEpoch = math.MaxUint32

// match reports whether e is the stamp of the packet numbered key, of
// epoch, sent at or after after.
func (e *txEntry) match(key, epoch uint32, after int64) bool {
	return e.ns != 0 && e.key == key && e.epoch == epoch && e.ns >= after
}

// epochAt is the epoch of a packet sent at at (unix ns): the last one
// begun at or before it. Reader side; the writer's restarts are read
// atomically, the newest first.
func (t *txStamps) epochAt(at int64) uint32 {
	now := t.epoch.Load()
	for e := now; e > 0; e-- {
		if now-e >= txResets-1 {
			return noEpoch // its beginning is overwritten: too old to tell
		}
		if at >= t.resets[e%txResets].Load() {
			return e
		}
	}
	return 0
}

// TxStampsRead is how many transmit stamps the Conn has taken off its
// error queue.
func (c *Conn) TxStampsRead() uint64 {
	if c.tx == nil {
		return 0
	}
	return c.tx.got
}

// drainStamps is TxStamp's read function (a method value made once).
func (c *Conn) drainStamps(fd uintptr) bool {
	c.drainTx(fd)
	return true
}

// drainTx takes transmit stamps off the error queue until it is empty or
// an entry that is not a stamp comes: an ICMP error of a socket whose
// reader takes its error queue (RecvMsg with errq) is held for that
// reader's next call, and dropped on any other socket.
func (c *Conn) drainTx(fd uintptr) {
	t := c.tx
	t.pending.Store(false)
	for i := 0; i < txRing && !t.held; i++ {
		t.msg.Name, t.msg.Namelen = &t.name[0], SockaddrLen
		t.msg.Iov = &t.iov
		t.msg.SetIovlen(1)
		t.iov.Base = &t.buf[0]
		t.iov.SetLen(len(t.buf))
		t.msg.SetControllen(len(t.oob))
		t.msg.Flags = 0
		r, _, e := unix.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&t.msg)), unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		if e != 0 {
			return
		}
		if t.store(t.oob[:t.msg.Controllen]) {
			if t.stopAtWant && t.has(t.want, t.wantEpoch, t.wantAfter) {
				// TxStamp has its stamp: leave the rest for later rather
				// than make one more call to find the queue empty (a
				// flood ping's third receive call per probe, 7% of its
				// CPU time). More may be queued: still pending.
				t.pending.Store(true)
				return
			}
			continue
		}
		if c.readsErrq {
			t.held, t.heldN = true, int(r)
		}
	}
}

// store keeps the stamp in an error queue entry's control messages;
// false when the entry is not a transmit stamp.
func (t *txStamps) store(oob []byte) bool {
	key, ns, ok := parseTxStamp(oob)
	if !ok {
		return false
	}
	t.keep(key, ns)
	return true
}

// keep files the stamp of the packet numbered key, in the epoch the
// numbers say it is of.
func (t *txStamps) keep(key uint32, ns int64) {
	if t.haveLast && key <= t.last && t.seen < t.epoch.Load() {
		t.seen++ // the numbering restarted: an epoch begins
	}
	t.last, t.haveLast = key, true
	t.ring[t.slot(key, t.seen)] = txEntry{key: key, epoch: t.seen, ns: ns}
	t.got++
	if t.hook != nil {
		t.hook(key, ns)
	}
}

// takeHeld hands the error queue entry drainTx held to the reader's errq
// msghdr (its first iovec, name and control buffer).
func (c *Conn) takeHeld() {
	t, h := c.tx, c.errq
	t.held = false
	n := 0
	if h.Iov != nil && h.Iovlen > 0 {
		dst := unsafe.Slice(h.Iov.Base, int(h.Iov.Len))
		n = copy(dst, t.buf[:min(t.heldN, len(t.buf))])
	}
	if h.Name != nil {
		h.Namelen = uint32(copy(unsafe.Slice(h.Name, int(h.Namelen)), t.name[:t.msg.Namelen]))
	}
	if h.Control != nil {
		h.SetControllen(copy(unsafe.Slice(h.Control, int(h.Controllen)), t.oob[:t.msg.Controllen]))
	}
	h.Flags = t.msg.Flags
	c.rn, c.rqueued = n, true
}

// parseTxStamp finds a software transmit stamp in the control messages of
// an error queue entry: an SCM_TIMESTAMPING and an extended error whose
// origin is SO_EE_ORIGIN_TIMESTAMPING (ee_info SCM_TSTAMP_SND, ee_data the
// OPT_ID number). Any other entry (an ICMP error) is not one.
func parseTxStamp(oob []byte) (key uint32, ns int64, ok bool) {
	var isStamp bool
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		hlen := int(h.Len)
		if hlen < unix.SizeofCmsghdr || hlen > len(oob) {
			break
		}
		data := oob[unix.CmsgLen(0):hlen]
		switch {
		case h.Level == unix.SOL_SOCKET && (h.Type == unix.SO_TIMESTAMPING_OLD || h.Type == unix.SO_TIMESTAMPING_NEW):
			// struct scm_timestamping(64): ts[0] is the software stamp.
			if len(data) >= 16 {
				sec := int64(binary.NativeEndian.Uint64(data[0:]))
				nsec := int64(binary.NativeEndian.Uint64(data[8:]))
				ns = sec*1e9 + nsec
			}
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_RECVERR, h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_RECVERR,
			h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_TX_TIMESTAMP:
			// struct sock_extended_err: errno, origin, type, code, pad, info, data.
			if len(data) >= 16 && data[4] == soEEOriginTimestamping && binary.NativeEndian.Uint32(data[8:]) == unix.SCM_TSTAMP_SND {
				isStamp = true
				key = binary.NativeEndian.Uint32(data[12:])
			}
		}
		next := unix.CmsgSpace(hlen - unix.CmsgLen(0))
		if next > len(oob) {
			break
		}
		oob = oob[next:]
	}
	return key, ns, isStamp && ns > 0
}
