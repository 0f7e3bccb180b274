#!/usr/bin/env bash
# rawnet ping -P tcp side by side with nmap and hping3 (issue 13), in a
# throwaway lab: src - r1 - dst, dst answering all of 198.19.0.0/22.
# Every packet stays in the lab's namespaces. Needs root.
#
#   sweep: a TCP SYN sweep of the 1,024 addresses, port 80 open (a
#          listener) on 768 of them and closed on 198.19.0.0/24 (an
#          nftables reject with RST), rawnet ping -P tcp against
#          nmap -sn -n -PS80 --min-rate 5000, RUNS alternating runs, median
#          wall time; every address must be classified right (rawnet: open
#          or closed as set up; nmap: up).
#   rtt:   N probes to dst's open port 80 every 20 ms, rawnet ping -P tcp
#          against hping3 -S, RUNS alternating runs each with tcpdump on
#          src's link (nanosecond stamps); scripts/rtterr pairs every SYN
#          with its answer and prints each tool's RTT minus the wire's; this
#          prints the median and p90 of |error|.
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
runs=${RUNS:-7}
n=${N:-50}
[ "$(id -u)" = 0 ] || { echo "bench-tcpping needs root (network namespaces)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/wire-rtt.sh
. "$here/wire-rtt.sh"
tmp=$(mktemp -d)
name="bt$$"; name=${name:0:10}
srcns="rn-$name-src" dstns="rn-$name-dst"
lpid=""
cleanup() {
  [ -n "$lpid" ] && kill "$lpid" 2>/dev/null || true
  "$bin" lab down "$name" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
(cd "$here/.." && go build -o "$tmp/rtterr" ./scripts/rtterr && go build -o "$tmp/tcplisten" ./scripts/tcplisten)
"$bin" lab up --name "$name" --routers 1 --prefix4 198.19.0.0/22 >/dev/null
ip netns exec "$dstns" "$tmp/tcplisten" 80 > "$tmp/listen.out" 2>&1 &
lpid=$!
until grep -q listening "$tmp/listen.out" 2>/dev/null; do sleep 0.05; done
ip netns exec "$dstns" nft -f - <<'EOF'
table inet benchclosed {
  chain input {
    type filter hook input priority 0;
    ip daddr 198.19.0.0/24 tcp dport 80 reject with tcp reset
  }
}
EOF
src() { ip netns exec "$srcns" "$@"; }
now() { date +%s.%N; }
wall() { local t0; t0=$(now); "$@" >/dev/null 2>&1 || true; echo "$(now) - $t0" | bc -l; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "== TCP SYN sweep of 198.19.0.0/22 to port 80 (768 open, 256 closed), $runs alternating runs (median wall time)"
echo "   load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) on $(nproc) cores"
# Classification, once per tool before the timed runs.
src "$bin" ping --json -q -P tcp -p 80 198.19.0.0/22 > "$tmp/sweep.json" || true
src "$bin" ping --json -P tcp -p 80 198.19.0.0/22 > "$tmp/sweep-replies.json" || true
awk -F'"' '
  /"type":"reply"/ {
    for (i = 1; i < NF; i++) { if ($i == "target") t = $(i+2); if ($i == "state") s = $(i+2) }
    want = (t ~ /^198\.19\.0\./) ? "closed" : "open"
    if (s == want) right++; else wrong++
  }
  END { printf "rawnet: %d replies classified right, %d wrong\n", right, wrong }' "$tmp/sweep-replies.json"
grep '"type":"total"' "$tmp/sweep.json" | sed 's/^/rawnet total: /'
echo "nmap: $(src nmap -sn -n -PS80 --min-rate 5000 198.19.0.0/22 | grep -o '[0-9]* hosts\? up')"
cmds=(
  "nmap -sn -n -PS80 --min-rate 5000|nmap -sn -n -PS80 --min-rate 5000 198.19.0.0/22"
  "rawnet ping -P tcp (default 20000/s)|$bin ping -q -P tcp -p 80 198.19.0.0/22"
  "rawnet ping -P tcp --rate 5000|$bin ping -q -P tcp -p 80 --rate 5000 198.19.0.0/22"
)
for k in "${!cmds[@]}"; do : > "$tmp/sweep.$k"; done
for ((i = 0; i < runs; i++)); do
  for k in "${!cmds[@]}"; do
    IFS='|' read -r _ cmd <<< "${cmds[$k]}"
    # shellcheck disable=SC2086
    wall src $cmd >> "$tmp/sweep.$k"
  done
done
for k in "${!cmds[@]}"; do
  IFS='|' read -r label _ <<< "${cmds[$k]}"
  printf '  %-40s %7.3f s\n' "$label" "$(median < "$tmp/sweep.$k")"
done

echo
echo "== TCP ping RTT error against the wire: $runs alternating runs x $n probes to port 80 of dst, 20 ms apart"
ifc=$(ip -n "$srcns" -o link show | awk -F': ' '$2 != "lo" {sub(/@.*/, "", $2); print $2; exit}')
dst=$(ip -n "$dstns" -4 -o addr show scope global | awk '{sub(/\/.*/, "", $4); print $4; exit}')
configs=(
  "hping3 -S|hping3|hping3 -S -p 80 -c $n -i u20000 $dst"
  "rawnet ping -P tcp|tcp|$bin ping --json -P tcp -p 80 -c $n -i 0.02 $dst"
)
for ((r = 0; r < runs; r++)); do
  for k in "${!configs[@]}"; do
    IFS='|' read -r label tool cmd <<< "${configs[$k]}"
    # shellcheck disable=SC2086
    wire_run "$srcns" "$ifc" "tcp port 80" src $cmd
    "$tmp/rtterr" -pcap "$tmp/wire.pcap" -tool "$tool" -out "$tmp/out" -port 80 >> "$tmp/err.$k"
  done
done
for k in "${!configs[@]}"; do
  IFS='|' read -r label _ <<< "${configs[$k]}"
  rtterr_summary 22 "$label" "$tmp/err.$k"
done
