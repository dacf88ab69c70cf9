#!/usr/bin/env bash
# Runs the benchmarks (bench/): installs what only the bench uses (wrk and
# nftables for the e2e comparison with the kernel), then node dist/bench/run.js.
#   npm run bench -- [--scenario NAME]... [--json] [--smoke] [--out DIR] [--memory hugepages|4k|auto]
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for p in wrk nftables iperf3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" -eq 0 ]; then
  printf '[bench] installing %s\n' "${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
exec node dist/bench/run.js "$@"
