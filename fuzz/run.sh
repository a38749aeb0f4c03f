#!/bin/sh
# Builds the fuzz targets with clang and runs each for SECONDS (default 60),
# JOBS of them at a time (default: the number of cores; each target is one
# process), starting from a fresh seed corpus.
#   [JOBS=N] fuzz/run.sh [SECONDS] [BUILD_DIR]
# Exits non-zero if any target crashed or a sanitizer reported; its log is
# printed and the crashing input is left in BUILD_DIR/fuzz-artifacts/. Run
# longer by passing more seconds; a corpus grown on the way stays in
# BUILD_DIR/fuzz-corpus/ for next time.
set -eu
seconds=${1:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
build=${2:-$src/build-fuzz}
cmake -S "$src" -B "$build" -DLLAMA2_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLLAMA2_BUILD_TESTS=OFF -DLLAMA2_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" -j2 --target gguf_fuzz llama2c_fuzz tokenizer_fuzz options_fuzz json_fuzz safetensors_fuzz \
  sentencepiece_fuzz session_state_fuzz compress_fuzz make_fuzz_seeds
"$build/make_fuzz_seeds" "$build/fuzz-seeds" >/dev/null
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-seeds/options"
# argv seeds for the option parser: its arguments separated by NUL bytes
printf '%s' 'm.bin|-n|5|--threads=1,2|--kind|b|--stop|x|out' | tr '|' '\0' > "$build/fuzz-seeds/options/flags"
printf '%s' '-t|-1|-k|101|--json=x|--|-i' | tr '|' '\0' > "$build/fuzz-seeds/options/errors"
jobs=${JOBS:-$(nproc 2>/dev/null || echo 1)}
mkdir -p "$build/fuzz-logs"

# Runs one target ("seeds:executable") for $seconds; its output goes to a log.
run_target() {
  seeds=${1%%:*}
  exe=${1#*:}
  corpus="$build/fuzz-corpus/$seeds"
  mkdir -p "$corpus"
  echo "== $exe for ${seconds}s"
  "$build/$exe" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz-artifacts/$exe-" "$corpus" "$build/fuzz-seeds/$seeds" \
    >"$build/fuzz-logs/$exe.log" 2>&1
}

# The targets are dealt round-robin into $jobs lanes; each lane runs its
# targets one after another, the lanes side by side.
targets="gguf:gguf_fuzz llama2c:llama2c_fuzz tokenizer:tokenizer_fuzz options:options_fuzz json:json_fuzz
  safetensors:safetensors_fuzz sentencepiece:sentencepiece_fuzz session:session_state_fuzz compress:compress_fuzz"
lane=0
pids=""
while [ "$lane" -lt "$jobs" ]; do
  (
    i=0
    status=0
    for target in $targets; do
      if [ $((i % jobs)) -eq "$lane" ]; then
        if ! run_target "$target"; then
          status=1
          echo "!! ${target#*:} failed; the end of $build/fuzz-logs/${target#*:}.log:"
          tail -n 60 "$build/fuzz-logs/${target#*:}.log"
        fi
      fi
      i=$((i + 1))
    done
    exit $status
  ) &
  pids="$pids $!"
  lane=$((lane + 1))
done
failed=0
for pid in $pids; do
  wait "$pid" || failed=1
done
for log in "$build"/fuzz-logs/*.log; do
  grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done [0-9]+ runs)' "$log" | sed "s|^|$(basename "$log" .log): |"
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: a target failed (logs in $build/fuzz-logs/)" >&2
  exit 1
fi
echo "fuzz: all targets ran ${seconds}s without a crash"
