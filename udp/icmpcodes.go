package udp

import "net/netip"

// classify reads an ICMP error about a probe: port unreachable means
// closed; the other destination unreachable codes mean something filters
// the port. ok is false for errors that say neither (time exceeded, ...).
func classify(v4 bool, typ, code uint8) (st PortState, reason string, ok bool) {
	if v4 {
		if typ != 3 {
			return 0, "", false
		}
		names := map[uint8]string{0: "net-unreach", 1: "host-unreach", 2: "proto-unreach", 3: "port-unreach",
			9: "net-prohibited", 10: "host-prohibited", 13: "admin-prohibited"}
		return unreachState(code == 3, names[code])
	}
	if typ != 1 {
		return 0, "", false
	}
	names := map[uint8]string{0: "no-route", 1: "admin-prohibited", 2: "beyond-scope", 3: "addr-unreach", 4: "port-unreach",
		5: "policy-fail", 6: "reject-route"}
	return unreachState(code == 4, names[code])
}

func unreachState(port bool, name string) (PortState, string, bool) {
	if name == "" {
		name = "unreachable"
	}
	if port {
		return Closed, name, true
	}
	return Filtered, name, true
}

func netipAddrPort(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }
