package capture

import "strconv"

// NTP, DHCPv4 (BOOTP) and DHCPv6 as tcpdump -nn prints them on one line
// (print-ntp.c, print-bootp.c, print-dhcp6.c without -v): the version and
// mode, the message type and client, the message type.

var ntpModes = [8]string{"unspecified", "symmetric active", "symmetric passive", "Client", "Server", "Broadcast", "Control Message", "Reserved"}

// appendNTP writes "NTPv4, Client, length 48".
func appendNTP(b []byte, data []byte, length int) []byte {
	if len(data) < 1 {
		return append(b, " [|ntp]"...)
	}
	b = append(b, "NTPv"...)
	b = strconv.AppendUint(b, uint64(data[0]>>3&7), 10)
	b = append(b, ", "...)
	b = append(b, ntpModes[data[0]&7]...)
	b = append(b, ", length "...)
	return strconv.AppendInt(b, int64(length), 10)
}

// appendBOOTP writes "BOOTP/DHCP, Request from 02:00:00:00:00:0a, length 300".
func appendBOOTP(b []byte, data []byte, length int) []byte {
	if len(data) < 1 {
		return append(b, " [|bootp]"...)
	}
	b = append(b, "BOOTP/DHCP, "...)
	switch op := data[0]; op {
	case 1:
		b = append(b, "Request"...)
	case 2:
		b = append(b, "Reply"...)
	default:
		b = append(b, "unknown (0x"...)
		b = append(b, hexDigits[op>>4], hexDigits[op&15])
		b = append(b, ')')
	}
	if len(data) < 3 {
		return append(b, " [|bootp]"...)
	}
	if data[1] == 1 && data[2] == 6 && data[0] == 1 {
		if len(data) < 28+6 {
			return append(b, " [|bootp]"...)
		}
		b = append(b, " from "...)
		b = appendMAC(b, data[28:34])
	}
	b = append(b, ", length "...)
	return strconv.AppendInt(b, int64(length), 10)
}

var dhcp6Types = [...]string{1: "solicit", 2: "advertise", 3: "request", 4: "confirm", 5: "renew", 6: "rebind", 7: "reply",
	8: "release", 9: "decline", 10: "reconfigure", 11: "inf-req", 12: "relay-fwd", 13: "relay-reply", 14: "leasequery", 15: "leasequery-reply"}

// appendDHCPv6 writes "dhcp6 solicit".
func appendDHCPv6(b []byte, data []byte) []byte {
	b = append(b, "dhcp6"...)
	if len(data) < 4 {
		return append(b, " [|dhcp6]"...)
	}
	b = append(b, ' ')
	if t := int(data[0]); t < len(dhcp6Types) && dhcp6Types[t] != "" {
		return append(b, dhcp6Types[t]...)
	}
	b = append(b, "msgtype-"...)
	return strconv.AppendUint(b, uint64(data[0]), 10)
}
