// Package icmp is rawnet's ICMP echo engine: it pings one host or many
// thousands over IPv4 and IPv6, through raw ICMP sockets (root or
// CAP_NET_RAW) or unprivileged ICMP datagram sockets, matches replies to
// probes safely across processes (kernel ICMP and BPF filters, echo id,
// sequence and a random per-run cookie in the payload), times them with the
// kernel's receive timestamps, ties ICMP error messages to the probe they
// quote, and keeps per-target statistics.
//
// The engine (Pinger) talks to sockets only through the small Conn
// interface, so that it runs over an in-memory fake in unit tests and over
// real sockets in the lab. The wire codec (echo messages, errors and
// their quoted datagram, which types are errors) lives in internal/icmpmsg,
// which trace, craft, capture and udp share.
package icmp
