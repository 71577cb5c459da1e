"""Operating it (SPEC 1, 9): health, readiness, metrics, OpenAPI, response
headers and request ids, JSON-lines logs without secrets, restart
persistence, configuration precedence, and the command line."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ADMIN_TOKEN, BIN, HttpTestCase, Server, ServerError,  # noqa: E402
                     ServerTestCase, clean_env, iso_ms, main, uid)

NOW = int(time.time())
TS = NOW - 3600


def rd(dev, ts=TS, co=4.0, **kw):
    r = {"device_id": dev, "ts": ts, "co_ppm": co}
    r.update(kw)
    return r


class OpsTest(ServerTestCase):

    # ---- health ----

    def test_healthz(self):
        st, h, b = self.srv.request("GET", "/healthz", token=None)
        self.assertEqual(st, 200, b)
        self.assertTrue(h["Content-Type"].startswith("application/json"))
        self.assertEqual(b.get("status"), "ok")

    def test_readyz(self):
        st, _, b = self.srv.request("GET", "/readyz", token=None)
        self.assertEqual(st, 200, b)
        self.assertEqual(b.get("status"), "ready")

    # ---- metrics ----

    def test_metrics_prometheus_text_and_counters(self):
        dev = uid()
        key = self.srv.create_device(dev)
        st, h, body = self.srv.request("GET", "/metrics", token=None)
        self.assertEqual(st, 200)
        self.assertTrue(h["Content-Type"].startswith("text/plain"), h["Content-Type"])
        m0 = self.srv.metrics()  # also checks every line is valid exposition format
        self.assertIn("carbon_readings_ingested_total", m0)
        batch = [rd(dev, TS + i) for i in range(3)]
        self.assertStatus(self.srv.post_readings(batch, token=key), 201)
        self.assertStatus(self.srv.post_readings(batch, token=key), 201)  # all duplicates
        self.assertStatus(self.srv.post_readings(rd(dev, co=-1), token=key), 422)
        ok = 'carbon_http_requests_total{method="POST",route="/v1/readings",code="201"}'
        bad = 'carbon_http_requests_total{method="POST",route="/v1/readings",code="422"}'
        # Request counters are updated when a request completes, which may be
        # just after the client has its answer: poll briefly.
        deadline = time.monotonic() + 5
        while True:
            m1 = self.srv.metrics()
            if (m1.get(ok, 0) - m0.get(ok, 0) >= 2 and m1.get(bad, 0) - m0.get(bad, 0) >= 1) \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        self.assertEqual(m1["carbon_readings_ingested_total"] - m0["carbon_readings_ingested_total"],
                         3, "the re-sent duplicates must not count as ingested")
        self.assertEqual(m1.get(ok, 0) - m0.get(ok, 0), 2, sorted(m1))
        self.assertEqual(m1.get(bad, 0) - m0.get(bad, 0), 1)
        # a latency histogram per route
        hist = [k for k in m1 if k.startswith("carbon_http_request_duration_seconds_bucket")]
        self.assertTrue(hist, "no latency histogram")
        self.assertTrue(any('le="+Inf"' in k for k in hist))
        cnt = 'carbon_http_request_duration_seconds_count{method="POST",route="/v1/readings"}'
        self.assertGreaterEqual(m1.get(cnt, 0) - m0.get(cnt, 0), 3)

    def test_metrics_histograms_are_cumulative(self):
        self.srv.healthz()
        m = self.srv.metrics()
        by_route = {}
        for k, v in m.items():
            mm = re.match(r'carbon_http_request_duration_seconds_bucket\{(.*),le="([^"]+)"\}', k)
            if mm:
                by_route.setdefault(mm.group(1), []).append(
                    (float("inf") if mm.group(2) == "+Inf" else float(mm.group(2)), v))
        self.assertTrue(by_route)
        for labels, buckets in by_route.items():
            vals = [v for _, v in sorted(buckets)]
            self.assertEqual(vals, sorted(vals), labels)
            cnt = m['carbon_http_request_duration_seconds_count{%s}' % labels]
            self.assertEqual(vals[-1], cnt, labels)

    # ---- OpenAPI ----

    def test_openapi_parses(self):
        st, h, b = self.srv.request("GET", "/openapi.json", token=None)
        self.assertEqual(st, 200)
        self.assertTrue(h["Content-Type"].startswith("application/json"))
        self.assertIsInstance(b, dict, "openapi.json is not a JSON object: %s" % repr(b)[:200])
        self.assertIn("openapi", b)
        self.assertIsInstance(b.get("paths"), dict)

    def test_openapi_documents_the_api(self):
        # SPEC 9: /openapi.json describes the whole API.
        b = self.srv.request("GET", "/openapi.json", token=None)[2]
        paths = b.get("paths", {})
        for p in ("/v1/readings", "/v1/devices", "/v1/devices/{id}", "/v1/devices/{id}/readings",
                  "/v1/devices/{id}/series", "/v1/gateways", "/Dynamo/items", "/healthz",
                  "/metrics"):
            with self.subTest(path=p):
                self.assertIn(p, paths)

    # ---- headers and request ids ----

    def test_every_response_has_request_id_and_nosniff(self):
        dev = uid()
        key = self.srv.create_device(dev)
        cases = [
            ("GET", "/healthz", None, None, {}),
            ("GET", "/readyz", None, None, {}),
            ("GET", "/metrics", None, None, {}),
            ("GET", "/openapi.json", None, None, {}),
            ("POST", "/v1/readings", rd(dev), key, {}),
            ("POST", "/v1/readings", rd(dev, co=-1), key, {}),
            ("POST", "/v1/readings", rd(dev), None, {}),
            ("POST", "/v1/readings", rd(uid("x")), key, {}),
            ("POST", "/v1/readings", "x", key, {"Content-Type": "text/plain"}),
            ("POST", "/v1/readings", "{", key, {"Content-Type": "application/json"}),
            ("POST", "/v1/readings", " " * (1024 * 1024 + 1), key,
             {"Content-Type": "application/json"}),
            ("GET", "/v1/devices/%s/readings?format=csv" % dev, None, ADMIN_TOKEN, {}),
            ("GET", "/v1/devices/" + dev, None, ADMIN_TOKEN, {}),
            ("DELETE", "/v1/devices/" + uid(), None, ADMIN_TOKEN, {}),
            ("GET", "/nope", None, None, {}),
            ("DELETE", "/healthz", None, None, {}),
            ("HEAD", "/healthz", None, None, {}),
        ]
        ids = set()
        for method, path, body, token, hdrs in cases:
            with self.subTest(method=method, path=path[:40]):
                st, h, b = self.srv.request(method, path, body, token=token, headers=hdrs)
                rid = h.get("X-Request-Id")
                self.assertTrue(rid, "no X-Request-Id on %d" % st)
                self.assertNotIn(rid, ids, "request ids must differ")
                ids.add(rid)
                self.assertEqual(h.get("X-Content-Type-Options"), "nosniff", st)

    def test_client_request_id_echoed_and_logged(self):
        rid = "bb-req-%d-abc_DEF.9" % os.getpid()
        st, h, _ = self.srv.request("GET", "/healthz", token=None, headers={"X-Request-Id": rid})
        self.assertEqual(st, 200)
        self.assertEqual(h.get("X-Request-Id"), rid)
        line = self.srv.wait_log(lambda o: o.get("request_id") == rid)
        self.assertEqual(line["path"], "/healthz")
        # an unsafe id (log/header injection) is replaced, not echoed
        for bad in ("a b c", "x" * 300, "<script>", 'q"uote'):
            with self.subTest(bad=bad[:20]):
                st, h, _ = self.srv.request("GET", "/healthz", token=None,
                                            headers={"X-Request-Id": bad})
                self.assertEqual(st, 200)
                self.assertTrue(h.get("X-Request-Id"))
                self.assertNotEqual(h.get("X-Request-Id"), bad)

    def test_request_log_fields(self):
        dev = uid()
        key = self.srv.create_device(dev)
        rid = "bb-log-%d" % os.getpid()
        st, _, _ = self.srv.request("POST", "/v1/readings", rd(dev), token=key,
                                    headers={"X-Request-Id": rid})
        self.assertEqual(st, 201)
        line = self.srv.wait_log(lambda o: o.get("request_id") == rid)
        self.assertEqual(line["method"], "POST")
        self.assertEqual(line["path"], "/v1/readings")
        self.assertEqual(line["status"], 201)
        self.assertIsInstance(line["duration_ms"], (int, float))
        self.assertGreaterEqual(line["duration_ms"], 0)
        self.assertEqual(line.get("device_id"), dev)
        self.assertIn("time", line)
        self.assertIn("level", line)
        # a refused one is logged with its status
        rid2 = rid + "-401"
        self.srv.request("POST", "/v1/readings", rd(dev), token=None, headers={"X-Request-Id": rid2})
        self.assertEqual(self.srv.wait_log(lambda o: o.get("request_id") == rid2)["status"], 401)


class LogsAndRestartTest(HttpTestCase):
    """Tests that stop and restart their own server."""

    def setUp(self):
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()

    def server(self, **kw):
        s = Server(**kw)
        self.servers.append(s)
        return s

    # ---- logs ----

    def test_logs_are_json_lines_without_secrets(self):
        s = self.server(log_level="debug")
        dev, dev2 = uid(), uid()
        st, _, b = s.request("POST", "/v1/devices", {"id": dev})
        key1 = b["api_key"]
        key2 = s.create_device(dev2)
        st, _, b = s.request("POST", "/v1/devices/%s/keys" % dev)
        key1b = b["api_key"]
        gkey = s.create_gateway(uid("hub"), [dev, dev2])
        st, _, b = s.request("POST", "/v1/gateways/%s/keys" % "nope")
        s.post_readings(rd(dev), token=key1b)
        s.request("POST", "/v1/readings", rd(dev2), token=None, headers={"X-Api-Key": key2})
        s.post_readings([rd(dev, TS + 1), rd(dev2, TS + 1)], token=gkey)
        s.post_readings(rd(dev, TS + 2), token=key1)           # old key: 401
        s.post_readings(rd(dev2, TS + 2), token=key1b)         # wrong device: 403
        s.request("GET", "/healthz?api_key=" + key2, token=None)
        s.request("GET", "/v1/devices?token=" + ADMIN_TOKEN)
        s.request("GET", "/v1/devices", token=ADMIN_TOKEN + "x")
        s.request("POST", "/Dynamo/item?item_id=%s&CO=5" % dev2, token=key2)
        s.stop()
        text = "\n".join(s.stderr_lines())
        for secret in (ADMIN_TOKEN, key1, key1b, key2, gkey):
            self.assertNotIn(secret, text)
            self.assertNotIn(secret[4:-4], text)
        records = []
        for line in s.stderr_lines():
            try:
                o = json.loads(line)
            except ValueError:
                self.fail("stderr line is not JSON: %r" % line)
            self.assertIsInstance(o, dict, line)
            for k in ("time", "level", "msg"):
                self.assertIn(k, o, line)
            records.append(o)
        reqs = [o for o in records if "request_id" in o]
        self.assertGreaterEqual(len(reqs), 12)
        for o in reqs:
            for k in ("method", "path", "status", "duration_ms"):
                self.assertIn(k, o, o)
        self.assertIn(401, [o["status"] for o in reqs])
        self.assertIn(403, [o["status"] for o in reqs])

    # ---- restart persistence ----

    def test_restart_keeps_readings_devices_and_keys(self):
        s = self.server()
        dev, dev2 = uid("keep"), uid("keep")
        key = s.create_device(dev, name="Garage", location="Ground",
                              thresholds={"warn_ppm": 25, "alarm_ppm": 45},
                              calibration={"r0_ohms": 9000})
        old2 = s.create_device(dev2)
        key2 = s.request("POST", "/v1/devices/%s/keys" % dev2)[2]["api_key"]
        gw = uid("hub")
        gkey = s.create_gateway(gw, [dev, dev2], name="Hub")
        batch = [rd(dev, TS + i, co=i * 1.5, temperature_c=20 + i / 10, humidity_pct=30)
                 for i in range(150)]
        self.assertStatus(s.post_readings(batch, token=key), 201)
        self.assertStatus(s.post_readings(rd(dev2, TS), token=gkey), 201)
        before = s.all_readings(dev)
        dev_before = s.request("GET", "/v1/devices/" + dev)[2]
        gw_before = s.request("GET", "/v1/gateways/" + gw)[2]
        self.assertEqual(len(before), 150)

        s.restart()  # SIGTERM (asserts exit 0) and start on the same data dir

        self.assertEqual(s.all_readings(dev), before)
        self.assertEqual(len(s.all_readings(dev2)), 1)
        self.assertEqual(s.request("GET", "/v1/devices/" + dev)[2], dev_before)
        self.assertEqual(s.request("GET", "/v1/gateways/" + gw)[2], gw_before)
        # keys: the device key works, the rotated-away key stays dead, the gateway key works
        resp = s.post_readings(batch[:10], token=key)
        self.assertStatus(resp, 201)
        self.assertEqual(resp[2], {"stored": 0, "duplicates": 10}, "duplicates after restart")
        self.assertStatus(s.post_readings(rd(dev, TS + 1000), token=key), 201)
        self.assertError(s.post_readings(rd(dev2, TS + 1000), token=old2), 401)
        self.assertStatus(s.post_readings(rd(dev2, TS + 1000), token=key2), 201)
        self.assertStatus(s.post_readings(rd(dev2, TS + 1001), token=gkey), 201)
        # a second restart, by SIGINT this time
        s.stop(sig=signal.SIGINT)
        s.start()
        self.assertEqual(len(s.all_readings(dev)), 151)
        self.assertEqual(len(s.all_readings(dev2)), 3)

    def test_second_server_on_same_data_dir_refused(self):
        s = self.server()
        dev = uid()
        key = s.create_device(dev)
        other = Server(data_dir=s.data_dir, start=False)
        self.servers.append(other)
        with self.assertRaises(ServerError):
            other.start()
        self.assertNotEqual(other.proc.returncode, 0)
        # the first one is unharmed
        self.assertStatus(s.post_readings(rd(dev), token=key), 201)
        self.assertEqual(len(s.all_readings(dev)), 1)
        s.stop()

    def timed_stop(self, s):
        t = time.monotonic()
        s.stop()
        return time.monotonic() - t

    def test_sigterm_prompt_with_idle_keepalive_connection(self):
        # An open keep-alive connection with no request is not in flight.
        s = self.server()
        conn = s.connect()
        st, _, _ = s.request("GET", "/healthz", token=None, conn=conn)
        self.assertEqual(st, 200)
        try:
            self.assertLess(self.timed_stop(s), 5.0, "SIGTERM waited on an idle connection")
        finally:
            conn.close()

    def test_sigterm_prompt_after_client_abandoned_its_body(self):
        # A client sent headers and half a body, then closed its socket. No
        # request is in flight any more: SIGTERM must not wait for it (it
        # would otherwise hold the connection until its timeout).
        s = self.server()
        dev = uid()
        key = s.create_device(dev)
        body = json.dumps(rd(dev)).encode()
        head = (b"POST /v1/readings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer " + key.encode() +
                b"\r\nContent-Length: %d\r\n\r\n" % len(body))
        # A few of them: the server does not notice it every time.
        for _ in range(4):
            sock = socket.create_connection((s.host, s.port), timeout=5)
            sock.sendall(head + body[:len(body) // 2])
            sock.close()
        self.assertEqual(s.healthz(), 200)
        self.assertLess(self.timed_stop(s), 5.0,
                        "SIGTERM waited for a request whose client had disconnected")

    def test_sigterm_under_load_exits_0_and_keeps_acknowledged(self):
        s = self.server()
        devs = [uid("load") for _ in range(4)]
        keys = [s.create_device(d) for d in devs]
        acked, stop = [], threading.Event()
        lock = threading.Lock()

        def worker(i):
            n = 0
            while not stop.is_set():
                ts = (TS * 1000 + i * 1000000 + n) / 1000.0
                n += 1
                try:
                    st, _, _ = s.request("POST", "/v1/readings", rd(devs[i], ts), token=keys[i])
                except (OSError, http.client.HTTPException):
                    return
                if st == 201:
                    with lock:
                        acked.append((devs[i], ts))
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while len(acked) < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            s.stop()  # asserts exit code 0 while requests are in flight
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertGreaterEqual(len(acked), 100)
        s.start()
        stored = {(d, r["ts"]) for d in devs for r in s.all_readings(d)}
        missing = [a for a in acked if (a[0], iso_ms(round(a[1] * 1000))) not in stored]
        self.assertEqual(missing, [], "acknowledged readings lost across SIGTERM")


class ConfigTest(HttpTestCase):
    """Precedence: flag > environment > --config file > default."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="carbon-bb-cfg-")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def server(self, **kw):
        s = Server(**kw)
        self.servers.append(s)
        return s

    def write(self, name, text):
        p = os.path.join(self.tmp, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def assertServes(self, s, host):
        self.assertEqual(s.listening["host"], host, s.listening)
        self.assertEqual(s.host, host)
        self.assertEqual(s.healthz(), 200)

    def test_flag_beats_env(self):
        s = self.server(listen="127.0.0.1:0", env={"CARBON_LISTEN": "127.0.0.2:0"})
        self.assertServes(s, "127.0.0.1")

    def test_env_beats_config_file(self):
        cfg = self.write("carbon.conf", "# test\nCARBON_LISTEN=127.0.0.3:0\n")
        s = self.server(listen=None, env={"CARBON_LISTEN": "127.0.0.2:0"},
                        args=["--config", cfg])
        self.assertServes(s, "127.0.0.2")

    def test_config_file_beats_default(self):
        cfg = self.write("carbon.conf", "CARBON_LISTEN=127.0.0.3:0\n")
        s = self.server(listen=None, args=["--config", cfg])
        self.assertServes(s, "127.0.0.3")

    def test_flag_beats_config_file(self):
        cfg = self.write("carbon.conf", "CARBON_LISTEN=127.0.0.3:0\n")
        s = self.server(listen="127.0.0.2:0", args=["--config", cfg])
        self.assertServes(s, "127.0.0.2")

    def test_data_dir_from_config_file_and_env(self):
        d_file = os.path.join(self.tmp, "data-file")
        d_env = os.path.join(self.tmp, "data-env")
        cfg = self.write("carbon.conf", "CARBON_DATA=%s\n" % d_file)
        s = self.server(pass_data=False, args=["--config", cfg])
        self.assertEqual(s.listening.get("data"), d_file)
        s.create_device("cfg-dev")
        s.stop()
        self.assertTrue(os.listdir(d_file), "nothing written in the configured data dir")
        s2 = self.server(pass_data=False, args=["--config", cfg], env={"CARBON_DATA": d_env})
        self.assertEqual(s2.listening.get("data"), d_env)
        self.assertEqual(s2.request("GET", "/v1/devices/cfg-dev")[0], 404)
        s2.stop()
        s3 = self.server(pass_data=False, args=["--config", cfg])
        self.assertEqual(s3.request("GET", "/v1/devices/cfg-dev")[0], 200)

    def test_admin_token_file_env(self):
        token = "token-from-file-0123456789"
        path = self.write("admin_token", token + "\n")
        s = self.server(admin_token=None, env={"CARBON_ADMIN_TOKEN_FILE": path})
        s.admin_token = token
        st, _, b = s.request("POST", "/v1/devices", {"id": uid()})
        self.assertEqual(st, 201, b)
        self.assertError_(s.request("GET", "/v1/devices", token=token + " x"), 401)
        self.assertError_(s.request("GET", "/v1/devices", token=path), 401)
        s.stop()
        self.assertNotIn(token, "\n".join(s.stderr_lines()))

    def test_admin_token_file_in_config_file(self):
        token = "token-from-cfg-file-0123456789"
        path = self.write("admin_token", token)
        cfg = self.write("carbon.conf", "CARBON_ADMIN_TOKEN_FILE=%s\n" % path)
        s = self.server(admin_token=None, args=["--config", cfg])
        s.admin_token = token
        st, _, b = s.request("GET", "/v1/devices")
        self.assertEqual(st, 200, b)

    def test_env_token_beats_config_file_token(self):
        cfg = self.write("carbon.conf", "CARBON_ADMIN_TOKEN=file-token-0123456789abc\n")
        s = self.server(args=["--config", cfg])  # CARBON_ADMIN_TOKEN=ADMIN_TOKEN in env
        self.assertEqual(s.request("GET", "/v1/devices")[0], 200)
        self.assertEqual(s.request("GET", "/v1/devices",
                                   token="file-token-0123456789abc")[0], 401)

    def test_short_admin_token_refused(self):
        s = Server(admin_token="short", start=False)
        self.servers.append(s)
        with self.assertRaises(ServerError) as cm:
            s.start()
        self.assertIn("CARBON_ADMIN_TOKEN", str(cm.exception))
        self.assertNotEqual(s.proc.returncode, 0)
        self.assertNotIn("short\"", "\n".join(s.stderr_lines()))

    def test_bad_config_file_fails_fast(self):
        for text in ("CARBON_LISTEN\n", "CARBON_NOPE=1\n"):
            cfg = self.write("bad.conf", text)
            with self.subTest(text=text):
                p = subprocess.run([BIN, "serve", "--config", cfg, "--listen", "127.0.0.1:0",
                                    "--data", os.path.join(self.tmp, "d")],
                                   env=clean_env({"CARBON_ADMIN_TOKEN": ADMIN_TOKEN}),
                                   capture_output=True, timeout=20)
                self.assertNotEqual(p.returncode, 0)
                self.assertTrue(p.stderr.strip())
        cfg = os.path.join(self.tmp, "missing.conf")
        p = subprocess.run([BIN, "serve", "--config", cfg, "--listen", "127.0.0.1:0"],
                           env=clean_env({"CARBON_ADMIN_TOKEN": ADMIN_TOKEN}),
                           capture_output=True, timeout=20)
        self.assertNotEqual(p.returncode, 0)

    def assertError_(self, resp, status):
        self.assertEqual(resp[0], status, resp)


class CliTest(HttpTestCase):

    def run_bin(self, *args):
        return subprocess.run([BIN] + list(args), env=clean_env(), capture_output=True,
                              timeout=20, stdin=subprocess.DEVNULL)

    def test_help(self):
        p = self.run_bin("--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode()
        for word in ("serve", "version", "Usage"):
            self.assertIn(word, out)

    def test_serve_help(self):
        p = self.run_bin("serve", "--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode()
        for word in ("--listen", "--data", "--config", "CARBON_ADMIN_TOKEN", "CARBON_LISTEN"):
            self.assertIn(word, out)

    def test_version(self):
        p = self.run_bin("version")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout.decode(), r"carbon \d+\.\d+\.\d+")
        p = self.run_bin("version", "--help")
        self.assertEqual(p.returncode, 0)

    def test_unknown_command_exits_2(self):
        p = self.run_bin("frobnicate")
        self.assertEqual(p.returncode, 2)
        self.assertIn("frobnicate", p.stderr.decode())
        p = self.run_bin()
        self.assertEqual(p.returncode, 2)

    def test_serve_bad_settings_exit_with_a_message(self):
        # each bad setting: a non-zero exit before listening, and stderr
        # naming what to fix; nothing is left running
        d = tempfile.mkdtemp(prefix="carbon-cli-")
        self.addCleanup(shutil.rmtree, d, True)
        missing_cfg = os.path.join(d, "no-such.conf")
        cases = [
            (["--threads", "0"], 2, "threads"),
            (["--threads", "abc"], 2, "threads"),
            (["--log-level", "loud"], 2, "log level"),
            (["--listen", "127.0.0.1"], 2, "HOST:PORT"),
            (["--listen", "127.0.0.1:70000"], 2, "HOST:PORT"),
            (["stray-argument"], 2, "unexpected argument"),
            (["--config", missing_cfg], 2, "no-such.conf"),
        ]
        for args, code, words in cases:
            with self.subTest(args=args):
                p = self.run_bin("serve", "--data", os.path.join(d, "data"), *args)
                self.assertEqual(p.returncode, code, p.stderr)
                self.assertIn(words, p.stderr.decode())
        # a too-short admin token: exit 1 with a JSON error line
        env = clean_env({"CARBON_ADMIN_TOKEN": "short"})
        p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data",
                            os.path.join(d, "data2")], env=env, capture_output=True,
                           timeout=20, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("16 to 256 bytes", p.stderr.decode())
        self.assertNotIn("short", p.stderr.decode().replace("16 to 256", ""))

    def test_serve_unknown_flag_exits_2(self):
        p = self.run_bin("serve", "--bogus")
        self.assertEqual(p.returncode, 2)
        p = self.run_bin("serve", "--listen", "not-an-address", "--data", "/nonexistent/x")
        self.assertNotEqual(p.returncode, 0)


if __name__ == "__main__":
    main()
