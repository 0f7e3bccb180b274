package icmp

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/inet"
	"github.com/rawnet/rawnet/internal/rawsock"
)

// reservePort binds a TCP socket (never listening) to a port the kernel
// chooses, on the source address and device the probes use, and keeps it
// for the conn's life: the SYNs leave from that port, which no local
// connection can then take, and since nothing listens on it the kernel
// answers every SYN-ACK with an RST, closing each half-open connection a
// probe opened (tcp_v4_send_reset / tcp_v6_send_reset).
func (c *sockConn) reservePort(cfg ListenConfig) error {
	family := unix.AF_INET
	if c.v6 {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return fmt.Errorf("icmp: open TCP socket to hold the source port: %w", err)
	}
	if cfg.Interface != "" {
		if err := unix.BindToDevice(fd, cfg.Interface); err != nil {
			unix.Close(fd)
			return fmt.Errorf("icmp: bind TCP socket to %s: %w", cfg.Interface, err)
		}
	}
	var sa unix.Sockaddr = &unix.SockaddrInet4{}
	if c.v6 {
		sa = &unix.SockaddrInet6{}
	}
	if src := cfg.Source; src.IsValid() {
		scope, _ := rawsock.ScopeID(src, cfg.Interface)
		sa = rawsock.Sockaddr(netip.AddrPortFrom(src, 0), scope, c.v6)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return fmt.Errorf("icmp: bind TCP socket for the source port: %w", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return fmt.Errorf("icmp: getsockname: %w", err)
	}
	switch got := got.(type) {
	case *unix.SockaddrInet4:
		c.id = uint16(got.Port)
	case *unix.SockaddrInet6:
		c.id = uint16(got.Port)
	}
	c.hold = fd
	return nil
}

func (c *sockConn) closeHold() {
	if c.hold >= 0 {
		unix.Close(c.hold)
		c.hold = -1
	}
}

// fillUDP turns one read of a UDP socket into a Packet whose Data is the
// whole datagram, header included, as the other kinds' messages are:
// b[:udpHeaderLen] is room for the header, which the socket does not
// deliver, rebuilt from the addresses; a queued error's Data is the
// datagram it reports on (the socket gives its payload).
func (c *sockConn) fillUDP(b []byte, queued bool, p *Packet) error {
	if err := c.fill(b[udpHeaderLen:], queued, p); err != nil {
		return err
	}
	peer, _ := rawsock.SockaddrAddrPort(c.rname[:])
	h := b[:udpHeaderLen]
	if queued { // our datagram: from our port to the one it was sent to
		binary.BigEndian.PutUint16(h[0:], c.id)
		binary.BigEndian.PutUint16(h[2:], peer.Port())
	} else {
		binary.BigEndian.PutUint16(h[0:], peer.Port())
		binary.BigEndian.PutUint16(h[2:], c.id)
	}
	binary.BigEndian.PutUint16(h[4:], uint16(len(b)))
	h[6], h[7] = 0, 0
	if !queued && p.To.IsValid() {
		// The checksum the datagram had (the kernel checked it), for pcap.
		sum := inet.Checksum(b, inet.PseudoSum(p.From, p.To, inet.ProtoUDP, len(b)))
		if sum == 0 {
			sum = 0xffff
		}
		binary.BigEndian.PutUint16(h[6:], sum)
	}
	p.Data = b
	return nil
}
