#!/usr/bin/env bash
# Where the time goes: samples a bench run with perf and prints the functions
# that take the most of it (self time, all threads together).
#
#   bench/profile.sh BENCH MODEL [BENCH ARGS...]
#   e.g. bench/profile.sh build/bench models/s110M.v0.bin -p 512 -n 0 -t 2 -r 2
#
# Uses the cpu-clock software event, so it works in VMs without hardware
# counters (perf is Debian's linux-perf; run as root or lower
# /proc/sys/kernel/perf_event_paranoid). Set TOP to show more rows (default 15).
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,10p' "$0" >&2
  exit 2
fi
command -v perf >/dev/null || { echo "profile.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }
data=$(mktemp)
trap 'rm -f "$data"' EXIT
perf record -q -e cpu-clock -F 2000 -o "$data" -- "$@" >/dev/null
perf report -i "$data" --no-children --sort symbol --percent-limit 0.5 --stdio 2>/dev/null |
  grep -E '^ +[0-9.]+%' | head -n "${TOP:-15}" |
  sed -E 's/ +\[\.\] / /; s/\(anonymous namespace\):://g; s/( +-)* *$//'
