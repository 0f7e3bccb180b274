#!/usr/bin/env bash
# rawnet trace side by side with traceroute and mtr, in throwaway labs
# (make bench). Every packet stays in the labs' namespaces. Needs root.
#   6 hops:        traceroute -n, mtr -r -n -c 1   vs  rawnet trace -n
#   30 silent:     traceroute -n -w 1 -m 30        vs  rawnet trace -n -W 1 -m 30
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
runs=${RUNS:-9}
[ "$(id -u)" = 0 ] || { echo "bench-trace needs root (network namespaces)" >&2; exit 1; }
base="bt$$"; base=${base:0:10}
chain="${base}c"; silent="${base}s"
trap '"$bin" lab down "$chain" >/dev/null 2>&1 || true; "$bin" lab down "$silent" >/dev/null 2>&1 || true' EXIT INT TERM
# A chain of five routers: the target is six hops away.
"$bin" lab up --name "$chain" --routers 5 >/dev/null
# One silent router in front of a target that never answers: 30 silent hops.
"$bin" lab up --name "$silent" --routers 1 --silent 1 --blackhole 198.18.1.2 >/dev/null

now() { date +%s.%N; }
wall() { local t0; t0=$(now); "$@" >/dev/null 2>&1 || true; echo "$(now) - $t0" | bc -l; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# compare NS RUNS LABEL CMD... -- LABEL CMD... : runs each command in turn
# (alternating, so drifting load hits all alike) and prints medians and the
# geometric mean of each peer's wall time over rawnet's (the last command).
compare() {
  local ns=$1 n=$2; shift 2
  local labels=() cmds=() cur=""
  for a in "$@"; do
    if [ "$a" = "--" ]; then cmds+=("$cur"); cur=""; continue; fi
    if [ -z "$cur" ] && [ ${#labels[@]} -eq ${#cmds[@]} ]; then labels+=("$a"); cur=" "; continue; fi
    cur+=" $a"
  done
  cmds+=("$cur")
  local k=${#cmds[@]} f="/tmp/$base.times"
  : > "$f"
  for ((i = 0; i < n; i++)); do
    local row=""
    for ((j = 0; j < k; j++)); do
      # shellcheck disable=SC2086
      row+=" $(wall ip netns exec "$ns" ${cmds[$j]})"
    done
    echo "$row" >> "$f"
  done
  for ((j = 0; j < k; j++)); do
    printf '  %-34s median %7.4f s' "${labels[$j]}" "$(awk -v c=$((j + 1)) '{print $c}' "$f" | median)"
    if ((j < k - 1)); then
      awk -v c=$((j + 1)) -v r=$k '{s += log($c / $r); m++} END {printf "   %.1fx rawnet'"'"'s time (geometric mean of %d runs)", exp(s / m), m}' "$f"
    fi
    echo
  done
}

echo "== trace to a target 6 hops away (5 routers), $runs runs each"
for p in "" "-I" "-T"; do
  case $p in -I) m=icmp ;; -T) m=tcp ;; *) m=udp ;; esac
  echo " $m:"
  compare "rn-$chain-src" "$runs" \
    "traceroute -n $p" traceroute -n $p 198.18.5.2 -- \
    "mtr -r -n -c 1 $([ "$m" = udp ] && echo -u)$([ "$m" = tcp ] && echo -T)" mtr -r -n -c 1 $([ "$m" = udp ] && echo -u) $([ "$m" = tcp ] && echo -T) 198.18.5.2 -- \
    "rawnet trace -n -P $m" "$bin" trace -n -P $m 198.18.5.2
done
echo
echo "== trace of 30 silent hops, $((runs < 3 ? runs : 3)) runs each"
compare "rn-$silent-src" "$((runs < 3 ? runs : 3))" \
  "traceroute -n -w 1 -m 30" traceroute -n -w 1 -m 30 198.18.1.2 -- \
  "rawnet trace -n -W 1 -m 30" "$bin" trace -n -W 1 -m 30 198.18.1.2
rm -f "/tmp/$base".*
