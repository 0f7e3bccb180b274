package capture

import (
	"errors"

	"github.com/gopacket/gopacket/layers"
)

var errTCPOffset = errors.New("capture: TCP data offset below 5 words")

// decodeTCP fills the TCP layer from data (at least 20 bytes and the
// header its data offset announces, as short checks) as gopacket's
// DecodeFromBytes does, but keeps MPTCP options as raw bytes: gopacket
// allocates a struct for each MPTCP option it decodes, and drops those
// whose length does not fit their subtype, which tcpdump still prints.
// Options whose length runs past the header end the list, as in gopacket.
func (s *stack) decodeTCP(data []byte) error {
	t := &s.tcp
	t.SrcPort = layers.TCPPort(be.Uint16(data[0:]))
	t.DstPort = layers.TCPPort(be.Uint16(data[2:]))
	t.Seq, t.Ack = be.Uint32(data[4:]), be.Uint32(data[8:])
	t.DataOffset = data[12] >> 4
	f := data[13]
	t.FIN, t.SYN, t.RST, t.PSH = f&0x01 != 0, f&0x02 != 0, f&0x04 != 0, f&0x08 != 0
	t.ACK, t.URG, t.ECE, t.CWR = f&0x10 != 0, f&0x20 != 0, f&0x40 != 0, f&0x80 != 0
	t.NS = data[12]&0x01 != 0
	t.Window, t.Checksum, t.Urgent = be.Uint16(data[14:]), be.Uint16(data[16:]), be.Uint16(data[18:])
	t.Options, t.Padding, t.Multipath = t.Options[:0], nil, false
	if t.DataOffset < 5 {
		return errTCPOffset
	}
	n := int(t.DataOffset) * 4
	t.Contents, t.Payload = data[:n], data[n:]
	opts := data[20:n]
	for len(opts) > 0 {
		o := layers.TCPOption{OptionType: layers.TCPOptionKind(opts[0]), OptionLength: 1}
		switch o.OptionType {
		case layers.TCPOptionKindEndList:
			t.Options = append(t.Options, o)
			t.Padding = opts[1:]
			return nil
		case layers.TCPOptionKindNop:
		default:
			if len(opts) < 2 || opts[1] < 2 || int(opts[1]) > len(opts) {
				t.Padding = opts
				return nil
			}
			o.OptionLength = opts[1]
			o.OptionData = opts[2:o.OptionLength]
			if o.OptionType == layers.TCPOptionKindMultipathTCP {
				t.Multipath = true
			}
		}
		t.Options = append(t.Options, o)
		opts = opts[o.OptionLength:]
	}
	return nil
}
