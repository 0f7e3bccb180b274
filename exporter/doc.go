// Package exporter is rawnet's continuous prober for Prometheus: it reads a
// YAML file of probe groups, runs each group as a Runner on rawnet's engines
// (icmp, trace, udp) over sockets opened once at start, counts what happens
// into metric series that survive reloads, and serves them over HTTP with
// prometheus/client_golang, together with blackbox-style on-scrape probing
// (/probe). The command that runs it is `rawnet exporter`.
//
// The pieces and who owns them:
//
//   - config*.go: the file format (Config, TargetGroup, TraceGroup,
//     Module), parsed from the YAML syntax tree so that every error names
//     the file, line and field.
//   - runner.go: the Runner interface and the per-protocol builders; a
//     protocol registers itself with RegisterProtocol (targets: groups) or
//     RegisterTraceBuilder (traces: groups) from its own file.
//   - sockets.go: the socket pool. Sockets are opened while building the
//     first set of runners, before capabilities are dropped; after Seal a
//     reload can only reuse them.
//   - store.go: metric series keyed by their labels, kept across reloads so
//     that counters do not reset when a group is rebuilt.
//   - exporter.go: start, reload (build new runners, swap them in, stop the
//     old ones) and the exporter's own health metrics.
package exporter
