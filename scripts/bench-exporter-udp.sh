#!/usr/bin/env bash
# rawnet exporter with N (1,024) UDP targets every second against one
# `rawnet udp serve --mode reflect` that answers a whole prefix, in a
# throwaway one-router lab (dst answers every address of 198.19.0.0/18;
# every packet stays in the lab's namespaces). Needs root.
#   scripts/bench-exporter-udp.sh [BIN]     (N=1024 WARM=20 WINDOW=30)
# Prints requests and replies per second over WINDOW s after WARM s, CPU
# as a fraction of a core, peak RSS (VmHWM), the Go heap in use and the
# open fds and goroutines: each target has a connected socket of its own.
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
n=${N:-1024}
warm=${WARM:-20}
window=${WINDOW:-30}
[ "$(id -u)" = 0 ] || { echo "bench-exporter-udp needs root (network namespaces)" >&2; exit 1; }
((n >= 1 && n <= 16384)) || { echo "bench-exporter-udp: N must be 1 to 16384 (198.19.0.0/18)" >&2; exit 2; }
work=$(mktemp -d)
name="bu$$"; name=${name:0:10}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  "$bin" lab down "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
"$bin" lab up --name "$name" --routers 1 --prefix4 198.19.0.0/18 >/dev/null
ip netns exec "rn-$name-dst" "$bin" udp serve --mode reflect :7007 >/dev/null 2>&1 &
pids+=($!)
{ echo "targets:"; echo "  - name: udp"; echo "    interval: 1s"; echo "    protocol: udp"; echo "    port: 7007"; echo "    hosts:"
  for ((i = 0; i < n; i++)); do echo "      - 198.19.$((i / 256)).$((i % 256))"; done; } > "$work/udp.yml"
ip netns exec "rn-$name-src" "$bin" exporter --config "$work/udp.yml" --web.listen-address 127.0.0.1:10742 >"$work/exporter.log" 2>&1 &
pid=$!
pids+=("$pid")
scrape() {
  ip netns exec "rn-$name-src" curl -sf http://127.0.0.1:10742/metrics | awk '
    /^rawnet_probe_requests_total\{/ {q += $NF} /^rawnet_probe_replies_total\{/ {r += $NF}
    /^go_memstats_heap_inuse_bytes / {h = $NF} /^go_goroutines / {g = $NF}
    END {printf "%.0f %.0f %.0f %.0f\n", q, r, h, g}'
}
sleep "$warm"
read -r q0 r0 _ _ < <(scrape)
c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
sleep "$window"
c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
read -r q1 r1 heap gor < <(scrape)
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
fds=$(ls "/proc/$pid/fd" | wc -l)
echo "binary: $bin ($("$bin" --version 2>&1 | head -1)); $n UDP targets every second; load $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v n="$n" -v w="$window" -v q=$((q1 - q0)) -v r=$((r1 - r0)) -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
  -v hwm="$hwm" -v heap="$heap" -v fds="$fds" -v g="$gor" 'BEGIN {
  printf "%.1f requests/s, %.1f replies/s by the counters of two scrapes %d s apart (%d targets: a round straddling a scrape moves this a few %%); CPU %.3f of a core (%.1f us a probe)\n", q / w, r / w, w, n, c / hz / w, c / hz / q * 1e6
  printf "peak RSS %.1f MB, Go heap in use %.1f MB (%.1f KB a target), %d fds, %d goroutines\n", hwm / 1024, heap / 1e6, heap / n / 1e3, fds, g }'
