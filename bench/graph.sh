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
work=$(mktemp -d)
cleanup() {
    [ -n "${CARBON_PID:-}" ] && kill "$CARBON_PID" 2>/dev/null || true
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NPORT=$(free_port)
cat >"$work/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 64; }
http { access_log off; client_body_temp_path $work;
  server { listen 127.0.0.1:$NPORT; keepalive_requests 1000000; location / { return 204; } } }
NGX
nginx -c "$work/nginx.conf" &
TOKEN=bench-admin-token-0123456789
CARBON_ADMIN_TOKEN=$TOKEN build/carbon serve --listen 127.0.0.1:0 --data "$work/data" \
    --log-level info 2>"$work/carbon.log" &
CARBON_PID=$!
for _ in $(seq 100); do
    grep -q '"listening"' "$work/carbon.log" && break
    sleep 0.05
done
CPORT=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d=json.loads(l)
    if d.get("msg")=="listening": print(d["port"])' "$work/carbon.log")
python3 bench/graph_load.py "http://127.0.0.1:$CPORT" "http://127.0.0.1:$NPORT" "$TOKEN" \
    "$work/carbon.log" "$READINGS" "$REPEAT" | tee "$out/summary.md"
echo "peak RSS of carbon: $(awk '/VmHWM/ {print $2}' /proc/$CARBON_PID/status) kB" | tee -a "$out/summary.md"
