#!/usr/bin/env bash
# rawnet exporter soak (issue 12, "a 30-minute soak"): one exporter runs for
# DURATION (default 30m) in a throwaway two-router lab with a mix of
# targets, and every SAMPLE (default 30s) its RSS, Go heap in use,
# goroutines, open fds and probe totals are read from /proc and /metrics.
# It prints the curve as a table and a verdict: goroutines and fds flat,
# no counter went down, requests minus replies 0 (the lab has no loss rule:
# the wire loses nothing), and the RSS slope over the second half in KB/min.
# Every packet stays in the lab's namespaces. Needs root.
#   scripts/soak-exporter.sh [BIN]          (DURATION=5m SAMPLE=10s ...)
# Targets: 64 IPv4 and 64 IPv6 addresses of the prefixes dst answers
# entirely (ICMP, every second), a UDP target against `rawnet udp serve
# --mode reflect` in dst, a TCP target (an open port in dst), and two
# traces with hop_labels (UDP over IPv4, ICMP over IPv6, every 10 s).
# Extra environment (GOGC, GOMEMLIMIT, ...) reaches the exporter.
set -euo pipefail
export LC_ALL=C # sort and join agree on the order
bin=$(realpath "${1:-bin/rawnet}")
dur=${DURATION:-30m}
sample=${SAMPLE:-30s}
[ "$(id -u)" = 0 ] || { echo "soak-exporter needs root (network namespaces)" >&2; exit 1; }
secs() { # 90, 90s, 5m, 1h -> seconds
  case $1 in
    *h) echo $((${1%h} * 3600)) ;; *m) echo $((${1%m} * 60)) ;; *s) echo "${1%s}" ;; *) echo "$1" ;;
  esac
}
dsec=$(secs "$dur") ssec=$(secs "$sample")
[[ $dsec =~ ^[0-9]+$ && $ssec =~ ^[0-9]+$ && $ssec -gt 0 && $dsec -ge $((4 * ssec)) ]] ||
  { echo "soak-exporter: DURATION ($dur) must be at least 4 SAMPLEs ($sample), both like 90s, 5m or 1h" >&2; exit 2; }
work=$(mktemp -d)
name="sk$$"; name=${name:0:10}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  "$bin" lab down "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$bin" lab up --name "$name" --routers 2 --prefix4 198.19.0.0/24 --prefix6 fd00:99::/64 >/dev/null
dst4=198.18.2.2 dst6=fd00:0:0:2::2
(cd "$(dirname "$0")/.." && go build -o "$work/tcplisten" ./scripts/tcplisten)
ip netns exec "rn-$name-dst" "$work/tcplisten" 8080 >/dev/null 2>&1 &
pids+=($!)
ip netns exec "rn-$name-dst" "$bin" udp serve --mode reflect :7007 >/dev/null 2>&1 &
pids+=($!)
cat >"$work/soak.yml" <<EOF
targets:
  - name: icmp4
    interval: 1s
    hosts: [198.19.0.0/26]
  - name: icmp6
    interval: 1s
    hosts: [fd00:99::/122]
  - name: reflect
    protocol: udp
    port: 7007
    interval: 1s
    hosts: [$dst4]
  - name: web
    protocol: tcp
    port: 8080
    interval: 1s
    hosts: [$dst4]
traces:
  - name: path4
    method: udp
    interval: 10s
    hop_labels: true
    hosts: [$dst4]
  - name: path6
    method: icmp
    interval: 10s
    hop_labels: true
    hosts: [$dst6]
EOF
url=http://127.0.0.1:10731/metrics
ip netns exec "rn-$name-src" "$bin" exporter --config "$work/soak.yml" --web.listen-address 127.0.0.1:10731 >"$work/exporter.log" 2>&1 &
pid=$!
pids+=("$pid")
src() { ip netns exec "rn-$name-src" "$@"; }
for ((i = 0; i < 50; i++)); do src curl -sf -o /dev/null "http://127.0.0.1:10731/-/ready" && break; sleep 0.2; done

