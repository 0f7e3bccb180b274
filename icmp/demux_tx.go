package icmp

import (
	"errors"
	"sync"
	"time"

	"github.com/rawnet/rawnet/internal/rawsock"
)

// Kernel transmit stamps through a Demux.
//
// The kernel numbers the packets a socket sends (OPT_ID) and files each
// stamp under that number; the numbers of one virtual Conn's probes are
// not consecutive on a shared socket, for the other virtual Conns send
// in between. Every send goes through the Demux's write mutex, so the
// Demux numbers them as the kernel does and records, before the send,
// which virtual Conn and which of its own numbers (TxKey) each is; the
// Demux reader, which reads the socket's error queue, hands each stamp to
// its owner, where the Pinger's reader finds it by its own number.
//
// How the kernel numbers (Linux 6.18, raw and datagram ICMP sockets, IPv4
// and IPv6, tried by hand; rawsock's TestTxStamps and the "numbering"
// part of TestDemuxTxStampsAgainstTheWire keep the first two): one number
// per packet sent, by sendmsg or each message of a sendmmsg; a send
// refused by the route lookup (EHOSTUNREACH) or the size check (EMSGSIZE)
// takes none, but one that a netfilter rule drops on the way out (EPERM)
// has taken one, as one a full queue refuses (ENOBUFS) must have, and
// kernels before 6.13 (as far as we can tell from their source) number
// packets refused for their size too. A refused route comes before the
// numbering on every kernel; after any other failed send the Demux
// restarts the kernel's numbering (rawsock.Conn.ResetTxKey) rather than
// guess: the sends from there on are a new segment numbered from 0, and a
// stamp is looked for in the newest segment whose send of that number
// still owes one and came before the stamp. Stamps of the sends before
// the failure keep their segment's numbers.
//
// A stamp may never come (a packet dropped after its number was taken,
// an error queue over SO_RCVBUF): the probe then times from the clock
// read before its send, as it would without stamps. A stamp is only given
// to a send it cannot precede (it is not earlier than the clock read
// before that send), so that a numbering that slipped costs stamps, not
// wrong RTTs. A reply can be read before the send that caused it has
// returned (on loopback and veth the answer comes back inside sendmsg):
// before it hands a packet on, the Demux reader takes the stamps queued
// while any recent send still owes one.

// demuxTxRing is how many recent sends a Demux remembers until their
// stamps come: more than a socket has in flight between two reads.
const demuxTxRing = 4096

// subTxRing is how many stamps a virtual Conn with a queue of queue
// packets keeps for its reader: more than its queue of unread packets
// plus the probes sent while they wait can need.
func subTxRing(queue int32) int { return 2 * int(queue) }

// txStale is how long a send may owe its stamp before the reader stops
// looking for it before each packet (the kernel stamps a packet as the
// driver takes it, microseconds after the send).
const txStale = time.Second

// txShared is what a Demux needs of its socket to route transmit stamps
// (the Linux ICMP sockets Listen opens).
type txShared interface {
	rawsock.TxStamper
	SetTxStampHook(fn func(key uint32, ns int64))
	DrainTxStamps() (held bool)
	ResetTxKey() error
}

// txRecord is one send on the shared socket.
type txRecord struct {
	seq    uint64 // the send's number on the Demux
	before int64  // unix nanoseconds, read before the send
	sub    *subConn
	subKey uint32 // the virtual Conn's number of it (its TxKey)
	owed   bool   // sent, stamp not handed on yet
}

// txSegment is a run of sends the kernel numbered one after the other:
// from send seq on, numbered from key.
type txSegment struct {
	seq uint64
	key uint32
}

// txSegments is how many segments (failed sends) back a stamp is looked
// for: a reader held up for 100ms while a send fails every 1ms (a target
// that a netfilter rule refuses, in a large group) still finds its stamps.
// A stamp is looked for newest segment first, and is nearly always in it.
const txSegments = 256

// demuxTx routes a shared socket's transmit stamps to virtual Conns.
type demuxTx struct {
	c txShared

	mu     sync.Mutex
	recs   [demuxTxRing]txRecord // by seq
	segs   [txSegments]txSegment // segment n at n%txSegments
	nseg   uint64                // the current segment's number
	lo, hi uint64                // sends lo..hi-1 may owe a stamp
	handed uint64                // stamps handed to virtual Conns
	// unmatched counts stamps of no send still owed one (a stamp after
	// txSegments failed sends, or of a send forgotten by the ring).
	unmatched uint64
}

// newDemuxTx returns the stamp router for c, or nil when c has no
// transmit stamps or cannot route them.
func newDemuxTx(c Conn) *demuxTx {
	tc, ok := c.(txShared)
	if !ok {
		return nil
	}
	key, on := tc.TxKey()
	if !on {
		return nil
	}
	t := &demuxTx{c: tc}
	t.segs[0] = txSegment{key: key}
	tc.SetTxStampHook(t.stamp)
	return t
}

