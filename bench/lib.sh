# lib.sh - shared by the bench scripts (source it): a work directory removed
# on exit, an nginx `return 204` reference on a free port, and carbon started
# on a free port with request limits off (a benchmark is one client sending
# far more than any real one).
#
#   bench_init                      # sets $work, cleans up on exit
#   start_nginx WORKERS CONNS       # sets $NPORT
#   start_carbon                    # sets $TOKEN, $CARBON_PID, $CPORT

TOKEN=bench-admin-token-0123456789

bench_cleanup() {
    [ -n "${CARBON_PID:-}" ] && kill "$CARBON_PID" 2>/dev/null || true
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}

bench_init() {
    work=$(mktemp -d)
    trap bench_cleanup EXIT
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_nginx() { # workers worker_connections
    NPORT=$(free_port)
    cat >"$work/nginx.conf" <<NGX
worker_processes $1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections $2; }
http {
  access_log off;
  client_body_temp_path $work;
  client_max_body_size 2m;
  server { listen 127.0.0.1:$NPORT; keepalive_requests 10000000; location / { return 204; } }
}
NGX
    nginx -c "$work/nginx.conf" &
}

start_carbon() {
    CARBON_RATE_LIMIT=0 CARBON_RATE_LIMIT_ADDR=0 CARBON_ADMIN_TOKEN=$TOKEN \
        build/carbon serve --listen 127.0.0.1:0 --data "$work/data" --log-level info \
        2>"$work/carbon.log" &
    CARBON_PID=$!
    for _ in $(seq 100); do
        grep -q '"listening"' "$work/carbon.log" && break
        sleep 0.05
    done
    CPORT=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d=json.loads(l)
    if d.get("msg")=="listening": print(d["port"])' "$work/carbon.log")
}
