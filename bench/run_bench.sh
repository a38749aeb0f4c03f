#!/usr/bin/env bash
# Measures our engine beside llama2.c and llama.cpp on the same random-weight
# models (made by ../shared/bench/make_models.py) and the same thread count,
# and prints the README's performance table (Markdown) with the raw figures.
#
#   bench/run_bench.sh BENCH LLAMA2C_DIR LLAMA_BENCH MODEL_DIR [THREADS] [REPS] [STREAM_BW]
#
#   BENCH        our build/bench
#   LLAMA2C_DIR  a karpathy/llama2.c checkout with run_omp and runq_omp built
#                (gcc -Ofast -march=native -fopenmp run.c -lm -o run_omp; same for runq.c)
#                and its tokenizer.bin
#   LLAMA_BENCH  llama.cpp's llama-bench (CPU, Release, GGML_NATIVE=ON)
#   MODEL_DIR    holds s15M.v0.bin s15M.v2.bin s15M.f32.gguf s110M.v0.bin s110M.f32.gguf,
#                and for the 7B rows 7B.q4_0.gguf 7B.q8_0.gguf 7B.q4_k_m.gguf
#                7B.q5_k_m.gguf 7B.q6_k.gguf (each skipped when absent)
#   THREADS      default 2;  REPS  default 5
#   STREAM_BW    optional stream_bw binary (../shared/bench/stream_bw.c) for the bandwidth bound
#
# LLAMA_BENCH_AVX2=PATH adds the second pass: ours capped at AVX2
# (LLAMA2_ISA=avx2) against that llama-bench, built for AVX2 only (flags in
# bench/RESULTS.md), on s110M and the 7B files (tg16, pp128, pp512).
#
# The bound of a model is measured with stream_bw's read kernel on an array of
# the model's own size (1 GiB arrays for larger ones): a model that fits in
# the last-level cache (s15M in a large L3) is bounded by the cache's
# bandwidth, not DRAM's. It is measured in every round of a generation row,
# in turn with the engines, and the row's bound is the median: the bus of a
# shared VM drifts as much as the engines do.
# Set BENCH_7B=0 to skip the 7B rows (they take several minutes each), or
# BENCH_7B_TYPES to a list (default "q4_0 q8_0 q4_k_m q5_k_m q6_k");
# BENCH_NATIVE=0 skips the native pass (with LLAMA_BENCH_AVX2: the AVX2 one alone).
#
# This script builds nothing: the anchors are built outside the project.
# The machine is shared and its speed drifts by tens of percent over minutes,
# so the engines take turns: each of the REPS rounds runs ours once, then
# each anchor once, on the same file; every figure is the median of its
# REPS runs, and the ratio compares medians taken over the same minutes.
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n '2,31p' "$0" >&2
  exit 2
fi
bench=$1 l2c=$2 llama_bench=$3 models=$4 threads=${5:-2} reps=${6:-5} stream_bw=${7:-}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

