// Package stats holds the small accumulators rawnet reports from: ping-style
// round-trip summaries (min/avg/max/mdev), percentiles over a bounded sample
// set, RFC 3550 interarrival jitter and loss percentages. It is public
// because the results of the icmp, trace, udp and capture packages hold its
// types (icmp.TargetStats.RTT, udp's Jitter and Samples, ...): programs using
// those engines read them through the methods here.
//
// None of the types is safe for concurrent use: give each target or flow its
// own value, or guard it with a mutex. Adding a sample never allocates.
package stats
