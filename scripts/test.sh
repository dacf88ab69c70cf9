#!/usr/bin/env bash
# All tests, in order: unit (no DPDK), packet fixtures (DPDK in-process on
# ring ports), end-to-end (namespaces, real programs). One file at a time:
# DPDK processes pin CPUs and there are only two here.
set -euo pipefail
cd "$(dirname "$0")/.."
layers=("${@:-unit packet e2e}")
files=()
for layer in ${layers[@]}; do
  while IFS= read -r f; do files+=("$f"); done < <(find "dist/test/$layer" -name '*.test.js' 2>/dev/null | sort)
done
[ ${#files[@]} -gt 0 ] || { echo "no test files found (did the build run?)" >&2; exit 1; }
exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
