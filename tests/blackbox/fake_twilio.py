"""fake_twilio.py - an in-process fake of the Twilio REST API for black-box tests.

Standard library only. It listens on 127.0.0.1 on a free port, in a
background thread, and answers like the real API (REFERENCES.md §5):

    POST /2010-04-01/Accounts/{AccountSid}/Messages.json   -> 201 SM... (SMS)
    POST /2010-04-01/Accounts/{AccountSid}/Calls.json      -> 201 CA... (call)

with HTTP Basic auth (AccountSid:AuthToken), form-encoded bodies, the usual
validation (E.164 `To`, `From`, `Body` <= 1600 characters, exactly one of
`Twiml`/`Url`/`ApplicationSid`, well-formed TwiML) and Twilio-style JSON
errors (`{"code":…,"message":…,"more_info":…,"status":…}`). Anything else
is 404 (or 405 for another method on those two paths).

Usage:

    from fake_twilio import FakeTwilio

    with FakeTwilio(account_sid="AC" + "a" * 32, auth_token="secret") as fake:
        # Point the server's Twilio base URL (in place of https://api.twilio.com)
        # at fake.base_url ("http://127.0.0.1:PORT"), with fake.account_sid /
        # fake.auth_token as its credentials, then make it send an SMS.
        [req] = fake.wait_for(1, timeout=10, kind="sms")
        assert req.form["To"] == "+15551234567" and req.status == 201

        fake.fail_next(2, status=500)       # next two API requests: 500
        fake.rate_limit_next(1, retry_after=2)          # then one 429
        fake.hang_next(1, seconds=30)       # then one that never answers in time
        fake.accept_then_drop_next(1)       # then one "sent" but unanswered
        fake.invalid_number("+15550000000") # always 400 / 21211 for this To
        fake.reset_behaviour()              # back to normal

        # Twilio calling our webhooks, correctly signed:
        fake.send_status(srv.url("/twilio/status"), req.sid, "delivered")
        fake.send_inbound_sms(srv.url("/twilio/sms"), "+15551234567",
                              "+15557654321", "ACK",
                              sign_url="https://carbon.example.com/twilio/sms")
        fake.send_voice_digits(url, call_sid, "1")

Without the `with`: `fake = FakeTwilio(...).start()` ... `fake.stop()`.
stop() shuts the server down, closes every connection (kept-alive or hung),
and joins all of its threads; it is idempotent.

Every request (also 404s and auth failures) is recorded as a TwilioRequest:
see requests(), accepted(), wait_for() and clear(). A record is added when
the answer has been decided, just before it is written (a hanging request
as soon as it starts to hang). `status` is the answer decided on (201 also
for accept_then_drop_next: the message counts as sent) and `outcome` says
whether it reached the client ("answered") or the connection was closed
without it ("dropped", or "aborted" by stop()/the client leaving).

Scripted behaviours (fail_next, rate_limit_next, hang_next,
accept_then_drop_next, respond_next) form one FIFO queue; each request to
Messages.json / Calls.json consumes the first entry whose `kind` matches
("sms", "call" or None for either), before authentication is checked, like
a failure in front of the real API. Per-number rules (invalid_number) last
until reset_behaviour().
"""

import base64
import email.utils
import hashlib
import hmac
import http
import http.client
import http.server
import json
import math
import re
import secrets
import socket
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone

API_VERSION = "2010-04-01"
E164 = re.compile(r"\+[1-9]\d{1,14}")
# Alphanumeric sender id: 1-11 of [A-Za-z0-9 ], at least one letter.
ALPHA_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
MAX_BODY_CHARS = 1600
MAX_REQUEST_BYTES = 1 << 20
JSON_TYPE = "application/json; charset=utf-8"

DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "fake-twilio-auth-token-0123456789"

_PATH = re.compile(r"/2010-04-01/Accounts/([^/]+)/(Messages|Calls)\.json")
_KINDS = {"Messages": "sms", "Calls": "call"}

# GSM 03.38 basic character set and its extension table (2 septets each).
_GSM_BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
                 "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXT = set("^{}\\[~]|€\f")


# ---------------------------------------------------------------- helpers

