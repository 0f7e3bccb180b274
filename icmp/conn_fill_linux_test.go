package icmp

import "testing"

// FuzzFill: whatever bytes a raw or datagram socket hands over, fill makes
// a Packet whose Data lies inside them, or an error.
func FuzzFill(f *testing.F) {
	f.Add([]byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1}, false, false)
	f.Add([]byte{0x4f, 0, 0}, false, true)
	f.Fuzz(func(t *testing.T, b []byte, v6, queued bool) {
		c := &sockConn{v6: v6}
		c.meta.Reset()
		c.meta.HasErr = queued
		var p Packet
		if err := c.fill(b, queued, &p); err == nil && len(p.Data) > len(b) {
			t.Fatalf("Data of %d bytes from %d", len(p.Data), len(b))
		}
	})
}
