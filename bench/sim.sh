#!/usr/bin/env bash
# carbon sim as a load generator: 1000 simulated sensors (the firmware core,
# one reading per POST, each device its own key) against a fresh carbon
# serve, with the same run's wrk single-reading POST rate as the reference
# (bench/single.lua, as in bench/run.sh). Prints a markdown-ready summary.
#
#   bench/sim.sh                          # 1000 devices, ask for 20000 readings/s, ~15 s
#   DEVICES=200 RATE=5000 REAL=10 bench/sim.sh
#
# The sim's clock runs at speed = RATE * 150 s / DEVICES and is given REAL
# seconds' worth of simulated time; when the server (or the sim) cannot keep
# up, the devices fall behind and the run takes longer: "achieved" is what
# the server accepted per real second, drain included.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-1000}
RATE=${RATE:-20000}
REAL=${REAL:-15}
THREADS=${THREADS:-32}
CONNS=${CONNS:-64}
scripts/deps.sh --bench >/dev/null 2>&1 || true
[ -x build/carbon ] || scripts/build.sh build >/dev/null
. bench/lib.sh
bench_init
start_carbon
CURL="http://127.0.0.1:$CPORT"
metric() { curl -s "$CURL/metrics" | awk -v m="$1" '$1==m {print $2}'; }

if command -v wrk >/dev/null; then
    python3 bench/setup_fleet.py "$CURL" "$TOKEN" "$DEVICES" "$work/fleet.txt"
    FLEET=$work/fleet.txt wrk -t2 -c"$CONNS" -d10s --latency -s bench/single.lua "$CURL" \
        >"$work/wrk.txt" 2>&1
    echo "wrk_single_posts_per_s $(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")"
    echo "wrk_single_p99 $(awk '$1=="99%" {print $2}' "$work/wrk.txt")"
else
    # No wrk: a plain sequential curl loop, a much weaker reference.
    key=$(curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d '{"id":"curl-ref"}' "$CURL/v1/devices" | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
    start=$(date +%s.%N)
    for i in $(seq 1000); do
        curl -s -o /dev/null -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
            -d "{\"device_id\":\"curl-ref\",\"ts\":$((1700000000 + i)),\"co_ppm\":1}" "$CURL/v1/readings"
    done
    echo "curl_loop_posts_per_s $(python3 -c "import time; print(round(1000/(time.time()-$start)))")"
fi

before=$(metric carbon_readings_ingested_total)
speed=$(python3 -c "print($RATE * 150 / $DEVICES)")
dur=$(python3 -c "print(int($REAL * $speed))")
CARBON_ADMIN_TOKEN=$TOKEN /usr/bin/time -f "sim_cpu_s %U %S rss_kb %M" build/carbon sim \
    --create --keys-out "$work/simkeys.txt" --prefix simload --devices "$DEVICES" \
    --rate "$RATE" --duration "${dur}s" --threads "$THREADS" --server "$CURL" --quiet --json \
    >"$work/sim.json" 2>"$work/sim.err"
after=$(metric carbon_readings_ingested_total)
python3 - "$work/sim.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
r, p = s["readings"], s["posts"]
print("sim_devices %d speed %.0f simulated_s %d real_s %.1f" % (s["devices"], s["speed"], s["simulated_s"], s["real_s"]))
print("sim_readings produced %d accepted %d duplicates %d rejected %d unsent %d" % (r["produced"], r["accepted"], r["duplicates"], r["rejected"], r["unsent"]))
print("sim_posts %d retried %d posts_per_s %.0f" % (p["total"], p["retried"], p["total"] / s["real_s"]))
print("sim_readings_per_s %.0f" % s["readings_per_s"])
PY
tail -1 "$work/sim.err"
echo "server_stored_during_sim $((after - before))"
echo "server_duplicates_total $(metric carbon_readings_duplicate_total)"