echo "binary: $bin ($("$bin" --version 2>&1 | head -1)); ${dur} sampled every ${sample}; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "GOGC=${GOGC:-} GOMEMLIMIT=${GOMEMLIMIT:-}"
# one sample: "MIN RSS_KB HEAPINUSE_KB GOROUTINES FDS REQUESTS REPLIES HOP_REQ HOP_REP TRACES";
# the scrape's counters (every *_total series, and the _count and _bucket
# series of histograms) go to $work/counters.N
sampleone() {
  local t=$1 n=$2 m rss fds
  # fds before the scrape: just after it, the exporter may not have closed
  # the scrape's own connection yet (one run read 23 once in 61 samples)
  fds=$(ls "/proc/$pid/fd" | wc -l)
  m=$(src curl -sf "$url") || { echo "soak-exporter: scrape failed at ${t}s" >&2; return 1; }
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  echo "$m" | awk '/^[a-z_]+(_total|_count|_bucket)[{ ]/ {print $1, $NF}' | sort >"$work/counters.$n"
  echo "$m" | awk -v t="$t" -v rss="$rss" -v fds="$fds" '
    /^go_memstats_heap_inuse_bytes / {heap = $2}
    /^go_goroutines / {g = $2}
    /^rawnet_probe_requests_total\{/ {q += $NF}
    /^rawnet_probe_replies_total\{/ {p += $NF}
    /^rawnet_trace_hop_requests_total\{/ {hq += $NF}
    /^rawnet_trace_hop_replies_total\{/ {hp += $NF}
    /^rawnet_trace_runs_total\{/ {tr += $NF}
    END {printf "%.2f %d %d %d %d %d %d %d %d %d\n", t / 60, rss, heap / 1024, g, fds, q, p, hq, hp, tr}'
}
start=$(date +%s)
: >"$work/curve"
n=0
resets=0
while :; do
  now=$(date +%s)
  t=$((now - start))
  sampleone "$t" "$n" >>"$work/curve"
  if ((n > 0)); then
    # a counter that went down or vanished is a reset (a series of a host
    # that left would vanish too, but the soak's hosts never change)
    r=$(join -a 1 "$work/counters.$((n - 1))" "$work/counters.$n" | awk 'NF < 3 || $3 < $2 {print $1, $2, "->", (NF < 3 ? "gone" : $3)}')
    if [ -n "$r" ]; then
      resets=$((resets + $(echo "$r" | wc -l)))
      echo "$r" | head -3 | sed 's/^/counter reset: /' >&2
    fi
    rm -f "$work/counters.$((n - 1))"
  fi
  n=$((n + 1))
  ((t >= dsec)) && break
  sleep $((ssec - ($(date +%s) - now)))
done

printf '%7s %9s %9s %10s %4s %10s %10s %8s %8s %7s\n' min "RSS MB" "heap MB" goroutines fds requests replies hop_req hop_rep traces
awk '{printf "%7.2f %9.1f %9.1f %10d %4d %10d %10d %8d %8d %7d\n", $1, $2 / 1024, $3 / 1024, $4, $5, $6, $7, $8, $9, $10}' "$work/curve"
# the verdict: the first sample is the start (before the first scrape's
# garbage); flatness is judged after the first quarter, the slope over the
# second half (least squares)
awk -v resets="$resets" -v dsec="$dsec" '
  {t[NR] = $1; rss[NR] = $2; heap[NR] = $3; g[NR] = $4; f[NR] = $5; q = $6; p = $7; hq = $8; hp = $9}
  END {
    n = NR; q1 = int(n / 4) + 1; h = int(n / 2) + 1
    for (i = q1; i <= n; i++) {
      if (i == q1 || g[i] < gmin) gmin = g[i]; if (i == q1 || g[i] > gmax) gmax = g[i]
      if (i == q1 || f[i] < fmin) fmin = f[i]; if (i == q1 || f[i] > fmax) fmax = f[i]
    }
    for (i = h; i <= n; i++) {m++; sx += t[i]; sy += rss[i]; sxx += t[i] * t[i]; sxy += t[i] * rss[i]; hy += heap[i]; hxy += t[i] * heap[i]}
    slope = (m * sxy - sx * sy) / (m * sxx - sx * sx)
    hslope = (m * hxy - sx * hy) / (m * sxx - sx * sx)
    printf "RSS %.1f MB at the start, %.1f MB at the end; slope over the second half %+.1f KB/min (Go heap in use %+.1f KB/min)\n",
      rss[1] / 1024, rss[n] / 1024, slope, hslope
    printf "goroutines %d..%d and fds %d..%d after the first quarter (%s)\n", gmin, gmax, fmin, fmax,
      (gmax - gmin <= 2 && fmax == fmin) ? "flat" : "NOT FLAT"
    printf "counter resets: %d\n", resets
    printf "probes: %d requests, %d replies, %d unanswered; trace hops: %d requests, %d replies, %d unanswered (the lab loses nothing)\n",
      q, p, q - p, hq, hp, hq - hp
    ok = resets == 0 && q > 0 && q == p && hq == hp && gmax - gmin <= 2 && fmax == fmin
    printf "verdict: %s\n", ok ? "PASS" : "FAIL"
    exit !ok
  }' "$work/curve"
