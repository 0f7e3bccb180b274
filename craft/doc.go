// Package craft turns a packet spec such as
//
//	ip(dst=198.18.5.2,ttl=1..3,df)/udp(dport=53,80)/raw(hex=deadbeef)
//
// into packet bytes and sends them fast.
//
// A spec stacks layers outermost first, separated by '/'. Each layer names
// fields with values; a field left out is filled in correctly (lengths,
// checksums, protocol numbers, next headers, source addresses), and a field
// given is written exactly as given, so broken packets can be made on
// purpose. Values may be lists and ranges (ttl=1..5, dport=53,80,443) and
// rand: a spec expands to one packet per combination of its values.
//
// The serializer is rawnet's own rather than gopacket's: gopacket's
// SerializeOptions fix every length and checksum or none, while a spec must
// be able to leave one checksum wrong and compute all the others; and
// writing into a caller's buffer allocates nothing per packet. gopacket is
// used to cross-check the bytes in tests.
//
// Senders (Linux): IPv4 through an IPPROTO_RAW socket, IPv6 through
// IPV6_HDRINCL, and whole frames through AF_PACKET when the spec starts with
// eth, when asked to, or when the kernel would rewrite a field the spec set
// (the IPv4 total length or header checksum). Sends are batched with
// sendmmsg and paced per tick.
package craft
