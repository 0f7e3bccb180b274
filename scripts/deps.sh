#!/usr/bin/env bash
# Installs the Debian packages rawnet's tests, demo and benchmarks use, when
# they are missing. A no-op when everything is there; says what to do when
# it cannot install (not root, no apt-get).
set -euo pipefail
packages=(iproute2 nftables iputils-ping fping nmap tcpdump tshark gcc libc6-dev libpcap-dev libcap2-bin traceroute mtr-tiny sockperf hping3 time mandoc groff-base man-db bash-completion zsh fish tmux dnsmasq-base bind9-dnsutils arping ndisc6 chrony isc-dhcp-client prometheus prometheus-smokeping-prober curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing packages: ${missing[*]} (install them, e.g. sudo apt-get install ${missing[*]})" >&2
  exit 0
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Servers among these (chrony, dnsmasq, prometheus, the smokeping prober) are
# run by the tests inside lab namespaces only: no system service may start on
# install (a system chronyd would poll public NTP servers, a system
# Prometheus would hold port 9090). A policy-rc.d that denies every start is
# put in place for the install unless the machine already has one.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && own_policy=1
fi
trap 'if [ -n "$own_policy" ]; then rm -f "$policy"; fi' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl disable --now chrony.service prometheus.service prometheus-smokeping-prober.service >/dev/null 2>&1 || true
fi
