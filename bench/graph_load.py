#!/usr/bin/env python3
"""Graph benchmark driver: loads N readings of one device into a running
carbon, waits for compaction, then times chart requests (client wall time
and the server's own duration_ms from its access log) next to two
references measured in the same run: nginx answering 204 through the same
client, and carbon's /series over the same range (the store's scan alone).

Usage: graph_load.py CARBON_URL NGINX_URL ADMIN_TOKEN CARBON_LOG N REPEAT"""
import http.client
import json
import random
import statistics
import sys
import time
from urllib.parse import urlencode, urlparse

url, nginx, token, logpath = sys.argv[1:5]
N, REPEAT = int(sys.argv[5]), int(sys.argv[6])


def conn_for(u):
    p = urlparse(u)
    return http.client.HTTPConnection(p.hostname, p.port, timeout=120)


c = conn_for(url)
H = {"Authorization": "Bearer " + token}


def req(method, path, body=None, headers=None, conn=None):
    conn = conn or c
    h = dict(H)
    h.update(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    conn.request(method, path, data, h)
    r = conn.getresponse()
    return r.status, r.read()


st, b = req("POST", "/v1/devices", {"id": "bench-graph", "name": "Bench kitchen"})
assert st == 201, b
now = int(time.time())
t0 = now - N - 60  # one reading per second, ending a minute ago
rnd = random.Random(42)
load_start = time.perf_counter()
for k in range(0, N, 1000):
    batch = []
    for i in range(k, min(N, k + 1000)):
        co = 3 + 2 * rnd.random()
        if i % 86400 == 50000:  # a short CO event every day: spikes to keep
            co = 180
        batch.append({"device_id": "bench-graph", "ts": t0 + i, "co_ppm": round(co, 1),
                      "temperature_c": 21.5, "humidity_pct": 40})
    st, b = req("POST", "/v1/readings", batch)
    assert st == 201, b
load_s = time.perf_counter() - load_start
# Wait for compaction: every reading in the table, none pending.
for _ in range(600):
    st, m = req("GET", "/metrics")
    pend = [l for l in m.decode().splitlines() if l.startswith("carbon_store_pending_readings ")]
    if pend and float(pend[0].split()[1]) == 0:
        break
    time.sleep(0.1)


def timed(path, conn=None, headers=None):
    t = time.perf_counter()
    st, body = req("GET", path, conn=conn, headers=headers)
    return st, body, (time.perf_counter() - t) * 1000


def server_ms(path_prefix, count):
    """The last `count` duration_ms of requests whose path starts with path_prefix."""
    out = []
    for line in open(logpath):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if d.get("msg") == "request" and d.get("path", "").startswith(path_prefix):
            out.append(d["duration_ms"])
    return out[-count:]


rng = {"from": t0, "to": t0 + N}
cases = [
    ("line 1200x500", "/v1/devices/bench-graph/graph?" + urlencode(rng)),
    ("bar 1200x500", "/v1/devices/bench-graph/graph?" + urlencode(dict(rng, type="bar"))),
    ("line 400x300", "/v1/devices/bench-graph/graph?" + urlencode(dict(rng, width=400, height=300))),
    ("line + temperature, humidity", "/v1/devices/bench-graph/graph?" +
     urlencode(dict(rng, series="co,temperature,humidity"))),
    ("seed /graph/generate", "/graph/generate?" + urlencode(
        {"device": "bench-graph", "start_date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0)),
         "end_date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + N))})),
    ("last hour (raw path)", "/v1/devices/bench-graph/graph?" + urlencode({"from": t0 + N - 3600, "to": t0 + N})),
    ("reference: /series, 1120 buckets of whole minutes (rollups)", "/v1/devices/bench-graph/series?" +
     urlencode(dict(rng, step=((N + 1119) // 1120 + 59) // 60 * 60))),
    ("reference: /series, 1120 buckets of odd seconds (raw scan)", "/v1/devices/bench-graph/series?" +
     urlencode(dict(rng, step=(N + 1119) // 1120 // 60 * 60 + 7))),
]
nc = conn_for(nginx)
ref = []
for _ in range(REPEAT):
    nc.request("GET", "/")
    t = time.perf_counter()
    r = nc.getresponse()
    r.read()
    ref.append((time.perf_counter() - t) * 1000)

print(f"readings: {N:,} of one device (1 Hz, {N / 86400:.1f} days), loaded in {load_s:.1f} s")
print()
print("| request | server ms (median / p90 / max) | client ms (median) | body bytes |")
print("|---|---|---|---|")
for name, path in cases:
    req("GET", path)  # warm: page cache, prepared statements
    client = []
    for _ in range(REPEAT):
        st, body, ms = timed(path)
        assert st == 200, (name, st, body[:200])
        client.append(ms)
    time.sleep(0.2)  # the access log line is written after the reply
    srv = sorted(server_ms(urlparse(path).path, REPEAT))
    p90 = srv[int(len(srv) * 0.9) - 1] if srv else float("nan")
    print(f"| {name} | {statistics.median(srv):.1f} / {p90:.1f} / {srv[-1]:.1f} | "
          f"{statistics.median(client):.1f} | {len(body):,} |")
etag_path = cases[0][1]
st, body = req("GET", etag_path)
print(f"| nginx 204, same client (reference) | - | {statistics.median(ref):.2f} | 0 |")
