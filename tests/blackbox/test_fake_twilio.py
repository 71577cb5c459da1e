"""Self-test of fake_twilio.py (the fake Twilio API used by other black-box
tests): the REST endpoints with their auth and validation, the scripted
failure behaviours, request recording, signed webhooks against a tiny local
receiver, the published Twilio signature vector, and a clean stop.

Needs no carbon binary; runs standalone: python3 test_fake_twilio.py -v"""

import base64
import email.utils
import http.client
import http.server
import json
import os
import socket
import sys
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_twilio import (FakeTwilio, FakeTwilioTimeout, compute_signature,  # noqa: E402
                         num_segments)

SID = "AC" + "f" * 32
TOKEN = "test-auth-token-fedcba9876543210"
TO = "+15551234567"
FROM = "+15557654321"
TWIML = "<Response><Say>Carbon monoxide alarm</Say></Response>"


def api(fake, kind="sms", form=None, auth=(SID, TOKEN), content_type=None, timeout=5.0,
        path=None, method="POST", body=None):
    """One request to the fake with urllib; returns (status, headers, parsed body)."""
    if path is None:
        path = fake.messages_url if kind == "sms" else fake.calls_url
    elif path.startswith("/"):
        path = fake.url(path)
    if body is None and form is not None:
        body = urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(path, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", content_type or "application/x-www-form-urlencoded")
    if auth is not None:
        cred = base64.b64encode(("%s:%s" % auth).encode()).decode()
        req.add_header("Authorization", "Basic " + cred)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, headers, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, e.headers, e.read()
        e.close()
    return status, headers, (json.loads(raw) if raw else None)


def sms(**over):
    f = {"To": TO, "From": FROM, "Body": "CO 120 ppm in kitchen",
         "StatusCallback": "http://127.0.0.1:1/twilio/status"}
    f.update(over)
    return {k: v for k, v in f.items() if v is not None}


def call(**over):
    f = {"To": TO, "From": FROM, "Twiml": TWIML}
    f.update(over)
    return {k: v for k, v in f.items() if v is not None}


class Receiver:
    """A tiny webhook receiver: records (path, headers, form pairs) of POSTs."""

    def __init__(self):
        self.got = []
        self.cond = threading.Condition()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                with outer.cond:
                    outer.got.append((self.path, self.headers, raw))
                    outer.cond.notify_all()
                data = b"<Response/>"
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def last(self):
        with self.cond:
            path, headers, raw = self.got[-1]
        return path, headers, urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True,
                                                     strict_parsing=True)

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join()


