package exporter

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rawnet/rawnet/icmp"
)

// replyStall is how long a probe group's reader may be kept off the CPU
// (a loaded machine) before replies to it are dropped: its queue on the
// shared socket holds this long's worth of replies at the group's rate.
// At 10,000 probes a second the default queue (icmp.DemuxQueue, 1,024)
// held 100 ms, and with two cores busy 0.2-3% of the replies were
// dropped there (docs/benchmarks.md).
const replyStall = 500 * time.Millisecond

// demuxQueue is the queue a group probing at rate probes a second gets.
func demuxQueue(rate float64) int {
	return int(rate*replyStall.Seconds()) + 1
}

// droppedDesc counts what the exporter dropped before matching it.
var droppedDesc = prometheus.NewDesc("rawnet_exporter_dropped_packets_total", droppedDescHelp, []string{"family", "reason"}, nil)

const droppedDescHelp = "Packets received on the exporter's shared ICMP sockets and dropped before they were matched to a probe: " +
	`reason="socket": by the kernel, the socket's receive buffer was full; ` +
	`reason="queue": by the exporter, the probe group's queue was full (its reader was kept off the CPU).`

// dropsCollector reports droppedDesc for every shared ICMP socket open,
// summed by family; both reasons of a family with a socket are always
// there, at 0 until something is dropped.
type dropsCollector struct{ sockets *Sockets }

func (c dropsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- droppedDesc }

func (c dropsCollector) Collect(ch chan<- prometheus.Metric) {
	var queue, socket [2]uint64
	var open [2]bool
	c.sockets.each(func(k SocketKey, s any) {
		d, ok := s.(*icmp.Demux)
		if !ok || k.Kind != "icmp" {
			return
		}
		f := 0
		if d.V6() {
			f = 1
		}
		open[f] = true
		queue[f] += d.Dropped()
		if n, ok := d.SocketDrops(); ok {
			socket[f] += n
		}
	})
	for f, name := range []string{"ipv4", "ipv6"} {
		if !open[f] {
			continue
		}
		ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(socket[f]), name, "socket")
		ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(queue[f]), name, "queue")
	}
}
