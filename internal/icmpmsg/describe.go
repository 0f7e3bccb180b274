package icmpmsg

import (
	"fmt"
	"net/netip"
)

// Describe returns the one-line text for an ICMP error, in the words ping
// users know ("Time to live exceeded", "Destination Host Unreachable").
func Describe(v6 bool, typ, code uint8, info uint32) string {
	if v6 {
		return describe6(typ, code, info)
	}
	return describe4(typ, code, info)
}

var unreach4 = [...]string{
	"Destination Net Unreachable", "Destination Host Unreachable",
	"Destination Protocol Unreachable", "Destination Port Unreachable",
	"Frag needed and DF set", "Source Route Failed",
	"Destination Net Unknown", "Destination Host Unknown",
	"Source Host Isolated", "Destination Net Prohibited",
	"Destination Host Prohibited", "Destination Net Unreachable for Type of Service",
	"Destination Host Unreachable for Type of Service", "Packet filtered",
	"Precedence Violation", "Precedence Cutoff",
}

func describe4(typ, code uint8, info uint32) string {
	switch typ {
	case TypeDestUnreachable4:
		if code == 4 {
			return fmt.Sprintf("Frag needed and DF set (mtu = %d)", info&0xffff)
		}
		return codeName(unreach4[:], code, "Destination Unreachable, Bad Code: %d")
	case TypeTimeExceeded4:
		if code == 1 {
			return "Frag reassembly time exceeded"
		}
		return "Time to live exceeded"
	case TypeParamProblem4:
		return fmt.Sprintf("Parameter problem: pointer = %d", info>>24)
	case TypeSourceQuench4:
		return "Source Quench"
	case TypeRedirect4:
		return fmt.Sprintf("Redirect (code %d, new nexthop %s)", code, netip.AddrFrom4([4]byte{byte(info >> 24), byte(info >> 16), byte(info >> 8), byte(info)}))
	}
	return fmt.Sprintf("ICMP type %d code %d", typ, code)
}

var unreach6 = [...]string{
	"Destination unreachable: No route", "Destination unreachable: Administratively prohibited",
	"Destination unreachable: Beyond scope of source address", "Destination unreachable: Address unreachable",
	"Destination unreachable: Port unreachable", "Destination unreachable: Source address failed ingress/egress policy",
	"Destination unreachable: Reject route to destination",
}

func describe6(typ, code uint8, info uint32) string {
	switch typ {
	case TypeDestUnreachable6:
		return codeName(unreach6[:], code, "Destination unreachable: code %d")
	case TypePacketTooBig6:
		return fmt.Sprintf("Packet too big: mtu=%d", info)
	case TypeTimeExceeded6:
		if code == 1 {
			return "Fragment reassembly time exceeded"
		}
		return "Time to live exceeded"
	case TypeParamProblem6:
		return fmt.Sprintf("Parameter problem: code %d, pointer = %d", code, info)
	}
	return fmt.Sprintf("ICMPv6 type %d code %d", typ, code)
}

// codeName is names[code], or unknown formatted with the code when the
// table has no such entry.
func codeName(names []string, code uint8, unknown string) string {
	if int(code) < len(names) {
		return names[code]
	}
	return fmt.Sprintf(unknown, code)
}
