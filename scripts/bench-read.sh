#!/usr/bin/env bash
# rawnet read against tcpdump -nn -r on the same file (make bench). Makes a
# 300,000+ packet pcap of mixed IPv4/IPv6 ICMP/UDP/TCP traffic in a throwaway
# lab (tcpdump on a router's link while ping floods, UDP probes, TCP
# ping-pong and ICMP/UDP/TCP traces cross it), then times both readers with
# their output to /dev/null, alternating, and prints the medians. The file
# is removed at the end (KEEP=path keeps a copy). Needs root.
#   RUNS=5 timed runs of each reader; FILE=path skips the lab and reads path.
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
runs=${RUNS:-5}
[ "$(id -u)" = 0 ] || [ -n "${FILE:-}" ] || { echo "bench-read needs root (network namespaces)" >&2; exit 1; }
work=$(mktemp -d /tmp/bench-read.XXXXXX)
name="rd$$"; name=${name:0:12}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${FILE:-}" ] || "$bin" lab down "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

make_file() {
  "$bin" lab up --name "$name" --routers 2 >/dev/null
  local src="rn-$name-src" r1="rn-$name-r1" dst="rn-$name-dst"
  local d4=198.18.2.2 d6=fd00:0:0:2::2
  # r1's interface on link 0 (towards src): every packet between src and
  # dst crosses it, as Ethernet frames.
  local ifc
  ifc=$(ip -n "$r1" -o -4 addr show | awk '$4 ~ /^198\.18\.0\./ {print $2}' | head -1)
  ip netns exec "$r1" tcpdump -i "$ifc" -s 262144 -B 131072 -w "$work/mixed.pcap" 2>"$work/tcpdump.err" &
  pids+=($!)
  for _ in $(seq 50); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
  ip netns exec "$dst" "$bin" udp serve :7 >/dev/null 2>&1 &
  pids+=($!)
  ip netns exec "$dst" sockperf sr --tcp -i 0.0.0.0 -p 11111 >/dev/null 2>&1 &
  pids+=($!)
  ip netns exec "$dst" sockperf sr --tcp -i "$d6" -p 11112 >/dev/null 2>&1 &
  pids+=($!)
  sleep 1
  local n=${PINGS:-40000}
  ip netns exec "$src" "$bin" ping -f -q -c "$n" -w 60 "$d4" >/dev/null
  ip netns exec "$src" "$bin" ping -f -q -c "$n" -w 60 "$d6" >/dev/null
  ip netns exec "$src" "$bin" udp probe -q --rate 0 -c "$n" "$d4:7" >/dev/null || true
  ip netns exec "$src" "$bin" udp probe -q --rate 0 -c "$n" "[$d6]:7" >/dev/null || true
  ip netns exec "$src" timeout 10 sockperf pp --tcp -i "$d4" -p 11111 -t 1 >/dev/null 2>&1 || true
  ip netns exec "$src" timeout 10 sockperf pp --tcp -i "$d6" -p 11112 -t 1 >/dev/null 2>&1 || true
  for _ in $(seq "${TRACES:-10}"); do
    for p in icmp udp tcp; do
      ip netns exec "$src" "$bin" trace -n -q 10 -m 4 -P "$p" "$d4" >/dev/null || true
      ip netns exec "$src" "$bin" trace -n -q 10 -m 4 -P "$p" "$d6" >/dev/null || true
    done
  done
  sleep 0.5
  kill -INT "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
}

if [ -n "${FILE:-}" ]; then
  file=$FILE
else
  make_file
  file="$work/mixed.pcap"
  [ -z "${KEEP:-}" ] || cp "$file" "$KEEP"
fi

count_tcpdump=$(tcpdump -nn -r "$file" 2>/dev/null | wc -l)
count_rawnet=$("$bin" read "$file" | wc -l)
echo "== reading $(du -h "$file" | cut -f1) with $count_tcpdump packets (tcpdump) / $count_rawnet (rawnet)"
"$bin" read --stats "$file" | sed -n 2p
[ "$count_tcpdump" = "$count_rawnet" ] || { echo "packet counts differ" >&2; exit 1; }
[ "$count_rawnet" -ge 300000 ] || echo "warning: fewer than 300,000 packets" >&2

: > "$work/pairs"
for ((i = 0; i < runs; i++)); do
  t0=$(now); tcpdump -nn -r "$file" >/dev/null 2>&1; t1=$(now)
  "$bin" read "$file" >/dev/null; t2=$(now)
  echo "$(echo "$t1 - $t0" | bc -l) $(echo "$t2 - $t1" | bc -l)" >> "$work/pairs"
done
a=$(awk '{print $1}' "$work/pairs" | median)
b=$(awk '{print $2}' "$work/pairs" | median)
printf 'tcpdump -nn -r   median %6.3f s  %9.0f packets/s\n' "$a" "$(echo "$count_tcpdump / $a" | bc -l)"
printf 'rawnet read      median %6.3f s  %9.0f packets/s\n' "$b" "$(echo "$count_rawnet / $b" | bc -l)"
printf 'rawnet / tcpdump wall time: %.3f (target: at most 0.3, issue 16), %d alternating runs\n' "$(echo "$b / $a" | bc -l)" "$runs"