median() { sort -g | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# One run of each engine, printing tokens/s (and logging the raw output).
# The pass being run: LLAMA2_ISA for our runs (empty: the best the CPU has)
# and the llama-bench they are compared with.
isa="" lcpp=$llama_bench
ours() {  # MODEL ARGS...: bench's median of one repetition (after its warm-up), from --json
  local model=$1; shift
  LLAMA2_ISA=$isa "$bench" "$models/$model" -t "$threads" -r 1 --json "$@" | tee -a "$log" |
    grep -o '"tps_median": [0-9.]*' | head -1 | awk '{print $2}'
}
llama2c() {  # PROGRAM MODEL: "achieved tok/s" of run_omp / runq_omp generating 256 tokens
  OMP_NUM_THREADS=$threads "$l2c/$1" "$models/$2" -z "$l2c/tokenizer.bin" -t 0 -s 42 -n 256 2>&1 >/dev/null |
    grep -o 'achieved tok/s: [0-9.]*' | awk '{print $3}' | tee -a "$log"
}
llamacpp() {  # MODEL -p N -n N: llama-bench's avg_ts of one repetition (after its warm-up), CSV output
  local model=$1; shift
  "$lcpp" -m "$models/$model" -t "$threads" -r 1 "$@" -o csv 2>/dev/null | tee -a "$log" |
    awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) if ($i ~ /avg_ts/) c = i; next} {gsub(/"/, "", $c); print $c}' | tail -1
}
# rounds OURS_CMD [L2C_CMD] [LCPP_CMD]: REPS rounds, one run of each given
# command per round, in turn; sets o, a, b to the medians ("" for a command
# not given). Each command is one string of the function and its arguments.
# With bw_file set (a model file), each round also measures the read
# bandwidth of that file's size (bandwidth, below) and bwm is its median:
# the bound of a generation row is taken over the same minutes as its runs.
rounds() {
  local i xo="" xa="" xb="" xw=""
  for i in $(seq "$reps"); do
    xo+="$(eval "$1") "
    [ -n "${2:-}" ] && xa+="$(eval "$2") "
    [ -n "${3:-}" ] && xb+="$(eval "$3") "
    [ -n "${bw_file:-}" ] && [ -n "$stream_bw" ] && xw+="$(bandwidth_of "$bw_file") "
  done
  o=$(echo $xo | tr ' ' '\n' | median)
  a=""; [ -n "${2:-}" ] && a=$(echo $xa | tr ' ' '\n' | median)
  b=""; [ -n "${3:-}" ] && b=$(echo $xb | tr ' ' '\n' | median)
  bwm=""; [ -n "$xw" ] && bwm=$(echo $xw | tr ' ' '\n' | median)
  return 0
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN {print (a > b) ? a : b}'; }

bandwidth() {  # MiB: best read GB/s of stream_bw on an array of that size
  OMP_NUM_THREADS=$threads "$stream_bw" "$1" 5 2>/dev/null | awk '$1 == "read" {print $2}'
}
bandwidth_of() {  # MODEL_FILE: bandwidth() at the file's size (1024 MiB arrays for anything larger)
  local mib
  mib=$(( ($(stat -c %s "$models/$1") + 1048575) / 1048576 ))
  [ "$mib" -gt 1024 ] && mib=1024
  bandwidth "$mib" | tee -a "$log"
}
bw=""
[ -n "$stream_bw" ] && bw=$(bandwidth 1024)
bound() {  # MODEL_FILE [GB/s]: tokens/s if every weight byte is read once per token at that bandwidth
  [ -n "$bw" ] || { echo "-"; return; }  # (default: the bandwidth of its size, measured now)
  local bytes b=${2:-}
  bytes=$(stat -c %s "$models/$1")
  [ -n "$b" ] || b=$(bandwidth_of "$1")
  echo "$1: $b GB/s" >>"$log"
  awk -v bw="$b" -v bytes="$bytes" 'BEGIN {printf "%.1f", bw * 1e9 / bytes}'
}

echo "threads $threads, reps $reps, $(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$bw" ] && echo "memory read bandwidth (stream_bw, $threads threads): $bw GB/s"
echo
header() {
  echo "| model | test | ours | llama2.c | llama.cpp | ours / best anchor | bandwidth bound | ours / bound |"
  echo "|---|---|---|---|---|---|---|---|"
}
row() {  # NAME TEST OURS L2C LCPP MODEL_FILE (prompt processing is bound by arithmetic: no bandwidth bound)
  local best b="-" pct="-"
  best=$(max "${4:-0}" "${5:-0}")
  if [ "${2#pp}" = "$2" ]; then
    b=$(bound "$6" "${bwm:-}")
    [ "$b" != "-" ] && pct=$(awk -v o="$3" -v b="$b" 'BEGIN {printf "%.0f%%", 100 * o / b}')
  fi
  echo "| $1 | $2 | $3 | ${4:--} | ${5:--} | $(ratio "$3" "$best") | $b | $pct |"
}
seven_b() {  # TESTS...: the 7B rows of this pass
  local t q f
  [ "${BENCH_7B:-1}" != 0 ] || return 0
  for q in ${BENCH_7B_TYPES:-q4_0 q8_0 q4_k_m q5_k_m q6_k}; do
    f=7B.$q.gguf
    [ -f "$models/$f" ] || continue
    for t in "$@"; do
      case $t in
        tg16) bw_file=$f rounds "ours $f -p 0 -n 16" "" "llamacpp $f -p 0 -n 16" ;;
        pp*) bw_file="" rounds "ours $f -p ${t#pp} -n 0" "" "llamacpp $f -p ${t#pp} -n 0" ;;
      esac
      row "7B ${q^^} GGUF" "$t" "$o" "" "$b" "$f"
    done
  done
}

if [ "${BENCH_NATIVE:-1}" != 0 ]; then
  echo "## Native: ours (best ISA of this CPU) against llama.cpp's native build"
  echo
  header
  bw_file=s15M.v0.bin rounds "ours s15M.v0.bin -p 0 -n 256" "llama2c run_omp s15M.v0.bin" "llamacpp s15M.f32.gguf -p 0 -n 128"
  row "s15M fp32 (v0 / F32 GGUF)" tg "$o" "$a" "$b" s15M.v0.bin
  bw_file=s15M.v2.bin rounds "ours s15M.v2.bin -p 0 -n 256" "llama2c runq_omp s15M.v2.bin"
  row "s15M int8 (v2)" tg "$o" "$a" "" s15M.v2.bin
  bw_file=s110M.v0.bin rounds "ours s110M.v0.bin -p 0 -n 256" "llama2c run_omp s110M.v0.bin" "llamacpp s110M.f32.gguf -p 0 -n 128"
  row "s110M fp32 (v0 / F32 GGUF)" tg "$o" "$a" "$b" s110M.v0.bin
  rounds "ours s110M.v0.bin -p 512 -n 0" "" "llamacpp s110M.f32.gguf -p 512 -n 0"
  row "s110M fp32 (v0 / F32 GGUF)" pp512 "$o" "" "$b" s110M.v0.bin
  seven_b tg16 pp512
fi

if [ -n "${LLAMA_BENCH_AVX2:-}" ]; then
  echo
  echo "## AVX2: ours with LLAMA2_ISA=avx2 against llama.cpp built for AVX2 only"
  echo
  header
  isa=avx2 lcpp=$LLAMA_BENCH_AVX2
  bw_file=s110M.v0.bin rounds "ours s110M.v0.bin -p 0 -n 256" "" "llamacpp s110M.f32.gguf -p 0 -n 128"
  row "s110M fp32 (v0 / F32 GGUF)" tg "$o" "" "$b" s110M.v0.bin
  rounds "ours s110M.v0.bin -p 512 -n 0" "" "llamacpp s110M.f32.gguf -p 512 -n 0"
  row "s110M fp32 (v0 / F32 GGUF)" pp512 "$o" "" "$b" s110M.v0.bin
  seven_b tg16 pp128 pp512
fi
echo
echo "raw output:"
sed 's/^/    /' "$log"
