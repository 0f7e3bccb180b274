#!/usr/bin/env bash
# rawnet side by side with the peer tools, in a throwaway lab (make bench).
# Every packet stays in the lab's namespaces. Needs root.
#   flood:  ping -f -c 50000 (iputils)  vs  rawnet ping -f -c 50000
#   sweep:  nmap -sn --min-rate 5000, fping -g  vs  rawnet ping of a /22
#   udp echo server: round trips/s of sockperf's server vs rawnet udp serve,
#           both driven by the same batched client (rawnet udp probe --rate 0)
#   udp RTT: sockperf ping-pong median vs rawnet udp probe median (same server)
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
runs=${RUNS:-5}
flood=${FLOOD:-50000}
[ "$(id -u)" = 0 ] || { echo "bench-peers needs root (network namespaces)" >&2; exit 1; }
name="bench$$"; name=${name:0:12}
trap '"$bin" lab down "$name" >/dev/null 2>&1 || true' EXIT INT TERM
"$bin" lab up --name "$name" --routers 1 --prefix4 198.19.0.0/22 >/dev/null
src() { ip netns exec "rn-$name-src" "$@"; }
dst=198.18.1.2

now() { date +%s.%N; }
# wall SECONDS of a command (its output to /dev/null)
wall() { local t0; t0=$(now); "$@" >/dev/null 2>&1 || true; echo "$(now) - $t0" | bc -l; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "== flood ping, $flood round trips to a host one router away, $runs runs each"
# Runs alternate, so that drifting machine load hits both alike; the ratio
# is the geometric mean of the per-pair ratios of wall time.
: > "/tmp/$name.pairs"
for ((i = 0; i < runs; i++)); do
  a=$(wall src ping -f -q -c "$flood" "$dst")
  b=$(wall src "$bin" ping -f -q -c "$flood" "$dst")
  echo "$a $b" >> "/tmp/$name.pairs"
done
for col in 1 2; do
  m=$(awk -v c=$col '{print $c}' "/tmp/$name.pairs" | median)
  tool=$([ $col = 1 ] && echo iputils || echo rawnet)
  printf '%-8s median %7.3f s  %9.0f round trips/s\n' "$tool" "$m" "$(echo "$flood / $m" | bc -l)"
done
awk '{r += log($1 / $2); n++} END {printf "rawnet round trips/s relative to iputils (geometric mean of %d pairs): %.3f\n", n, exp(r / n)}' "/tmp/$name.pairs"
echo
echo "== sweep of 198.19.0.0/22 (1024 live addresses), $runs runs each (median wall time)"
alive() { "$@" 2>&1 | tr -d '\r'; }
printf 'hosts up: nmap %s, fping %s, rawnet %s\n' \
  "$(src nmap -sn -n --min-rate 5000 198.19.0.0/22 | grep -o '[0-9]* hosts up' | cut -d' ' -f1)" \
  "$(src fping -a -q -i 1 -g 198.19.0.0/22 2>/dev/null | wc -l)" \
  "$(src "$bin" ping --json -q 198.19.0.0/22 | grep '"type":"total"' | grep -o '"alive":[0-9]*' | cut -d: -f2)"
declare -A cmds=(
  ["nmap -sn -n --min-rate 5000"]="nmap -sn -n --min-rate 5000 198.19.0.0/22"
  ["fping -g (defaults)"]="fping -q -g 198.19.0.0/22"
  ["fping -g -i 1"]="fping -q -i 1 -g 198.19.0.0/22"
  ["rawnet ping (default 20000/s)"]="$bin ping -q 198.19.0.0/22"
  ["rawnet ping --rate 5000"]="$bin ping -q --rate 5000 198.19.0.0/22"
)
for label in "nmap -sn -n --min-rate 5000" "fping -g (defaults)" "fping -g -i 1" "rawnet ping (default 20000/s)" "rawnet ping --rate 5000"; do
  : > "/tmp/$name.sweep"
  for ((i = 0; i < runs; i++)); do
    # shellcheck disable=SC2086
    wall src ${cmds[$label]} >> "/tmp/$name.sweep"
  done
  printf '%-30s %7.3f s\n' "$label" "$(median < "/tmp/$name.sweep")"
done

echo
udp_runs=${UDP_RUNS:-5}
udp_n=${UDP_N:-200000}
dstns="rn-$name-dst"
echo "== UDP echo server: $udp_n round trips from src, 64 in flight, 72-byte datagrams, $udp_runs alternating pairs"
# The same client drives both servers: rawnet udp probe --rate 0 with
# sockperf's 14-byte header in front (--sockperf), which sockperf's server
# answers and rawnet's echo server returns unchanged. Both servers listen
# on an IPv4 socket bound to 0.0.0.0.
ip netns exec "$dstns" sockperf sr -i 0.0.0.0 -p 11111 >/dev/null 2>&1 &
sp=$!
ip netns exec "$dstns" "$bin" udp serve 0.0.0.0:11112 >/dev/null 2>&1 &
rs=$!
ip netns exec "$dstns" "$bin" udp serve --mode reflect 0.0.0.0:11113 >/dev/null 2>&1 &
rr=$!
trap 'kill $sp $rs $rr 2>/dev/null; "$bin" lab down "$name" >/dev/null 2>&1 || true' EXIT INT TERM
sleep 1
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# "round trips/s server-CPU-µs-per-round-trip" of one run against port $1,
# server pid $2 (ip netns exec execs the server: $! is its pid)
rtps() {
  local t0 t1 out
  t0=$(cputicks "$2")
  out=$(src "$bin" udp probe --sockperf --json -q --rate 0 --window 64 -c "$udp_n" -s 72 "$dst:$1")
  t1=$(cputicks "$2")
  echo "$out" | awk -F'"time_ms":' -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$udp_n" '/"type":"summary"/ {
    split($2, a, ","); split($0, r, "\"received\":"); split(r[2], b, ",")
    printf "%.0f %.2f\n", b[1] / (a[1] / 1000), ticks / hz * 1e6 / n }'
}
: > "/tmp/$name.udp"
for ((i = 0; i < udp_runs; i++)); do
  if ((i % 2)); then b=$(rtps 11112 $rs); a=$(rtps 11111 $sp); else a=$(rtps 11111 $sp); b=$(rtps 11112 $rs); fi
  echo "$a $b" >> "/tmp/$name.udp"
