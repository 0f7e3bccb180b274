// Package cmsg parses the control messages (ancillary data) that Linux
// hands over with a received packet: kernel receive timestamps
// (SO_TIMESTAMPNS), TTL / hop limit, TOS / traffic class, the destination
// address and interface (IP_PKTINFO, IPV6_PKTINFO), and extended errors
// from a socket's error queue (IP_RECVERR, IPV6_RECVERR). Parsing fills a
// caller-owned Meta and allocates nothing.
package cmsg
