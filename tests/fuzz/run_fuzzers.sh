#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz for a bounded time and prints the
# totals (executions, corpus size, crashes). usage:
#   run_fuzzers.sh BUILD_DIR SECONDS_PER_TARGET [TARGET...]
# Each target starts from its committed seeds (tests/fuzz/corpus/<name>) plus
# what earlier runs in BUILD_DIR/fuzz-corpus/<name> found; new inputs go to the
# latter (never into the repository). A crash leaves its input in
# BUILD_DIR/fuzz-artifacts/ and makes the script exit 1. To keep a finding as
# a regression seed, copy it into tests/fuzz/corpus/<name>/.
set -u
build=$1
seconds=$2
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors model_json text_input)
src=$(cd "$(dirname "$0")" && pwd)
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
status=0
total_execs=0
printf '%-12s %8s %12s %10s %8s %s\n' target seconds executions exec/s corpus result
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/fuzz_$t"
  work="$build/fuzz-corpus/$t"
  log="$build/fuzz-$t.log"
  mkdir -p "$work"
  # -timeout: one input taking > 10 s is a finding (hang); -rss_limit_mb: so is > 2 GiB.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1 \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$t-" "$work" "$src/corpus/$t" \
    </dev/null >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(grep -oE 'corp: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  result=ok
  if [ $rc -ne 0 ]; then
    result="FAILED (exit $rc, see $log and $artifacts)"
    status=1
    grep -m 20 -E 'ERROR|runtime error|terminate|what\(\)|invariant|SUMMARY' "$log"
  fi
  total_execs=$((total_execs + ${execs:-0}))
  printf '%-12s %8s %12s %10s %8s %s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "${corpus:-?}" "$result"
done
echo "total executions: $total_execs"
exit $status