// begin records a send of subKey by s before it is made. Writer side,
// under Demux.wmu.
func (t *demuxTx) begin(s *subConn, subKey uint32) uint64 {
	before := time.Now().UnixNano()
	t.mu.Lock()
	seq := t.hi
	t.hi++
	t.recs[seq%demuxTxRing] = txRecord{seq: seq, before: before, sub: s, subKey: subKey, owed: true}
	t.mu.Unlock()
	return seq
}

// end notes how send seq went. A send the route lookup refused took no
// number: it is forgotten. After any other failure the kernel may or may
// not have numbered the packet: its numbering restarts at 0 with the next
// send, a new segment. Writer side.
func (t *demuxTx) end(seq uint64, err error) {
	if err == nil {
		return
	}
	if rawsock.Unrouted(err) {
		t.mu.Lock()
		t.recs[seq%demuxTxRing] = txRecord{}
		t.hi = seq // the next send has its number
		t.lo = min(t.lo, t.hi)
		t.mu.Unlock()
		return
	}
	reset := t.c.ResetTxKey() == nil
	t.mu.Lock()
	if r := &t.recs[seq%demuxTxRing]; r.seq == seq {
		r.owed, r.sub = false, nil
	}
	cur := t.segs[t.nseg%txSegments]
	next := txSegment{seq: t.hi, key: cur.key + uint32(seq-cur.seq)} // (not numbered, if the reset failed)
	if reset {
		next.key = 0
	}
	t.nseg++
	t.segs[t.nseg%txSegments] = next
	t.mu.Unlock()
}

// stamp hands the stamp of the packet numbered key to the virtual Conn
// that sent it (rawsock's hook: the Demux reader, inside a read).
func (t *demuxTx) stamp(key uint32, ns int64) {
	t.mu.Lock()
	end := t.hi
	for i := uint64(0); i < txSegments && i <= t.nseg; i++ {
		sg := t.segs[(t.nseg-i)%txSegments]
		n := uint64(key - sg.key) // sends into the segment
		if seq := sg.seq + n; n < end-sg.seq {
			r := &t.recs[seq%demuxTxRing]
			if r.seq == seq && r.owed && ns >= r.before {
				s, subKey := r.sub, r.subKey
				r.owed, r.sub = false, nil
				t.handed++
				t.mu.Unlock()
				s.putStamp(subKey, ns)
				return
			}
		}
		end = sg.seq
	}
	t.unmatched++
	t.mu.Unlock()
}

// owes reports whether a send since now-txStale still owes its stamp.
// Reader side.
func (t *demuxTx) owes(now int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hi-t.lo > demuxTxRing {
		t.lo = t.hi - demuxTxRing
	}
	for ; t.lo < t.hi; t.lo++ {
		r := &t.recs[t.lo%demuxTxRing]
		if r.seq == t.lo && r.owed && now-r.before < int64(txStale) {
			return true
		}
	}
	return false
}

// Handed is how many transmit stamps the Demux has handed to virtual
// Conns.
func (d *Demux) Handed() uint64 {
	if d.tx == nil {
		return 0
	}
	d.tx.mu.Lock()
	defer d.tx.mu.Unlock()
	return d.tx.handed
}

// errDemuxNoRouting: the shared socket has stamps but no way to tell
// whose they are (not one of Listen's sockets).
var errDemuxNoRouting = errors.New("icmp: demux: the shared socket cannot route transmit stamps")

// TxStamps reports whether the virtual Conns get kernel transmit stamps,
// and if not, why (nil: the socket cannot have them).
func (d *Demux) TxStamps() (bool, error) {
	if d.tx != nil {
		return true, nil
	}
	on, err := rawsock.TxStampState(d.c)
	if on {
		return false, errDemuxNoRouting
	}
	return false, err
}

// txStampEntry is one stamp a virtual Conn keeps for its reader.
type txStampEntry struct {
	key uint32
	ns  int64 // 0: empty
}

// putStamp keeps the stamp of the virtual Conn's packet key. Called by
// the Demux reader.
func (s *subConn) putStamp(key uint32, ns int64) {
	s.tmu.Lock()
	if s.stamps == nil {
		s.stamps = make([]txStampEntry, subTxRing(s.queue))
	}
	s.stamps[key%uint32(len(s.stamps))] = txStampEntry{key: key, ns: ns}
	s.tmu.Unlock()
}

// TxKey is the number the next WriteTo's packet goes by (see
// rawsock.TxStamper): this virtual Conn's own count of its sends. Writer
// side. ok is false without transmit stamps.
func (s *subConn) TxKey() (uint32, bool) {
	if s.d.tx == nil {
		return 0, false
	}
	return s.txNext, true
}

// TxStamp is the kernel's transmit stamp of this virtual Conn's packet
// key, once the Demux reader has read it.
func (s *subConn) TxStamp(key uint32) (int64, bool) {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if s.stamps == nil {
		return 0, false
	}
	e := s.stamps[key%uint32(len(s.stamps))]
	return e.ns, e.ns != 0 && e.key == key
}

// TxStampErr says why the virtual Conn has no transmit stamps; nil when
// it has them.
func (s *subConn) TxStampErr() error {
	on, err := s.d.TxStamps()
	if on {
		return nil
	}
	if err == nil {
		return errors.New("icmp: demux: the shared socket has no transmit stamps")
	}
	return err
}
