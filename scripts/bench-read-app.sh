#!/usr/bin/env bash
# rawnet read against tcpdump -nn -r on a DNS-heavy and a tunnel-heavy
# capture made in a throwaway lab (make bench-app): dnsmasq in dst answers
# dig in src (A, AAAA, MX, TXT, SRV, PTR and names it does not know, over
# UDP with EDNS and over TCP); a VXLAN tunnel between src and dst carries
# a ping flood and UDP probes. tcpdump records dst's link; each file is
# then timed by bench-read.sh (FILE=...). Needs root, dnsmasq and dig.
#   QUERIES=40000 DNS queries; PINGS=40000 pings and probes in the tunnel;
#   RUNS=5 timed runs; KEEP=dir keeps dns.pcap and tunnel.pcap there.
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
here=$(dirname "$(realpath "$0")")
[ "$(id -u)" = 0 ] || { echo "bench-read-app needs root (network namespaces)" >&2; exit 1; }
work=$(mktemp -d /tmp/bench-read-app.XXXXXX)
name="ra$$"; name=${name:0:12}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$bin" lab down "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$bin" lab up --name "$name" --routers 0 >/dev/null
src="rn-$name-src" dst="rn-$name-dst"
s4=$(ip -n "$src" -o -4 addr show | awk '$4 ~ /^198\.18\./ {sub("/.*", "", $4); print $4; exit}')
d4=$(ip -n "$dst" -o -4 addr show | awk '$4 ~ /^198\.18\./ {sub("/.*", "", $4); print $4; exit}')
difc=$(ip -n "$dst" -o -4 addr show | awk '$4 ~ /^198\.18\./ {print $2; exit}')

record() { # FILE: tcpdump on dst's link until stop is called
  ip netns exec "$dst" tcpdump -i "$difc" -s 262144 -B 131072 --immediate-mode -w "$1" 2>"$work/tcpdump.err" &
  dump=$!
  for _ in $(seq 50); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
}
stop() { sleep 0.5; kill -INT "$dump"; wait "$dump" 2>/dev/null || true; }

# DNS-heavy: four dig processes, each reading a batch of queries.
ip netns exec "$dst" dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
  --listen-address="$d4" --user=root --pid-file="$work/dnsmasq.pid" --log-facility="$work/dnsmasq.log" \
  --host-record=www.lab.test,198.18.9.9,fd00:9::9 --cname=alias.lab.test,www.lab.test \
  --mx-host=lab.test,mail.lab.test,10 --txt-record=lab.test,"v=spf1 -all" \
  --srv-host=_sip._udp.lab.test,sip.lab.test,5060,1,5 --ptr-record=9.9.18.198.in-addr.arpa,www.lab.test &
pids+=($!)
n=${QUERIES:-40000}
for i in $(seq 0 $((n / 8 - 1))); do
  echo "www.lab.test A"; echo "alias.lab.test AAAA"; echo "lab.test MX"; echo "lab.test TXT"
  echo "_sip._udp.lab.test SRV"; echo "-x 198.18.9.9"; echo "n$i.lab.test A +noedns"; echo "www.lab.test AAAA"
done > "$work/queries"
split -n l/4 "$work/queries" "$work/q."
sleep 0.5
record "$work/dns.pcap"
tcp=+notcp
for f in "$work"/q.*; do # the last quarter over TCP, a connection per query
  [ "$f" = "$(ls "$work"/q.* | tail -1)" ] && tcp=+tcp
  ip netns exec "$src" dig @"$d4" +tries=1 +time=2 "$tcp" -f "$f" >/dev/null &
  pids+=($!)
done
wait "${pids[@]:1}" 2>/dev/null || true
stop

# Tunnel-heavy: VXLAN between the namespaces, a ping flood and UDP probes inside.
for side in "$src $s4 $d4 198.19.200.1" "$dst $d4 $s4 198.19.200.2"; do
  set -- $side
  ip -n "$1" link add vx0 type vxlan id 100 local "$2" remote "$3" dstport 4789
  ip -n "$1" addr add "$4/24" dev vx0
  ip -n "$1" link set vx0 up
done
ip netns exec "$dst" "$bin" udp serve 198.19.200.2:7 >/dev/null 2>&1 &
pids+=($!)
sleep 0.5
record "$work/tunnel.pcap"
ip netns exec "$src" "$bin" ping -f -q -c "${PINGS:-40000}" -w 60 198.19.200.2 >/dev/null
ip netns exec "$src" "$bin" udp probe -q --rate 0 -c "${PINGS:-40000}" 198.19.200.2:7 >/dev/null || true
stop

if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$work/dns.pcap" "$work/tunnel.pcap" "$KEEP/"; fi
for f in dns tunnel; do
  echo "== $f-heavy capture"
  FILE="$work/$f.pcap" RUNS="${RUNS:-5}" "$here/bench-read.sh" "$bin" 2>&1 | grep -v "fewer than 300,000"
done
