package lab

import (
	"bytes"
	"testing"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/rawnet/rawnet/internal/inet"
)

func echoRequest(t testing.TB, v6 bool, id, seq int, data []byte) []byte {
	t.Helper()
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if v6 {
		typ = ipv6.ICMPTypeEchoRequest
	}
	b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: data}}).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEchoReplyV4(t *testing.T) {
	req := echoRequest(t, false, 0x1234, 7, []byte("rawnet payload, odd length"))
	b := bytes.Clone(req)
	if !echoReply(b, false) {
		t.Fatal("echo request not answered")
	}
	if inet.Checksum(b, 0) != 0 {
		t.Errorf("reply checksum does not verify: %x", b[2:4])
	}
	m, err := icmp.ParseMessage(1, b)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := m.Body.(*icmp.Echo)
	if m.Type != ipv4.ICMPTypeEchoReply || !ok || e.ID != 0x1234 || e.Seq != 7 || string(e.Data) != "rawnet payload, odd length" {
		t.Errorf("reply = %+v %+v", m, m.Body)
	}
	if !bytes.Equal(b[4:], req[4:]) {
		t.Error("identifier, sequence or payload changed")
	}
}

func TestEchoReplyV6(t *testing.T) {
	req := echoRequest(t, true, 1, 65535, []byte{1, 2, 3})
	b := bytes.Clone(req)
	if !echoReply(b, true) {
		t.Fatal("echo request not answered")
	}
	if b[0] != icmp6EchoReply || b[2] != 0 || b[3] != 0 || !bytes.Equal(b[4:], req[4:]) {
		t.Errorf("reply % x from request % x", b, req)
	}
}

func TestEchoReplyIgnoresOtherMessages(t *testing.T) {
	for _, c := range []struct {
		b  []byte
		v6 bool
	}{
		{echoRequest(t, false, 1, 1, nil)[:7], false},     // truncated
		{echoRequest(t, true, 1, 1, nil), false},          // ICMPv6 request on the v4 socket
		{echoRequest(t, false, 1, 1, nil), true},          // and the other way round
		{[]byte{0, 0, 0, 0, 0, 0, 0, 0}, false},           // a reply
		{[]byte{8, 1, 0, 0, 0, 0, 0, 0}, false},           // code 1
		{[]byte{11, 0, 0, 0, 0, 0, 0, 0, 0x45, 0}, false}, // time exceeded
	} {
		orig := bytes.Clone(c.b)
		if echoReply(c.b, c.v6) || !bytes.Equal(c.b, orig) {
			t.Errorf("echoReply(% x, v6=%v) answered or changed it", orig, c.v6)
		}
	}
}

func FuzzEchoReply(f *testing.F) {
	f.Add(echoRequest(f, false, 1, 2, []byte("x")), false)
	f.Add(echoRequest(f, true, 1, 2, []byte("xy")), true)
	f.Add([]byte{8, 0}, false)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		orig := bytes.Clone(b)
		if !echoReply(b, v6) {
			if !bytes.Equal(b, orig) {
				t.Fatal("rejected input was modified")
			}
			return
		}
		if len(b) != len(orig) || !bytes.Equal(b[4:], orig[4:]) {
			t.Fatal("reply changed identifier, sequence or payload")
		}
		if !v6 && inet.Checksum(b, 0) != 0 {
			t.Fatal("reply checksum does not verify")
		}
	})
}
