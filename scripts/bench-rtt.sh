#!/usr/bin/env bash
# Per-probe RTT error against the wire (make bench; issue 15 part 1).
# A throwaway lab: src - r1 - dst, and node slow behind r1 whose echo
# replies come from a user-space responder after DELAY (default 5ms). For
# each tool, RUNS alternating runs of N probes (default 3 x 50), each with
# tcpdump on src's link writing nanosecond stamps (not in immediate mode:
# waking tcpdump per packet sits on the send path). scripts/rtterr pairs
# every request with its reply in the capture and prints the tool's RTT
# minus the wire's; this prints the median and p90 of |error| per tool,
# with the ts_source values rawnet reported. Every packet stays in the
# lab's namespaces. Needs root.
#
# iputils ping prints 3 significant digits: at 5 ms its RTTs are rounded
# to 10 µs, which adds up to 5 µs to its errors.
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
runs=${RUNS:-3}
n=${N:-50}
delay=${DELAY:-5ms}
[ "$(id -u)" = 0 ] || { echo "bench-rtt needs root (network namespaces)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/wire-rtt.sh
. "$here/wire-rtt.sh"
tmp=$(mktemp -d)
lab="br$$"; lab=${lab:0:10}
src="rn-$lab-src" dst="rn-$lab-dst"
srvpid=""
cleanup() {
  [ -n "$srvpid" ] && kill "$srvpid" 2>/dev/null || true
  "$bin" lab down "$lab" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
(cd "$here/.." && go build -o "$tmp/rtterr" ./scripts/rtterr)
"$bin" lab up --name "$lab" --routers 1 --delay "$delay" --ping-group >/dev/null
ifc=$(ip -n "$src" -o link show | awk -F': ' '$2 != "lo" {sub(/@.*/, "", $2); print $2; exit}')
slow4=198.18.100.2 slow6=fd00:0:0:100::2
dst4=$(ip -n "$dst" -4 -o addr show scope global | awk '{sub(/\/.*/, "", $4); print $4; exit}')
dst6=$(ip -n "$dst" -6 -o addr show scope global | awk '{sub(/\/.*/, "", $4); print $4; exit}')
ip netns exec "$dst" "$bin" udp serve --duration 3600 :7007 >/dev/null 2>&1 &
srvpid=$!
sleep 0.5

i=0.02 # 20 ms between probes
configs=(
  "iputils ping v4|iputils|0|icmp|ping -c $n -i $i $slow4"
  "rawnet ping raw v4|ping|0|icmp|$bin ping --json --socket raw -c $n -i $i $slow4"
  "rawnet ping raw v4, RAWNET_TXSTAMPS=off|ping|0|icmp|env RAWNET_TXSTAMPS=off $bin ping --json --socket raw -c $n -i $i $slow4"
  "rawnet ping datagram v4|ping|0|icmp|$bin ping --json --socket datagram -c $n -i $i $slow4"
  "iputils ping v6|iputils|1|icmp6|ping -6 -c $n -i $i $slow6"
  "rawnet ping raw v6|ping|1|icmp6|$bin ping --json --socket raw -c $n -i $i $slow6"
  "rawnet ping datagram v6|ping|1|icmp6|$bin ping --json --socket datagram -c $n -i $i $slow6"
  "rawnet trace -P icmp v4|trace|0|icmp|$bin trace --json -n -P icmp -q 10 $slow4"
  "rawnet trace -P icmp v6|trace|1|icmp6|$bin trace --json -n -P icmp -q 10 $slow6"
  "rawnet udp probe v4|udp|0|udp port 7007|$bin udp probe --json -c $n --rate 50 $dst4:7007"
  "rawnet udp probe v6|udp|1|udp port 7007|$bin udp probe --json -c $n --rate 50 [$dst6]:7007"
  "rawnet udp probe v4, RAWNET_TXSTAMPS=off|udp|0|udp port 7007|env RAWNET_TXSTAMPS=off $bin udp probe --json -c $n --rate 50 $dst4:7007"
  "rawnet send --wait v4|send|0|icmp|$bin send --json --rate 50 --wait 1 ip(dst=$slow4)/icmp(id=4242,seq=1..$n)"
  "rawnet send --wait v6|send|1|icmp6|$bin send --json --rate 50 --wait 1 ip6(dst=$slow6)/icmp6(id=4242,seq=1..$n)"
)

echo "== RTT error against the wire: $runs alternating runs x $n probes per tool, responder delay $delay"
echo "   load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) on $(nproc) cores"
for ((r = 0; r < runs; r++)); do
  for k in "${!configs[@]}"; do
    IFS='|' read -r label tool v6 bpf cmd <<< "${configs[$k]}"
    # shellcheck disable=SC2086
    wire_run "$src" "$ifc" "$bpf" ip netns exec "$src" $cmd
    flags=(-pcap "$tmp/wire.pcap" -tool "$tool" -out "$tmp/out" -port 7007)
    [ "$v6" = 1 ] && flags+=(-v6)
    "$tmp/rtterr" "${flags[@]}" >> "$tmp/err.$k"
  done
done

for k in "${!configs[@]}"; do
  IFS='|' read -r label _ <<< "${configs[$k]}"
  rtterr_summary 42 "$label" "$tmp/err.$k"
done
