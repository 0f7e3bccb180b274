// Package icmp is rawnet's ping engine: it pings one host or many
// thousands over IPv4 and IPv6, through raw ICMP sockets (root or
// CAP_NET_RAW) or unprivileged ICMP datagram sockets, matches replies to
// probes safely across processes (kernel ICMP and BPF filters, echo id,
// sequence and a random per-run cookie in the payload), times them with the
// kernel's receive timestamps, ties ICMP error messages to the probe they
// quote, and keeps per-target statistics.
//
// ICMP echo is the engine's default probe kind; others (TCP SYN, UDP, and
// ARP/NDP on the local link) plug in through the small Kind interface
// (kind.go), each with its Conn from Listen, and get scheduling, timeouts,
// statistics, events, taps and transmit stamps from the engine unchanged.
// The package keeps its name: renaming it (to ping) would change the
// import path and every exported name users and the exporter build on, for
// no behaviour; "icmp" stays true of its default kind and of the ICMP
// errors every kind reports.
//
// The engine (Pinger) talks to sockets only through the small Conn
// interface, so that it runs over an in-memory fake in unit tests and over
// real sockets in the lab. The wire codec (echo messages, errors and
// their quoted datagram, which types are errors) lives in internal/icmpmsg,
// which trace, craft, capture and udp share.
package icmp
