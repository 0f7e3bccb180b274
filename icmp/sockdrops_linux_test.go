package icmp

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// What Demux.SocketDrops reads is the kernel's count: a raw ICMP socket
// on loopback with the smallest receive buffer, pinging 127.0.0.1 and not
// reading, drops replies; the count equals the drops column of
// /proc/net/raw for that socket, and every reply was read or dropped. (On
// loopback the socket's own requests reach it too; the ICMP filter drops
// them uncounted while there is room, but with the buffer full the kernel
// counts them as well: about twice the replies lost are counted here.)
func TestSocketDropsIsTheKernels(t *testing.T) {
	labtest.RequireRoot(t)
	c, err := Listen(ListenConfig{Mode: ModeRaw, RecvBuf: 1, NoTxStamps: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, ok := socketDrops(c); !ok || n != 0 {
		t.Fatalf("a new socket: %d drops, ok %v", n, ok)
	}
	const sent = 300
	lo := netip.MustParseAddr("127.0.0.1")
	msg := make([]byte, icmpmsg.HeaderLen+icmpmsg.ProbeLen+40)
	for i := range sent {
		icmpmsg.MarshalEcho(msg, icmpmsg.Echo{Type: icmpmsg.TypeEchoRequest4, ID: c.ID(), Seq: uint16(i)},
			icmpmsg.Probe{Cookie: 0x77, Seq: uint32(i)}, nil)
		if err := c.WriteTo(msg, lo); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	time.Sleep(50 * time.Millisecond) // loopback answers inside sendmsg; margin
	drops, ok := socketDrops(c)
	proc := procRawDrops(t, c)
	var read int
	buf := make([]byte, 1500)
	var p Packet
	for {
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if c.ReadPacket(buf, &p) != nil {
			break
		}
		if p.Data[0] != icmpmsg.TypeEchoReply4 {
			t.Fatalf("read ICMP type %d", p.Data[0])
		}
		read++
	}
	t.Logf("%d replies: %d read, %d dropped (/proc/net/raw: %d)", sent, read, drops, proc)
	if !ok || drops == 0 || drops != proc || read >= sent || read+int(drops) < sent {
		t.Fatalf("drops %d (ok %v), /proc/net/raw %d, read %d: want drops = /proc > 0, read < %d <= read + drops", drops, ok, proc, read, sent)
	}
}

// procRawDrops is the drops column of the socket's line in /proc/net/raw.
func procRawDrops(t *testing.T, c Conn) uint64 {
	t.Helper()
	var ino string
	if err := c.(*sockConn).Control(func(fd int) error {
		l, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		ino = strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/net/raw")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 12 && fs[9] == ino {
			n, err := strconv.ParseUint(fs[len(fs)-1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("socket inode %s not in /proc/net/raw", ino)
	return 0
}
