#!/usr/bin/env bash
# Alarm engine micro-benchmark: the cost of alarm_reading() per reading and
# alarm_tick() per device, with a reference loop measured in the same run
# (see the top of bench/alarm_bench.c). Builds with the system compiler
# directly (no CMake, no server dependencies); takes a few seconds.
#
#   bench/alarm.sh          # 11 runs, median
#   bench/alarm.sh 21       # more runs
#
# Prints a markdown table (also kept in bench/out/, not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-cc}
mkdir -p bench/out
"$CC" -std=c17 -O2 -Isrc bench/alarm_bench.c src/alarm/alarm.c -lm -o bench/out/alarm_bench
out=bench/out/alarm-$(date -u +%Y%m%dT%H%M%SZ).md
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $("$CC" --version | head -n1); $(uname -srm); $(nproc) cores"
    echo
    bench/out/alarm_bench "$@"
} | tee "$out"