def compute_signature(auth_token, url, params=()):
    """X-Twilio-Signature of a form POST to `url` with `params`.

    base64(HMAC-SHA1(auth_token, url + name1 + value1 + name2 + value2 ...)),
    the parameters sorted by name (then by value for repeated names).
    params: a dict or an iterable of (name, value) pairs.
    """
    items = params.items() if hasattr(params, "items") else params
    data = url + "".join(k + v for k, v in sorted((str(k), str(v)) for k, v in items))
    mac = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def new_sid(prefix):
    """A Twilio-looking sid: 2-letter prefix + 32 lower-case hex digits."""
    return prefix + secrets.token_hex(16)


def rfc2822_now():
    """Like Twilio's date_created: 'Mon, 16 Aug 2010 03:45:01 +0000'."""
    return email.utils.format_datetime(datetime.now(timezone.utc).replace(microsecond=0))


def num_segments(body):
    """SMS segments: GSM-7 (160, or 153 per part) else UCS-2 (70, or 67)."""
    if all(c in _GSM_BASIC or c in _GSM_EXT for c in body):
        n = sum(2 if c in _GSM_EXT else 1 for c in body)
        single, part = 160, 153
    else:
        n = sum(2 if ord(c) > 0xFFFF else 1 for c in body)  # UTF-16 units
        single, part = 70, 67
    return 1 if n <= single else math.ceil(n / part)


def twilio_error(status, code, message, **more):
    """A Twilio-style error body."""
    body = {"code": code, "message": message,
            "more_info": "https://www.twilio.com/docs/errors/%d" % code, "status": status}
    body.update(more)
    return body


class FakeTwilioTimeout(AssertionError):
    """wait_for() gave up."""


@dataclass
class TwilioRequest:
    """One request the fake received (attribute access; treat as read-only)."""
    method: str
    path: str                 # without the query string
    query: str                # raw query string ('' when none)
    headers: list             # [(name, value)] as received
    raw: bytes                # the request body
    form: dict                # parsed form, last value wins ({} if not a form)
    form_items: list          # parsed form as (name, value) pairs, in order
    kind: str                 # "sms", "call" or None (not an API path)
    t_mono: float             # time.monotonic() on arrival
    t_wall: float             # time.time() on arrival
    client: tuple             # (host, port) of the client
    behaviour: str = "normal"  # normal|fail|rate_limit|hang|drop|invalid_number
    status: int = None        # the HTTP status decided on (see outcome);
    #                           None: nothing processed (hang_next then="close")
    response: object = None   # the JSON body (dict) decided on, or raw bytes
    sid: str = None           # the SM…/CA… sid when status is 201
    outcome: str = "pending"  # pending (hanging) -> answered (written) |
    #                           dropped (closed unanswered) | aborted (stop()
    #                           or the client went away first)
    seq: int = 0              # arrival order, from 1

    def header(self, name, default=None):
        """A request header, case-insensitively (the first one)."""
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return default


@dataclass
class _Behaviour:
    action: str               # respond | hang | drop
    kind: str = None          # "sms" | "call" | None (any)
    name: str = "fail"
    status: int = 500
    code: int = None
    message: str = None
    headers: dict = field(default_factory=dict)
    body: object = None       # raw bytes/str instead of the JSON error
    content_type: str = JSON_TYPE
    seconds: float = 0.0
    then: str = "answer"      # hang: "answer" or "close"


# ---------------------------------------------------------------- server

class _Server(http.server.ThreadingHTTPServer):
    """Handler threads are daemons (a forgotten stop() cannot keep the test
    process alive) yet joined by server_close(), which socketserver itself
    does only for non-daemon threads."""
    allow_reuse_address = True

    def __init__(self, addr, handler, fake):
        self.fake = fake
        self._handlers = []
        self._handlers_lock = threading.Lock()
        super().__init__(addr, handler)

    def process_request(self, request, client_address):
        t = threading.Thread(target=self.process_request_thread,
                             args=(request, client_address), daemon=True,
                             name="fake-twilio-conn-%s:%d" % client_address[:2])
        with self._handlers_lock:
            self._handlers = [x for x in self._handlers if x.is_alive()]
            self._handlers.append(t)
        t.start()

    def server_close(self):
        super().server_close()
        with self._handlers_lock:
            threads, self._handlers = self._handlers, []
        for t in threads:
            t.join()

    def handle_error(self, request, client_address):
        # A client going away (timeouts, drops, stop()) is routine here.
        pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeTwilio/1.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections; stop() closes them anyway

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without TCP_NODELAY,
        # Nagle + the client's delayed ACK add ~40 ms to every kept-alive
        # reply, which the real API does not.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._register(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.fake._unregister(self.connection)

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        self.server.fake._handle(self)

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_POST


