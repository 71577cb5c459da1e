#!/usr/bin/env bash
# Graph benchmark: a chart over N (default 1,000,000) stored readings of one
# device: server time and SVG size, with in-run references (nginx 204 through
# the same client; carbon's /series over the same range). Prints a markdown
# table (also kept in bench/out/).
#
#   bench/graph.sh                  # 1,000,000 readings, 20 requests per case
#   READINGS=100000 REPEAT=10 bench/graph.sh
set -euo pipefail
cd "$(dirname "$0")/.."
READINGS=${READINGS:-1000000}
REPEAT=${REPEAT:-20}
scripts/deps.sh --bench
scripts/build.sh build >/dev/null
out=bench/out/graph-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
. bench/lib.sh
bench_init
start_nginx 1 64
start_carbon
python3 bench/graph_load.py "http://127.0.0.1:$CPORT" "http://127.0.0.1:$NPORT" "$TOKEN" \
    "$work/carbon.log" "$READINGS" "$REPEAT" | tee "$out/summary.md"
echo "peak RSS of carbon: $(awk '/VmHWM/ {print $2}' /proc/$CARBON_PID/status) kB" | tee -a "$out/summary.md"
