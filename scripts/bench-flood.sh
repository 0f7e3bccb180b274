#!/usr/bin/env bash
# Flood ping against iputils (issue 15, part 3), in a throwaway one-router
# lab (make bench). Every packet stays in the lab's namespaces. Needs root.
# Two rawnet binaries are compared with iputils ping: the one given (make
# build: cgo, -trimpath, -s -w, tags netgo,osusergo,urfave_cli_no_docs)
# and a plain `go build ./cmd/rawnet` (what `go install` users get).
#   ping -f -q -c FLOOD 198.18.1.2   vs   rawnet ping -f -q -c FLOOD 198.18.1.2
# The commands run in turn, FLOODRUNS rounds (alternating, so that drifting
# load hits all alike), inside the source namespace (no `ip netns exec` is
# timed); runmedian prints the median wall and CPU time (user+sys) and each
# command's median per-round ratio to iputils'. A flood (-f without -i) has
# no kernel transmit stamps, as iputils' has none (ts_source kernel_rx; see
# rawnet-ping(1)); the RAWNET_TXSTAMPS=on line, a flood with them, shows
# what they would cost. Then the RTTs each reports for the same flood.
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
runs=${FLOODRUNS:-11}
flood=${FLOOD:-50000}
[ "$(id -u)" = 0 ] || { echo "bench-flood needs root (network namespaces)" >&2; exit 1; }
command -v ping >/dev/null || { echo "bench-flood needs iputils ping" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
name="bf$$"; name=${name:0:10}
cleanup() {
  "$bin" lab down "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

(cd "$here" && go build -o "$work/runmedian" ./scripts/runmedian)
(cd "$here" && go build -o "$work/rawnet-plain" ./cmd/rawnet)
plain="$work/rawnet-plain"
rm="$work/runmedian"
printf 'binaries: %s (%s bytes), plain go build (%s bytes); %s\n' \
  "$bin" "$(stat -c %s "$bin")" "$(stat -c %s "$plain")" "$(ping -V 2>&1 | head -1)"

"$bin" lab up --name "$name" --routers 1 >/dev/null
in_lab() { ip netns exec "rn-$name-src" "$@"; }
dst=198.18.1.2

echo
echo "== flood ping, $flood round trips one router away: $runs rounds"
echo "   ($rm -n $runs -- iputils ping -f -q -c $flood $dst -- rawnet $bin ping -f -q -c $flood $dst ...)"
in_lab "$rm" -n "$runs" \
  -- "iputils ping -f -q" ping -f -q -c "$flood" "$dst" \
  -- "rawnet ping -f -q (make build)" "$bin" ping -f -q -c "$flood" "$dst" \
  -- "rawnet ping -f -q (plain go build)" "$plain" ping -f -q -c "$flood" "$dst" \
  -- "RAWNET_TXSTAMPS=on (make build)" env RAWNET_TXSTAMPS=on "$bin" ping -f -q -c "$flood" "$dst"

echo
echo "== the RTTs they report (last line of each, one run)"
for cmd in "ping -f -q -c $flood $dst" "$bin ping -f -q -c $flood $dst" "env RAWNET_TXSTAMPS=on $bin ping -f -q -c $flood $dst"; do
  printf '%-50s %s\n' "${cmd//$here\//}" "$(in_lab $cmd | tail -1)"
done
