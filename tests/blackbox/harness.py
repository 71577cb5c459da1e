"""harness.py - runs the real `carbon serve` binary for black-box tests.

Standard library only. The binary is $CARBON_BIN (set by CTest), else
build/carbon next to this checkout.

    srv = Server()                      # fresh temp data dir, free port
    status, headers, body = srv.request("GET", "/healthz")
    key = srv.create_device("kitchen-1")
    srv.stop()                          # SIGTERM, asserts exit code 0
    srv2 = Server(data_dir=srv.data_dir)  # restart on the same data
"""

import http.client
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("CARBON_BIN") or os.path.join(REPO, "build", "carbon")

ADMIN_TOKEN = "bb-admin-token-0123456789abcdef"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 30.0

ADMIN = object()  # the default `token`: use the admin token of the server


class _RejectConstant(ValueError):
    pass


def _reject_constant(name):
    # NaN / Infinity are not JSON; a server that emits them is broken.
    raise _RejectConstant("non-JSON constant %s in response" % name)


def parse_json(data):
    """Strict JSON parsing (no NaN/Infinity)."""
    if isinstance(data, (bytes, bytearray)):
        data = data.decode("utf-8")
    return json.loads(data, parse_constant=_reject_constant)


def clean_env(extra=None, drop_admin=False):
    """os.environ without any CARBON_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARBON_")}
    # Keep ASan quiet about things that are not leaks of the server itself.
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0")
    # Tests send far more than a real client from one address; the tests of
    # the limits themselves set these.
    env["CARBON_RATE_LIMIT"] = "0"
    env["CARBON_RATE_LIMIT_ADDR"] = "0"
    env["CARBON_NOTIFY_LIMIT"] = "0"
    if extra:
        env.update(extra)
    return env


_ids = itertools.count(1)


def uid(prefix="dev"):
    """A device/gateway id unique within this test process."""
    return "%s-%d-%d" % (prefix, os.getpid() % 100000, next(_ids))


def now_s():
    return time.time()


def iso_ms(ms):
    """Epoch milliseconds -> the server's RFC 3339 form (always .mmmZ)."""
    secs, milli = divmod(int(ms), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".%03dZ" % milli


def parse_iso_ms(s):
    """The server's RFC 3339 form (YYYY-MM-DDTHH:MM:SS.mmmZ) -> epoch ms."""
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z", s)
    if not m:
        raise ValueError("not an RFC 3339 UTC time: %r" % (s,))
    import calendar

    y, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
    frac = (m.group(7) or "0").ljust(3, "0")[:3]
    return calendar.timegm((y, mo, d, h, mi, sec)) * 1000 + int(frac)


class ServerError(AssertionError):
    pass


class Server:
    """One `carbon serve` process.

    data_dir: None makes a fresh temporary directory (removed by cleanup());
    a path reuses it (for restarts; never removed by this object).
    listen: passed as --listen unless None. admin_token: CARBON_ADMIN_TOKEN
    unless None. env: extra environment. args: extra arguments after serve.
    """

    def __init__(self, data_dir=None, listen="127.0.0.1:0", admin_token=ADMIN_TOKEN, env=None,
                 args=None, log_level="info", pass_data=True, start=True):
        self.own_dir = data_dir is None
        self.tmp = tempfile.mkdtemp(prefix="carbon-bb-") if self.own_dir else None
        self.data_dir = os.path.join(self.tmp, "data") if self.own_dir else data_dir
        self.admin_token = admin_token
        self.listen = listen
        self.extra_env = dict(env or {})
        self.args = list(args or [])
        self.log_level = log_level
        self.pass_data = pass_data
        self.proc = None
        self.port = None
        self.host = None
        self.listening = None  # the parsed "listening" log line
        self._lines = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._eof = threading.Event()
        self._reader = None
        if start:
            self.start()

    # ---- process ----

    def command(self):
        cmd = [BIN, "serve"]
        if self.listen is not None:
            cmd += ["--listen", self.listen]
        if self.pass_data:
            cmd += ["--data", self.data_dir]
        if self.log_level is not None:
            cmd += ["--log-level", self.log_level]
        return cmd + self.args

    def start(self):
        env = dict(self.extra_env)
        if self.admin_token is not None:
            env["CARBON_ADMIN_TOKEN"] = self.admin_token
        self._lines = []
        self._ready.clear()
        self._eof.clear()
        self.port = None
        self.proc = subprocess.Popen(self.command(), env=clean_env(env), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read_stderr, args=(self.proc,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._ready.is_set():
            if self._eof.is_set() or self.proc.poll() is not None:
                self._eof.wait(2)
                rc = self.proc.wait(5)
                raise ServerError("carbon serve exited (code %s) before listening; stderr:\n%s"
                                  % (rc, self.stderr_text()))
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError("carbon serve did not log 'listening' within %.0f s; stderr:\n%s"
                                  % (START_TIMEOUT_S, self.stderr_text()))
            self._ready.wait(0.02)
        return self

    def _read_stderr(self, proc):
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self._lines.append(line)
            if not self._ready.is_set():
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict) and obj.get("msg") == "listening" and "port" in obj:
                    self.listening = obj
                    self.port = int(obj["port"])
                    host = obj.get("host") or "127.0.0.1"
                    self.host = "127.0.0.1" if host in ("0.0.0.0", "") else host
                    self._ready.set()
        self._eof.set()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, expect_code=0):
        """Signals the server (SIGTERM) and asserts it exits with expect_code."""
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise ServerError("carbon serve did not exit within %.0f s of signal %d; stderr:\n%s"
                              % (STOP_TIMEOUT_S, sig, self.stderr_text()))
        self._finish_reader()
        if expect_code is not None and rc != expect_code:
            raise ServerError("carbon serve exited with %d after signal %d, expected %d; "
                              "stderr:\n%s" % (rc, sig, expect_code, self.stderr_text()))
        return rc

    def kill(self):
        """SIGKILL: no chance to flush anything."""
        if self.proc is None:
            return
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        self.proc.wait()
        self._finish_reader()

    def _finish_reader(self):
        self._eof.wait(5)
        if self._reader is not None:
            self._reader.join(5)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None

    def restart(self):
        """SIGTERM (asserting exit 0), then start again on the same data dir."""
        self.stop()
        return self.start()

    def cleanup(self):
        if self.proc is not None:
            self.kill()
        if self.own_dir and self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    # ---- logs ----

    def stderr_lines(self):
        with self._lock:
            return list(self._lines)

    def stderr_text(self):
        return "\n".join(self.stderr_lines()[-200:])

    def log_records(self):
        """Every stderr line parsed as JSON (raises on a line that is not JSON)."""
        out = []
        for line in self.stderr_lines():
            if line.strip():
                out.append(json.loads(line))
        return out

    def wait_log(self, pred, timeout=10.0):
        """Polls stderr until a JSON line satisfies pred; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.stderr_lines():
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict) and pred(obj):
                    return obj
            if time.monotonic() > deadline:
                raise ServerError("no matching log line within %.0f s; stderr:\n%s"
                                  % (timeout, self.stderr_text()))
            time.sleep(0.01)

    # ---- HTTP ----

    def url(self, path):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def connect(self, timeout=REQUEST_TIMEOUT_S):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def auth_headers(self, token=ADMIN):
        if token is ADMIN:
            token = self.admin_token
        return {} if token is None else {"Authorization": "Bearer " + token}

    def request_from(self, addr, method, path, body=None, **kw):
        """request() from source address addr (e.g. "127.0.0.2"): per-address
        limits and logs."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S,
                                          source_address=(addr, 0))
        try:
            return self.request(method, path, body, conn=conn, **kw)
        finally:
            conn.close()

    def request(self, method, path, body=None, headers=None, token=ADMIN, query=None,
                conn=None):
        """Sends one request; returns (status, headers, body).

        body: dict/list -> JSON (Content-Type: application/json unless given);
        str/bytes -> sent as is; an iterator of bytes -> chunked.
        token: ADMIN (default) for the admin token, None for no credentials,
        or a key string (sent as Authorization: Bearer).
        The returned body is parsed JSON when the reply says application/json
        and parses strictly, else the raw bytes. headers is an
        http.client.HTTPMessage (case-insensitive .get()).
        """
        hdrs = self.auth_headers(token)
        if query:
            path = path + ("&" if "?" in path else "?") + urllib.parse.urlencode(query)
        data = body
        chunked = False
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        elif isinstance(body, str):
            data = body.encode("utf-8")
        elif body is not None and not isinstance(body, (bytes, bytearray)):
            chunked = True
        if headers:
            for k, v in headers.items():
                # Allow removing a default with None.
                for existing in [h for h in hdrs if h.lower() == k.lower()]:
                    del hdrs[existing]
                if v is not None:
                    hdrs[k] = v
        own = conn is None
        c = conn or self.connect()
        try:
            try:
                if chunked:
                    c.request(method, path, body=data, headers=hdrs, encode_chunked=True)
                else:
                    c.request(method, path, body=data, headers=hdrs)
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer (e.g. 413) and close before reading
                # the whole body; the answer is still there to read.
                pass
            resp = c.getresponse()
            raw = resp.read()
            ctype = resp.headers.get("Content-Type", "")
            parsed = raw
            if raw and ctype.split(";")[0].strip().lower() == "application/json":
                try:
                    parsed = parse_json(raw)
                except ValueError:
                    parsed = raw
            return resp.status, resp.headers, parsed
        finally:
            if own:
                c.close()

    # ---- helpers ----

    def create_device(self, device_id=None, **fields):
        """Registers a device (as admin) and returns its API key."""
        body = {"id": device_id or uid()}
        body.update(fields)
        st, _, b = self.request("POST", "/v1/devices", body)
        if st != 201:
            raise ServerError("creating device %s: %d %r" % (body["id"], st, b))
        return b["api_key"]

    register_device = create_device

    def create_gateway(self, gateway_id, devices, name=None):
        body = {"id": gateway_id, "devices": list(devices)}
        if name is not None:
            body["name"] = name
        st, _, b = self.request("POST", "/v1/gateways", body)
        if st != 201:
            raise ServerError("creating gateway %s: %d %r" % (gateway_id, st, b))
        return b["api_key"]

    def post_readings(self, readings, token=ADMIN):
        return self.request("POST", "/v1/readings", readings, token=token)

    def all_readings(self, device_id, order="asc", limit=1000, query=None):
        """Walks every page of a device's readings; returns the list."""
        out = []
        cursor = None
        seen_cursors = set()
        for _ in range(100000):
            q = {"limit": limit, "order": order}
            if query:
                q.update(query)
            if cursor is not None:
                q["cursor"] = cursor
            st, _, b = self.request("GET", "/v1/devices/%s/readings" % device_id, query=q)
            if st != 200:
                raise ServerError("listing readings of %s: %d %r" % (device_id, st, b))
            out.extend(b["readings"])
            cursor = b["next_cursor"]
            if cursor is None:
                return out
            if cursor in seen_cursors:
                raise ServerError("cursor %r repeated for %s" % (cursor, device_id))
            seen_cursors.add(cursor)
        raise ServerError("pagination of %s never ended" % device_id)

    def healthz(self):
        st, _, _ = self.request("GET", "/healthz", token=None)
        return st

    def metrics(self):
        """GET /metrics parsed into {sample-with-labels: value}."""
        st, h, b = self.request("GET", "/metrics", token=None)
        if st != 200:
            raise ServerError("GET /metrics: %d" % st)
        return parse_prometheus(b.decode() if isinstance(b, bytes) else b)