done
for col in 1 3; do
  m=$(awk -v c=$col '{print $c}' "/tmp/$name.udp" | median)
  cpu=$(awk -v c=$((col + 1)) '{print $c}' "/tmp/$name.udp" | median)
  printf '%-16s median %9.0f round trips/s, server CPU %.2f us per round trip\n' "$([ $col = 1 ] && echo "sockperf sr" || echo "rawnet serve")" "$m" "$cpu"
done
awk '{r += log($3 / $1); n++} END {printf "rawnet serve relative to sockperf sr (geometric mean of %d pairs): %.3f\n", n, exp(r / n)}' "/tmp/$name.udp"

echo
echo "== UDP RTT against sockperf's server: sockperf ping-pong vs rawnet udp probe, 72-byte datagrams at 10000/s (sockperf for 2 s, rawnet 20000), $udp_runs alternating pairs"
: > "/tmp/$name.rtt"
for ((i = 0; i < udp_runs; i++)); do
  # sockperf reports one-way latency (RTT/2): its median doubled is the RTT.
  a=$(src sockperf pp -i "$dst" -p 11111 -m 72 --mps 10000 -t 2 2>/dev/null | awk '/50.000 = / {print 2 * $NF}')
  b=$(src "$bin" udp probe --sockperf --json -q --rate 10000 -c 20000 -s 72 "$dst:11111" |
    grep '"type":"summary"' | grep -o '"rtt_p50_ms":[0-9.]*' | cut -d: -f2 | awk '{print $1 * 1000}')
  echo "$a $b" >> "/tmp/$name.rtt"
done
for col in 1 2; do
  m=$(awk -v c=$col '{print $c}' "/tmp/$name.rtt" | median)
  printf '%-22s median RTT %7.2f us\n' "$([ $col = 1 ] && echo "sockperf ping-pong" || echo "rawnet udp probe")" "$m"
done
awk '{d += $2 - $1; n++} END {printf "rawnet minus sockperf, mean of %d paired medians: %+.2f us\n", n, d / n}' "/tmp/$name.rtt"
# Where a round trip goes: one clock on both ends, so rawnet's reflector
# splits it exactly (medians of one run at 10000/s).
src "$bin" udp probe --json --rate 10000 -c 20000 -s 72 "$dst:11113" | grep '"type":"reply"' > "/tmp/$name.refl"
field() { grep -o "\"$1\":[0-9.]*" "/tmp/$name.refl" | cut -d: -f2 | median | awk '{printf "%.1f", $1 * 1000}'; }
printf 'rawnet probe against rawnet reflect, medians: RTT %s us = to the server %s us (send to kernel receive stamp), in the server %s us (receive stamp to reply), back %s us\n' \
  "$(field rtt_ms)" "$(field fwd_ms)" "$(field server_ms)" "$(field rev_ms)"
rm -f "/tmp/$name".*
