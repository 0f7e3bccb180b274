#!/usr/bin/env bash
# Live capture speed: rawnet capture -w against tcpdump -w, side by side
# (make bench). In a throwaway lab (src and dst on one veth link), a
# sendmmsg loop (scripts/udpblast) sends COUNT 64-byte UDP datagrams at
# RATE per second from src to dst, where an nftables ingress rule drops
# them after the capture point (so no ICMP comes back). The two tools
# capture on dst's interface in turn, alternating runs, each with the same
# kernel buffer (-B); each run reports packets captured, received by
# filter, dropped by kernel, packets in the file (capinfos) and the CPU
# time (user+sys, /usr/bin/time) of the capture process. Every packet stays
# in the lab's namespaces. Needs root.
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
runs=${RUNS:-3}
count=${COUNT:-900000}
rate=${RATE:-300000}
bufkib=${BUFKIB:-16384}
[ "$(id -u)" = 0 ] || { echo "bench-capture needs root (network namespaces)" >&2; exit 1; }
for tool in tcpdump capinfos /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench-capture needs $tool" >&2; exit 1; }
done
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
name="bcap$$"; name=${name:0:12}
cleanup() { "$bin" lab down "$name" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
(cd "$here" && go build -o "$work/udpblast" ./scripts/udpblast)
"$bin" lab up --name "$name" --routers 0 --prefix4 none --prefix6 none >/dev/null
src() { ip netns exec "rn-$name-src" "$@"; }
dst() { ip netns exec "rn-$name-dst" "$@"; }
dst nft -f - <<NFT
table netdev bench {
  chain in { type filter hook ingress device "to-src" priority 0; udp dport 9 drop; }
}
NFT

# run LABEL CMD...: one capture of the blast; appends
# "LABEL captured received dropped infile cpu" to $work/results.
run() {
  local label=$1; shift
  rm -f "$work/cap.pcap"
  # ip netns exec becomes /usr/bin/time, whose child is the capture.
  ip netns exec "rn-$name-dst" /usr/bin/time -f "%U %S" -o "$work/time" "$@" 2>"$work/err" &
  local tp=$! i
  for ((i = 0; i < 100; i++)); do # until it listens (10 s at most)
    grep -q "listening on" "$work/err" 2>/dev/null && break
    sleep 0.1
  done
  src "$work/udpblast" -n "$count" -rate "$rate" -size 64 198.18.0.2:9 >"$work/sent"
  sleep 0.5 # the last, partly filled ring block is handed over
  kill -INT "$(pgrep -P "$tp")" # the capture; time ignores SIGINT
  wait "$tp" || true
  local cap rec drop infile cpu
  cap=$(awk '/packets captured/ {print $1}' "$work/err")
  rec=$(awk '/packets received by filter/ {print $1}' "$work/err")
  drop=$(awk '/packets dropped by kernel/ {print $1}' "$work/err")
  infile=$(capinfos -c -M "$work/cap.pcap" | awk '/Number of packets/ {print $NF}')
  cpu=$(awk '{printf "%.2f", $1 + $2}' "$work/time")
  printf '%-8s %s | captured %8s  received %8s  dropped %6s  in file %8s  cpu %5s s\n' \
    "$label" "$(cat "$work/sent")" "$cap" "$rec" "$drop" "$infile" "$cpu"
  echo "$label $cap $rec $drop $infile $cpu" >>"$work/results"
}

echo "== live capture of $count UDP datagrams at $rate/s across a veth link, -B $bufkib KiB, $runs runs each (alternating)"
: >"$work/results"
for ((r = 0; r < runs; r++)); do
  run tcpdump tcpdump -n -B "$bufkib" -i to-src -w "$work/cap.pcap"
  run rawnet "$bin" capture -B "$bufkib" -i to-src -w "$work/cap.pcap"
done
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
for tool in tcpdump rawnet; do
  printf '%-8s median cpu %s s, total kernel drops %s, median captured %s\n' "$tool" \
    "$(awk -v t=$tool '$1 == t {print $6}' "$work/results" | median)" \
    "$(awk -v t=$tool '$1 == t {s += $4} END {print s}' "$work/results")" \
    "$(awk -v t=$tool '$1 == t {print $2}' "$work/results" | median)"
done
