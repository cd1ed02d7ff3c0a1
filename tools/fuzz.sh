#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for a
# bounded time, starting from the committed seeds in tests/fuzz/corpus/.
#   tools/fuzz.sh [seconds per target, default 60] [build folder, default build/fuzz]
# New corpus entries go to <build>/corpus-<target>/ (the committed seeds stay
# as they are); crashing inputs go to <build>/crashes-<target>/. Exits 1 if any
# target found a crash. Seeds: node tools/make-hostile-ggufs.js --fuzz-seeds.
set -uo pipefail
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${2:-$root/build/fuzz}

cmake -S "$root" -B "$build" -DWL_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 2
cmake --build "$build" -j2 --target fuzz_gguf fuzz_quant >/dev/null || exit 2

status=0
for target in gguf quant; do
  work="$build/corpus-$target"
  crashes="$build/crashes-$target"
  mkdir -p "$work" "$crashes"
  # gguf inputs hold whole files (several shards); block inputs stay small.
  max_len=16384
  [ "$target" = quant ] && max_len=4096
  # -malloc_limit_mb: an input of at most 16 KiB that makes the code ask for
  # more than 64 MiB at once trusted a count or length it read: a crash.
  "$build/fuzz_$target" -max_total_time="$secs" -max_len="$max_len" -malloc_limit_mb=64 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$work" "$root/tests/fuzz/corpus/$target" >"$build/fuzz_$target.log" 2>&1
  rc=$?
  runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$build/fuzz_$target.log" | grep -oE '[0-9]+$')
  speed=$(grep -oE '^stat::average_exec_per_sec: *[0-9]+' "$build/fuzz_$target.log" | grep -oE '[0-9]+$')
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$build/fuzz_$target.log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "fuzz_$target: ok, ${runs:-?} executions in ${secs}s (${speed:-?}/s), $cov"
  else
    status=1
    echo "fuzz_$target: FAILED (exit $rc) after ${runs:-?} executions; see $build/fuzz_$target.log and $crashes/"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$build/fuzz_$target.log" | head -5
  fi
done
exit $status