_PROM_LINE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?'
    r' ([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))( -?[0-9]+)?$')


def parse_prometheus(text):
    """Prometheus text format -> {'name{labels}': float}. Raises on a bad line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            if line.startswith("#") and not re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* ",
                                                     line + " "):
                raise ValueError("bad Prometheus comment line: %r" % line)
            continue
        m = _PROM_LINE.match(line)
        if not m:
            raise ValueError("bad Prometheus sample line: %r" % line)
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


class HttpTestCase(unittest.TestCase):
    """Assertions on (status, headers, body) replies."""

    maxDiff = None

    def assertStatus(self, resp, status, msg=None):
        st, _, body = resp
        if st != status:
            self.fail("expected HTTP %d, got %d: %r%s" % (status, st, body,
                                                          (" (" + msg + ")") if msg else ""))

    def assertError(self, resp, status, msg=None):
        """status plus a body {"error":{"code":str,"message":str,...}}."""
        st, headers, body = resp
        self.assertStatus(resp, status, msg)
        ctype = headers.get("Content-Type", "")
        self.assertTrue(ctype.startswith("application/json"),
                        "error reply must be JSON, got Content-Type %r: %r" % (ctype, body))
        self.assertIsInstance(body, dict, "error body is not a JSON object: %r" % (body,))
        self.assertEqual(list(body.keys()), ["error"], body)
        err = body["error"]
        self.assertIsInstance(err, dict, body)
        self.assertIsInstance(err.get("code"), str, body)
        self.assertRegex(err["code"], r"^[a-z][a-z0-9_]*$", body)
        self.assertIsInstance(err.get("message"), str, body)
        self.assertTrue(err["message"], body)
        if status == 401:
            self.assertTrue(headers.get("WWW-Authenticate"), "401 needs WWW-Authenticate")
        return err


class ServerTestCase(HttpTestCase):
    """One server per test class (self.srv / cls.srv), SIGTERM'd at the end
    (a non-zero exit fails the class)."""

    server_kwargs = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv = Server(**cls.server_kwargs)
        cls.addClassCleanup(cls.srv.cleanup)

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.srv.running:
                cls.srv.stop()
        finally:
            super().tearDownClass()


def main():
    unittest.main(verbosity=2)
