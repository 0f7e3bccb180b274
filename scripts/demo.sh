#!/usr/bin/env bash
# make demo: build a throwaway lab network in namespaces, run rawnet's main
# jobs against it, and remove it again (also on Ctrl-C or failure).
# Every packet stays inside the lab: 198.18.0.0/15 and fd00::/8.
set -euo pipefail
bin=$(realpath "${1:-bin/rawnet}")
if [ "$(id -u)" != 0 ]; then
  echo "make demo needs root: it creates network namespaces (sudo make demo)" >&2
  exit 1
fi
name="demo$$"
name=${name:0:12}
trap '"$bin" lab down "$name" >/dev/null 2>&1 || true' EXIT INT TERM
out=$(mktemp -d)

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }
in_src() { ip netns exec "rn-$name-src" "$@"; }

step "A lab: src, three routers (the second doubled: an ECMP diamond), dst (which answers all of 198.19.0.0/22), a host that answers after 25ms" \
  "rawnet lab up --name $name --routers 3 --diamond --delay 25ms --blackhole 198.19.0.200"
"$bin" lab up --name "$name" --routers 3 --diamond --delay 25ms --blackhole 198.19.0.200

step "Ping through three routers (TTL 64 - 3 = 61)" "rawnet ping -c 3 -i 0.2 198.18.3.2"
in_src "$bin" ping -c 3 -i 0.2 198.18.3.2

step "IPv6, the same path" "rawnet ping -c 3 -i 0.2 fd00:0:0:3::2"
in_src "$bin" ping -c 3 -i 0.2 fd00:0:0:3::2

step "A link-local neighbour, zone and all: ping and trace reach it the same way" \
  "rawnet ping -c 2 -i 0.2 fe80::2%to-r1 && rawnet trace -n fe80::2%to-r1"
in_src "$bin" ping -c 2 -i 0.2 fe80::2%to-r1
in_src "$bin" trace -n fe80::2%to-r1

step "A delayed host: RTT from kernel timestamps" "rawnet ping -c 3 -i 0.2 198.18.100.2"
in_src "$bin" ping -c 3 -i 0.2 198.18.100.2

step "TTL 2 expires at the second router" "rawnet ping -c 2 -i 0.2 -t 2 198.18.3.2"
in_src "$bin" ping -c 2 -i 0.2 -t 2 198.18.3.2 || true

step "No route: the first router says so" "rawnet ping -c 1 -W 1 198.18.200.1"
in_src "$bin" ping -c 1 -W 1 198.18.200.1 || true

step "Sweep a /22 (1,024 hosts; one never answers), summary only" "rawnet ping -q 198.19.0.0/22"
in_src "$bin" ping -q 198.19.0.0/22 || true

step "Flood ping, 20,000 round trips" "rawnet ping -f -q -c 20000 198.18.3.2"
in_src "$bin" ping -f -q -c 20000 198.18.3.2

step "Where ICMP is blocked: TCP SYN ping (open port 80: flags=SA; closed port 81: flags=RA; the kernel resets the half-open connection)" \
  "rawnet ping -P tcp -p 80 -c 2 -i 0.2 198.18.3.2 && rawnet ping -P tcp -p 81 -c 2 -i 0.2 198.18.3.2"
(cd "$(dirname "$0")/.." && go build -o "$out/tcplisten" ./scripts/tcplisten)
ip netns exec "rn-$name-dst" "$out/tcplisten" 80 >/dev/null 2>&1 &
listener=$!
sleep 0.2
in_src "$bin" ping -P tcp -p 80 -c 2 -i 0.2 198.18.3.2
in_src "$bin" ping -P tcp -p 81 -c 2 -i 0.2 198.18.3.2
kill "$listener" 2>/dev/null || true

step "UDP ping: an echo server answers (open), a closed port says port unreachable" \
  "rawnet ping -P udp -p 7 -c 2 -i 0.2 198.18.3.2 && rawnet ping -P udp -p 9 -c 2 -i 0.2 198.18.3.2"
ip netns exec "rn-$name-dst" "$bin" udp serve --duration 3 :7 >/dev/null 2>&1 &
sleep 0.2
in_src "$bin" ping -P udp -p 7 -c 2 -i 0.2 198.18.3.2
in_src "$bin" ping -P udp -p 9 -c 2 -i 0.2 198.18.3.2
wait

step "On the local link: ARP and neighbour-discovery ping, replies with the neighbour's MAC" \
  "rawnet ping -P arp -c 2 -i 0.2 198.18.0.2 && rawnet ping -P ndp -c 2 -i 0.2 fd00::2"
in_src "$bin" ping -P arp -c 2 -i 0.2 198.18.0.2
in_src "$bin" ping -P ndp -c 2 -i 0.2 fd00::2

