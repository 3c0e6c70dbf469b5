#!/usr/bin/env bash
# Fuzzes Tessera's parsers and decoders for a bounded time; any crash, hang (an input
# running over 10 s) or runaway allocation (over 2 GB) fails the run.
#
#   fuzz/run.sh                     every target, FUZZ_SECONDS (default 20) each
#   fuzz/run.sh config messages     some targets
#
# libFuzzer (the toolchain's, on Linux) with AddressSanitizer, in its own build folder
# (FUZZ_SCRATCH, default .build/fuzz), since every module is instrumented. Seeds come
# from fuzz/corpus/TARGET and past finds from fuzz/regressions/TARGET; inputs that reach
# new code are kept in FUZZ_SCRATCH/corpus, a crashing input in FUZZ_SCRATCH/artifacts.
# FUZZ_ENGINE=builtin uses the seeded mutation loop of the ordinary build instead (for
# toolchains without libFuzzer).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
swift=${SWIFT:-swift}
scratch=${FUZZ_SCRATCH:-.build/fuzz}
seconds=${FUZZ_SECONDS:-20}
engine=${FUZZ_ENGINE:-libfuzzer}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config interactions item-features messages rows)

if [ "$engine" = libfuzzer ]; then
  flags=(-Xswiftc -sanitize=fuzzer,address -Xswiftc -DTESSERA_LIBFUZZER -Xcc -fsanitize=fuzzer-no-link,address -Xswiftc -use-ld=lld)
else
  flags=()
fi
echo "fuzz: building tessera-fuzz ($engine) in $scratch"
"$swift" build --scratch-path "$scratch" --product tessera-fuzz "${flags[@]}" 2>&1 \
  | grep -v -e "Cannot export local symbol" -e "^\[[0-9]*/[0-9]*\]" || true
binary="$(cd "$root" && "$swift" build --scratch-path "$scratch" --show-bin-path "${flags[@]}")/tessera-fuzz"
[ -x "$binary" ] || { echo "fuzz: the build did not produce $binary" >&2; exit 1; }

mkdir -p "$scratch/artifacts" "$scratch/logs"
failed=0
for target in "${targets[@]}"; do
  seeds=(fuzz/corpus/"$target")
  [ -d fuzz/regressions/"$target" ] && seeds+=(fuzz/regressions/"$target")
  log="$scratch/logs/$target.log"
  start=$SECONDS
  if [ "$engine" = libfuzzer ]; then
    mkdir -p "$scratch/corpus/$target"
    status=0
    TESSERA_FUZZ_TARGET="$target" ASAN_OPTIONS=detect_leaks=0 timeout $((seconds + 120)) "$binary" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$scratch/artifacts/$target-" "$scratch/corpus/$target" "${seeds[@]}" >"$log" 2>&1 || status=$?
    runs=$(grep -o "^Done [0-9]* runs" "$log" | grep -o "[0-9]*" || echo "?")
  else
    status=0
    (cd "$scratch" && timeout $((seconds + 120)) "$binary" "$target" --mutate "$seconds" "${seeds[@]/#/$root/}") >"$log" 2>&1 || status=$?
    runs=$(grep -o "[0-9]* mutated inputs" "$log" | grep -o "^[0-9]*" || echo "?")
  fi
  if [ "$status" -eq 0 ]; then
    echo "fuzz $target: $runs inputs in $((SECONDS - start)) s, no crash"
  else
    failed=1
    echo "fuzz $target: FAILED (exit $status) after $((SECONDS - start)) s; log $log" >&2
    grep -E "ERROR|SUMMARY|Fatal error|Test unit written|==[0-9]+==" "$log" | head -20 >&2 || tail -30 "$log" >&2
  fi
done
exit $failed
