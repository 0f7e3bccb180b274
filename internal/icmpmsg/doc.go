// Package icmpmsg is rawnet's ICMP and ICMPv6 codec: pure functions over
// byte slices that parse and encode messages, in the manner of
// golang.org/x/net/icmp (a file per message kind), but allocation-free on
// the parse paths the engines run per packet. It never opens a socket.
//
// class.go holds the one classification of message types (echo request
// and reply, error, query and query reply, informational; per family)
// that every rawnet package uses; echo.go the echo messages and the probe
// fields rawnet writes into their payload; error.go the error messages
// with the datagram they quote; extension.go the RFC 4884 extension
// structure and its RFC 4950 MPLS label stack; query.go the ICMPv4
// timestamp and address mask queries; nd.go the ICMPv6 neighbour
// solicitations and advertisements and their link-layer address options;
// describe.go the words ping prints for an error.
package icmpmsg
