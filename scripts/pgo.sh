#!/usr/bin/env bash
# Regenerates cmd/rawnet/default.pgo, the CPU profile that `go build` and
# `make build` use for profile-guided optimization of rawnet (Go picks up
# default.pgo in the main package's directory by itself, -pgo=auto, so a
# plain `go build`/`go install` gets it too). The profile is of the hot
# path PGO can help: a flood ping one router away (issue 15, part 3),
# RUNS (3) runs of TestFloodProfile (cmd/rawnet/pgo_flood_test.go, build
# tag pgo) of COUNT (300000) round trips each, inside a throwaway lab;
# every packet stays in the lab's namespaces. Needs root.
# Rerun it when the ping engine's send/receive path changes much: a stale
# profile only loses its effect on the code that moved, it never breaks a
# build. Measured gains are in docs/benchmarks.md (flood ping).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-3}
count=${COUNT:-300000}
[ "$(id -u)" = 0 ] || { echo "pgo.sh needs root (network namespaces)" >&2; exit 1; }
work=$(mktemp -d)
name="pg$$"; name=${name:0:10}
cd "$here"
go build -pgo=off -o "$work/rawnet" ./cmd/rawnet
cleanup() {
  "$work/rawnet" lab down "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
"$work/rawnet" lab up --name "$name" --routers 1 >/dev/null
# The profile is taken without PGO, so that it does not feed on itself.
go test -pgo=off -tags pgo -c -o "$work/rawnet.test" ./cmd/rawnet
profiles=()
# In the package directory: its TestMain builds the binary the other tests run.
cd cmd/rawnet
for i in $(seq "$runs"); do
  ip netns exec "rn-$name-src" env RAWNET_PGO_DST=198.18.1.2 RAWNET_PGO_COUNT="$count" \
    "$work/rawnet.test" -test.run '^TestFloodProfile$' -test.count 1 -test.cpuprofile "$work/cpu$i.pprof" >/dev/null
  profiles+=("$work/cpu$i.pprof")
done
go tool pprof -proto "${profiles[@]}" >"$work/merged.pgo" 2>/dev/null
cd "$here"
mv "$work/merged.pgo" cmd/rawnet/default.pgo
echo "cmd/rawnet/default.pgo: $(stat -c %s cmd/rawnet/default.pgo) bytes from $runs flood runs of $count round trips"
