#!/usr/bin/env bash
# Brings a fresh machine to a built fullnat: system packages, npm packages,
# the native addon and the TypeScript build. Idempotent and quiet when there
# is nothing to do; every README command runs it first.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

APT_PACKAGES=(libdpdk-dev pkg-config cmake g++ make iproute2 ethtool curl iperf3 procps)

if [ "$(id -u)" -ne 0 ]; then
  say "warning: not root: DPDK ports and network namespaces need root (run with sudo)"
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm: cmake-js must find Node's headers locally (no downloads here).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

addon=build/native/Release/fullnat.node
if [ ! -f "$addon" ] || [ -n "$(find native -newer "$addon" -type f -print -quit)" ]; then
  say "building the native addon (DPDK $(pkg-config --modversion libdpdk))"
  npm run --silent build:native >/dev/null
fi
say "compiling TypeScript"
npm run --silent build:ts
