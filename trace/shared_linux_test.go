package trace

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// Two Tracers over one Shared set of real sockets in a lab: each sees the
// whole chain to dst, and every answered probe is timed from the kernel's
// transmit stamp (SendKeyed takes the stamp number and sends in one step
// under the shared lock, so the other Tracer's sends do not shift it).
func TestSharedLab(t *testing.T) {
	l := labtest.Up(t, lab.Spec{Routers: 2})
	var c Conn
	if err := l.Src.Do(func() (err error) {
		c, err = Listen(ListenConfig{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s := NewShared(c)
	defer s.Close()
	want := l.HopAddrs4() // r1, r2, dst
	var wg sync.WaitGroup
	for i, m := range []Method{UDP, ICMP} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vc, err := s.Conn()
			if err != nil {
				t.Error(err)
				return
			}
			defer vc.Close()
			var tr *Tracer
			err = l.Src.Do(func() (err error) { // New looks up the source address in src's routes
				tr, err = New(Config{Targets: []netip.Addr{l.Dst.Addr4}, Conns: []Conn{vc}, Method: m, MaxTTL: 6,
					Cycles: 5, Interval: 20 * time.Millisecond, IDBlock: i + 1})
				return err
			})
			if err != nil {
				t.Error(err)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			stamped, answered := 0, 0
			_, err = tr.Run(ctx, func(ev Event) error {
				switch ev.Kind {
				case EventHop:
					for _, p := range ev.Hop.Probes {
						if p.Timeout {
							continue
						}
						answered++
						if p.KernelTxStamp {
							stamped++
						}
						if ev.Hop.TTL > len(want) || p.Addr != want[ev.Hop.TTL-1] {
							t.Errorf("%s: hop %d answered by %v, want %v", m, ev.Hop.TTL, p.Addr, want)
						}
					}
				case EventDone:
					if !ev.Result.Reached || ev.Result.Hops != len(want) {
						t.Errorf("%s cycle %d: reached %v at %d, want at %d", m, ev.Cycle, ev.Result.Reached, ev.Result.Hops, len(want))
					}
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			if answered < 5*len(want) || stamped != answered {
				t.Errorf("%s: %d answered probes, %d timed from kernel transmit stamps", m, answered, stamped)
			}
		}()
	}
	wg.Wait()
}
