#!/usr/bin/env bash
# Builds the libFuzzer target over the data plane's packet path
# (native/fuzz, ASan + UBSan, clang) and runs it for SECONDS (default 60).
# Exits non-zero on a finding (crash, sanitizer report, failed check, leak),
# leaving the input in build/fuzz/artifacts/.
#   scripts/fuzz.sh [SECONDS]
# Before fuzzing, a self-test runs the seed corpus once per sabotage mode
# (FUZZ_PACKET_SELFTEST=ip|l4|icmp|leak) and requires each to be caught,
# and every input in native/fuzz/regressions (past findings) is replayed.
# The seeds (native/fuzz/corpus) are never written to; inputs the fuzzer
# finds interesting collect in build/fuzz/corpus. Needs clang and
# libclang-rt-14-dev (libFuzzer, sanitizer runtimes); runs as root (EAL).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
[[ "$secs" =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2; }
command -v clang >/dev/null || { echo "fuzz.sh: clang not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

build=build/fuzz
cmake -S native/fuzz -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 >/dev/null
mkdir -p "$build/corpus" "$build/artifacts" "$build/selftest"

runtime_dir() { if [ "$(id -u)" = 0 ]; then echo /var/run/dpdk; else echo "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; fi; }
# EAL's runtime directory for a finished run of ours (prefix fnfuzz<pid>): remove it.
cleanup_run() { rm -rf "$(runtime_dir)/fnfuzz$1"; }

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Each check must bite: a deliberately broken output (or a leaked mbuf) is a finding.
for mode in ip l4 icmp leak; do
  set +e
  FUZZ_PACKET_SELFTEST=$mode "$build/fuzz_packet" -runs=0 -artifact_prefix="$build/selftest/" native/fuzz/corpus >"$build/selftest/$mode.log" 2>&1 &
  pid=$!
  wait $pid 2>/dev/null
  rc=$?
  set -e
  cleanup_run $pid
  if [ $rc -eq 0 ] || ! grep -q '^fuzz_packet: ' "$build/selftest/$mode.log"; then
    echo "fuzz.sh: self-test '$mode' was not caught (exit $rc): see $build/selftest/$mode.log" >&2
    exit 1
  fi
done
rm -f "$build"/selftest/crash-* "$build"/selftest/leak-*
echo "fuzz.sh: self-test: all four sabotage modes caught"

# Inputs that once were findings (native/fuzz/regressions): each must pass.
shopt -s nullglob
regressions=(native/fuzz/regressions/*)
shopt -u nullglob
if [ ${#regressions[@]} -gt 0 ]; then
  set +e
  "$build/fuzz_packet" -artifact_prefix="$build/artifacts/" "${regressions[@]}" >"$build/regressions.log" 2>&1 &
  pid=$!
  wait $pid 2>/dev/null
  rc=$?
  set -e
  cleanup_run $pid
  if [ $rc -ne 0 ]; then
    grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_packet: )|Running: ' "$build/regressions.log" | head -20 || true
    echo "fuzz.sh: a regression input fails again (exit $rc); log $build/regressions.log" >&2
    exit 1
  fi
  echo "fuzz.sh: ${#regressions[@]} regression input(s) pass"
fi

set +e
"$build/fuzz_packet" -max_total_time="$secs" -max_len=2048 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$build/artifacts/" "$build/corpus" native/fuzz/corpus >"$build/last-run.log" 2>&1 &
pid=$!
wait $pid 2>/dev/null
rc=$?
set -e
cleanup_run $pid
grep -E '^(#[0-9]+ +DONE|Done |stat::|fuzz_packet: )|ERROR|SUMMARY' "$build/last-run.log" || true
if [ $rc -ne 0 ]; then
  echo "fuzz.sh: finding (exit $rc); log $build/last-run.log, input in $build/artifacts/" >&2
  exit 1
fi
echo "fuzz.sh: no findings in ${secs}s"
