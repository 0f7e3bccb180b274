//go:build linux

// Command rawloop is the baseline for rawnet send's benchmark: the barest
// sendmmsg loop over a raw IPv4 socket (IPPROTO_RAW), sending one prebuilt
// IPv4/UDP packet again and again in batches of 64, and printing the rate.
// Nothing in it varies per packet, so it is as fast as the kernel path.
//
//	rawloop -dst 198.18.1.2 -n 200000 -size 64 -port 9
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	dst := flag.String("dst", "", "destination IPv4 address (a lab address)")
	n := flag.Int("n", 200000, "packets to send")
	size := flag.Int("size", 64, "IP packet size in bytes (28 or more)")
	port := flag.Int("port", 9, "UDP destination port")
	flag.Parse()
	addr, err := netip.ParseAddr(*dst)
	if err != nil || !addr.Is4() || *size < 28 || *size > 1500 || *n < 1 {
		fmt.Fprintln(os.Stderr, "rawloop: want -dst IPv4, -size 28..1500, -n 1 or more")
		os.Exit(2)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawloop:", err)
		os.Exit(2)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20)
	pkt := make([]byte, *size)
	pkt[0], pkt[8], pkt[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(pkt[2:], uint16(*size))
	d := addr.As4()
	copy(pkt[16:], d[:]) // source 0: the kernel fills it in
	binary.BigEndian.PutUint16(pkt[20:], 40000)
	binary.BigEndian.PutUint16(pkt[22:], uint16(*port))
	binary.BigEndian.PutUint16(pkt[24:], uint16(*size-20))
	const batch = 64
	var iov unix.Iovec
	iov.Base = &pkt[0]
	iov.SetLen(len(pkt))
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: d}
	var hdrs [batch]unix.Mmsghdr
	for i := range hdrs {
		hdrs[i].Hdr.Iov, hdrs[i].Hdr.Iovlen = &iov, 1
		hdrs[i].Hdr.Name, hdrs[i].Hdr.Namelen = (*byte)(unsafe.Pointer(&sa)), unix.SizeofSockaddrInet4
	}
	start := time.Now()
	sent, failed := 0, 0
	deadline := start.Add(time.Minute)
	for sent < *n && time.Now().Before(deadline) {
		k := min(batch, *n-sent)
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(k), 0, 0, 0)
		if e != 0 {
			if e == unix.EINTR || e == unix.ENOBUFS || e == unix.EAGAIN {
				failed++
				continue
			}
			fmt.Fprintln(os.Stderr, "rawloop:", e)
			os.Exit(1)
		}
		sent += int(r)
	}
	el := time.Since(start)
	fmt.Printf("sent %d packets in %.3f s: %.0f packets/s (%d busy retries)\n", sent, el.Seconds(), float64(sent)/el.Seconds(), failed)
}
