"""Request limits and the HTTP security layer (SPEC 2; issue 3 item 5):
per-key and per-address rate limits with 429 + Retry-After, the CORS
allow-list and preflight, security headers on every response, the header
size cap, and refused limit settings. The servers here turn the limits on
through the environment (the harness turns them off by default)."""

import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BIN, HttpTestCase, Server, ServerError, ServerTestCase,  # noqa: E402
                     clean_env, main, uid)

NOW = int(time.time())
ORIGINS = "https://app.example.com, https://ops.example.com"
APP, OPS, EVIL = "https://app.example.com", "https://ops.example.com", "https://evil.example.com"
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}


class LimitAsserts(HttpTestCase):

    def assertLimited(self, resp):
        self.assertError(resp, 429)
        ra = resp[1].get("Retry-After")
        self.assertIsNotNone(ra, "429 without Retry-After")
        self.assertRegex(ra, r"^[1-9][0-9]*$", "Retry-After must be whole seconds > 0")
        return int(ra)

    def assertSecurityHeaders(self, resp, what):
        st, h, b = resp
        for name, value in SECURITY_HEADERS.items():
            self.assertEqual(h.get(name), value, "%s (%d): %s" % (what, st, name))
        self.assertTrue(h.get("Content-Security-Policy"), "%s (%d): CSP" % (what, st))
        self.assertIn("default-src", h.get("Content-Security-Policy"), what)
        self.assertTrue(h.get("Referrer-Policy"), "%s (%d): Referrer-Policy" % (what, st))

    def until_limited(self, send, most):
        """Calls send() until it answers 429 (at most `most` times); returns
        (statuses before the 429, the 429 response or None)."""
        before = []
        for _ in range(most):
            resp = send()
            if resp[0] == 429:
                return before, resp
            before.append(resp[0])
        return before, None


class PerKeyLimitTest(LimitAsserts, ServerTestCase):
    """CARBON_RATE_LIMIT=2: 2 requests a second per key, bursts of 20."""

    server_kwargs = {"env": {"CARBON_RATE_LIMIT": "2"}}

    def test_device_key_limited_others_not(self):
        dev_a, dev_b = uid("rl-a"), uid("rl-b")
        key_a, key_b = self.srv.create_device(dev_a), self.srv.create_device(dev_b)
        n = iter(range(1000))

        def post():
            return self.srv.post_readings({"device_id": dev_a, "ts": NOW - 3000 + next(n),
                                           "co_ppm": 1}, token=key_a)
        before, limited = self.until_limited(post, 40)
        self.assertIsNotNone(limited, "no 429 within 40 requests at 2/s, burst 20")
        self.assertTrue(18 <= len(before) <= 25, "429 after %d requests" % len(before))
        self.assertEqual(set(before), {201})
        retry = self.assertLimited(limited)
        self.assertLessEqual(retry, 2)
        self.assertSecurityHeaders(limited, "per-key 429")
        # a refused request stored nothing
        self.assertEqual(len(self.srv.all_readings(dev_a)), len(before))
        # another key is unaffected, and the admin token is never limited by key
        for i in range(5):
            self.assertStatus(self.srv.post_readings({"device_id": dev_b, "ts": NOW - 100 + i,
                                                      "co_ppm": 1}, token=key_b), 201)
        conn = self.srv.connect()
        try:
            for i in range(60):
                self.assertStatus(self.srv.request("GET", "/v1/devices/" + dev_a, conn=conn),
                                  200, "admin request %d" % i)
        finally:
            conn.close()
        self.assertStatus(self.srv.post_readings({"device_id": dev_a, "ts": NOW - 10,
                                                  "co_ppm": 2}), 201)
        # still limited: the key, not the device
        self.assertLimited(self.srv.request("GET", "/v1/devices/" + dev_a, token=key_a))
        # after Retry-After the key works again
        time.sleep(retry + 0.1)
        self.assertStatus(self.srv.post_readings({"device_id": dev_a, "ts": NOW - 5,
                                                  "co_ppm": 3}, token=key_a), 201)

    def test_user_session_limited(self):
        st, _, u = self.srv.request("POST", "/v1/users", {"name": "rl", "email":
                                                          "rl-%d@example.com" % os.getpid(),
                                                          "password": "rate limited user 1"})
        self.assertEqual(st, 201, u)
        st, _, b = self.srv.request("POST", "/v1/auth/login", {"login": u["email"],
                                                               "password": "rate limited user 1"},
                                    token=None)
        self.assertEqual(st, 200, b)
        before, limited = self.until_limited(
            lambda: self.srv.request("GET", "/v1/me", token=b["token"]), 40)
        self.assertIsNotNone(limited, "a user session is never limited")
        self.assertTrue(18 <= len(before) <= 25, len(before))
        self.assertLimited(limited)

    def test_bad_credentials_not_counted_as_a_key(self):
        # Wrong keys are 401 (not 429): there is no key to count them against.
        for _ in range(30):
            self.assertError(self.srv.request("GET", "/v1/devices", token="no-such-key-0123"),
                             401)


