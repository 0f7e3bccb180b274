#!/usr/bin/env bash
# ARP ping RTT error against the wire (issue 13): rawnet ping -P arp
# against arping (Thomas Habets' 2.23, Debian's arping) on one lab link,
# src - dst. For each tool, RUNS alternating runs of N who-has requests
# 20 ms apart, each with tcpdump on src's link writing nanosecond stamps;
# scripts/rtterr -arp pairs the k-th request on the wire with the reply
# after it and prints the tool's RTT minus the wire's; this prints the
# median and p90 of |error| per tool. Every packet stays in the lab's
# namespaces. Needs root.
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
runs=${RUNS:-3}
n=${N:-50}
[ "$(id -u)" = 0 ] || { echo "bench-arp needs root (network namespaces)" >&2; exit 1; }
command -v arping >/dev/null || { echo "bench-arp needs arping (apt-get install arping)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/wire-rtt.sh
. "$here/wire-rtt.sh"
tmp=$(mktemp -d)
lab="ba$$"; lab=${lab:0:10}
src="rn-$lab-src"
cleanup() {
  "$bin" lab down "$lab" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
(cd "$here/.." && go build -o "$tmp/rtterr" ./scripts/rtterr)
"$bin" lab up --name "$lab" --routers 0 >/dev/null
ifc=$(ip -n "$src" -o link show | awk -F': ' '$2 != "lo" {sub(/@.*/, "", $2); print $2; exit}')
dst4=198.18.0.2

configs=(
  "arping 2.23 (Habets)|arping|arping -c $n -W 0.02 -i $ifc $dst4"
  "rawnet ping -P arp|ping|$bin ping -P arp --json -c $n -i 0.02 -I $ifc $dst4"
  "rawnet ping -P arp, RAWNET_TXSTAMPS=off|ping|env RAWNET_TXSTAMPS=off $bin ping -P arp --json -c $n -i 0.02 -I $ifc $dst4"
)

echo "== ARP RTT error against the wire: $runs alternating runs x $n requests per tool"
echo "   load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) on $(nproc) cores"
for ((r = 0; r < runs; r++)); do
  for k in "${!configs[@]}"; do
    IFS='|' read -r label tool cmd <<< "${configs[$k]}"
    # shellcheck disable=SC2086
    wire_run "$src" "$ifc" arp ip netns exec "$src" $cmd
    "$tmp/rtterr" -arp -pcap "$tmp/wire.pcap" -tool "$tool" -out "$tmp/out" >> "$tmp/err.$k"
  done
done

for k in "${!configs[@]}"; do
  IFS='|' read -r label _ <<< "${configs[$k]}"
  rtterr_summary 42 "$label" "$tmp/err.$k"
done
