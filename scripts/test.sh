#!/usr/bin/env bash
# All tests, in order: native (C tests of the data plane; EAL on ordinary
# pages for the tables that allocate with rte_malloc), unit (no DPDK;
# includes the config fuzzer), packet fixtures (DPDK in-process on ring
# ports), end-to-end (namespaces, real programs), fuzz (libFuzzer over the
# packet path with ASan+UBSan for FUZZ_SECONDS, default 60). Node test files
# run one at a time: DPDK processes pin CPUs and there are only two here.
#   scripts/test.sh                 everything
#   scripts/test.sh unit packet     some layers
# Test-only tools are installed here, not by setup.sh (the demo needs none):
# hping3 for e2e, clang and libclang-rt-14-dev for fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
layers=("$@")
[ ${#layers[@]} -gt 0 ] || layers=(native unit packet e2e fuzz)

need_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "[test] missing ${missing[*]} (run as root, or apt-get install them)" >&2
    return 1
  fi
  echo "[test] installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
}

run_fuzz=0
files=()
for layer in "${layers[@]}"; do
  if [ "$layer" = fuzz ]; then
    run_fuzz=1
    continue
  fi
  [ "$layer" = e2e ] && need_apt hping3
  if [ "$layer" = native ]; then
    cmake -S native -B build/native-test -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build/native-test -j2 >/dev/null
    build/native-test/fn_native_test
    continue
  fi
  while IFS= read -r f; do files+=("$f"); done < <(find "dist/test/$layer" -name '*.test.js' 2>/dev/null | sort)
done
if [ ${#files[@]} -gt 0 ]; then
  node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
fi
if [ $run_fuzz = 1 ]; then
  need_apt clang libclang-rt-14-dev
  bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
fi
