#!/usr/bin/env bash
# Ingest benchmark: carbon vs an nginx `return 204` ceiling, in one run, on
# this machine. Prints a markdown summary (also kept in bench/out/).
#
#   bench/run.sh                 # 1000 devices, 15 s per measurement
#   DEVICES=200 DURATION=5 bench/run.sh
#
# Measurements (wrk, keep-alive, 64 connections; 2 threads, 1 for batch):
#   nginx-plain   nginx 204 with wrk's built-in request (the raw ceiling)
#   nginx-lua     nginx 204 driven by single.lua (same client cost as carbon's run)
#   single        carbon: one reading per POST, cycling over the fleet, each device its own key
#   batch         carbon: 1000-reading batches, one reading per device, gateway key
# Every carbon response must be 201; the script checks carbon's counters
# afterwards (readings stored == readings sent, no duplicates).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-1000}
DURATION=${DURATION:-15}
CONNS=${CONNS:-64}
scripts/deps.sh --bench
scripts/build.sh build >/dev/null
out=bench/out/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
. bench/lib.sh
bench_init
start_nginx 2 4096
start_carbon
CURL="http://127.0.0.1:$CPORT"
python3 bench/setup_fleet.py "$CURL" "$TOKEN" "$DEVICES" "$work/fleet.txt"
export FLEET=$work/fleet.txt

run() { # name threads url [wrk args...]
    local name=$1 threads=$2 url=$3
    shift 3
    wrk -t"$threads" -c"$CONNS" -d"${DURATION}s" --latency "$@" "$url" >"$out/$name.txt" 2>&1
    local rps p99 non2xx
    rps=$(awk '/^Requests\/sec/ {print $2}' "$out/$name.txt")
    p99=$(awk '$1=="99%" {print $2}' "$out/$name.txt")
    non2xx=$(awk '/Non-2xx/ {print $5}' "$out/$name.txt")
    echo "$name $rps $p99 ${non2xx:-0}"
}
metric() { curl -s "$CURL/metrics" | awk -v m="$1" '$1==m {print $2}'; }

{
    run nginx-plain 2 "http://127.0.0.1:$NPORT/"
    run nginx-lua 2 "http://127.0.0.1:$NPORT/" -s bench/single.lua
    before=$(metric carbon_readings_ingested_total)
    run single 2 "$CURL" -s bench/single.lua
    mid=$(metric carbon_readings_ingested_total)
    # One wrk thread: a gateway sends its batches in time order (two threads'
    # counters drift apart by seconds, which no real fleet does).
    run batch 1 "$CURL" -s bench/batch.lua
    after=$(metric carbon_readings_ingested_total)
    echo "stored_single $((mid - before))"
    echo "stored_batch $((after - mid))"
    echo "duplicates $(metric carbon_readings_duplicate_total)"
    echo "rss_peak_kb $(awk '/VmHWM/ {print $2}' /proc/$CARBON_PID/status)"
    echo "commits $(metric carbon_store_commits_total)"
    echo "lookups $(metric carbon_store_dedup_lookups_total)"
} | tee "$out/raw.txt"

python3 - "$out/raw.txt" "$DURATION" "$DEVICES" <<'PY' | tee "$out/summary.md"
import sys
raw = {}
for line in open(sys.argv[1]):
    k, *v = line.split()
    raw[k] = v
dur = float(sys.argv[2])
def rps(k): return float(raw[k][0])
single, batch = rps("single"), rps("batch")
print(f"| measurement | requests/s | p99 | non-2xx | readings/s |")
print(f"|---|---|---|---|---|")
for k in ("nginx-plain", "nginx-lua", "single", "batch"):
    r, p99, bad = raw[k]
    per = {"single": float(r), "batch": float(r) * int(sys.argv[3])}.get(k, "")
    per = f"{per:,.0f}" if per != "" else "-"
    print(f"| {k} | {float(r):,.0f} | {p99} | {bad} | {per} |")
print()
print(f"- single / nginx-lua = {single / rps('nginx-lua'):.2f}; single / nginx-plain = {single / rps('nginx-plain'):.2f}")
print(f"- readings stored: single {int(raw['stored_single'][0]):,} (~{int(raw['stored_single'][0]) / dur:,.0f}/s), "
      f"batch {int(raw['stored_batch'][0]):,} (~{int(raw['stored_batch'][0]) / dur:,.0f}/s); duplicates {raw['duplicates'][0]}")
print(f"- peak RSS of carbon: {int(raw['rss_peak_kb'][0]) / 1024:.1f} MiB; group commits: {raw['commits'][0]}; "
      f"duplicate checks that needed a table lookup: {raw['lookups'][0]}")
PY
echo "raw wrk output: $out" >&2
