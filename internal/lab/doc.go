// Package lab builds real networks on one machine, for tests and demos: a
// chain of network namespaces (src, routers r1..rN, dst) joined by veth
// pairs, with IPv4 and IPv6 routing, nftables rules for loss, silent routers
// and blackholed addresses, and a user-space responder that answers echo
// requests after a set delay (these kernels have no netem).
//
// Every lab uses only 198.18.0.0/15 and fd00::/8, inside namespaces named
// rn-<lab>-<node>, so labs never reach the outside world and several labs
// can run side by side. Up removes everything it created when it fails;
// Lab.Close removes the lab and is safe to call twice.
//
// The topology is a general graph of nodes, point-to-point links and owned
// prefixes; routes are computed by shortest path with equal-cost next hops
// kept (ECMP). The chain is one builder on top of that graph; Spec.Diamond
// makes it an ECMP diamond (router 2 doubled, multipath hashed on L4).
//
// Building a lab needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW) and
// the ip (iproute2) and nft (nftables) commands. Tests use package labtest,
// which skips without privilege (and fails instead when CI=true).
package lab
