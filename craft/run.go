package craft

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"
)

// Answer is a received packet that answers a sent one: a reply in the
// reverse direction of its flow, an ICMP query reply, or an ICMP error that
// quotes it.
type Answer struct {
	Probe uint64        // the answered packet's number in send order, from 0
	Time  time.Time     // receive time
	RTT   time.Duration // from the kernel's transmit stamp (KernelTxStamp), else from just before the send call
	// KernelStamp: Time is the kernel's receive stamp (else when it was
	// read); KernelTxStamp: RTT starts at the kernel's transmit stamp.
	KernelStamp, KernelTxStamp bool
	Error                      bool   // an ICMP error quoting the packet
	Frame                      []byte // as received (IP packet on L3, Ethernet frame on L2); valid during the call
}

// Summary is what a run did.
type Summary struct {
	Packets    uint64        // packets of the spec built and sent (before fragmenting)
	Sent       uint64        // frames put on the wire (fragments count one each)
	Failed     uint64        // frames the kernel refused
	Bytes      uint64        // bytes of the frames sent
	Elapsed    time.Duration // from the first send to the last
	FirstError error         // the first refused frame's error
	Waited     bool          // answers were taken (--wait)
	Answered   uint64        // sent packets that got at least one answer
	Answers    uint64        // answering packets received (duplicates included)
}

// Unanswered is how many sent packets got no answer.
func (s Summary) Unanswered() uint64 { return s.Packets - s.Answered }

// sender is what Run sends through: the raw sockets, or a fake in tests.
type sender interface {
	send(pkts [][]byte, dsts []netip.Addr) (ok, failed int, err error)
	close() error
}

// receiver is what Run takes answers from.
type receiver interface {
	read() (data []byte, ts time.Time, kernel bool, err error)
	interrupt() // makes read return errTimeout from now on
	close() error
}

// Open opens the sockets Run sends and (with Wait) receives through, so
// that a caller can give up its privileges between the two: opening raw
// sockets needs CAP_NET_RAW, using them does not. Run calls Open itself
// when it has not been called. Sockets opened and never run are closed by
// Close.
func (p *Plan) Open() error {
	if p.cfg.DryRun {
		return errors.New("craft: Open on a dry-run plan")
	}
	if p.tx != nil {
		return nil
	}
	var rx receiver
	if p.cfg.Wait > 0 {
		r, err := openReplies(p.iface, p.l2)
		if err != nil {
			return err
		}
		rx = r
	}
	tx, err := p.openSender()
	if err != nil {
		if rx != nil {
			rx.close()
		}
		return err
	}
	p.tx, p.rx = tx, rx
	return nil
}

// Close closes sockets that Open opened and Run did not take; it does
// nothing otherwise.
func (p *Plan) Close() error {
	tx, rx := p.tx, p.rx
	p.tx, p.rx = nil, nil
	var err error
	if rx != nil {
		err = rx.close()
	}
	if tx != nil {
		err = errors.Join(err, tx.close())
	}
	return err
}

// Run sends the plan's packets and, with Wait, hands every answer to fn.
// The sockets are closed when it returns.
func (p *Plan) Run(ctx context.Context, fn func(Answer) error) (Summary, error) {
	if p.cfg.DryRun {
		return Summary{}, errors.New("craft: Run on a dry-run plan")
	}
	if err := p.Open(); err != nil {
		return Summary{}, err
	}
	tx, rx := p.tx, p.rx
	p.tx, p.rx = nil, nil
	return p.run(ctx, tx, rx, fn)
}

func (p *Plan) openSender() (sender, error) {
	// Transmit stamps only when answers are timed: a blast would queue a
	// stamp per packet for nobody.
	stamps := p.cfg.Wait > 0
	if p.l2 {
		return openL2(p.iface, stamps)
	}
	return openL3(p.v6, p.cfg.Iface, p.link, stamps)
}

// run is Run over any sender and receiver.
func (p *Plan) run(ctx context.Context, tx sender, rx receiver, fn func(Answer) error) (Summary, error) {
	defer tx.close()
	r := newRunner(p, tx, fn)
	if rx != nil {
		r.startReceiver(ctx, rx)
		defer rx.close()
	}
	err := r.sendAll(ctx)
	if err == nil && rx != nil {
		err = r.awaitAnswers(ctx)
	}
	r.stopReceiver()
	return r.sum, err
}

var errTimeout = errors.New("craft: receive timeout")

// sendError explains the errors a send can end in.
func sendError(err error, l2 bool) error {
	switch {
	case errors.Is(err, syscall.EMSGSIZE):
		return fmt.Errorf("craft: packet larger than the interface MTU: %w (use --fragment SIZE)", err)
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return fmt.Errorf("craft: no route: %w", err)
	}
	return fmt.Errorf("craft: send: %w", err)
}
