package udp

import "encoding/binary"

// Payload returns the datagram a port scan sends to port: a real request
// for the well-known services that only answer one (DNS 53, NTP 123,
// SNMP 161), so that they reply and show up as open, and an empty
// datagram elsewhere. The id makes requests tell apart (DNS and SNMP
// carry one).
func Payload(port uint16, id uint16) []byte {
	switch port {
	case 53:
		return DNSQuery(id)
	case 123:
		return NTPRequest()
	case 161:
		return SNMPGet(id)
	}
	return nil
}

// DNSQuery is a standard query (recursion desired) for the NS records of
// the root zone: every DNS server answers it, if only to refuse.
func DNSQuery(id uint16) []byte {
	b := make([]byte, 12, 17)
	binary.BigEndian.PutUint16(b[0:], id)
	binary.BigEndian.PutUint16(b[2:], 0x0100)  // QR=0 query, opcode 0, RD
	binary.BigEndian.PutUint16(b[4:], 1)       // one question, no records
	b = append(b, 0)                           // the root name
	b = binary.BigEndian.AppendUint16(b, 2)    // NS
	return binary.BigEndian.AppendUint16(b, 1) // IN
}

// NTPRequest is an NTPv4 client request (mode 3) with the other fields
// zero, as SNTP clients send it (RFC 4330).
func NTPRequest() []byte {
	b := make([]byte, 48)
	b[0] = 0<<6 | 4<<3 | 3 // leap 0, version 4, mode 3 (client)
	return b
}

// sysDescr0 is the OID 1.3.6.1.2.1.1.1.0 (SNMPv2-MIB::sysDescr.0) in BER.
var sysDescr0 = []byte{0x2b, 6, 1, 2, 1, 1, 1, 0}

// SNMPGet is an SNMPv2c GetRequest for sysDescr.0 with the community
// "public", which agents with a default setup answer.
func SNMPGet(id uint16) []byte {
	varbind := tlv(0x30, append(tlv(0x06, sysDescr0), 0x05, 0x00)) // OID, NULL
	pdu := tlv(0x02, []byte{0, 0, byte(id >> 8), byte(id)})        // request-id
	pdu = append(pdu, tlv(0x02, []byte{0})...)                     // error-status
	pdu = append(pdu, tlv(0x02, []byte{0})...)                     // error-index
	pdu = append(pdu, tlv(0x30, varbind)...)                       // variable bindings
	msg := tlv(0x02, []byte{1})                                    // version: 1 is v2c
	msg = append(msg, tlv(0x04, []byte("public"))...)
	msg = append(msg, tlv(0xa0, pdu)...) // GetRequest-PDU
	return tlv(0x30, msg)
}

// tlv encodes one BER element with a short-form length (under 128 bytes,
// all these requests need).
func tlv(tag byte, value []byte) []byte {
	return append([]byte{tag, byte(len(value))}, value...)
}
