#!/usr/bin/env bash
# rawnet exporter at scale and against prometheus-smokeping-prober (issue
# 12, "Scale and speed"), in a throwaway one-router lab (make bench). The
# lab's dst answers every address of 198.19.0.0/18 (`lab up --prefix4`);
# every probe stays in the lab's namespaces. Needs root.
#   1. one exporter, N10K (10,000) ICMP targets every second: probes sent
#      on time (below), CPU as a fraction of a core, peak RSS;
#   2. the same PEERN (1,024) targets every second, smokeping_prober
#      (--privileged) and rawnet exporter one after the other: CPU seconds
#      per probe and peak RSS of each;
#   3. the RTT error of both against the wire (below).
# ONLY=rtt runs part 3 alone (a change to RTT timing needs no 10,000-target run),
# ONLY=peer part 2 alone (a change to memory, measured against smokeping_prober),
# ONLY=ontime part 1 alone.
# Each process runs in the src namespace for WARM s before the window
# (probes reach their schedule; a probe counts once its fate is known, up
# to 2 s), then WINDOW s (default 60, whole seconds) between two scrapes.
# Part 2's rates use the midpoint of each scrape; CPU is utime+stime from
# /proc/PID/stat between the scrapes, peak RSS is VmHWM at the end.
# Part 1 counts sends, not scrapes: the kernel's Icmp OutEchos in src
# (/proc/net/snmp; the exporter is the only sender there) read at two
# instants exactly WINDOW s apart. The engine sends a round of N10K probes
# in a burst of N10K / max(20,000, 2 N10K) s each second, so only a window
# of whole intervals counts N10K a second whatever its phase (a 60.5 s one
# can be off by 0.8% with every probe on time). One shell in src does the
# reads with builtins (no fork between clock and read), the last over and
# over around the end: the counter only grows, so the two reads either
# side of the end bound the count. The exporter's own counters are the
# cross-check, from scrapes started WINDOW s apart: it counts a probe
# once its fate is known (its reply), and reads the counters while it
# gathers (a 31 MB scrape takes seconds under load), so they cover about
# WINDOW s, off by the difference of the two gathers.
# CAPTURE=1 also captures part 1's requests on src's link and prints how
# late each left against the engine's schedule (internal/cmd/sendlate).
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
window=${WINDOW:-60}
warm=${WARM:-10}
n10k=${N10K:-10000}
peern=${PEERN:-1024}
smokeping=${SMOKEPING:-/usr/bin/prometheus-smokeping-prober}
only=${ONLY:-}
capture=${CAPTURE:-0}
[ -z "$only" ] || [ "$only" = rtt ] || [ "$only" = peer ] || [ "$only" = ontime ] || { echo "bench-exporter: ONLY must be rtt, peer, ontime or empty" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench-exporter needs root (network namespaces)" >&2; exit 1; }
[ -x "$smokeping" ] || { echo "bench-exporter needs $smokeping (Debian package prometheus-smokeping-prober)" >&2; exit 1; }
[ "$capture" = 0 ] || [ "$capture" = 1 ] || { echo "bench-exporter: CAPTURE must be 0 or 1" >&2; exit 2; }
[[ $window =~ ^[1-9][0-9]*$ ]] || { echo "bench-exporter: WINDOW must be whole seconds (the targets' interval is 1 s)" >&2; exit 2; }
((n10k <= 16384 && peern <= 16384)) || { echo "bench-exporter: N10K and PEERN must be at most 16384 (198.19.0.0/18)" >&2; exit 2; }
work=$(mktemp -d)
name="be$$"; name=${name:0:10}
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  "$bin" lab down "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$bin" lab up --name "$name" --routers 1 --prefix4 198.19.0.0/18 >/dev/null
src() { ip netns exec "rn-$name-src" "$@"; }
ifc=$(ip -n "rn-$name-src" -o link show | awk -F': ' '$2 != "lo" {sub(/@.*/, "", $2); print $2; exit}')
# (daemons and tcpdump are started with ip netns exec itself, not src, so
# that $! is their pid: ip netns exec execs the command)
hz=$(getconf CLK_TCK)
now() { date +%s.%N; }

# the first $1 addresses of 198.19.0.0/18, one a line
addrs() { for ((i = 0; i < $1; i++)); do echo "198.19.$((i / 256)).$((i % 256))"; done; }
# an exporter config probing the first $1 addresses every second
rawnet_config() {
  { echo "targets:"; echo "  - name: bench"; echo "    interval: 1s"; echo "    protocol: icmp"; echo "    hosts:"
    addrs "$1" | sed 's/^/      - /'; } > "$work/rawnet-$1.yml"
  echo "$work/rawnet-$1.yml"
}

# scrape URL PREFIX: prints "TIME SUM_REQUESTS SUM_REPLIES" (TIME: the
# scrape's midpoint); PREFIX is rawnet_probe or smokeping
scrape() {
  local t0 t1 out
  t0=$(now)
  out=$(src curl -sf "$1")
  t1=$(now)
  case $2 in
    rawnet_probe) req='^rawnet_probe_requests_total\{' rep='^rawnet_probe_replies_total\{' ;;
    smokeping) req='^smokeping_requests_total\{' rep='^smokeping_response_duration_seconds_count\{' ;;
  esac
  echo "$out" | awk -v a="$t0" -v b="$t1" -v req="$req" -v rep="$rep" '
    $0 ~ req {q += $NF} $0 ~ rep {p += $NF}
    END {printf "%.6f %.0f %.0f\n", (a + b) / 2, q, p}'
}
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# measure LABEL URL PREFIX TARGETS: after $warm s, a $window s window;
# prints one line and appends "LABEL cpu_s probes replies hwm_kB" to $work/res
measure() {
  local label=$1 url=$2 prefix=$3 n=$4 a b c0 c1 h h0 h1 size
  # wait for the landing page (not /metrics: no scrape before the window)
  for ((i = 0; i < 50; i++)); do src curl -sf -o /dev/null "${url%/metrics}/" && break; sleep 0.2; done
  sleep "$warm"
  h0=$(hwm "$pid")
  a=$(scrape "$url" "$prefix"); c0=$(cputicks "$pid")
  sleep "$window"
  c1=$(cputicks "$pid"); h1=$(hwm "$pid"); b=$(scrape "$url" "$prefix")
  h=$(hwm "$pid")
  size=$(src curl -sf "$url" | wc -c)
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  echo "$a $b" | awk -v l="$label" -v n="$n" -v c=$((c1 - c0)) -v hz="$hz" -v h="$h" -v h0="$h0" -v h1="$h1" -v size="$size" -v res="$work/res" '{
    dt = $4 - $1; q = $5 - $2; p = $6 - $3; cpu = c / hz
    printf "%-34s %9.1f requests/s (%+.2f%% of %d/s), %9.1f replies/s, CPU %.3f of a core, %.2f us CPU per probe\n",
      l, q / dt, (q / dt / n - 1) * 100, n, p / dt, cpu / dt, cpu / q * 1e6
    printf "%-34s peak RSS %.1f MB (%.1f MB before the first scrape, %.1f MB before the last), /metrics %.1f MB\n",
      "", h / 1024, h0 / 1024, h1 / 1024, size / 1e6
    printf "%s %.3f %d %d %d\n", l, cpu, q, p, h >> res }'
}