step "JSON Lines for scripts (ts_source kernel: the RTT runs from the kernel's transmit stamp to its receive stamp)" "rawnet ping --json -c 2 -i 0.2 198.18.3.2"
in_src "$bin" ping --json -c 2 -i 0.2 198.18.3.2

step "A pcap of every probe and reply, read back by tcpdump" \
  "rawnet ping -q -c 2 -i 0.2 --write $out/ping.pcap fd00:0:0:3::2 && tcpdump -nn -r $out/ping.pcap"
in_src "$bin" ping -q -c 2 -i 0.2 --write "$out/ping.pcap" fd00:0:0:3::2
if command -v tcpdump >/dev/null; then tcpdump -nn -r "$out/ping.pcap" 2>/dev/null; fi

step "Trace the path: UDP probes, Paris flow (one flow, one path through the diamond)" "rawnet trace -n 198.18.3.2"
in_src "$bin" trace -n 198.18.3.2

step "TCP SYN probes over IPv6" "rawnet trace -n -P tcp fd00:0:0:3::2"
in_src "$bin" trace -n -P tcp fd00:0:0:3::2

step "Multipath discovery: both branches of the diamond, and the links" "rawnet trace -n --multipath 198.18.3.2"
in_src "$bin" trace -n --multipath 198.18.3.2

step "mtr-style report, 20 cycles of ICMP probes, to the host that answers after 25ms" "rawnet trace -n -P icmp --report -c 20 -i 0.05 198.18.100.2"
in_src "$bin" trace -n -P icmp --report -c 20 -i 0.05 198.18.100.2 || true

step "The live view (rawnet mtr), in a terminal of its own: the screen after 3 seconds, then q leaves the report" \
  "rawnet mtr -n -P icmp -i 0.1 198.18.3.2   (under tmux)"
if command -v tmux >/dev/null; then
  tmux new-session -d -s "$name" -x 110 -y 14 "ip netns exec rn-$name-src $bin mtr -n -P icmp -i 0.1 198.18.3.2; sleep 30"
  sleep 3
  tmux capture-pane -p -t "$name" | sed '/^$/d'
  tmux send-keys -t "$name" q
  sleep 1
  echo "-- after q:"
  tmux capture-pane -p -t "$name" | sed '/^$/d'
  tmux kill-session -t "$name" 2>/dev/null || true
else
  echo "(tmux is not installed: skipped)"
fi

step "Craft a packet: UDP to a closed port, and take the answer (port unreachable)" \
  "rawnet send --wait 1 'ip(dst=198.18.3.2,id=7,df)/udp(sport=4000,dport=33999)/raw(text=hello)'"
in_src "$bin" send --wait 1 'ip(dst=198.18.3.2,id=7,df)/udp(sport=4000,dport=33999)/raw(text=hello)'

step "A range of TTLs is a traceroute in one line: every router answers its own" \
  "rawnet send --wait 1 'ip(dst=198.18.3.2,ttl=1..4)/udp(dport=33434)'"
in_src "$bin" send --wait 1 'ip(dst=198.18.3.2,ttl=1..4)/udp(dport=33434)'

step "An ICMP timestamp request, its 20-byte body filled in: the host answers with its clock" \
  "rawnet send --wait 1 'ip(dst=198.18.3.2)/icmp(type=13,id=5,seq=1)'"
in_src "$bin" send --wait 1 'ip(dst=198.18.3.2)/icmp(type=13,id=5,seq=1)'

step "An echo request in 7 fragments of 64 bytes: the host reassembles it and replies" \
  "rawnet send --fragment 64 --wait 1 'ip6(dst=fd00:0:0:3::2)/icmp6(id=7,seq=1)/raw(len=400)'"
in_src "$bin" send --fragment 64 --wait 1 'ip6(dst=fd00:0:0:3::2)/icmp6(id=7,seq=1)/raw(len=400)'

step "A dry run shows every field; this checksum is wrong on purpose" \
  "rawnet send --dry-run --hex 'ip(dst=198.18.3.2,chksum=0xbad)/tcp(dport=80,syn,mss=1460,ws=7)'"
in_src "$bin" send --dry-run --hex 'ip(dst=198.18.3.2,chksum=0xbad)/tcp(dport=80,syn,mss=1460,ws=7)'

step "200,000 packets of 64 bytes as fast as the kernel takes them (to a host whose packets vanish)" \
  "rawnet send -v -q -c 200000 'ip(dst=198.19.0.200)/udp(dport=9)/raw(len=36)'"
in_src "$bin" send -v -q -c 200000 'ip(dst=198.19.0.200)/udp(dport=9)/raw(len=36)'

step "Live capture in dst (tcpdump's filter language) while src pings it, written to a pcapng file" \
  "rawnet capture -i any -c 6 --duration 10 -w $out/dst.pcapng icmp   (in dst)"