class FakeTwilioTest(unittest.TestCase):
    def setUp(self):
        self.fake = FakeTwilio(account_sid=SID, auth_token=TOKEN).start()
        self.addCleanup(self.fake.stop)

    # ---- the REST API ----

    def test_send_sms(self):
        st, hdrs, b = api(self.fake, "sms", sms())
        self.assertEqual(st, 201, b)
        self.assertTrue(hdrs["Content-Type"].startswith("application/json"))
        self.assertRegex(b["sid"], r"^SM[0-9a-f]{32}$")
        self.assertEqual(b["status"], "queued")
        self.assertEqual((b["to"], b["from"], b["body"]), (TO, FROM, "CO 120 ppm in kitchen"))
        self.assertEqual(b["num_segments"], "1")
        self.assertEqual(b["account_sid"], SID)
        self.assertEqual(b["direction"], "outbound-api")
        self.assertIsNone(b["error_code"])
        self.assertIsNone(b["error_message"])
        self.assertEqual(b["uri"], "/2010-04-01/Accounts/%s/Messages/%s.json" % (SID, b["sid"]))
        created = email.utils.parsedate_to_datetime(b["date_created"])
        self.assertLess(abs(created.timestamp() - time.time()), 120)
        self.assertTrue(b["date_created"].endswith("+0000"))

        [r] = self.fake.requests("sms")
        self.assertEqual((r.method, r.kind, r.status, r.sid, r.outcome),
                         ("POST", "sms", 201, b["sid"], "answered"))
        self.assertEqual(r.form, sms())
        self.assertEqual(r.raw, urllib.parse.urlencode(sms()).encode())
        self.assertEqual(r.header("content-type"), "application/x-www-form-urlencoded")
        self.assertTrue(r.header("Authorization").startswith("Basic "))
        self.assertIs(self.fake.find(b["sid"]), r)
        self.assertEqual(self.fake.accepted("sms"), [r])
        self.assertEqual(self.fake.requests("call"), [])

    def test_place_call(self):
        st, _, b = api(self.fake, "call", call())
        self.assertEqual(st, 201, b)
        self.assertRegex(b["sid"], r"^CA[0-9a-f]{32}$")
        self.assertEqual((b["status"], b["to"], b["from"]), ("queued", TO, FROM))
        self.assertEqual(b["uri"], "/2010-04-01/Accounts/%s/Calls/%s.json" % (SID, b["sid"]))
        self.assertIsNone(b["error_code"])
        st, _, b = api(self.fake, "call", call(Twiml=None, Url="https://carbon.example.com/tw"))
        self.assertEqual(st, 201, b)
        self.assertEqual([r.kind for r in self.fake.requests()], ["call", "call"])

    def test_segments(self):
        self.assertEqual(num_segments("a" * 160), 1)
        self.assertEqual(num_segments("a" * 161), 2)
        self.assertEqual(num_segments("é" * 160), 1)      # é is in GSM-7
        self.assertEqual(num_segments("ł" * 70), 1)       # UCS-2
        self.assertEqual(num_segments("ł" * 71), 2)
        st, _, b = api(self.fake, "sms", sms(Body="x" * 1600))
        self.assertEqual((st, b["num_segments"]), (201, "11"))

    def test_auth_failures(self):
        expected = {"code": 20003, "message": "Authenticate",
                    "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}
        for auth in (None, (SID, "wrong"), ("AC" + "0" * 32, TOKEN), (SID, TOKEN + "x")):
            st, hdrs, b = api(self.fake, "sms", sms(), auth=auth)
            self.assertEqual((st, b), (401, expected), auth)
            self.assertIn("Basic", hdrs["WWW-Authenticate"])
        # Not Basic at all, and garbage base64.
        for value in ("Bearer " + TOKEN, "Basic !!!notbase64"):
            c = http.client.HTTPConnection("127.0.0.1", self.fake.port, timeout=5)
            c.request("POST", "/2010-04-01/Accounts/%s/Messages.json" % SID,
                      body=urllib.parse.urlencode(sms()),
                      headers={"Authorization": value,
                               "Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse()
            self.assertEqual(r.status, 401)
            self.assertEqual(json.loads(r.read())["code"], 20003)
            c.close()
        self.assertEqual([r.status for r in self.fake.requests()], [401] * 6)
        self.assertEqual(self.fake.accepted(), [])

    def test_routing(self):
        other = "AC" + "1" * 32
        st, _, b = api(self.fake, form=sms(), path="/2010-04-01/Accounts/%s/Messages.json" % other)
        self.assertEqual((st, b["code"]), (404, 20404))
        for p in ("/", "/2010-04-01/Accounts/%s/Messages" % SID,
                  "/2010-04-01/Accounts/%s/Faxes.json" % SID, "/2010-04-01/Accounts/%s.json" % SID):
            st, hdrs, b = api(self.fake, form=sms(), path=p)
            self.assertEqual((st, b["code"], b["status"]), (404, 20404, 404), p)
            self.assertEqual(b["more_info"], "https://www.twilio.com/docs/errors/20404")
            self.assertTrue(hdrs["Content-Type"].startswith("application/json"))
        st, hdrs, b = api(self.fake, "sms", method="GET")
        self.assertEqual((st, hdrs["Allow"]), (405, "POST"))
        # A query string does not change the route.
        st, _, b = api(self.fake, form=sms(), path=self.fake.messages_url + "?x=1")
        self.assertEqual(st, 201, b)
        self.assertEqual(self.fake.requests()[-1].query, "x=1")

    def test_content_type_and_form(self):
        st, _, b = api(self.fake, "sms", body=json.dumps(sms()).encode(),
                       content_type="application/json")
        self.assertEqual(st, 400, b)
        st, _, b = api(self.fake, "sms", body=b"To=%2B15551234567&junk",
                       content_type="application/x-www-form-urlencoded")
        self.assertEqual(st, 400, b)
        st, _, b = api(self.fake, "sms", body=b"To=%FF%FE", content_type=None)
        self.assertEqual(st, 400, b)
        # charset parameter is fine; blank values are kept.
        st, _, b = api(self.fake, "sms", form=sms(StatusCallback=None, Extra=""),
                       content_type="application/x-www-form-urlencoded; charset=utf-8")
        self.assertEqual(st, 201, b)
        self.assertEqual(self.fake.requests()[-1].form["Extra"], "")

    def test_validation(self):
        cases = [
            ("sms", sms(To=None), 21604),
            ("sms", sms(To="5551234567"), 21211),
            ("sms", sms(To="+05551234567"), 21211),
            ("sms", sms(To="+1555123456789012"), 21211),
            ("sms", sms(To="+1 555 123 4567"), 21211),
            ("sms", sms(From=None), 21603),
            ("sms", sms(From="bad sender !"), 21212),
            ("sms", sms(Body=None), 21602),
            ("sms", sms(Body=""), 21602),
            ("sms", sms(Body="x" * 1601), 21617),
            ("sms", sms(StatusCallback="not a url"), 21609),
            ("call", call(To="+1"), 21211),
            ("call", call(From="CarBon"), 21212),
            ("call", call(Twiml=None), 21205),
            ("call", call(Url="https://carbon.example.com/twiml"), 21205),
            ("call", call(Twiml=None, Url="ftp://x/y"), 21205),
            ("call", call(Twiml="<Response><Say>unclosed</Response>"), 12100),
            ("call", call(Twiml="<Say>hi</Say>"), 12102),
        ]
        for kind, form, code in cases:
            st, _, b = api(self.fake, kind, form)
            self.assertEqual((st, b["code"], b["status"]), (400, code, 400), (kind, form, b))
            self.assertEqual(set(b), {"code", "message", "more_info", "status"})
        st, _, b = api(self.fake, "sms", sms(To="12"))
        self.assertEqual(b["message"], "The 'To' number 12 is not a valid phone number.")
        st, _, b = api(self.fake, "sms", sms(Body="y" * 1601))
        self.assertEqual(b["message"],
                         "The concatenated message body exceeds the 1600 character limit.")
        self.assertEqual(self.fake.accepted(), [])
        # What is allowed: alphanumeric SMS sender, MessagingServiceSid, max body.
        for form in (sms(From="CarBon"), sms(From=None, MessagingServiceSid="MG" + "0" * 32),
                     sms(Body="z" * 1600)):
            st, _, b = api(self.fake, "sms", form)
            self.assertEqual(st, 201, (form, b))

    def test_invalid_number_rule(self):
        bad = "+15550000000"
        self.fake.invalid_number(bad)
        for kind, form in (("sms", sms(To=bad)), ("call", call(To=bad)), ("sms", sms(To=bad))):
            st, _, b = api(self.fake, kind, form)
            self.assertEqual((st, b["code"]), (400, 21211))
            self.assertEqual(b["message"], "The 'To' number %s is not a valid phone number." % bad)
        self.assertEqual(api(self.fake, "sms", sms())[0], 201)
        self.assertEqual([r.behaviour for r in self.fake.requests()],
                         ["invalid_number"] * 3 + ["normal"])
        self.fake.invalid_number(TO, kind="call")
        self.assertEqual(api(self.fake, "call", call())[0], 400)
        self.assertEqual(api(self.fake, "sms", sms())[0], 201)
        self.fake.reset_behaviour()
        self.assertEqual(api(self.fake, "sms", sms(To=bad))[0], 201)

    # ---- scripted behaviours ----

    def test_fail_next(self):
        self.fake.fail_next(2, status=500)
        self.fake.fail_next(1, status=503, kind="call")
        self.assertEqual(self.fake.pending_behaviours(), 3)
        st, hdrs, b = api(self.fake, "sms", sms())
        self.assertEqual((st, b["code"], b["status"]), (500, 20500, 500))
        self.assertEqual(b["more_info"], "https://www.twilio.com/docs/errors/20500")
        self.assertTrue(hdrs["Content-Type"].startswith("application/json"))
        # The call-only failure is behind the second "any" failure.
        self.assertEqual(api(self.fake, "call", call())[0], 500)
        self.assertEqual(api(self.fake, "sms", sms())[0], 201)
        st, _, b = api(self.fake, "call", call())
        self.assertEqual((st, b["code"]), (503, 20503))
        self.assertEqual(api(self.fake, "call", call())[0], 201)
        self.assertEqual(self.fake.pending_behaviours(), 0)
        self.assertEqual([(r.kind, r.status, r.behaviour) for r in self.fake.requests()],
                         [("sms", 500, "fail"), ("call", 500, "fail"), ("sms", 201, "normal"),
                          ("call", 503, "fail"), ("call", 201, "normal")])
        # Failures come before auth, like a broken front end; 404s don't consume.
        self.fake.fail_next(1, status=502)
        self.assertEqual(api(self.fake, form=sms(), path="/nope")[0], 404)
        self.assertEqual(api(self.fake, "sms", sms(), auth=None)[0], 502)
        # A raw, non-JSON body (a proxy error page).
        self.fake.respond_next(1, status=502, body="<html>Bad gateway</html>",
                               content_type="text/html")
        c = http.client.HTTPConnection("127.0.0.1", self.fake.port, timeout=5)
        c.request("POST", self.fake.messages_url, body="To=x")
        r = c.getresponse()
        self.assertEqual((r.status, r.getheader("Content-Type"), r.read()),
                         (502, "text/html", b"<html>Bad gateway</html>"))
        c.close()

    def test_rate_limit_next(self):
        self.fake.rate_limit_next(2, retry_after=2)
        for _ in range(2):
            st, hdrs, b = api(self.fake, "sms", sms())
            self.assertEqual((st, hdrs["Retry-After"]), (429, "2"))
            self.assertEqual(b, {"code": 20429, "message": "Too Many Requests",
                                 "more_info": "https://www.twilio.com/docs/errors/20429",
                                 "status": 429})
        st, hdrs, _ = api(self.fake, "sms", sms())
        self.assertEqual(st, 201)
        self.assertIsNone(hdrs["Retry-After"])
        self.fake.rate_limit_next(1, retry_after=None)
        st, hdrs, _ = api(self.fake, "call", call())
        self.assertEqual((st, hdrs["Retry-After"]), (429, None))
        self.assertEqual([r.behaviour for r in self.fake.requests()],
                         ["rate_limit", "rate_limit", "normal", "rate_limit"])

    def test_hang_next_client_timeout(self):
        self.fake.hang_next(1, seconds=30)
        t0 = time.monotonic()
        with self.assertRaises((socket.timeout, TimeoutError, urllib.error.URLError)):
            api(self.fake, "sms", sms(), timeout=0.5)
        self.assertLess(time.monotonic() - t0, 5)
        # The hung request is visible while it hangs, as processed (201).
        [r] = self.fake.wait_for(1, timeout=5)
        self.assertEqual((r.behaviour, r.status, r.outcome), ("hang", 201, "pending"))
        self.assertRegex(r.sid, r"^SM[0-9a-f]{32}$")
        # Others are served meanwhile.
        self.assertEqual(api(self.fake, "sms", sms())[0], 201)
        # stop() aborts the hanging handler at once.
        t0 = time.monotonic()
        self.fake.stop()
        self.assertLess(time.monotonic() - t0, 3)
        self.assertEqual(r.outcome, "aborted")

    def test_hang_next_then_answer_or_close(self):
        self.fake.hang_next(1, seconds=0.3)
        t0 = time.monotonic()
        st, _, b = api(self.fake, "call", call(), timeout=5)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.assertEqual(st, 201, b)
        self.fake.hang_next(1, seconds=0.2, then="close")
        with self.assertRaises((http.client.RemoteDisconnected, urllib.error.URLError,
                                ConnectionError)):
            api(self.fake, "call", call(), timeout=5)
        self.assertEqual([(r.status, r.outcome) for r in self.fake.requests()],
                         [(201, "answered"), (None, "dropped")])
        self.assertIsNone(self.fake.requests()[-1].sid)
        self.assertEqual(len(self.fake.accepted()), 1)

    def test_accept_then_drop(self):
        self.fake.accept_then_drop_next(1, kind="sms")
        self.assertEqual(api(self.fake, "call", call())[0], 201)   # not consumed
        with self.assertRaises((http.client.RemoteDisconnected, urllib.error.URLError,
                                ConnectionError)):
            api(self.fake, "sms", sms())
        r = self.fake.requests("sms")[-1]
        self.assertEqual((r.behaviour, r.status, r.outcome), ("drop", 201, "dropped"))
        self.assertRegex(r.sid, r"^SM[0-9a-f]{32}$")
        self.assertIn(r, self.fake.accepted("sms"))
        self.assertEqual(api(self.fake, "sms", sms())[0], 201)
        self.assertEqual(len(self.fake.accepted("sms")), 2)

    def test_reset_behaviour(self):
        self.fake.fail_next(3)
        self.fake.hang_next(2, seconds=30)
        self.fake.invalid_number(TO)
        self.fake.reset_behaviour()
        self.assertEqual(self.fake.pending_behaviours(), 0)
        self.assertEqual(api(self.fake, "sms", sms())[0], 201)

    # ---- recording ----

    def test_recording_and_wait_for(self):
        results = []

        def send(i):
            results.append(api(self.fake, "sms", sms(Body="msg %d" % i))[0])

        t_before = time.time()
        threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        got = self.fake.wait_for(8, timeout=10)
        for t in threads:
            t.join()
        self.assertEqual(results, [201] * 8)
        self.assertEqual(len(got), 8)
        self.assertEqual(sorted(r.form["Body"] for r in got),
                         sorted("msg %d" % i for i in range(8)))
        self.assertEqual([r.seq for r in got], list(range(1, 9)))
        self.assertEqual(len({r.sid for r in got}), 8)
        for r in got:
            self.assertGreaterEqual(r.t_wall, t_before - 1)
            self.assertLessEqual(r.t_mono, time.monotonic())
        [r5] = self.fake.wait_for(lambda r: r.form.get("Body") == "msg 5", timeout=1)
        self.assertEqual(r5.status, 201)

        # wait_for blocks until a later request arrives.
        timer = threading.Timer(0.3, lambda: api(self.fake, "call", call()))
        timer.start()
        t0 = time.monotonic()
        [c] = self.fake.wait_for(1, kind="call", timeout=10)
        self.assertGreaterEqual(time.monotonic() - t0, 0.2)
        timer.join()
        self.assertEqual(c.kind, "call")

        t0 = time.monotonic()
        with self.assertRaises(FakeTwilioTimeout):
            self.fake.wait_for(lambda r: r.kind == "call", count=2, timeout=0.3)
        self.assertLess(time.monotonic() - t0, 2)
        self.fake.clear()
        self.assertEqual(self.fake.requests(), [])
        with self.assertRaises(FakeTwilioTimeout):
            self.fake.wait_for(1, timeout=0.1)

    def test_keep_alive_connection(self):
        c = http.client.HTTPConnection("127.0.0.1", self.fake.port, timeout=5)
        cred = base64.b64encode(("%s:%s" % (SID, TOKEN)).encode()).decode()
        hdrs = {"Authorization": "Basic " + cred,
                "Content-Type": "application/x-www-form-urlencoded"}
        for _ in range(3):
            c.request("POST", "/2010-04-01/Accounts/%s/Messages.json" % SID,
                      body=urllib.parse.urlencode(sms()), headers=hdrs)
            r = c.getresponse()
            self.assertEqual(r.status, 201)
            r.read()
        self.assertEqual(len({r.client for r in self.fake.requests()}), 1)
        c.close()

    # ---- webhooks ----

    def test_signature_vector(self):
        url = "https://mycompany.com/myapp.php?foo=1&bar=2"
        params = {"CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+14158675309",
                  "To": "+18005551212", "Caller": "+14158675309"}
        self.assertEqual(compute_signature("12345", url, params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        self.assertEqual(compute_signature("12345", url, list(params.items())[::-1]),
                         "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        port443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
        self.assertEqual(compute_signature("12345", port443, params),
                         "kvajT1Ptam85bY51eRf/AJRuM3w=")
        old = dict(params, From="+12349013030", Caller="+12349013030")
        self.assertEqual(compute_signature("12345", url, old), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
        with FakeTwilio(auth_token="12345") as f:
            self.assertEqual(f.sign(url, params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")

    def _check_signed(self, headers, url, pairs, token=TOKEN):
        # Independent of compute_signature: the algorithm spelled out.
        import hashlib
        import hmac
        data = url + "".join(k + v for k, v in sorted(pairs))
        want = base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest())
        self.assertEqual(headers["X-Twilio-Signature"], want.decode())

    def test_webhooks_signed(self):
        rcv = Receiver()
        self.addCleanup(rcv.stop)
        _, _, b = api(self.fake, "sms", sms())
        sid = b["sid"]

        st, hdrs, body = self.fake.send_status(rcv.url("/twilio/status?dev=k1"), sid, "delivered")
        self.assertEqual((st, body), (200, b"<Response/>"))
        self.assertEqual(hdrs["Content-Type"], "text/xml")
        path, h, pairs = rcv.last()
        f = dict(pairs)
        self.assertEqual(path, "/twilio/status?dev=k1")
        self.assertEqual(h["Content-Type"], "application/x-www-form-urlencoded")
        self.assertEqual((f["MessageSid"], f["SmsSid"], f["MessageStatus"], f["AccountSid"]),
                         (sid, sid, "delivered", SID))
        self.assertEqual((f["To"], f["From"]), (TO, FROM))
        self.assertNotIn("ErrorCode", f)
        self._check_signed(h, rcv.url("/twilio/status?dev=k1"), pairs)

        self.fake.send_status(rcv.url("/s"), sid, "undelivered", error_code=30003,
                              extra={"Foo": "a b&c"})
        _, h, pairs = rcv.last()
        f = dict(pairs)
        self.assertEqual((f["MessageStatus"], f["ErrorCode"], f["Foo"]),
                         ("undelivered", "30003", "a b&c"))
        self._check_signed(h, rcv.url("/s"), pairs)

        # A call status, signed for the public URL behind a proxy.
        _, _, cb = api(self.fake, "call", call())
        public = "https://carbon.example.com/twilio/status"
        self.fake.send_status(rcv.url("/twilio/status"), cb["sid"], "completed", sign_url=public)
        _, h, pairs = rcv.last()
        f = dict(pairs)
        self.assertEqual((f["CallSid"], f["CallStatus"], f["AccountSid"]),
                         (cb["sid"], "completed", SID))
        self.assertNotIn("MessageSid", f)
        self._check_signed(h, public, pairs)
        self.assertEqual(h["X-Twilio-Signature"], self.fake.sign(public, pairs))
        self.assertNotEqual(h["X-Twilio-Signature"], self.fake.sign(rcv.url("/twilio/status"),
                                                                    pairs))

        # Inbound SMS.
        st, _, _ = self.fake.send_inbound_sms(rcv.url("/twilio/sms"), TO, FROM, "ACK 7",
                                              sign_url="https://carbon.example.com/twilio/sms")
        self.assertEqual(st, 200)
        path, h, pairs = rcv.last()
        f = dict(pairs)
        self.assertEqual(path, "/twilio/sms")
        self.assertRegex(f["MessageSid"], r"^SM[0-9a-f]{32}$")
        self.assertEqual(f["SmsSid"], f["MessageSid"])
        self.assertEqual((f["From"], f["To"], f["Body"], f["NumMedia"], f["NumSegments"],
                          f["AccountSid"]), (TO, FROM, "ACK 7", "0", "1", SID))
        self._check_signed(h, "https://carbon.example.com/twilio/sms", pairs)

        # Gather digits for the call: From/To taken from the recorded call.
        self.fake.send_voice_digits(rcv.url("/twilio/voice"), cb["sid"], "1")
        _, h, pairs = rcv.last()
        f = dict(pairs)
        self.assertEqual((f["CallSid"], f["Digits"], f["From"], f["To"], f["AccountSid"]),
                         (cb["sid"], "1", FROM, TO, SID))
        self._check_signed(h, rcv.url("/twilio/voice"), pairs)

        # Deliberately wrong, explicit, and missing signatures.
        self.fake.send_inbound_sms(rcv.url("/twilio/sms"), TO, FROM, "x", bad_signature=True)
        _, h, pairs = rcv.last()
        self.assertRegex(h["X-Twilio-Signature"], r"^[A-Za-z0-9+/]{27}=$")
        self.assertNotEqual(h["X-Twilio-Signature"], self.fake.sign(rcv.url("/twilio/sms"), pairs))
        self.fake.send_voice_digits(rcv.url("/v"), "CA" + "2" * 32, "9", from_=TO, to=FROM,
                                    signature="bogus")
        _, h, _ = rcv.last()
        self.assertEqual(h["X-Twilio-Signature"], "bogus")
        self.fake.send_webhook(rcv.url("/v"), {"A": "1"}, signature="")
        _, h, pairs = rcv.last()
        self.assertIsNone(h["X-Twilio-Signature"])
        self.assertEqual(pairs, [("A", "1")])

    # ---- lifecycle ----

    def test_stop_is_clean(self):
        before = set(threading.enumerate())
        fake = FakeTwilio(account_sid=SID, auth_token=TOKEN)
        with fake:
            port = fake.port
            self.assertEqual(fake.base_url, "http://127.0.0.1:%d" % port)
            self.assertNotEqual(port, 0)
            # An idle keep-alive connection, a hanging request, a half-sent body.
            idle = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            idle.request("POST", "/x", body="")
            idle.getresponse().read()
            fake.hang_next(1, seconds=60)
            hung = threading.Thread(target=lambda: self.assertRaises(
                Exception, api, fake, "sms", sms(), timeout=30))
            hung.start()
            fake.wait_for(lambda r: r.behaviour == "hang", timeout=5)
            half = socket.create_connection(("127.0.0.1", port))
            half.sendall(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            t0 = time.monotonic()
        self.assertLess(time.monotonic() - t0, 3, "stop() took too long")
        hung.join(5)
        self.assertFalse(hung.is_alive())
        idle.close()
        half.close()
        self.assertFalse(fake.running)
        self.assertEqual(set(threading.enumerate()) - before, set())
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        fake.stop()   # idempotent

        # Restartable, on the same port (a client configured with base_url still works).
        fake.start()
        try:
            self.assertEqual(api(fake, "sms", sms())[0], 201)
        finally:
            fake.stop()
        self.assertEqual(set(threading.enumerate()) - before, set())


if __name__ == "__main__":
    unittest.main()