# kernelwindow FILE: in src, reads Icmp OutEchos now ("a T0 T1 COUNT":
# the clock in µs before and after the read) and again, over and over,
# from 100 ms before to 30 ms after exactly $window s later ("e T0 T1
# COUNT" lines), into FILE: one shell with builtins, no fork between the
# clock and the read. The counter only grows, so the count at the end of
# the window lies between the reads on either side of it.
kernelwindow() {
  src bash -c '
    w=$1
    k() { local t0=${EPOCHREALTIME/./} h v i; mapfile -t L < /proc/net/snmp; h=(${L[2]}) v=(${L[3]})
      for i in "${!h[@]}"; do [ "${h[$i]}" != OutEchos ] || echo "$1 $t0 ${EPOCHREALTIME/./} ${v[$i]}"; done; }
    for ((i = 0; i < 50; i++)); do k a > /dev/shm/kw.$$; set -- $(< /dev/shm/kw.$$); (($3 - $2 < 1000)) && break; done
    rm -f /dev/shm/kw.$$; echo "$*"
    end=$((($2 + $3) / 2 + w * 1000000))
    d=$((end - ${EPOCHREALTIME/./} - 100000)); ((d > 0)) && sleep "$((d / 1000000)).$(printf %06d $((d % 1000000)))"
    while ((${EPOCHREALTIME/./} < end + 30000)); do k e; done' kernelwindow "$window" > "$1"
}
# scrapeat URL: "T0 TTFB TOTAL REQUESTS REPLIES" of one scrape of the
# rawnet exporter (T0 in µs, the others in s)
scrapeat() {
  local t0 out
  t0=${EPOCHREALTIME/./}
  out=$(src curl -sf -w '\n#timing %{time_starttransfer} %{time_total}\n' "$1")
  echo "$out" | awk -v t0="$t0" '
    /^rawnet_probe_requests_total\{/ {q += $NF} /^rawnet_probe_replies_total\{/ {p += $NF}
    /^#timing / {f = $2; w = $3} END {printf "%.0f %.3f %.3f %.0f %.0f\n", t0, f, w, q, p}'
}
# ontime LABEL URL TARGETS: part 1, after $warm s: sends over $window s
# (kernel), the exporter's counters over the same window (cross-check),
# CPU (between the scrapes) and RSS; with CAPTURE=1 the capture's lateness
ontime() {
  local label=$1 url=$2 n=$3 c0 c1 tc0 tc1 h h0 h1 a b size tp=
  for ((i = 0; i < 50; i++)); do src curl -sf -o /dev/null "${url%/metrics}/" && break; sleep 0.2; done
  if [ "$capture" = 1 ]; then
    ip netns exec "rn-$name-src" tcpdump -i "$ifc" -nn -s 64 --time-stamp-precision nano -c $(((window + warm + 15) * n)) \
      -w "$work/sent.pcap" 'icmp[icmptype] == icmp-echo' 2>"$work/tcpdump.err" &
    tp=$!
    until grep -q "listening on" "$work/tcpdump.err" 2>/dev/null; do sleep 0.05; done
  fi
  sleep "$warm"
  h0=$(hwm "$pid")
  kernelwindow "$work/kernel" &
  local kw=$!
  until [ -s "$work/kernel" ]; do sleep 0.01; done
  a=$(scrapeat "$url"); c0=$(cputicks "$pid"); tc0=${EPOCHREALTIME/./}
  local start=${a%% *} d
  d=$((start + window * 1000000 - ${EPOCHREALTIME/./}))
  if ((d > 0)); then sleep "$((d / 1000000)).$(printf %06d $((d % 1000000)))"; fi
  c1=$(cputicks "$pid"); tc1=${EPOCHREALTIME/./}; h1=$(hwm "$pid"); b=$(scrapeat "$url")
  wait "$kw"
  h=$(hwm "$pid")
  size=$(src curl -sf "$url" | wc -c)
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  if [ -n "$tp" ]; then sleep 1.5; kill -INT "$tp"; wait "$tp" 2>/dev/null || true; fi
  { cat "$work/kernel"; echo "s $a"; echo "s $b"; } | awk -v l="$label" -v n="$n" -v w="$window" -v c=$((c1 - c0)) -v hz="$hz" -v dc=$((tc1 - tc0)) \
    -v h="$h" -v h0="$h0" -v h1="$h1" -v size="$size" -v res="$work/res" '
    $1 == "a" {ka = $4; end = ($2 + $3) / 2 + w * 1e6}
    $1 == "e" && ($2 + $3) / 2 <= end {lo = $4; tlo = ($2 + $3) / 2}
    $1 == "e" && ($2 + $3) / 2 >= end && !hi {hi = $4; thi = ($2 + $3) / 2}
    $1 == "s" && !t0a {t0a = $2; fa = $3; wa = $4; qa = $5; pa = $6; next}
    $1 == "s" {t0b = $2; fb = $3; wb = $4; qb = $5; pb = $6}
    END {
      if (!hi || !tlo) { print "bench-exporter: the kernel reads missed the end of the window" > "/dev/stderr"; exit 1 }
      kb = thi > tlo ? lo + (hi - lo) * (end - tlo) / (thi - tlo) : lo
      want = w * n; sent = kb - ka; q = qb - qa; p = pb - pa; cpu = c / hz; dc /= 1e6
      printf "%-34s sent %.0f probes in %d s (kernel: src OutEchos): %+.3f%% of %d/s (between %+.3f%% and %+.3f%%: reads %.1f ms apart at the end)\n",
        l, sent, w, (sent / want - 1) * 100, n, ((lo - ka) / want - 1) * 100, ((hi - ka) / want - 1) * 100, (thi - tlo) / 1e3
      printf "%-34s cross-check, its counters over scrapes started %.3f s apart: %d requests (%+.3f%%), %d replies; scrapes %.2f s and %.2f s (first byte %.2f s, %.2f s)\n",
        "", (t0b - t0a) / 1e6, q, (q / want - 1) * 100, p, wa, wb, fa, fb
      printf "%-34s CPU %.3f of a core, %.2f us CPU per probe; peak RSS %.1f MB (%.1f MB before the first scrape, %.1f MB before the last), /metrics %.1f MB\n",
        "", cpu / dc, cpu / (dc * sent / w) * 1e6, h / 1024, h0 / 1024, h1 / 1024, size / 1e6
      printf "%s %.3f %d %d %d\n", l, cpu, q, p, h >> res }'
  if [ -n "$tp" ]; then
    tail -1 "$work/tcpdump.err" | grep -q "^0 packets dropped" || echo "bench-exporter: tcpdump dropped packets: $(tail -1 "$work/tcpdump.err")" >&2
    local from
    from=$(awk '$1 == "a" {printf "%.6f", ($2 + $3) / 2e6}' "$work/kernel")
    "$work/sendlate" -period 1s -gap "$((1000000000 / (n * 2 > 20000 ? n * 2 : 20000)))ns" \
      -from "$from" -to "$(awk -v f="$from" -v w="$window" 'BEGIN {printf "%.6f", f + w}')" "$work/sent.pcap" | sed "s/^/$(printf '%-34s ' '')/"
  fi
}

echo "binaries: $bin ($("$bin" --version 2>&1 | head -1)), $smokeping ($("$smokeping" --version 2>&1 | head -1))"
echo "window ${window} s after ${warm} s warm-up; load: $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$work/res"

if [ -z "$only" ] || [ "$only" = ontime ]; then
if [ "$capture" = 1 ]; then (cd "$(dirname "$0")/.." && go build -o "$work/sendlate" ./internal/cmd/sendlate); fi
echo
echo "== rawnet exporter, $n10k ICMP targets every second"
cfg=$(rawnet_config "$n10k")
ip netns exec "rn-$name-src" "$bin" exporter --config "$cfg" --web.listen-address 127.0.0.1:10731 >"$work/rawnet-10k.log" 2>&1 &
pid=$!
ontime "rawnet exporter ($n10k targets)" http://127.0.0.1:10731/metrics "$n10k"
fi
[ "$only" != ontime ] || exit 0

if [ -z "$only" ] || [ "$only" = peer ]; then
echo
echo "== the same $peern targets every second: smokeping_prober --privileged, then rawnet exporter"
addrs "$peern" > "$work/hosts"
# shellcheck disable=SC2046
ip netns exec "rn-$name-src" "$smokeping" --privileged --ping.interval=1s --web.listen-address=127.0.0.1:9374 $(cat "$work/hosts") >"$work/smokeping.log" 2>&1 &
pid=$!
measure "smokeping_prober ($peern targets)" http://127.0.0.1:9374/metrics smokeping "$peern"
cfg=$(rawnet_config "$peern")
ip netns exec "rn-$name-src" "$bin" exporter --config "$cfg" --web.listen-address 127.0.0.1:10731 >"$work/rawnet-peer.log" 2>&1 &
pid=$!
measure "rawnet exporter ($peern targets)" http://127.0.0.1:10731/metrics rawnet_probe "$peern"
tail -n 2 "$work/res" | awk 'NR == 1 {sc = $(NF-3) / $(NF-2); sh = $NF} NR == 2 {
  printf "rawnet / smokeping_prober: CPU per probe %.3f, peak RSS %.3f\n", ($(NF-3) / $(NF-2)) / sc, $NF / sh }'
fi
[ "$only" != peer ] || exit 0

# RTT error against the wire, for RTTN (5) targets over RTTWIN (30) s per
# tool: the exporters export histograms, not single probes, so what is
# compared is the mean RTT over the window (the change of the histogram's
# _sum over that of its _count) with the mean of the capture's
# request-reply pairs whose reply falls in the window. tcpdump on src's
# link, nanosecond stamps, not in immediate mode (see bench-rtt.sh).
rttn=${RTTN:-5}
rttwin=${RTTWIN:-30}
# rttscrape URL METRIC: "TIME SUM COUNT" of histogram METRIC summed
rttscrape() {
  local t0 t1 out
  t0=$(now); out=$(src curl -sf "$1"); t1=$(now)
  echo "$out" | awk -v a="$t0" -v b="$t1" -v m="$2" '
    index($0, m "_sum{") == 1 {s += $NF} index($0, m "_count{") == 1 {c += $NF}
    END {printf "%.6f %.9g %.0f\n", (a + b) / 2, s, c}'
}
# rtterr LABEL URL METRIC: the daemon ($pid) is probing; capture, window, compare
rtterr() {
  local label=$1 url=$2 metric=$3 tp a b
  ip netns exec "rn-$name-src" tcpdump -i "$ifc" -nn --time-stamp-precision nano -w "$work/wire.pcap" icmp 2>"$work/tcpdump.err" &
  tp=$!
  until grep -q "listening on" "$work/tcpdump.err" 2>/dev/null; do sleep 0.05; done
  for ((i = 0; i < 50; i++)); do src curl -sf -o /dev/null "${url%/metrics}/" && break; sleep 0.2; done
  sleep "$warm"
  a=$(rttscrape "$url" "$metric")
  sleep "$rttwin"
  b=$(rttscrape "$url" "$metric")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  sleep 1.5 # past the capture ring's block timeout: the signal loses nothing
  kill -INT "$tp"; wait "$tp" 2>/dev/null || true
  tshark -r "$work/wire.pcap" -T fields -e frame.time_epoch -e icmp.type -e ip.src -e ip.dst -e icmp.ident -e icmp.seq 2>/dev/null |
    awk -v w="$a $b" -v l="$label" '
      BEGIN {split(w, x, " "); t0 = x[1]; t1 = x[4]; rtt = (x[5] - x[2]) / (x[6] - x[3]); n = x[6] - x[3]}
      $2 == 8 {req[$4 " " $5 " " $6] = $1}
      $2 == 0 {k = $3 " " $5 " " $6; if ((k in req) && $1 >= t0 && $1 <= t1) {s += $1 - req[k]; m++; delete req[k]}}
      END {printf "%-34s mean RTT %7.2f us over %d probes; wire %7.2f us over %d pairs; error %+6.2f us\n",
        l, rtt * 1e6, n, s / m * 1e6, m, (rtt - s / m) * 1e6}'
}
echo
echo "== RTT error against the wire: $rttn targets every second, ${rttwin} s per tool (mean RTT)"
addrs "$rttn" > "$work/hosts"
# shellcheck disable=SC2046
ip netns exec "rn-$name-src" "$smokeping" --privileged --ping.interval=1s --web.listen-address=127.0.0.1:9374 $(cat "$work/hosts") >"$work/smokeping.log" 2>&1 &
pid=$!
rtterr "smokeping_prober ($rttn targets)" http://127.0.0.1:9374/metrics smokeping_response_duration_seconds
cfg=$(rawnet_config "$rttn")
ip netns exec "rn-$name-src" "$bin" exporter --config "$cfg" --web.listen-address 127.0.0.1:10731 >"$work/rawnet-rtt.log" 2>&1 &
pid=$!
rtterr "rawnet exporter ($rttn targets)" http://127.0.0.1:10731/metrics rawnet_probe_rtt_seconds
