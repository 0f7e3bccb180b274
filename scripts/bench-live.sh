#!/usr/bin/env bash
# CPU and memory of rawnet mtr (trace --live) over a long run, against the
# same prober without the view (trace --report) in a twin lab at the same
# time: the difference is the view's cost. Each runs in a throwaway lab (a
# chain of five routers, 30% loss after router 3); every packet stays in the
# labs' namespaces. Needs root and tmux.
#   scripts/bench-live.sh bin/rawnet [SECONDS (600)] [INTERVAL (1)]
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
secs=${2:-600}
iv=${3:-1}
[ "$(id -u)" = 0 ] || { echo "bench-live needs root (network namespaces)" >&2; exit 1; }
command -v tmux >/dev/null || { echo "bench-live needs tmux" >&2; exit 1; }
base="bl$$"; base=${base:0:10}
sock="rawnet-bench-live-$$"
rp=""
cleanup() {
  tmux -L "$sock" kill-server >/dev/null 2>&1 || true
  [ -n "$rp" ] && kill "$rp" 2>/dev/null || true
  "$bin" lab down "${base}a" >/dev/null 2>&1 || true
  "$bin" lab down "${base}b" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM
"$bin" lab up --name "${base}a" --routers 5 --loss 3:30 >/dev/null
"$bin" lab up --name "${base}b" --routers 5 --loss 3:30 >/dev/null
tmux -L "$sock" new-session -d -x 120 -y 40 "exec ip netns exec rn-${base}a-src $bin mtr -n -i $iv 198.18.5.2"
sleep 0.5
lp=$(tmux -L "$sock" display -p '#{pane_pid}')
ip netns exec "rn-${base}b-src" "$bin" trace --report -n -c 1000000 -i "$iv" 198.18.5.2 >/dev/null &
rp=$!
hz=$(getconf CLK_TCK)
cpu() { awk -v hz="$hz" '{printf "%.2f", ($14+$15)/hz}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
echo "seconds  live: cpu_s rss_kB   report (no view): cpu_s rss_kB"
t0=$(date +%s)
while :; do
  t=$(( $(date +%s) - t0 ))
  printf '%7d  %12s %6s   %23s %6s\n' "$t" "$(cpu "$lp")" "$(rss "$lp")" "$(cpu "$rp")" "$(rss "$rp")"
  [ "$t" -ge "$secs" ] && break
  sleep $(( secs < 60 ? secs : 60 ))
done
tmux -L "$sock" capture-pane -p | head -3
