#!/usr/bin/env bash
# make demo: build a throwaway lab network in namespaces, run rawnet's main
# jobs against it, and remove it again (also on Ctrl-C or failure).
# Every packet stays inside the lab: 198.18.0.0/15 and fd00::/8.
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
if [ "$(id -u)" != 0 ]; then
  echo "make demo needs root: it creates network namespaces (sudo make demo)" >&2
  exit 1
fi
name="demo$$"
name=${name:0:12}
trap '"$bin" lab down "$name" >/dev/null 2>&1 || true' EXIT INT TERM
out=$(mktemp -d)

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }
in_src() { ip netns exec "rn-$name-src" "$@"; }

step "A lab: src, three routers (the second doubled: an ECMP diamond), dst (which answers all of 198.19.0.0/22), a host that answers after 25ms" \
  "rawnet lab up --name $name --routers 3 --diamond --delay 25ms --blackhole 198.19.0.200"
"$bin" lab up --name "$name" --routers 3 --diamond --delay 25ms --blackhole 198.19.0.200

step "Ping through three routers (TTL 64 - 3 = 61)" "rawnet ping -c 3 -i 0.2 198.18.3.2"
in_src "$bin" ping -c 3 -i 0.2 198.18.3.2

step "IPv6, the same path" "rawnet ping -c 3 -i 0.2 fd00:0:0:3::2"
in_src "$bin" ping -c 3 -i 0.2 fd00:0:0:3::2

step "A delayed host: RTT from kernel timestamps" "rawnet ping -c 3 -i 0.2 198.18.100.2"
in_src "$bin" ping -c 3 -i 0.2 198.18.100.2

step "TTL 2 expires at the second router" "rawnet ping -c 2 -i 0.2 -t 2 198.18.3.2"
in_src "$bin" ping -c 2 -i 0.2 -t 2 198.18.3.2 || true

step "No route: the first router says so" "rawnet ping -c 1 -W 1 198.18.200.1"
in_src "$bin" ping -c 1 -W 1 198.18.200.1 || true

step "Sweep a /22 (1,024 hosts; one never answers), summary only" "rawnet ping -q 198.19.0.0/22"
in_src "$bin" ping -q 198.19.0.0/22 || true

step "Flood ping, 20,000 round trips" "rawnet ping -f -q -c 20000 198.18.3.2"
in_src "$bin" ping -f -q -c 20000 198.18.3.2

step "JSON Lines for scripts" "rawnet ping --json -c 2 -i 0.2 198.18.3.2"
in_src "$bin" ping --json -c 2 -i 0.2 198.18.3.2

step "A pcap of every probe and reply, read back by tcpdump" \
  "rawnet ping -q -c 2 -i 0.2 --write $out/ping.pcap fd00:0:0:3::2 && tcpdump -nn -r $out/ping.pcap"
in_src "$bin" ping -q -c 2 -i 0.2 --write "$out/ping.pcap" fd00:0:0:3::2
if command -v tcpdump >/dev/null; then tcpdump -nn -r "$out/ping.pcap" 2>/dev/null; fi

step "Trace the path: UDP probes, Paris flow (one flow, one path through the diamond)" "rawnet trace -n 198.18.3.2"
in_src "$bin" trace -n 198.18.3.2

step "TCP SYN probes over IPv6" "rawnet trace -n -P tcp fd00:0:0:3::2"
in_src "$bin" trace -n -P tcp fd00:0:0:3::2

step "Multipath discovery: both branches of the diamond, and the links" "rawnet trace -n --multipath 198.18.3.2"
in_src "$bin" trace -n --multipath 198.18.3.2

step "mtr-style report, 20 cycles of ICMP probes, to the host that answers after 25ms" "rawnet trace -n -P icmp --report -c 20 -i 0.05 198.18.100.2"
in_src "$bin" trace -n -P icmp --report -c 20 -i 0.05 198.18.100.2 || true

step "Removing the lab" "rawnet lab down $name"
"$bin" lab down "$name"
trap - EXIT INT TERM
rm -rf "$out"
