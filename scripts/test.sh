#!/usr/bin/env bash
# All tests, in order: native (C tests of the data plane, no EAL), unit (no
# DPDK), packet fixtures (DPDK in-process on ring ports), end-to-end
# (namespaces, real programs). Node test files run one at a time: DPDK
# processes pin CPUs and there are only two here.
#   scripts/test.sh                 everything
#   scripts/test.sh unit packet     some layers
set -euo pipefail
cd "$(dirname "$0")/.."
layers=("$@")
[ ${#layers[@]} -gt 0 ] || layers=(native unit packet e2e)
files=()
for layer in "${layers[@]}"; do
  if [ "$layer" = native ]; then
    cmake -S native -B build/native-test -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build/native-test -j2 >/dev/null
    build/native-test/fn_native_test
    continue
  fi
  while IFS= read -r f; do files+=("$f"); done < <(find "dist/test/$layer" -name '*.test.js' 2>/dev/null | sort)
done
[ ${#files[@]} -gt 0 ] || exit 0
exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