ip netns exec "rn-$name-dst" "$bin" capture -i any -c 6 --duration 10 -w "$out/dst.pcapng" icmp &
capture=$!
sleep 0.5
in_src "$bin" ping -q -c 3 -i 0.2 198.18.3.2 >/dev/null
wait "$capture" || true

step "Read it back, like tcpdump -nn -r" "rawnet read $out/dst.pcapng"
"$bin" read "$out/dst.pcapng"

step "Statistics of a file: protocols, talkers, pings matched to replies" "rawnet read --stats $out/dst.pcapng"
"$bin" read --stats "$out/dst.pcapng"

step "DNS as tcpdump prints it: dnsmasq in dst answers dig in src, rawnet captures in dst and reads the file" \
  "rawnet capture -i any -c 4 -w $out/dns.pcapng udp port 53 && rawnet read $out/dns.pcapng"
if command -v dnsmasq >/dev/null && command -v dig >/dev/null; then
  ip netns exec "rn-$name-dst" dnsmasq --keep-in-foreground --no-resolv --no-hosts -C /dev/null --pid-file= \
    --listen-address=198.18.3.2 --bind-interfaces --address=/printer.lab/198.18.3.2 --address=/printer.lab/fd00:0:0:3::2 &
  dns=$!
  ip netns exec "rn-$name-dst" "$bin" capture -q -i any -c 4 --duration 10 -w "$out/dns.pcapng" udp port 53 &
  capture=$!
  sleep 0.5
  in_src dig +short +tries=1 +time=2 @198.18.3.2 printer.lab A >/dev/null || true
  in_src dig +short +tries=1 +time=2 @198.18.3.2 printer.lab AAAA >/dev/null || true
  wait "$capture" || true
  kill "$dns" 2>/dev/null || true
  "$bin" read "$out/dns.pcapng"
else
  echo "(dnsmasq or dig is not installed: skipped)"
fi

step "Decode bytes given in hex" "rawnet decode 45000020000740000311e69ec6120001c61205020fa00035000cc13bdeadbeef"
"$bin" decode 45000020000740000311e69ec6120001c61205020fa00035000cc13bdeadbeef

step "rawnet exporter at three vantage points, scraped by a real Prometheus: 20% loss on src's first link only" \
  "rawnet lab up --routers 2 --vantages 2 --monitor --loss 0:20; rawnet exporter in src, v1, v2; prometheus in mon"
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  pname="p${name:4:8}"
  pids=()
  # Everything this step starts stops again, also on Ctrl-C or failure.
  trap '"$bin" lab down "$name" >/dev/null 2>&1 || true; kill "${pids[@]}" 2>/dev/null || true; "$bin" lab down "$pname" >/dev/null 2>&1 || true' EXIT INT TERM
  "$bin" lab up --name "$pname" --routers 2 --vantages 2 --monitor --loss 0:20 --prefix4 none --prefix6 none >/dev/null
  printf 'targets:\n  - name: core\n    hosts: [198.18.2.2, 198.18.1.2]\n    interval: 20ms\n' >"$out/exporter.yml"
  scrape=()
  for i in 0 1 2; do
    node=src; [ "$i" = 0 ] || node="v$i"
    ip netns exec "rn-$pname-$node" "$bin" exporter --config "$out/exporter.yml" \
      --web.listen-address "198.18.24$i.2:10731" --log.level warn &
    pids+=($!)
    scrape+=("\"198.18.24$i.2:10731\"")
  done
  cat >"$out/prometheus.yml" <<PROM
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: rawnet
    static_configs: [{targets: [$(IFS=,; echo "${scrape[*]}")]}]
PROM
  ip netns exec "rn-$pname-mon" prometheus --config.file="$out/prometheus.yml" --storage.tsdb.path="$out/tsdb" \
    --web.listen-address=127.0.0.1:9090 --log.level=error &
  pids+=($!)
  query='round(1 - sum by (instance) (increase(rawnet_probe_replies_total[10s])) / sum by (instance) (increase(rawnet_probe_requests_total[10s])), 0.001)'
  echo "waiting 15s for scrapes, then, in mon:"
  echo "\$ promtool query instant http://127.0.0.1:9090 '$query'"
  sleep 15
  for _ in $(seq 20); do
    if ip netns exec "rn-$pname-mon" promtool query instant http://127.0.0.1:9090 "$query" 2>/dev/null | grep -q instance; then break; fi
    sleep 1
  done
  ip netns exec "rn-$pname-mon" promtool query instant http://127.0.0.1:9090 "$query" || true
  echo "(src at 198.18.240.2 loses about 0.2; v1 and v2 lose nothing on the same path)"
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  "$bin" lab down "$pname" >/dev/null
  trap '"$bin" lab down "$name" >/dev/null 2>&1 || true' EXIT INT TERM
else
  echo "(prometheus or promtool is not installed: skipped)"
fi

step "Removing the lab" "rawnet lab down $name"
"$bin" lab down "$name"
trap - EXIT INT TERM
rm -rf "$out"