class PerAddressLimitTest(LimitAsserts):
    """CARBON_RATE_LIMIT_ADDR=2: 2 requests a second per client address."""

    def test_address_limit(self):
        srv = Server(env={"CARBON_RATE_LIMIT_ADDR": "2"})
        self.addCleanup(srv.cleanup)
        addr = "127.0.0.1"
        before, limited = self.until_limited(
            lambda: srv.request_from(addr, "GET", "/healthz", token=None), 40)
        self.assertIsNotNone(limited, "no 429 within 40 requests at 2/s, burst 20")
        self.assertTrue(18 <= len(before) <= 25, "429 after %d requests" % len(before))
        self.assertEqual(set(before), {200})
        retry = self.assertLimited(limited)
        self.assertLessEqual(retry, 2)
        self.assertSecurityHeaders(limited, "per-address 429")
        # the whole address is limited, whatever the credentials or route
        self.assertLimited(srv.request_from(addr, "GET", "/v1/devices"))
        self.assertLimited(srv.request_from(addr, "GET", "/nowhere", token=None))
        # another address is not
        self.assertStatus(srv.request_from("127.0.0.2", "GET", "/healthz", token=None), 200)
        self.assertStatus(srv.request_from("127.0.0.3", "GET", "/v1/devices"), 200)
        time.sleep(retry + 0.1)
        self.assertStatus(srv.request_from(addr, "GET", "/healthz", token=None), 200)
        srv.stop()


class CorsTest(LimitAsserts, ServerTestCase):
    server_kwargs = {"env": {"CARBON_CORS_ORIGINS": ORIGINS}}

    def test_allowed_origin_echoed(self):
        for origin in (APP, OPS):
            for method, path, token, status in (("GET", "/healthz", None, 200),
                                                ("GET", "/v1/devices", "ADMIN", 200),
                                                ("GET", "/v1/devices", None, 401),
                                                ("GET", "/nowhere", None, 404)):
                with self.subTest(origin=origin, path=path, status=status):
                    kw = {} if token == "ADMIN" else {"token": token}
                    st, h, b = self.srv.request(method, path, headers={"Origin": origin}, **kw)
                    self.assertEqual(st, status, b)
                    self.assertEqual(h.get("Access-Control-Allow-Origin"), origin)
                    self.assertIn("Origin", [v.strip() for v in
                                             ",".join(h.get_all("Vary") or []).split(",")])
                    self.assertIsNone(h.get("Access-Control-Allow-Credentials"))

    def test_unlisted_origin_gets_nothing(self):
        for origin in (EVIL, "null", "https://app.example.com.evil.com", "https://app.example.co",
                       "http://app.example.com", "https://app.example.com:8443",
                       "https://app.example.com, https://evil.example.com", "*"):
            with self.subTest(origin=origin):
                st, h, b = self.srv.request("GET", "/healthz", headers={"Origin": origin},
                                            token=None)
                self.assertEqual(st, 200, b)
                self.assertIsNone(h.get("Access-Control-Allow-Origin"), origin)
        st, h, _ = self.srv.request("GET", "/healthz", token=None)
        self.assertIsNone(h.get("Access-Control-Allow-Origin"))

    def test_preflight(self):
        for path, methods in (("/v1/devices", {"GET", "POST"}),
                              ("/v1/devices/abc", {"GET", "PATCH", "DELETE"}),
                              ("/v1/auth/login", {"POST"})):
            with self.subTest(path=path):
                resp = self.srv.request("OPTIONS", path, token=None, headers={
                    "Origin": APP, "Access-Control-Request-Method": sorted(methods)[0],
                    "Access-Control-Request-Headers": "authorization, content-type"})
                st, h, b = resp
                self.assertEqual(st, 204, b)
                self.assertEqual(h.get("Access-Control-Allow-Origin"), APP)
                got = {m.strip() for m in h.get("Access-Control-Allow-Methods", "").split(",")}
                self.assertTrue(methods <= got, got)
                self.assertTrue(got <= methods | {"HEAD", "OPTIONS"}, got)
                allow_h = {x.strip().lower() for x in
                           h.get("Access-Control-Allow-Headers", "").split(",")}
                self.assertTrue({"authorization", "content-type"} <= allow_h, allow_h)
                self.assertRegex(h.get("Access-Control-Max-Age", ""), r"^[1-9][0-9]*$")
                self.assertSecurityHeaders(resp, "preflight")
        # an unlisted origin: 403, no CORS headers
        resp = self.srv.request("OPTIONS", "/v1/devices", token=None, headers={
            "Origin": EVIL, "Access-Control-Request-Method": "POST"})
        self.assertError(resp, 403)
        self.assertIsNone(resp[1].get("Access-Control-Allow-Origin"))
        self.assertIsNone(resp[1].get("Access-Control-Allow-Methods"))
        # an unknown path: 404, with or without an origin
        for hdrs in ({"Origin": APP, "Access-Control-Request-Method": "GET"}, {}):
            with self.subTest(headers=hdrs):
                resp = self.srv.request("OPTIONS", "/v1/nowhere", token=None, headers=hdrs)
                self.assertError(resp, 404)
                self.assertIsNone(resp[1].get("Access-Control-Allow-Methods"))


