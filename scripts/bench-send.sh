#!/usr/bin/env bash
# rawnet send side by side with a bare sendmmsg loop, hping3 and nping
# (make bench): 200,000 64-byte IPv4/UDP packets from src to r1 of a
# throwaway lab. Every packet stays in the lab's namespaces. Needs root.
#
# On veth the receiving side's work runs on the sender's CPU, so r1 drops
# the packets at ingress (nftables, netdev hook): what is measured is the
# sending path, as it would be towards a separate machine.
#   rawloop        internal/cmd/rawloop: one prebuilt packet, sendmmsg batches
#                  of 64 over a raw IP socket (IPPROTO_RAW), nothing else
#   rawnet send    -c N (--rate 0): bulk, so AF_PACKET; and with --l3 the same
#                  raw IP path as rawloop
#   hping3         --udp -d 36 -c N -i u1
#   nping          --udp --data-length 36 -c N --rate 1000000 -N (raw IP), and
#                  --send-eth (its L2 path)
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
n=${SEND_N:-200000}
runs=${SEND_RUNS:-5}
[ "$(id -u)" = 0 ] || { echo "bench-send needs root (network namespaces)" >&2; exit 1; }
cd "$(dirname "$0")/.."
name="bs$$"; name=${name:0:10}
tmp=$(mktemp -d)
trap '"$bin" lab down "$name" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT INT TERM
"$bin" lab up --name "$name" --routers 1 --keep-icmp-ratelimit >/dev/null
src="rn-$name-src"
dst=198.18.0.2 # r1, on src's link
ip netns exec "rn-$name-r1" nft -f - <<'NFT'
table netdev bench {
  chain in { type filter hook ingress device "to-src" priority 0; udp dport 9 drop; }
}
NFT
go build -o "$tmp/rawloop" ./internal/cmd/rawloop
spec="ip(dst=$dst)/udp(sport=40000,dport=9)/raw(len=36)"

labels=("rawloop (bare sendmmsg, raw IP)" "rawnet send (bulk: AF_PACKET)" "rawnet send --l3 (raw IP)" "hping3 -i u1" "nping --rate 1000000" "nping --send-eth")
cmds=(
  "$tmp/rawloop -dst $dst -n $n -size 64 -port 9"
  "$bin send -q -c $n $spec"
  "$bin send -q --l3 -c $n $spec"
  "hping3 --udp -p 9 -s 40000 -k -d 36 -c $n -i u1 -q $dst"
  "nping --udp -p 9 -g 40000 --data-length 36 -c $n --rate 1000000 -N -H -q $dst"
  "nping --send-eth -e to-r1 --udp -p 9 -g 40000 --data-length 36 -c $n --rate 1000000 -N -H -q $dst"
)
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
f="$tmp/times"
: > "$f"
echo "== $n packets of 64 bytes, $runs alternating runs, wall time including process start"
for ((i = 0; i < runs; i++)); do
  row=""
  for ((j = 0; j < ${#cmds[@]}; j++)); do
    t0=$(now)
    # shellcheck disable=SC2086
    timeout 120 ip netns exec "$src" ${cmds[$j]} >/dev/null 2>&1 || true # hping3 and nping exit 1 without replies
    row+=" $(echo "$(now) - $t0" | bc -l)"
  done
  echo "$row" >> "$f"
done
base=$(awk '{print $1}' "$f" | median)
for ((j = 0; j < ${#cmds[@]}; j++)); do
  m=$(awk -v c=$((j + 1)) '{print $c}' "$f" | median)
  printf '  %-34s median %7.3f s  %9.0f packets/s  %5.2fx rawloop\n' "${labels[$j]}" "$m" "$(echo "$n / $m" | bc -l)" "$(echo "$base / $m" | bc -l)"
done
