// Package stats holds the small accumulators rawnet reports from: ping-style
// round-trip summaries (min/avg/max/mdev), percentiles over a bounded sample
// set, and RFC 3550 interarrival jitter.
//
// None of the types is safe for concurrent use: give each target or flow its
// own value, or guard it with a mutex. Adding a sample never allocates.
package stats