class NoCorsTest(LimitAsserts, ServerTestCase):
    """CARBON_CORS_ORIGINS unset: no Access-Control-Allow-Origin, ever."""

    def test_no_cors_headers(self):
        for method, path, hdrs in (("GET", "/healthz", {}),
                                   ("GET", "/v1/devices", {}),
                                   ("OPTIONS", "/v1/devices",
                                    {"Access-Control-Request-Method": "POST"})):
            for origin in (APP, "null", "*"):
                with self.subTest(method=method, path=path, origin=origin):
                    st, h, b = self.srv.request(method, path, headers=dict(hdrs, Origin=origin))
                    self.assertLess(st, 500, b)
                    self.assertIsNone(h.get("Access-Control-Allow-Origin"))
                    self.assertIsNone(h.get("Access-Control-Allow-Methods"))


class SecurityHeadersTest(LimitAsserts, ServerTestCase):

    def test_every_response_has_them(self):
        dev = uid("sec")
        key = self.srv.create_device(dev)
        cases = [
            ("200", "GET", "/healthz", None, {"token": None}),
            ("200 HEAD", "HEAD", "/healthz", None, {"token": None}),
            ("200 metrics", "GET", "/metrics", None, {"token": None}),
            ("201", "POST", "/v1/readings", {"device_id": dev, "co_ppm": 1}, {"token": key}),
            ("204", "OPTIONS", "/v1/devices", None, {"token": None}),
            ("400", "POST", "/v1/devices", "{", {"headers": {"Content-Type":
                                                             "application/json"}}),
            ("401", "GET", "/v1/devices", None, {"token": None}),
            ("401 bad key", "GET", "/v1/devices", None, {"token": "wrong-key-000000"}),
            ("403", "GET", "/v1/users", None, {"token": key}),
            ("404", "GET", "/no/such/path", None, {"token": None}),
            ("404 object", "GET", "/v1/devices/" + uid("nosuch"), None, {}),
            ("405", "DELETE", "/healthz", None, {"token": None}),
            ("415", "POST", "/v1/devices", "x", {"headers": {"Content-Type": "text/plain"}}),
            ("422", "POST", "/v1/devices", {"id": ""}, {}),
        ]
        for what, method, path, body, kw in cases:
            with self.subTest(what=what):
                resp = self.srv.request(method, path, body, **kw)
                self.assertEqual(str(resp[0]), what.split()[0], resp[2])
                self.assertSecurityHeaders(resp, what)
        # 413: a body over the cap
        resp = self.srv.request("POST", "/v1/readings", b"[" + b" " * (8 * 1024 * 1024) + b"]",
                                headers={"Content-Type": "application/json"}, token=key)
        self.assertEqual(resp[0], 413, resp[2])
        self.assertSecurityHeaders(resp, "413")

    def raw(self, data, timeout=10):
        """Sends raw bytes; returns what the server answered (b"" if it closed)."""
        s = socket.create_connection((self.srv.host, self.srv.port), timeout=timeout)
        try:
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not chunk:
                    break
                out += chunk
            return out
        finally:
            s.close()

    def test_oversized_header_refused_and_server_survives(self):
        # Observed: libmicrohttpd answers "431 Request Header Fields Too Large"
        # (its own HTML page, Connection: close, without the security headers)
        # to a header block over the 16 KiB connection memory.
        for what, data in (
                ("one 20 KiB header", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                 b"a" * 20480 + b"\r\n\r\n"),
                ("many headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\n" +
                 b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(300)) + b"\r\n"),
                ("20 KiB URL", b"GET /healthz?" + b"q" * 20480 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
                ("20 KiB Authorization", b"GET /v1/devices HTTP/1.1\r\nHost: x\r\n"
                 b"Authorization: Bearer " + b"k" * 20480 + b"\r\n\r\n")):
            with self.subTest(what=what):
                out = self.raw(data)
                if out:
                    status = out.split(b"\r\n", 1)[0]
                    self.assertRegex(status, rb"^HTTP/1\.[01] (431|414|413|400) ", out[:200])
                self.assertEqual(self.srv.healthz(), 200)
        # still serving normal requests with headers under the cap
        st, _, _ = self.srv.request("GET", "/healthz", token=None,
                                    headers={"X-Medium": "m" * 4000})
        self.assertEqual(st, 200)
        self.assertEqual(self.srv.healthz(), 200)


