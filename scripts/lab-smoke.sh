#!/bin/sh
# lab-smoke.sh checks `rawnet lab` end to end, as root: it builds a lab
# with the CLI, pings through it with iputils (the independent observer),
# checks that bad input exits 2, and removes the lab again, also when a
# check fails. Only lab addresses (198.18.0.0/15, fd00::/8) inside the
# lab's own namespaces are ever pinged.
#
#   sudo scripts/lab-smoke.sh
set -eu
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
bin=$tmp/rawnet
name=smoke$$
trap '"$bin" lab down "$name" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT INT TERM

fail() { echo "lab-smoke: FAIL: $*" >&2; exit 1; }
src() { ip netns exec "rn-$name-src" "$@"; }

go build -o "$bin" ./cmd/rawnet

start=$(date +%s%N)
"$bin" lab up --name "$name" --routers 3 --delay 20ms --silent 3 >"$tmp/up.txt"
echo "lab-smoke: lab up took $(( ($(date +%s%N) - start) / 1000000 )) ms"
grep -q "rawnet lab down $name" "$tmp/up.txt" || fail "lab up did not print how to remove the lab"
"$bin" lab list | grep -qx "$name" || fail "lab list lacks $name"

for a in 198.18.3.2 fd00:0:0:3::2 198.19.1.1 fd00:99::1; do
	src ping -c 1 -W 1 "$a" | grep -q "bytes from $a:" || fail "no reply from $a"
done
src ping -c 1 -W 1 -t 2 198.18.3.2 | grep -q "From 198.18.1.2 .*Time to live exceeded" ||
	fail "TTL 2 did not expire at r2 (198.18.1.2)"
if src ping -c 1 -W 1 -t 3 198.18.3.2 | grep -q "Time to live exceeded"; then
	fail "silent r3 sent time exceeded"
fi
src ping -c 1 -W 1 198.18.200.1 | grep -q "From 198.18.0.2 .*Net Unreachable" ||
	fail "no net unreachable from r1 for an address without a route"
rtt=$(src ping -c 3 -i 0.05 -W 1 198.18.100.2 | sed -n 's|^rtt min/avg/max/mdev = \([0-9]*\)\..*|\1|p')
[ -n "$rtt" ] && [ "$rtt" -ge 20 ] && [ "$rtt" -lt 30 ] || fail "delayed responder: min rtt ${rtt:-none} ms, want 20..29"

for bad in "--routers 51" "--loss 9:10" "--silent 0" "--prefix4 10.0.0.0/8"; do
	set +e
	# shellcheck disable=SC2086 # the flags are meant to split
	"$bin" lab up $bad >/dev/null 2>"$tmp/err.txt"
	code=$?
	set -e
	[ "$code" -eq 2 ] || fail "lab up $bad exited $code, want 2"
	[ "$(wc -l <"$tmp/err.txt")" -eq 1 ] || fail "lab up $bad: want a one-line error, got: $(cat "$tmp/err.txt")"
done

pid=$(cut -d' ' -f1 "/run/rawnet/lab/$name/responder.pid")
"$bin" lab down "$name" >/dev/null
if ip netns list | grep -q "^rn-$name-"; then fail "namespaces left after lab down"; fi
if [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status"; then fail "responder $pid still running"; fi
echo "lab-smoke: ok"
