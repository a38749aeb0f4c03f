#!/usr/bin/env bash
# Quantizes one GGUF with our build/quantize and with llama.cpp's
# llama-quantize, type by type, the two taking turns, and prints a markdown
# table: the RMS error of each file's dequantized weights against the input
# (bench/quant_error.cpp), the file sizes, and each run's wall time and peak
# RSS (/usr/bin/time -v).
#
#   bench/quant_compare.sh BUILD_DIR LLAMA_QUANTIZE INPUT.gguf OUT_DIR THREADS [TYPE...]
#
# BUILD_DIR holds our quantize and quant_error. TYPEs default to every type
# both write. Each pair of outputs is deleted once measured, so OUT_DIR
# needs room for two outputs at a time (a 7B Q8_0 is 7 GB). llama-quantize
# is built outside the project (bench/RESULTS.md says how).
set -euo pipefail

if [ $# -lt 5 ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
build=$1 llama_quantize=$2 input=$3 out=$4 threads=$5
shift 5
types=("$@")
if [ ${#types[@]} -eq 0 ]; then
  types=(Q8_0 Q6_K Q5_K_M Q5_K_S Q5_1 Q5_0 Q4_K_M Q4_K_S Q4_1 Q4_0 Q3_K_M Q3_K_S Q2_K)
fi
mkdir -p "$out"

# Runs a command under /usr/bin/time -v; prints "seconds peak_MiB".
timed() {
  local log
  log=$(mktemp)
  /usr/bin/time -v "$@" >/dev/null 2>"$log" || { cat "$log" >&2; rm -f "$log"; return 1; }
  awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
              /Maximum resident set size/ { rss = $2 / 1024 }
              END { printf "%.1f %.0f\n", s, rss }' "$log"
  rm -f "$log"
}

echo "| type | RMS ours | RMS llama.cpp | ratio | bytes ours | bytes llama.cpp | size ratio | s ours | s llama.cpp | peak MiB ours | peak MiB llama.cpp |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for type in "${types[@]}"; do
  ours="$out/ours.$type.gguf" theirs="$out/llama-cpp.$type.gguf"
  read -r s_ours m_ours < <(timed "$build/quantize" "$input" "$ours" "$type" --threads "$threads")
  read -r s_theirs m_theirs < <(timed "$llama_quantize" "$input" "$theirs" "$type" "$threads")
  errors=$("$build/quant_error" "$input" "$ours" "$theirs" | awk 'NR > 1 { print $2, $3 }')
  read -r b_ours e_ours b_theirs e_theirs <<<"$(echo $errors)"
  awk -v t="$type" -v eo="$e_ours" -v et="$e_theirs" -v bo="$b_ours" -v bt="$b_theirs" \
      -v so="$s_ours" -v st="$s_theirs" -v mo="$m_ours" -v mt="$m_theirs" \
      'BEGIN { printf "| %s | %.4e | %.4e | %.3f | %.0f | %.0f | %.4f | %s | %s | %s | %s |\n",
               t, eo, et, eo / et, bo, bt, bo / bt, so, st, mo, mt }'
  rm -f "$ours" "$theirs"
done
