package main

import (
	"time"

	"github.com/rawnet/rawnet/capture"
	"github.com/rawnet/rawnet/internal/jsonl"
)

// packetMeta is what a packet's JSON object says besides its decode: read
// numbers the packets of a file, capture knows the interface and the
// direction.
type packetMeta struct {
	index   int // read: the packet's number in the file; 0: none
	time    time.Time
	caplen  int // bytes captured
	length  int // bytes on the wire
	live    bool
	ifindex int    // live: the interface
	iface   string // live: its name, "" when unknown
	out     bool   // live: sent by this host
}

// appendPacketJSON writes one packet as a JSON object on a line, the same
// for capture --json and read --json: type, index (read), time, caplen,
// len, ifindex, iface, dir (capture), summary, layers. It allocates
// nothing: d has decoded the packet already.
func appendPacketJSON(b []byte, m *packetMeta, d *capture.Decoder) []byte {
	b = append(b, `{"type":"packet"`...)
	if m.index > 0 {
		b = append(b, `,"index":`...)
		b = jsonl.AppendInt(b, int64(m.index))
	}
	b = append(b, `,"time":`...)
	b = jsonl.AppendTime(b, m.time)
	b = append(b, `,"caplen":`...)
	b = jsonl.AppendInt(b, int64(m.caplen))
	b = append(b, `,"len":`...)
	b = jsonl.AppendInt(b, int64(m.length))
	if m.live {
		b = appendLiveJSON(b, m)
	}
	b = append(b, `,"summary":"`...)
	mark := len(b)
	b = d.AppendLine(b)
	b = jsonl.EscapeTail(b, mark)
	b = append(b, `","layers":`...)
	b = d.AppendJSON(b)
	return append(b, "}\n"...)
}

func appendLiveJSON(b []byte, m *packetMeta) []byte {
	b = append(b, `,"ifindex":`...)
	b = jsonl.AppendInt(b, int64(m.ifindex))
	if m.iface != "" {
		b = append(b, `,"iface":`...)
		b = jsonl.AppendString(b, m.iface)
	}
	if m.out {
		return append(b, `,"dir":"out"`...)
	}
	return append(b, `,"dir":"in"`...)
}
