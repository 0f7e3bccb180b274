package icmpmsg

import (
	"strings"
	"testing"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// The error types by RFC 792 (ICMPv4) and by RFC 4443's type bit (ICMPv6).
func TestClassifyErrors(t *testing.T) {
	errors4 := map[int]bool{3: true, 4: true, 5: true, 11: true, 12: true}
	for typ := range 256 {
		if got := IsError(false, uint8(typ)); got != errors4[typ] {
			t.Errorf("ICMPv4 type %d: IsError %v", typ, got)
		}
		if got := IsError(true, uint8(typ)); got != (typ < 128) {
			t.Errorf("ICMPv6 type %d: IsError %v, RFC 4443 says %v", typ, got, typ < 128)
		}
		assigned := typ >= 1 && typ <= 4
		if got := Classify(true, uint8(typ)) == ClassError; got != assigned {
			t.Errorf("ICMPv6 type %d: assigned error %v, want %v", typ, got, assigned)
		}
	}
}

// Every request and reply pairs up within its family, and x/net names the
// pair the same way (Echo / Echo Reply, Timestamp / Timestamp Reply, ...).
func TestRequestType(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		requests, replies := 0, 0
		for typ := range 256 {
			c := Classify(v6, uint8(typ))
			req, ok := RequestType(v6, uint8(typ))
			if ok != (c.IsRequest() || c.IsReply()) || ok != c.HasIDSeq() {
				t.Errorf("v6 %v type %d (%v): RequestType ok %v", v6, typ, c, ok)
			}
			if !ok {
				continue
			}
			if rc := Classify(v6, req); !rc.IsRequest() {
				t.Errorf("v6 %v type %d: request type %d is %v", v6, typ, req, rc)
			}
			if c.IsRequest() {
				requests++
				continue
			}
			replies++
			var reqName, replyName string
			if v6 {
				reqName, replyName = ipv6.ICMPType(req).String(), ipv6.ICMPType(typ).String()
			} else {
				reqName, replyName = ipv4.ICMPType(req).String(), ipv4.ICMPType(typ).String()
			}
			if replyName == "<nil>" {
				continue // x/net has no name for it (information, address mask)
			}
			if strings.TrimSuffix(reqName, " request") != strings.TrimSuffix(replyName, " reply") {
				t.Errorf("v6 %v: %q answers %q", v6, replyName, reqName)
			}
		}
		if requests != replies || requests == 0 {
			t.Errorf("v6 %v: %d requests, %d replies", v6, requests, replies)
		}
	}
}

// The names are the words rawnet has always printed (read --stats, the
// verbose capture fields): they may not change.
func TestName(t *testing.T) {
	want4 := map[uint8]string{0: "echo reply", 3: "destination unreachable", 4: "source quench", 5: "redirect",
		8: "echo request", 11: "time exceeded", 12: "parameter problem", 13: "timestamp request", 14: "timestamp reply"}
	want6 := map[uint8]string{1: "destination unreachable", 2: "packet too big", 3: "time exceeded", 4: "parameter problem",
		128: "echo request", 129: "echo reply", 130: "multicast listener query", 131: "multicast listener report",
		132: "multicast listener done", 133: "router solicitation", 134: "router advertisement",
		135: "neighbor solicitation", 136: "neighbor advertisement", 137: "redirect", 143: "multicast listener report v2"}
	for typ := range 256 {
		if got := Name(false, uint8(typ)); got != want4[uint8(typ)] {
			t.Errorf("ICMPv4 type %d: %q, want %q", typ, got, want4[uint8(typ)])
		}
		if got := Name(true, uint8(typ)); got != want6[uint8(typ)] {
			t.Errorf("ICMPv6 type %d: %q, want %q", typ, got, want6[uint8(typ)])
		}
	}
}
