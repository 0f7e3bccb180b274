package tap_test

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rawnet/rawnet/craft"
	"github.com/rawnet/rawnet/icmp"
	"github.com/rawnet/rawnet/tap"
	"github.com/rawnet/rawnet/trace"
	"github.com/rawnet/rawnet/udp"
)

// A program that uses the engines supplies its own tap: here one that
// counts the bytes sent and received. Engines may call it from several
// goroutines, hence the atomics.
func Example() {
	var sent, received atomic.Int64
	count := func(dir tap.Dir, ts time.Time, data []byte) {
		if dir == tap.Out {
			sent.Add(int64(len(data)))
		} else {
			received.Add(int64(len(data)))
		}
	}
	// The same function fits every engine's hook.
	_ = icmp.Config{Tap: count}
	_ = trace.Config{Tap: count}
	_ = udp.ProbeConfig{Tap: count}
	_ = udp.ScanConfig{Tap: count}
	_ = udp.ServerConfig{Tap: count}
	_ = craft.Config{Tap: count}

	count(tap.Out, time.Now(), make([]byte, 84))
	count(tap.In, time.Now(), make([]byte, 84))
	fmt.Println(sent.Load(), received.Load(), tap.Out, tap.In)
	// Output: 84 84 out in
}
