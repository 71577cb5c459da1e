#!/usr/bin/env python3
"""Registers N devices and one gateway scoped to all of them on a running
carbon server; writes "device_id key" lines to OUT and the gateway key to
OUT.gateway. Usage: setup_fleet.py URL ADMIN_TOKEN N OUT"""
import http.client
import json
import sys
from urllib.parse import urlparse


def main():
    url, token, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}

    def post(path, body):
        conn.request("POST", path, json.dumps(body), hdr)
        r = conn.getresponse()
        data = r.read()
        if r.status != 201:
            sys.exit(f"{path}: {r.status} {data[:200]!r}")
        return json.loads(data)

    ids = [f"bench-{i:04d}" for i in range(n)]
    with open(out, "w") as f:
        for d in ids:
            f.write(f"{d} {post('/v1/devices', {'id': d})['api_key']}\n")
    gw = post("/v1/gateways", {"id": "bench-gw", "devices": ids})
    with open(out + ".gateway", "w") as f:
        f.write(gw["api_key"] + "\n")


if __name__ == "__main__":
    main()
