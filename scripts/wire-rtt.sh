# shellcheck shell=bash
# Sourced by bench-rtt.sh, bench-tcpping.sh and bench-arp.sh, which measure
# a tool's RTT error against the wire: a run of the tool under a capture
# on src's link, and the summary of the errors scripts/rtterr printed.
# Both use $tmp, the calling script's scratch directory.

# wire_run NS IFACE BPF CMD...: runs CMD (its standard output to $tmp/out)
# while tcpdump in namespace NS writes what BPF matches on IFACE to
# $tmp/wire.pcap with nanosecond stamps. Not in immediate mode: waking
# tcpdump per packet sits on the send path.
wire_run() {
  local ns=$1 ifc=$2 bpf=$3 tp
  shift 3
  ip netns exec "$ns" tcpdump -i "$ifc" -nn --time-stamp-precision nano -w "$tmp/wire.pcap" "$bpf" 2>"$tmp/tcpdump.err" &
  tp=$!
  until grep -q "listening on" "$tmp/tcpdump.err" 2>/dev/null; do sleep 0.05; done
  "$@" > "$tmp/out" 2>/dev/null || true
  sleep 1.5 # past the capture ring's block timeout: the signal loses nothing
  kill -INT "$tp"; wait "$tp" 2>/dev/null || true
}

# rtterr_summary WIDTH LABEL FILE: one line for FILE's errors (rtterr's
# lines: nanoseconds, ts_source), LABEL padded to WIDTH: the median and
# p90 of |error| in µs, how many were longer than the wire, and the
# timestamp sources.
rtterr_summary() {
  local width=$1 label=$2 file=$3 cnt med p90 sign srcs
  awk '{e = $1 < 0 ? -$1 : $1; print e / 1000}' "$file" | sort -g > "$tmp/abs"
  cnt=$(wc -l < "$tmp/abs")
  if [ "$cnt" = 0 ]; then printf "  %-${width}s no probes paired\n" "$label"; return; fi
  med=$(awk -v c="$cnt" 'NR == int((c + 1) / 2) {print; exit}' "$tmp/abs")
  p90=$(awk -v c="$cnt" 'NR == int(c * 0.9 + 0.999) {print; exit}' "$tmp/abs")
  sign=$(awk '{s += ($1 > 0)} END {printf "%d of %d longer than the wire", s, NR}' "$file")
  srcs=$(awk '{c[$2]++} END {for (k in c) printf "%s%s:%d", (n++ ? " " : ""), k, c[k]}' "$file")
  printf "  %-${width}s |RTT - wire| median %7.2f µs  p90 %7.2f µs  (%d probes; %s; ts_source %s)\n" "$label" "$med" "$p90" "$cnt" "$sign" "$srcs"
}
