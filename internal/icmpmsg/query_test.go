package icmpmsg

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// gopacket serializes an ICMPv4 header (with its checksum) and a payload:
// an independent encoder for the queries.
func gopacketICMPv4(t *testing.T, typ uint8, id, seq uint16, body []byte) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: id, Seq: seq}, gopacket.Payload(body))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestTimestampAgainstGopacket(t *testing.T) {
	m := Timestamp{Type: TypeTimestampReply4, ID: 0x1234, Seq: 7, Originate: 1, Receive: 0x80000002, Transmit: 86399999}
	got := MarshalTimestamp(make([]byte, 64), m)
	want := gopacketICMPv4(t, TypeTimestampReply4, 0x1234, 7, []byte{0, 0, 0, 1, 0x80, 0, 0, 2, 0x05, 0x26, 0x5b, 0xff})
	if !bytes.Equal(got, want) {
		t.Fatalf("MarshalTimestamp:\n got %x\nwant %x", got, want)
	}
	back, err := ParseTimestamp(want)
	if err != nil || back != m {
		t.Errorf("ParseTimestamp = %+v, %v; want %+v", back, err, m)
	}
	if _, err := ParseTimestamp(want[:TimestampLen-1]); !errors.Is(err, ErrShort) {
		t.Errorf("19 bytes: %v", err)
	}
	echo := gopacketICMPv4(t, TypeEchoRequest4, 1, 2, make([]byte, 12))
	if _, err := ParseTimestamp(echo); !errors.Is(err, ErrType) {
		t.Errorf("an echo request parsed as timestamp: %v", err)
	}
}

func TestAddrMaskAgainstGopacket(t *testing.T) {
	m := AddrMask{Type: TypeAddrMaskReply4, ID: 9, Seq: 0xfffe, Mask: [4]byte{255, 255, 254, 0}}
	got := MarshalAddrMask(make([]byte, AddrMaskLen), m)
	want := gopacketICMPv4(t, TypeAddrMaskReply4, 9, 0xfffe, []byte{255, 255, 254, 0})
	if !bytes.Equal(got, want) {
		t.Fatalf("MarshalAddrMask:\n got %x\nwant %x", got, want)
	}
	back, err := ParseAddrMask(want)
	if err != nil || back != m {
		t.Errorf("ParseAddrMask = %+v, %v; want %+v", back, err, m)
	}
	if _, err := ParseAddrMask(want[:11]); !errors.Is(err, ErrShort) {
		t.Errorf("11 bytes: %v", err)
	}
	if _, err := ParseAddrMask(gopacketICMPv4(t, TypeTimestampRequest4, 1, 2, make([]byte, 4))); !errors.Is(err, ErrType) {
		t.Errorf("a timestamp request parsed as address mask: %v", err)
	}
}
