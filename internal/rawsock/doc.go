// Package rawsock is rawnet's one socket layer: a Conn over a socket's
// file descriptor in the manner of mdlayher/socket, reached only through
// its syscall.RawConn, but allocation-free per packet. It covers what the
// ping, trace, send and udp engines need from a socket:
//
//   - opening a socket with its options set before Go's poller sees it
//     (Open and Config.Setup);
//   - recvmsg and recvmmsg with control messages, the error queue read
//     when the normal queue is empty, and sendmsg and sendmmsg, all over
//     caller-owned msghdrs, with method values made once;
//   - one blocking-read mode (Config.Blocking) with one deadline and one
//     close behaviour: the thread waits in the kernel in slices, so that a
//     read deadline holds to the microsecond and Close is noticed within a
//     slice;
//   - one source-address lookup (Router) and one zone policy for IPv6
//     link-local destinations (ScopeID);
//   - classic BPF attach and the drain that follows a reject-all filter;
//   - the socket helpers every package wrote its own copy of (kernel
//     timestamps, buffer sizes, Htons, sockaddr encoding).
//
// Control messages are parsed by internal/cmsg; wire codecs stay in
// internal/inet. capture's TPACKET ring keeps its own conn (it reads a
// memory-mapped ring, not messages) but uses the filter and byte-order
// helpers here.
package rawsock
