// Package udp holds rawnet's connectionless-socket tools: an echo, sink
// and reflector server (Server) that many clients use at once, a probe
// client (Probe) that measures loss, duplicates, reordering, round-trip
// times, percentiles and RFC 3550 jitter (with a reflector, the server's
// own time removed and the one-way split), and a UDP port scanner (Scan)
// that tells open, closed and open|filtered ports apart and paces itself
// by the target's ICMP rate limit.
//
// The engines talk to sockets only through the small Conn interface
// (batched reads and writes of Messages), so that each runs over an
// in-memory fake in unit tests and over real sockets in the lab. The real
// socket (Listen, Dial) uses recvmmsg/sendmmsg on preallocated buffers and
// kernel receive timestamps, and allocates nothing per datagram. Wire
// codecs (wire.go, payloads.go, ports.go) are pure functions over bytes.
//
// Like the other engines, each has a Config whose zero value means
// sensible defaults and a Run(ctx, sink) method that reports typed events
// to sink and returns a typed summary; nothing here prints.
package udp