class SlowBodyTest(LimitAsserts, ServerTestCase):
    """The rules are checked again when the body has arrived, and public
    routes take small bodies only."""

    def raw(self, head, body_first):
        s = socket.create_connection((self.srv.host, self.srv.port), timeout=10)
        s.sendall(head.encode() + body_first)
        return s

    @staticmethod
    def status_of(s):
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        return int(data.split(b" ", 2)[1]) if data else None

    def test_session_ended_during_the_body(self):
        # A user starts a request (headers and half a body), is logged out
        # (here: deleted) before the body ends: the request must be refused
        # when it completes, not served with the rights it had at its start.
        st, _, u = self.srv.request("POST", "/v1/users", {
            "name": "Slow", "email": "slow-%d@example.com" % os.getpid(),
            "password": "a slow body is no key"})
        self.assertEqual(st, 201, u)
        st, _, lg = self.srv.request("POST", "/v1/auth/login", {
            "login": u["email"], "password": "a slow body is no key"}, token=None)
        self.assertEqual(st, 200, lg)
        body = ('{"id":"slow-%d","name":"x"}' % os.getpid()).encode()
        head = ("POST /v1/devices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (lg["token"], len(body)))
        s = self.raw(head, body[:5])
        time.sleep(0.3)
        st, _, _ = self.srv.request("DELETE", "/v1/users/" + u["id"])
        self.assertEqual(st, 204)
        s.sendall(body[5:])
        self.assertEqual(self.status_of(s), 401)
        st, _, _ = self.srv.request("GET", "/v1/devices/slow-%d" % os.getpid())
        self.assertEqual(st, 404)  # nothing was created

    def test_public_routes_take_small_bodies(self):
        big = b'{"login":"a@example.com","password":"' + b"x" * 20000 + b'"}'
        head = ("POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                "\r\nContent-Length: %d\r\n\r\n" % len(big))
        s = self.raw(head, big)
        self.assertEqual(self.status_of(s), 413)


class BadSettingsTest(HttpTestCase):

    def serve(self, env):
        with tempfile.TemporaryDirectory(prefix="carbon-bb-") as d:
            return subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", d],
                                  env=clean_env(env), capture_output=True, text=True,
                                  timeout=20, stdin=subprocess.DEVNULL)

    def test_bad_rate_settings_exit_2(self):
        for name in ("CARBON_RATE_LIMIT", "CARBON_RATE_LIMIT_ADDR"):
            for value in ("-1", "x", "nan", "1e7", "2/s", "inf"):
                with self.subTest(setting=name, value=value):
                    r = self.serve({name: value})
                    self.assertEqual(r.returncode, 2, r.stderr[-500:])
                    self.assertIn("CARBON_RATE_LIMIT", r.stderr)

    def test_empty_rate_setting_does_not_turn_the_limit_off(self):
        # CARBON_RATE_LIMIT= (empty, e.g. an unfilled template) must either be
        # refused or mean the default (20/s per key), never "no limit".
        # (Regression: "" used to parse as 0, and 0 means unlimited.)
        srv = Server(env={"CARBON_RATE_LIMIT": ""}, start=False)
        self.addCleanup(srv.cleanup)
        try:
            srv.start()
        except ServerError as e:  # refused at startup: fine if it exits 2 with a message
            self.assertIn("code 2", str(e))
            self.assertIn("CARBON_RATE_LIMIT", str(e))
            return
        dev = uid("empty-rl")
        key = srv.create_device(dev)
        conn = srv.connect()
        try:
            limited = any(srv.request("GET", "/v1/devices/" + dev, token=key, conn=conn)[0] == 429
                          for _ in range(600))
        finally:
            conn.close()
        self.assertTrue(limited, "CARBON_RATE_LIMIT='' turned the per-key limit off")
        srv.stop()


if __name__ == "__main__":
    main()
