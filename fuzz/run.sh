#!/bin/sh
# Builds the fuzz targets with clang and runs each for SECONDS (default 60),
# one after another, starting from a fresh seed corpus.
#   fuzz/run.sh [SECONDS] [BUILD_DIR]
# Exits non-zero on the first crash or sanitizer report; the crashing input
# is left in BUILD_DIR/fuzz-artifacts/. Run longer by passing more seconds;
# a corpus grown on the way stays in BUILD_DIR/fuzz-corpus/ for next time.
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
for target in gguf:gguf_fuzz llama2c:llama2c_fuzz tokenizer:tokenizer_fuzz options:options_fuzz json:json_fuzz \
    safetensors:safetensors_fuzz sentencepiece:sentencepiece_fuzz session:session_state_fuzz compress:compress_fuzz; do
  seeds=${target%%:*}
  exe=${target#*:}
  corpus="$build/fuzz-corpus/$seeds"
  mkdir -p "$corpus"
  echo "== $exe for ${seconds}s"
  "$build/$exe" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz-artifacts/$exe-" "$corpus" "$build/fuzz-seeds/$seeds"
done
echo "fuzz: all targets ran ${seconds}s without a crash"
