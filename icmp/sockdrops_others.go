//go:build !linux

package icmp

// socketDrops: the kernel's drop count is read on Linux only.
func socketDrops(Conn) (uint64, bool) { return 0, false }
