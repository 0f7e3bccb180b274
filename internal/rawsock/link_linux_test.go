package rawsock

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/arp"
	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// linkMAC is what `ip link` says the Ethernet address of iface in ns is:
// the ground truth a frame's source address is checked against.
func linkMAC(t *testing.T, ns, iface string) arp.MAC {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-j", "link", "show", "dev", iface).Output()
	if err != nil {
		t.Fatalf("ip -n %s link show %s: %v", ns, iface, err)
	}
	var links []struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		t.Fatalf("ip link output %s: %v", out, err)
	}
	hw, err := net.ParseMAC(links[0].Address)
	if err != nil {
		t.Fatalf("ip link address %q: %v", links[0].Address, err)
	}
	return arp.MAC(hw)
}

// TestLinkARPRoundTrip sends a who-has for dst from src through a Link
// and reads dst's answer: the reply comes from the MAC `ip link` gives
// dst's interface, the request the Link sent itself is never read back,
// and both stamps are the kernel's, the reply's after the request's.
// (Not parallel: it counts allocations.)
func TestLinkARPRoundTrip(t *testing.T) {
	l := labtest.Up(t, lab.Spec{})
	srcIf, dstIf := l.Src.Ifaces[0], l.Dst.Ifaces[0]
	want, srcMAC := linkMAC(t, l.Dst.NS, dstIf.Name), linkMAC(t, l.Src.NS, srcIf.Name)
	err := l.Src.Do(func() error {
		link, err := OpenLink(LinkConfig{Interface: srcIf.Name, EtherType: arp.EtherType, TxStamps: true})
		if err != nil {
			return err
		}
		defer link.Close()
		if err := link.TxStampErr(); err != nil {
			t.Errorf("transmit stamps: %v", err)
		}
		mac := arp.MAC(link.HardwareAddr())
		if mac != srcMAC {
			t.Errorf("HardwareAddr %s, ip link says otherwise", mac)
		}
		frame := arp.AppendFrame(nil, arp.Broadcast, mac, arp.Request(mac, srcIf.Addr4.Addr(), dstIf.Addr4.Addr()))
		key, _ := link.TxKey()
		sent := time.Now()
		if err := link.WriteFrame(frame); err != nil {
			return err
		}
		buf := make([]byte, 2048)
		var f LinkFrame
		_ = link.SetReadDeadline(time.Now().Add(2 * time.Second))
		if err := link.ReadFrame(buf, &f); err != nil {
			return err
		}
		p, err := arp.Parse(f.Data)
		if err != nil {
			return fmt.Errorf("first frame read %x: %w", f.Data, err)
		}
		if p.Op != arp.OpReply || p.SenderMAC != want || p.Src != want || p.SenderIP != dstIf.Addr4.Addr() || p.TargetMAC != mac {
			t.Errorf("first frame read: %+v; want dst's reply from %s (%s) to %s", p, want, dstIf.Addr4.Addr(), mac)
		}
		tx, ok := link.TxStamp(key)
		if !ok || !f.KernelStamp {
			return fmt.Errorf("kernel stamps: transmit %v, receive %v; want both", ok, f.KernelStamp)
		}
		if tx < sent.UnixNano() || f.Received.UnixNano() <= tx {
			t.Errorf("stamps out of order: sent %d, transmit stamp %d, receive stamp %d", sent.UnixNano(), tx, f.Received.UnixNano())
		}
		if err := outboundNotRead(link, srcIf.Name, mac); err != nil {
			return err
		}
		// A request and its reply allocate nothing.
		var rerr error
		allocs := testing.AllocsPerRun(20, func() {
			_ = link.SetReadDeadline(time.Now().Add(2 * time.Second))
			if err := link.WriteFrame(frame); err != nil {
				rerr = err
			} else if err := link.ReadFrame(buf, &f); err != nil {
				rerr = err
			}
		})
		if rerr != nil || allocs != 0 {
			return fmt.Errorf("write and read: %v, %v allocations per round trip; want none", rerr, allocs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// outboundNotRead sends a request for an address nobody holds from a
// second Link on the interface: link must not read it (it is outbound
// there), so its read ends at the deadline.
func outboundNotRead(link *Link, iface string, mac arp.MAC) error {
	other, err := OpenLink(LinkConfig{Interface: iface, EtherType: arp.EtherType})
	if err != nil {
		return err
	}
	defer other.Close()
	nobody := netip.MustParseAddr("198.18.0.99")
	if err := other.WriteFrame(arp.AppendFrame(nil, arp.Broadcast, mac, arp.Request(mac, nobody, nobody))); err != nil {
		return err
	}
	var f LinkFrame
	_ = link.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if err := link.ReadFrame(make([]byte, 2048), &f); !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("read after another socket sent: %v, frame %x; want the deadline (a socket bound to ARP sees no outbound frames)", err, f.Data)
	}
	return nil
}

func TestLinkNeedsInterface(t *testing.T) {
	if _, err := OpenLink(LinkConfig{EtherType: arp.EtherType}); !errors.Is(err, ErrNoInterface) {
		t.Errorf("OpenLink without interface: %v, want ErrNoInterface", err)
	}
	if _, err := OpenLink(LinkConfig{Interface: "lo", EtherType: arp.EtherType}); !errors.Is(err, ErrNoInterface) {
		t.Errorf("OpenLink on lo: %v, want ErrNoInterface (no Ethernet address)", err)
	}
}
