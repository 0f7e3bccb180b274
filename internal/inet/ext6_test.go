package inet

import (
	"bytes"
	"testing"
)

// TestSkipExtensions6 walks chains with every extension header kind; the
// authentication header counts its length in 4-byte units (RFC 4302),
// the others in 8-byte ones.
func TestSkipExtensions6(t *testing.T) {
	udp := []byte{0x30, 0x39, 0x82, 0x9a, 0, 8, 0, 0}
	hbh := []byte{ExtAuth, 0, 1, 4, 0, 0, 0, 0}                     // hop-by-hop, 8 bytes, then AH
	ah := append([]byte{ExtRouting, 4, 0, 0}, make([]byte, 20)...)  // AH, (4+2)*4 = 24 bytes, then routing
	rt := append([]byte{ExtFragment, 1, 0, 0}, make([]byte, 12)...) // routing, (1+1)*8 = 16 bytes, then fragment
	frag := []byte{ExtDestOptions, 0, 0, 0, 0, 0, 0, 1}             // first fragment, more follow
	dst := []byte{ProtoUDP, 0, 1, 4, 0, 0, 0, 0}                    // destination options, then UDP
	chain := bytes.Join([][]byte{hbh, ah, rt, frag, dst, udp}, nil)
	for _, tc := range []struct {
		name    string
		next    uint8
		b       []byte
		proto   uint8
		payload []byte
		fragOff uint16
		ok      bool
	}{
		{"no extension headers", ProtoUDP, udp, ProtoUDP, udp, 0, true},
		{"every kind", ExtHopByHop, chain, ProtoUDP, udp, 0, true},
		{"AH alone", ExtAuth, append(append([]byte{ProtoUDP, 4}, make([]byte, 22)...), udp...), ProtoUDP, udp, 0, true},
		{"AH cut short", ExtAuth, append([]byte{ProtoUDP, 4}, make([]byte, 20)...), ExtAuth, nil, 0, false},
		{"not the first fragment", ExtFragment, append([]byte{ProtoUDP, 0, 0x05, 0xa8, 0, 0, 0, 1}, udp...), ProtoUDP, udp, 181, true},
		{"fragment header cut short", ExtFragment, []byte{ProtoUDP, 0, 0}, ExtFragment, nil, 0, false},
		{"ESP ends the walk", 50, udp, 50, udp, 0, true},
	} {
		proto, payload, off, ok := SkipExtensions6(tc.next, tc.b)
		if proto != tc.proto || !bytes.Equal(payload, tc.payload) || off != tc.fragOff || ok != tc.ok {
			t.Errorf("%s: got %d % x %d %v; want %d % x %d %v", tc.name, proto, payload, off, ok, tc.proto, tc.payload, tc.fragOff, tc.ok)
		}
	}
}