class FakeTwilio:
    """A fake Twilio REST API on 127.0.0.1 (see the module docstring)."""

    def __init__(self, account_sid=DEFAULT_ACCOUNT_SID, auth_token=DEFAULT_AUTH_TOKEN,
                 host="127.0.0.1", port=0):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.host = host
        self.port = port
        self._server = None
        self._thread = None
        self._cond = threading.Condition()   # guards records and behaviours
        self._records = []
        self._seq = 0
        self._script = deque()
        self._invalid = {}                   # number -> kind or None
        self._conn_lock = threading.Lock()
        self._conns = set()
        self._stopping = threading.Event()

    # ---- lifecycle ----

    def start(self):
        """Starts listening (port 0: a free port). Returns self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fake-twilio-%d" % self.port, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops serving, closes every connection, joins all threads."""
        if self._server is None:
            return
        with self._conn_lock:
            self._stopping.set()          # hung handlers wake up and close
            conns = list(self._conns)
        self._server.shutdown()           # ends serve_forever
        for c in conns:                   # idle keep-alive readers see EOF
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()       # closes the listener, joins handlers
        self._thread.join()
        self._server = self._thread = None
        with self._cond:
            self._cond.notify_all()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def running(self):
        return self._server is not None

    @property
    def base_url(self):
        """'http://127.0.0.1:PORT' (stands in for https://api.twilio.com)."""
        return "http://%s:%d" % (self.host, self.port)

    def url(self, path):
        return self.base_url + path

    @property
    def messages_url(self):
        return self.url("/%s/Accounts/%s/Messages.json" % (API_VERSION, self.account_sid))

    @property
    def calls_url(self):
        return self.url("/%s/Accounts/%s/Calls.json" % (API_VERSION, self.account_sid))

    def _register(self, conn):
        with self._conn_lock:
            self._conns.add(conn)
            stopping = self._stopping.is_set()
        if stopping:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _unregister(self, conn):
        with self._conn_lock:
            self._conns.discard(conn)

    # ---- recording ----

    def requests(self, kind=None):
        """Recorded requests in arrival order; kind "sms"/"call" filters."""
        with self._cond:
            return [r for r in self._records if kind is None or r.kind == kind]

    def accepted(self, kind=None):
        """Requests answered (or dropped after acceptance) with a 201 and a sid."""
        return [r for r in self.requests(kind) if r.status == 201 and r.sid]

    def find(self, sid):
        """The accepted request that created `sid`, or None."""
        for r in self.requests():
            if r.sid == sid:
                return r
        return None

    def clear(self):
        """Forgets the recorded requests (behaviours are kept)."""
        with self._cond:
            self._records.clear()

    def wait_for(self, what=1, timeout=10.0, kind=None, count=None):
        """Blocks until enough matching requests have been recorded.

        what: an int N (wait for N requests), or a predicate on a
        TwilioRequest (wait for `count` matching ones, default 1).
        kind: "sms"/"call" restricts either form. Returns the matching
        records (all of them, in order); raises FakeTwilioTimeout.
        """
        if callable(what):
            pred, need = what, 1 if count is None else count
        else:
            pred, need = (lambda r: True), what if count is None else count

        def matching():
            return [r for r in self._records if (kind is None or r.kind == kind) and pred(r)]

        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = matching()
                if len(got) >= need:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    summary = ["%s %s -> %s" % (r.method, r.path, r.status) for r in self._records]
                    raise FakeTwilioTimeout(
                        "fake Twilio: %d of %d matching request(s) after %.1f s; all received:"
                        " %s" % (len(got), need, timeout, summary or "none"))
                self._cond.wait(left)

    # ---- behaviours ----

    def _push(self, n, beh):
        with self._cond:
            for _ in range(n):
                self._script.append(_Behaviour(**vars(beh)))

    def respond_next(self, n=1, status=500, code=None, message=None, headers=None, body=None,
                     content_type=JSON_TYPE, kind=None, name="fail"):
        """The next n API requests get this answer instead of being processed.

        code defaults to 20000 + status (20500, 20503…), message to the HTTP
        reason phrase. body (str/bytes) replaces the JSON error, e.g. an HTML
        page from a proxy. headers: extra response headers.
        """
        self._push(n, _Behaviour("respond", kind=kind, name=name, status=status, code=code,
                                 message=message, headers=dict(headers or {}), body=body,
                                 content_type=content_type))

    def fail_next(self, n=1, status=500, code=None, message=None, kind=None):
        """The next n API requests fail with `status` (Twilio JSON error)."""
        self.respond_next(n, status=status, code=code, message=message, kind=kind, name="fail")

    def rate_limit_next(self, n=1, retry_after=2, kind=None):
        """The next n API requests get 429, code 20429, Retry-After: retry_after
        (no header when retry_after is None)."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        self.respond_next(n, status=429, code=20429, message="Too Many Requests",
                          headers=headers, kind=kind, name="rate_limit")

    def hang_next(self, n=1, seconds=30.0, then="answer", kind=None):
        """The next n API requests are processed but answered only after
        `seconds` (then="answer": the message/call counts as created) or the
        connection is closed after `seconds` with no answer (then="close":
        nothing is created, status None). stop() cuts the wait short and
        closes the connection without an answer."""
        if then not in ("answer", "close"):
            raise ValueError("then must be 'answer' or 'close'")
        self._push(n, _Behaviour("hang", kind=kind, name="hang", seconds=seconds, then=then))

    def accept_then_drop_next(self, n=1, kind=None):
        """The next n API requests are processed normally (a valid one is
        recorded with status 201 and a sid: Twilio sent it) but the
        connection is closed without an answer: the client's crash window."""
        self._push(n, _Behaviour("drop", kind=kind, name="drop"))

    def invalid_number(self, number, kind=None):
        """Every request with To == number gets 400 / 21211 until reset."""
        with self._cond:
            self._invalid[number] = kind

    def reset_behaviour(self):
        """Drops all scripted behaviours and per-number rules."""
        with self._cond:
            self._script.clear()
            self._invalid.clear()

    def pending_behaviours(self):
        """How many scripted behaviours are still queued."""
        with self._cond:
            return len(self._script)

    def _take_behaviour(self, kind):
        with self._cond:
            for i, b in enumerate(self._script):
                if b.kind is None or b.kind == kind:
                    del self._script[i]
                    return b
        return None

    # ---- request handling (handler threads) ----

    def _read_body(self, h):
        if "chunked" in h.headers.get("Transfer-Encoding", "").lower():
            parts, total = [], 0
            while True:
                line = h.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                total += size
                if total > MAX_REQUEST_BYTES:
                    raise ValueError("body too large")
                parts.append(h.rfile.read(size))
                h.rfile.readline(8)
        n = int(h.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_REQUEST_BYTES:
            raise ValueError("body too large")
        return h.rfile.read(n) if n else b""

    def _handle(self, h):
        t_mono, t_wall = time.monotonic(), time.time()
        split = urllib.parse.urlsplit(h.path)
        path, query = split.path, split.query
        try:
            raw = self._read_body(h)
        except (ValueError, OSError):
            h.close_connection = True
            self._answer(h, self._record(h, path, query, b"", [], None, t_mono, t_wall),
                         413, twilio_error(413, 20413, "Request entity too large"))
            return
        m = _PATH.fullmatch(path)
        kind = _KINDS[m.group(2)] if m else None

        form_items = []
        ctype = h.headers.get("Content-Type", "")
        is_form = ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded"
        form_error = None
        if is_form:
            try:
                form_items = urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True,
                                                    strict_parsing=True, encoding="utf-8",
                                                    errors="strict", max_num_fields=1000)
            except ValueError as e:     # also UnicodeDecodeError
                form_error = str(e)
        rec = self._record(h, path, query, raw, form_items, kind, t_mono, t_wall)

        if m is None:
            return self._answer(h, rec, 404, twilio_error(
                404, 20404, "The requested resource %s was not found" % path))
        if h.command != "POST":
            return self._answer(h, rec, 405, twilio_error(
                405, 20004, "Method not allowed"), {"Allow": "POST"})

        beh = self._take_behaviour(kind)
        if beh is not None:
            rec.behaviour = beh.name
            if beh.action == "respond":
                if beh.body is not None:
                    body = beh.body.encode() if isinstance(beh.body, str) else beh.body
                else:
                    body = twilio_error(beh.status, beh.code or 20000 + beh.status,
                                        beh.message or _reason(beh.status))
                return self._answer(h, rec, beh.status, body, beh.headers, beh.content_type)

        status, body, headers = self._process(h, rec, m.group(1), kind, is_form, form_error)
        if beh is not None and beh.action == "hang":
            if beh.then == "close":
                rec.sid = None
                status = body = None
            rec.status, rec.response = status, body
            self._append(rec)                       # visible while it hangs
            stopped = self._stopping.wait(beh.seconds)
            if stopped or status is None:
                return self._close(h, rec, "aborted" if stopped else "dropped")
            return self._write(h, rec, status, body, headers)
        if beh is not None and beh.action == "drop":
            rec.status, rec.response = status, body
            self._append(rec)
            return self._close(h, rec, "dropped")
        return self._answer(h, rec, status, body, headers)

    def _record(self, h, path, query, raw, form_items, kind, t_mono, t_wall):
        return TwilioRequest(method=h.command, path=path, query=query,
                             headers=list(h.headers.items()), raw=raw, form=dict(form_items),
                             form_items=list(form_items), kind=kind, t_mono=t_mono,
                             t_wall=t_wall, client=h.client_address)

    def _process(self, h, rec, path_sid, kind, is_form, form_error):
        """Normal API processing: (status, body dict, extra headers)."""
        if not self._auth_ok(h.headers.get("Authorization")):
            return 401, twilio_error(401, 20003, "Authenticate"), {
                "WWW-Authenticate": 'Basic realm="Twilio API"'}
        if path_sid != self.account_sid:
            return 404, twilio_error(404, 20404, "The requested resource %s was not found"
                                     % rec.path), {}
        if not is_form:
            return 400, twilio_error(400, 20001, "Content-Type must be "
                                     "application/x-www-form-urlencoded"), {}
        if form_error is not None:
            return 400, twilio_error(400, 20001, "Invalid form body: %s" % form_error), {}
        f = rec.form
        err = self._validate_common(f, kind)
        if err is None:
            err = self._validate_sms(f) if kind == "sms" else self._validate_call(f)
        if err is not None:
            if err[1] == 21211 and f.get("To") in self._invalid_numbers(kind):
                rec.behaviour = "invalid_number"
            return err[0], twilio_error(*err), {}
        sid = new_sid("SM" if kind == "sms" else "CA")
        rec.sid = sid
        return 201, self._resource(kind, sid, f), {}

    def _auth_ok(self, value):
        if not value or not value.startswith("Basic "):
            return False
        try:
            user, _, pw = base64.b64decode(value[6:].strip(), validate=True) \
                .decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        ok_user = hmac.compare_digest(user.encode(), self.account_sid.encode())
        ok_pw = hmac.compare_digest(pw.encode(), self.auth_token.encode())
        return ok_user and ok_pw

    def _invalid_numbers(self, kind):
        with self._cond:
            return {n for n, k in self._invalid.items() if k is None or k == kind}

    def _validate_common(self, f, kind):
        to = f.get("To")
        if not to:
            return 400, 21604, "A 'To' phone number is required."
        if not E164.fullmatch(to) or to in self._invalid_numbers(kind):
            return 400, 21211, "The 'To' number %s is not a valid phone number." % to
        frm = f.get("From")
        if not frm and not (kind == "sms" and f.get("MessagingServiceSid")):
            return 400, 21603, "A 'From' phone number is required."
        if frm and not (E164.fullmatch(frm) or (kind == "sms" and ALPHA_SENDER.fullmatch(frm))):
            return 400, 21212, ("The 'From' number %s is not a valid phone number, shortcode, "
                                "or alphanumeric sender ID." % frm)
        cb = f.get("StatusCallback")
        if cb is not None and not _is_http_url(cb):
            return 400, 21609, "The StatusCallback URL %s is not a valid URL." % cb
        return None

    def _validate_sms(self, f):
        body = f.get("Body", "")
        if body == "" and "MediaUrl" not in f:
            return 400, 21602, "Message body is required."
        if len(body) > MAX_BODY_CHARS:
            return 400, 21617, "The concatenated message body exceeds the 1600 character limit."
        return None

    def _validate_call(self, f):
        given = [k for k in ("Twiml", "Url", "ApplicationSid") if k in f]
        if len(given) != 1:
            return 400, 21205, ("Exactly one of 'Twiml', 'Url' or 'ApplicationSid' is required"
                                " (got %s)." % (", ".join(given) or "none"))
        if "Url" in f and not _is_http_url(f["Url"]):
            return 400, 21205, "Url is not a valid URL: %s" % f["Url"]
        if "Twiml" in f:
            try:
                root = ET.fromstring(f["Twiml"])
            except ET.ParseError as e:
                return 400, 12100, "Document parse failure: Twiml is not well-formed XML (%s)." % e
            if root.tag != "Response":
                return 400, 12102, "The root element of Twiml must be <Response>, not <%s>." \
                    % root.tag
        return None

    def _resource(self, kind, sid, f):
        now = rfc2822_now()
        base = "/%s/Accounts/%s" % (API_VERSION, self.account_sid)
        if kind == "sms":
            uri = "%s/Messages/%s.json" % (base, sid)
            return {
                "account_sid": self.account_sid, "api_version": API_VERSION,
                "body": f.get("Body", ""), "date_created": now, "date_sent": None,
                "date_updated": now, "direction": "outbound-api", "error_code": None,
                "error_message": None, "from": f.get("From"),
                "messaging_service_sid": f.get("MessagingServiceSid"),
                "num_media": "0", "num_segments": str(num_segments(f.get("Body", ""))),
                "price": None, "price_unit": "USD", "sid": sid, "status": "queued",
                "subresource_uris": {"media": "%s/Messages/%s/Media.json" % (base, sid)},
                "to": f.get("To"), "uri": uri,
            }
        uri = "%s/Calls/%s.json" % (base, sid)
        return {
            "account_sid": self.account_sid, "annotation": None, "answered_by": None,
            "api_version": API_VERSION, "caller_name": None, "date_created": now,
            "date_updated": now, "direction": "outbound-api", "duration": None,
            "end_time": None, "error_code": None, "error_message": None,
            "forwarded_from": None, "from": f.get("From"), "from_formatted": f.get("From"),
            "group_sid": None, "parent_call_sid": None, "price": None, "price_unit": "USD",
            "queue_time": "0", "sid": sid, "start_time": None, "status": "queued",
            "subresource_uris": {"notifications": "%s/Calls/%s/Notifications.json" % (base, sid),
                                 "recordings": "%s/Calls/%s/Recordings.json" % (base, sid)},
            "to": f.get("To"), "to_formatted": f.get("To"), "trunk_sid": None, "uri": uri,
        }

    def _answer(self, h, rec, status, body, headers=None, content_type=JSON_TYPE):
        """Records `rec` with its answer, then writes the answer."""
        rec.status, rec.response = status, body
        self._append(rec)
        self._write(h, rec, status, body, headers, content_type)

    def _write(self, h, rec, status, body, headers=None, content_type=JSON_TYPE):
        data = body if isinstance(body, (bytes, bytearray)) else \
            json.dumps(body, separators=(",", ":")).encode("utf-8")
        try:
            h.send_response(status)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(data)))
            h.send_header("Twilio-Request-Id", new_sid("RQ"))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            # Marked before the bytes go out, so a client that has its answer
            # never sees "pending"; corrected if writing fails.
            self._set_outcome(rec, "answered")
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(data)
            h.wfile.flush()
        except OSError:
            h.close_connection = True
            self._set_outcome(rec, "aborted")

    def _close(self, h, rec, outcome):
        """Ends the connection without an answer."""
        h.close_connection = True
        self._set_outcome(rec, outcome)

    def _append(self, rec):
        with self._cond:
            self._seq += 1
            rec.seq = self._seq
            self._records.append(rec)
            self._cond.notify_all()

    def _set_outcome(self, rec, outcome):
        with self._cond:
            rec.outcome = outcome
            self._cond.notify_all()

    # ---- Twilio calling our webhooks ----

    def sign(self, url, params=()):
        """X-Twilio-Signature for a form POST of `params` to `url`."""
        return compute_signature(self.auth_token, url, params)

    def send_webhook(self, url, params, sign_url=None, bad_signature=False, signature=None,
                     headers=None, timeout=10.0):
        """POSTs `params` (dict or pairs) form-encoded to `url`, signed.

        The signature is computed over sign_url (the public URL Twilio would
        have called, e.g. behind a proxy) or else `url` itself. bad_signature
        sends a wrong (but well-formed) one; signature sends exactly that
        (None: computed; "" : no X-Twilio-Signature header at all).
        headers: extra/overriding request headers (a None value removes one).
        Returns (status, headers, body bytes).
        """
        items = list(params.items()) if hasattr(params, "items") else list(params)
        items = [(str(k), str(v)) for k, v in items]
        if signature is None:
            signature = self.sign(sign_url or url, items)
            if bad_signature:
                signature = compute_signature(self.auth_token + "-wrong", sign_url or url, items)
        hdrs = {"Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "TwilioProxy/1.1", "Accept": "*/*",
                "I-Twilio-Idempotency-Token": secrets.token_hex(16)}
        if signature:
            hdrs["X-Twilio-Signature"] = signature
        for k, v in (headers or {}).items():
            for existing in [x for x in hdrs if x.lower() == k.lower()]:
                del hdrs[existing]
            if v is not None:
                hdrs[k] = v
        return _post(url, urllib.parse.urlencode(items).encode("ascii"), hdrs, timeout)

    def send_status(self, callback_url, sid, status, extra=None, error_code=None, kind=None,
                    **opts):
        """A status callback for message/call `sid` (kind from the sid: CA… is
        a call, else SMS). SMS: MessageSid, SmsSid, MessageStatus, SmsStatus;
        call: CallSid, CallStatus, Direction. Both: AccountSid, ApiVersion,
        To/From of the recorded request that created sid (if any), ErrorCode
        when error_code is given; `extra` adds or overrides fields.
        opts: sign_url, bad_signature, signature, headers, timeout (see
        send_webhook). Returns (status, headers, body)."""
        kind = kind or ("call" if sid.startswith("CA") else "sms")
        params = {"AccountSid": self.account_sid, "ApiVersion": API_VERSION}
        rec = self.find(sid)
        if rec is not None:
            for k in ("To", "From"):
                if k in rec.form:
                    params[k] = rec.form[k]
        if kind == "call":
            params.update({"CallSid": sid, "CallStatus": status, "Direction": "outbound-api"})
        else:
            params.update({"MessageSid": sid, "SmsSid": sid, "MessageStatus": status,
                           "SmsStatus": status})
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        params.update(extra or {})
        return self.send_webhook(callback_url, params, **opts)

    def send_inbound_sms(self, webhook_url, from_, to, body, sign_url=None, extra=None, **opts):
        """An incoming SMS webhook: MessageSid, SmsSid, SmsMessageSid,
        AccountSid, From, To, Body, NumMedia=0, NumSegments=1, SmsStatus,
        ApiVersion (+ extra). Returns (status, headers, body)."""
        sid = new_sid("SM")
        params = {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid,
                  "AccountSid": self.account_sid, "From": from_, "To": to, "Body": body,
                  "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received",
                  "ApiVersion": API_VERSION}
        params.update(extra or {})
        return self.send_webhook(webhook_url, params, sign_url=sign_url, **opts)

    def send_voice_digits(self, url, call_sid, digits, sign_url=None, from_=None, to=None,
                          extra=None, **opts):
        """A <Gather> result: CallSid, Digits, From, To, AccountSid,
        CallStatus=in-progress, Direction, ApiVersion (+ extra). From/To
        default to those of the recorded call `call_sid`.
        Returns (status, headers, body)."""
        rec = self.find(call_sid)
        form = rec.form if rec is not None else {}
        params = {"CallSid": call_sid, "Digits": digits,
                  "From": from_ if from_ is not None else form.get("From", ""),
                  "To": to if to is not None else form.get("To", ""),
                  "AccountSid": self.account_sid, "CallStatus": "in-progress",
                  "Direction": "outbound-api", "ApiVersion": API_VERSION}
        params.update(extra or {})
        return self.send_webhook(url, params, sign_url=sign_url, **opts)


def _reason(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _is_http_url(u):
    s = urllib.parse.urlsplit(u)
    return s.scheme in ("http", "https") and bool(s.netloc)


def _post(url, data, headers, timeout):
    s = urllib.parse.urlsplit(url)
    cls = http.client.HTTPSConnection if s.scheme == "https" else http.client.HTTPConnection
    conn = cls(s.hostname, s.port, timeout=timeout)
    path = (s.path or "/") + ("?" + s.query if s.query else "")
    try:
        conn.request("POST", path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()
