#!/usr/bin/env bash
# Process start (issue 15, part 2), side by side with the peers, in
# throwaway labs (make bench). Every packet stays in the labs'
# namespaces. Needs root. Two rawnet binaries are compared: the one given
# (make build: cgo, -trimpath, -s -w, tags netgo,osusergo,urfave_cli_no_docs)
# and a plain `go build ./cmd/rawnet` (what `go install` users get: cgo
# when gcc is there, no tags, symbols kept).
#   start:  Go hello world, /bin/true, and the floors   vs  rawnet --version
#           (scripts/startref: hello worlds that link what rawnet links
#           and use none of it: one cgo call, the cgo floor of make
#           build; gopacket/layers; the Prometheus stack of rawnet
#           exporter, client_golang and exporter-toolkit. The last two
#           are pure Go, like the hello world they stand next to.)
#   trace:  traceroute -n               vs  rawnet trace -n (6 hops, 5 routers)
# Flood ping against iputils (part 3) is scripts/bench-flood.sh.
# Each comparison runs every command in turn, RUNS rounds (alternating, so
# that drifting load hits all alike), inside the source namespace (no
# `ip netns exec` is timed), and prints the median wall time, the median
# CPU time (user+sys from the kernel's rusage) and each command's median
# per-round ratio to the first command's. On a machine shared with other
# work the wall time is noisy; the CPU time and the per-round ratios are
# the steadier figures.
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
runs=${RUNS:-21}
[ "$(id -u)" = 0 ] || { echo "bench-startup needs root (network namespaces)" >&2; exit 1; }
command -v traceroute >/dev/null || { echo "bench-startup needs traceroute" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
base="bs$$"; base=${base:0:10}
chain="${base}c"
cleanup() {
  "$bin" lab down "$chain" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

(cd "$here" && go build -o "$work/runmedian" ./scripts/runmedian)
(cd "$here" && go build -o "$work/rawnet-plain" ./cmd/rawnet)
mkdir "$work/hello"
cat >"$work/hello/main.go" <<'EOF'
package main

import "fmt"

func main() { fmt.Println("hello, world") }
EOF
printf 'module hello\n\ngo 1.21\n' >"$work/hello/go.mod"
(cd "$work/hello" && go build -o "$work/hello-go" .)
(cd "$here" && CGO_ENABLED=1 go build -o "$work/ref-cgo" ./scripts/startref/cgo)
for ref in layers promstack; do
  (cd "$here" && CGO_ENABLED=0 go build -o "$work/ref-$ref" ./scripts/startref/$ref)
done
plain="$work/rawnet-plain"
rm="$work/runmedian"
printf 'binaries: %s (%s bytes), plain go build (%s bytes); go hello world (%s bytes)\n' \
  "$bin" "$(stat -c %s "$bin")" "$(stat -c %s "$plain")" "$(stat -c %s "$work/hello-go")"
printf 'shared libraries at start: %s: %s; plain: %s\n' "$(basename "$bin")" \
  "$(ldd "$bin" 2>/dev/null | awk '/=>/ {printf "%s ", $1}')" "$(ldd "$plain" 2>/dev/null | awk '/=>/ {printf "%s ", $1}')"

"$bin" lab up --name "$chain" --routers 5 >/dev/null
in_chain() { ip netns exec "rn-$chain-src" "$@"; }

echo
echo "== process start: $runs rounds"
echo "   ($rm -n $runs -- hello $work/hello-go -- ... rawnet --version, in rn-$chain-src)"
echo "   floors: hello worlds that link only a cgo call, gopacket/layers, or client_golang + exporter-toolkit"
in_chain "$rm" -n "$runs" \
  -- "go hello world" "$work/hello-go" \
  -- "/bin/true" /bin/true \
  -- "hello + cgo call (floor)" "$work/ref-cgo" \
  -- "hello + gopacket/layers" "$work/ref-layers" \
  -- "hello + prometheus stack" "$work/ref-promstack" \
  -- "rawnet --version (make build)" "$bin" --version \
  -- "rawnet --version (plain go build)" "$plain" --version

echo
echo "== trace to a target 6 hops away (5 routers): $runs rounds"
echo "   ($rm -n $runs -- traceroute traceroute -n 198.18.5.2 -- rawnet $bin trace -n 198.18.5.2 ...)"
in_chain "$rm" -n "$runs" \
  -- "traceroute -n" traceroute -n 198.18.5.2 \
  -- "rawnet trace -n (make build)" "$bin" trace -n 198.18.5.2 \
  -- "rawnet trace -n (plain go build)" "$plain" trace -n 198.18.5.2

