package udp

import (
	"net/netip"

	"github.com/rawnet/rawnet/internal/icmpmsg"
)

// Reasons for the destination unreachable codes, by family.
var (
	unreachReasons4 = [...]string{0: "net-unreach", 1: "host-unreach", 2: "proto-unreach", 3: "port-unreach",
		9: "net-prohibited", 10: "host-prohibited", 13: "admin-prohibited"}
	unreachReasons6 = [...]string{0: "no-route", 1: "admin-prohibited", 2: "beyond-scope", 3: "addr-unreach", 4: "port-unreach",
		5: "policy-fail", 6: "reject-route"}
)

// classify reads an ICMP error about a probe: port unreachable means
// closed; the other destination unreachable codes mean something filters
// the port. ok is false for errors that say neither (time exceeded, ...).
func classify(v4 bool, typ, code uint8) (st PortState, reason string, ok bool) {
	if v4 {
		if typ != icmpmsg.TypeDestUnreachable4 {
			return 0, "", false
		}
		return unreachState(code == icmpmsg.CodePortUnreachable4, reasonOf(unreachReasons4[:], code))
	}
	if typ != icmpmsg.TypeDestUnreachable6 {
		return 0, "", false
	}
	return unreachState(code == icmpmsg.CodePortUnreachable6, reasonOf(unreachReasons6[:], code))
}

func reasonOf(names []string, code uint8) string {
	if int(code) < len(names) && names[code] != "" {
		return names[code]
	}
	return "unreachable"
}

func unreachState(port bool, name string) (PortState, string, bool) {
	if port {
		return Closed, name, true
	}
	return Filtered, name, true
}

func netipAddrPort(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }
