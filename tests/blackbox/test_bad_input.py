"""Bad input (SPEC 3): every class of bad request gets the right 4xx with
{"error":{"code","message"}}, nothing is stored, and the server keeps
answering."""

import json
import socket
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, main, uid  # noqa: E402

MIB = 1024 * 1024
NOW = int(time.time())
GOOD_TS = NOW - 3600


def good(dev="victim", ts=GOOD_TS, co=5):
    return {"device_id": dev, "ts": ts, "co_ppm": co}


class BadInputTest(ServerTestCase):
    """Every bad request targets the device 'victim' (and 'other'), which
    must never get a reading; tearDown checks that and /healthz."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.victim_key = cls.srv.create_device("victim")
        cls.other_key = cls.srv.create_device("other")

    def tearDown(self):
        self.assertEqual(self.srv.healthz(), 200, "server stopped answering /healthz")
        for dev in ("victim", "other"):
            got = self.srv.all_readings(dev)
            self.assertEqual(got, [], "a bad request stored readings for %s" % dev)

    def post_raw(self, body, ctype="application/json", token=None, headers=None):
        h = {"Content-Type": ctype}
        if headers:
            h.update(headers)
        return self.srv.request("POST", "/v1/readings", body,
                                token=self.victim_key if token is None else token, headers=h)

    def post(self, obj, token=None):
        return self.post_raw(json.dumps(obj), token=token)

    def assertItems(self, err, indexes):
        items = err.get("items")
        self.assertIsInstance(items, list, err)
        self.assertEqual(sorted(i["index"] for i in items), sorted(indexes), err)
        for i in items:
            self.assertIsInstance(i.get("reason"), str, i)
            self.assertTrue(i["reason"], i)

    # ---- malformed JSON ----

    def test_broken_json_400(self):
        bodies = [
            "", " ", "{", "}", "[", '{"device_id": "victim", "co_ppm": 1',
            '{"device_id":"victim","co_ppm":1}}', '{"device_id":"victim","co_ppm":1} trailing',
            '{"device_id":"victim","co_ppm":1}{"device_id":"victim","co_ppm":2}',
            "{'device_id':'victim','co_ppm':1}", '{device_id:"victim",co_ppm:1}',
            '{"device_id":"victim","co_ppm":01}', '{"device_id":"victim","co_ppm":1,}',
            '[{"device_id":"victim","co_ppm":1},]', '{"device_id":"victim","co_ppm":.5}',
            '{"device_id":"victim","co_ppm":0x10}', '{"device_id":"victim","co_ppm":+1}',
            '{"device_id":"victim" "co_ppm":1}', '{"device_id":"vic\x01tim","co_ppm":1}',
            '{"device_id":"victim","co_ppm":1} // comment',
            b'{"device_id":"vic\xfftim","co_ppm":1}', b"\xef\xbb\xbf\xff\xfe",
            "[" * 100000 + "]" * 100000,
            '{"a":' * 50000 + "1" + "}" * 50000,
        ]
        for body in bodies:
            with self.subTest(body=body[:60]):
                self.assertError(self.post_raw(body), 400)

    def test_duplicate_keys_rejected(self):
        resp = self.post_raw('{"device_id":"victim","co_ppm":1,"co_ppm":2}')
        self.assertIn(resp[0], (400, 422), resp)
        self.assertError(resp, resp[0])

    def test_nan_and_infinity_literals_400(self):
        for lit in ("NaN", "nan", "Infinity", "-Infinity", "inf", "1e999", "-1e999"):
            with self.subTest(lit=lit):
                body = '{"device_id":"victim","ts":%d,"co_ppm":%s}' % (GOOD_TS, lit)
                self.assertError(self.post_raw(body), 400)
                body = '{"device_id":"victim","ts":%s,"co_ppm":1}' % lit
                self.assertError(self.post_raw(body), 400)
                body = '{"device_id":"victim","co_ppm":1,"temperature_c":%s}' % lit
                self.assertError(self.post_raw(body), 400)

    # ---- valid JSON, wrong shape ----

    def test_wrong_types_422(self):
        cases = [
            {"device_id": "victim", "co_ppm": "5"},
            {"device_id": "victim", "co_ppm": True},
            {"device_id": "victim", "co_ppm": None},
            {"device_id": "victim", "co_ppm": [5]},
            {"device_id": "victim", "co_ppm": {"v": 5}},
            {"device_id": "victim"},
            {"co_ppm": 5},
            {"device_id": 5, "co_ppm": 5},
            {"device_id": None, "co_ppm": 5},
            {"device_id": ["victim"], "co_ppm": 5},
            {"device_id": "victim", "co_ppm": 5, "ts": True},
            {"device_id": "victim", "co_ppm": 5, "ts": [GOOD_TS]},
            {"device_id": "victim", "co_ppm": 5, "ts": {"s": GOOD_TS}},
            {"device_id": "victim", "co_ppm": 5, "temperature_c": "20"},
            {"device_id": "victim", "co_ppm": 5, "humidity_pct": False},
            [5], ["victim"], [None], [[good()]], [good(), 5],
        ]
        for body in cases:
            with self.subTest(body=body):
                self.assertError(self.post(body), 422)

    def test_scalar_body_4xx(self):
        # A bare JSON scalar is not a reading: 400 (not JSON we take) or 422.
        for body in ('"victim"', "5", "null", "true", "-0.5"):
            with self.subTest(body=body):
                resp = self.post_raw(body)
                self.assertIn(resp[0], (400, 422), resp)
                self.assertError(resp, resp[0])

    def test_unknown_fields_422(self):
        for extra in ({"co2_ppm": 1}, {"CO": 5}, {"device": "victim"}, {"": 1},
                      {"temperature": 20}, {"readings": []}):
            body = dict(good(), **extra)
            with self.subTest(extra=extra):
                self.assertError(self.post(body), 422)
        self.assertError(self.post({"readings": [good()]}), 422)

    def test_out_of_range_values_422(self):
        cases = [
            ("co_ppm", -0.001), ("co_ppm", -1), ("co_ppm", 10000.001), ("co_ppm", 1e6),
            ("co_ppm", -1e308), ("temperature_c", -40.01), ("temperature_c", 125.01),
            ("temperature_c", -273.15), ("temperature_c", 1e308), ("humidity_pct", -0.01),
            ("humidity_pct", 100.01), ("humidity_pct", 1000),
        ]
        for field, value in cases:
            with self.subTest(field=field, value=value):
                body = good()
                body[field] = value
                err = self.assertError(self.post(body), 422)
                self.assertItems(err, [0])

    def test_bad_timestamps_422(self):
        cases = [
            "garbage", "", "now", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
            "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:00",
            "2026-01-01", "2026-01-01T00:00:00+25:00", "2026-01-01T00:00:00.Z",
            str(GOOD_TS),                                   # digits in a string are not RFC 3339
            "1999-12-31T23:59:59Z", "1970-01-01T00:00:00Z", # before 2000
            946684799, 946684799.999, 0, -1, -1e12,
            NOW + 3600, NOW + 86400 * 365, 1e12, 1e300,     # far future
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW + 7200)),
            "9999-12-31T23:59:59Z",
        ]
        for ts in cases:
            with self.subTest(ts=ts):
                err = self.assertError(self.post(good(ts=ts)), 422)
                self.assertItems(err, [0])

    def test_bad_device_ids_422(self):
        for dev in ("", "a" * 65, "victim " , " victim", "a b", "dev/1", "dev?1", "d\u00e9v",
                    "dev\n1", "dev\t1", "dev\u00001", "victim\u0000", "\u2028", "../victim",
                    "dev%201", "dev#1", "<script>", "v" * 1000):
            with self.subTest(dev=dev[:70]):
                err = self.assertError(self.post(good(dev=dev), token=self.srv.admin_token), 422)
                self.assertItems(err, [0])

    def test_unknown_device_422(self):
        err = self.assertError(self.post(good(dev=uid("ghost")), token=self.srv.admin_token), 422)
        self.assertItems(err, [0])
        # a valid 64-character id that is not registered
        self.assertError(self.post(good(dev="g" * 64), token=self.srv.admin_token), 422)

    # ---- size caps ----

    def test_body_over_1mib_413(self):
        # A valid reading padded with whitespace past the cap: only the size is wrong.
        head = '{"device_id":"victim","ts":%d,"co_ppm":1' % GOOD_TS
        body = head + " " * (MIB + 1 - len(head) - 1) + "}"
        self.assertEqual(len(body), MIB + 1)
        self.assertError(self.post_raw(body), 413)
        # Much larger.
        self.assertError(self.post_raw(head + " " * (3 * MIB) + "}"), 413)

    def test_body_over_1mib_chunked_413(self):
        head = ('{"device_id":"victim","ts":%d,"co_ppm":1' % GOOD_TS).encode()

        def chunks():
            yield head
            for _ in range(17):
                yield b" " * 65536
            yield b"}"
        self.assertError(self.post_raw(chunks()), 413)

    def test_batch_over_1000_413(self):
        batch = [good(ts=GOOD_TS + i) for i in range(1001)]
        self.assertError(self.post(batch), 413)
        batch = [good(ts=GOOD_TS + i) for i in range(5000)]
        self.assertError(self.post(batch), 413)

    def test_empty_batch_4xx(self):
        resp = self.post([])
        self.assertIn(resp[0], (400, 422), resp)
        self.assertError(resp, resp[0])

    def test_edges_accepted(self):
        # The limits themselves are valid (on a separate device).
        dev = uid("edge")
        key = self.srv.create_device(dev)
        batch = [
            {"device_id": dev, "ts": GOOD_TS + 1, "co_ppm": 0},
            {"device_id": dev, "ts": GOOD_TS + 2, "co_ppm": 10000},
            {"device_id": dev, "ts": GOOD_TS + 3, "co_ppm": 1, "temperature_c": -40},
            {"device_id": dev, "ts": GOOD_TS + 4, "co_ppm": 1, "temperature_c": 125},
            {"device_id": dev, "ts": GOOD_TS + 5, "co_ppm": 1, "humidity_pct": 0},
            {"device_id": dev, "ts": GOOD_TS + 6, "co_ppm": 1, "humidity_pct": 100},
            {"device_id": dev, "ts": "2000-01-01T00:00:00Z", "co_ppm": 1},
        ]
        self.assertStatus(self.srv.post_readings(batch, token=key), 201)
        # exactly 1000 in a batch
        batch = [{"device_id": dev, "ts": GOOD_TS + 100 + i, "co_ppm": 1} for i in range(1000)]
        resp = self.srv.post_readings(batch, token=key)
        self.assertStatus(resp, 201)
        self.assertEqual(resp[2], {"stored": 1000, "duplicates": 0})
        # a body of exactly 1 MiB
        head = '{"device_id":"%s","ts":%d,"co_ppm":2' % (dev, GOOD_TS + 2000)
        body = head + " " * (MIB - len(head) - 1) + "}"
        self.assertEqual(len(body), MIB)
        resp = self.srv.request("POST", "/v1/readings", body, token=key,
                                headers={"Content-Type": "application/json"})
        self.assertStatus(resp, 201)
        self.assertEqual(len(self.srv.all_readings(dev)), 1008)

    # ---- batches are all or nothing ----

    def test_batch_with_one_bad_item_422_nothing_stored(self):
        batch = [good(ts=GOOD_TS + i) for i in range(6)]
        batch[3]["co_ppm"] = -5
        err = self.assertError(self.post(batch), 422)
        self.assertItems(err, [3])

    def test_batch_with_several_bad_items_lists_each(self):
        batch = [good(ts=GOOD_TS + i) for i in range(8)]
        batch[0]["ts"] = "garbage"
        batch[2] = {"device_id": uid("ghost"), "ts": GOOD_TS, "co_ppm": 1}
        batch[5]["humidity_pct"] = 101
        batch[7] = "not an object"
        err = self.assertError(self.post(batch, token=self.srv.admin_token), 422)
        self.assertItems(err, [0, 2, 5, 7])

    def test_batch_one_bad_among_two_devices(self):
        batch = [good("victim", GOOD_TS + 1), good("other", GOOD_TS + 1),
                 good("other", GOOD_TS + 2), dict(good("victim", GOOD_TS + 2), bogus=1)]
        err = self.assertError(self.post(batch, token=self.srv.admin_token), 422)
        self.assertItems(err, [3])

    # ---- credentials ----

    def test_missing_key_401(self):
        resp = self.srv.request("POST", "/v1/readings", good(), token=None)
        self.assertError(resp, 401)

    def test_wrong_key_401(self):
        for hdrs in ({"Authorization": "Bearer wrong-key-0123456789"},
                     {"Authorization": "Bearer " + self.victim_key + "x"},
                     {"Authorization": "Bearer " + self.victim_key[:-1]},
                     {"Authorization": "Bearer "},
                     {"Authorization": "Bearer"},
                     {"Authorization": "Basic dmljdGltOnNlY3JldA=="},
                     {"Authorization": self.victim_key},
                     {"Authorization": "Bearer " + "k" * 5000},
                     {"X-Api-Key": "wrong-key-0123456789"},
                     {"X-Api-Key": ""}):
            with self.subTest(hdrs=str(hdrs)[:80]):
                resp = self.srv.request("POST", "/v1/readings", good(), token=None, headers=hdrs)
                self.assertError(resp, 401)

    def test_device_key_for_another_device_403(self):
        self.assertError(self.post(good("victim"), token=self.other_key), 403)
        # a batch mixing its own device with another's: refused whole
        batch = [good("other", GOOD_TS + 1), good("victim", GOOD_TS + 2)]
        err = self.assertError(self.post(batch, token=self.other_key), 403)
        self.assertItems(err, [1])

    # ---- protocol ----

    def test_wrong_content_type_415(self):
        body = json.dumps(good())
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                      "text/json", "multipart/form-data; boundary=x", None):
            with self.subTest(ctype=ctype):
                resp = self.srv.request("POST", "/v1/readings", body, token=self.victim_key,
                                        headers={"Content-Type": ctype})
                self.assertError(resp, 415)

    def test_json_content_type_with_charset_ok_shape(self):
        # Parameters on application/json are fine: this one is refused only for its range.
        resp = self.srv.request("POST", "/v1/readings", json.dumps(good(co=-1)),
                                token=self.victim_key,
                                headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertError(resp, 422)

    def test_unknown_route_404(self):
        for method, path in (("GET", "/"), ("GET", "/v1"), ("GET", "/v1/nope"),
                             ("POST", "/v1/reading"), ("POST", "/v2/readings"),
                             ("GET", "/v1/devices/victim/readings/extra"),
                             ("GET", "/v1/devices/victim/nope"), ("GET", "/healthz/x"),
                             ("GET", "/v1/devices//readings"), ("GET", "/%00"),
                             ("GET", "/v1/devices/%zz/readings")):
            with self.subTest(method=method, path=path):
                resp = self.srv.request(method, path, good() if method == "POST" else None)
                self.assertError(resp, 404)

    def test_wrong_method_405(self):
        for method, path in (("GET", "/v1/readings"), ("PUT", "/v1/readings"),
                             ("DELETE", "/v1/readings"), ("PATCH", "/v1/readings"),
                             ("POST", "/healthz"), ("DELETE", "/metrics"),
                             ("PUT", "/v1/devices/victim"), ("POST", "/v1/devices/victim/readings")):
            with self.subTest(method=method, path=path):
                resp = self.srv.request(method, path, good() if method != "GET" else None)
                self.assertError(resp, 405)

    def test_405_carries_allow_header(self):
        # RFC 9110 15.5.6: a 405 response MUST list the allowed methods in Allow.
        st, h, b = self.srv.request("GET", "/v1/readings")
        self.assertEqual(st, 405, b)
        allow = h.get("Allow")
        self.assertIsNotNone(allow, "405 without an Allow header")
        self.assertIn("POST", [m.strip() for m in allow.split(",")])

    # ---- the connection level ----

    def raw_exchange(self, data, pause_after=None, timeout=5.0):
        """Sends raw bytes on one connection; returns everything read until
        the server closes it or goes quiet for `timeout` seconds."""
        sock = socket.create_connection((self.srv.host, self.srv.port), timeout=timeout)
        try:
            try:
                if pause_after is not None:
                    sock.sendall(data[:pause_after])
                    time.sleep(0.1)
                    data = data[pause_after:]
                sock.sendall(data)
            except OSError:
                pass
            out = b""
            while True:
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    break
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            return out
        finally:
            sock.close()

    def test_oversized_body_cannot_smuggle_a_request(self):
        # The body of a refused (413) request must never be read as a request.
        smuggled = uid("smuggled")
        inner = json.dumps({"id": smuggled}).encode()
        inner = (b"POST /v1/devices HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Authorization: Bearer " + self.srv.admin_token.encode() +
                 b"\r\nContent-Length: %d\r\n\r\n" % len(inner) + inner)
        body = inner + b" " * (MIB + 10 - len(inner))
        head = (b"POST /v1/readings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Connection: close\r\nAuthorization: Bearer " + self.victim_key.encode() +
                b"\r\nContent-Length: %d\r\n\r\n" % len(body))
        out = self.raw_exchange(head + body, pause_after=len(head), timeout=2.0)
        self.assertTrue(out.startswith(b"HTTP/1.1 413"), out[:200])
        self.assertNotIn(b"HTTP/1.1 201", out)
        self.assertEqual(self.srv.request("GET", "/v1/devices/" + smuggled)[0], 404,
                         "a request hidden in a refused body was executed")

    def test_next_request_after_413_on_same_connection(self):
        body = b" " * (MIB + 100)
        head = (b"POST /v1/readings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer " + self.victim_key.encode() +
                b"\r\nContent-Length: %d\r\n\r\n" % len(body))
        follow = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        out = self.raw_exchange(head + body + follow, pause_after=len(head))
        self.assertTrue(out.startswith(b"HTTP/1.1 413"), out[:200])
        # Either the server closed after the 413, or it answered the next request properly.
        rest = out.split(b"HTTP/1.1 ")[2:]
        for r in rest:
            self.assertTrue(r.startswith(b"200"), out[:500])

    def test_client_disconnects_mid_request(self):
        dev = uid("abandon")
        key = self.srv.create_device(dev)
        reading = json.dumps({"device_id": dev, "ts": GOOD_TS, "co_ppm": 1}).encode()
        head = (b"POST /v1/readings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: %d\r\n\r\n")
        # (A client gone after half its body is in test_ops: it delays shutdown.)
        for i in range(20):
            sock = socket.create_connection((self.srv.host, self.srv.port), timeout=5)
            if i % 2 == 0:    # a whole request, gone before the answer
                r = json.dumps({"device_id": dev, "ts": GOOD_TS + 1 + i, "co_ppm": 1}).encode()
                sock.sendall(head % len(r) + r)
            else:             # half the headers
                sock.sendall(head[:30])
            sock.close()
        self.assertEqual(self.srv.healthz(), 200)
        self.assertEqual(self.srv.post_readings(json.loads(reading), token=key)[0], 201)

    def test_long_url_and_headers(self):
        st, _, _ = self.srv.request("GET", "/v1/devices/" + "a" * 100000 + "/readings")
        self.assertGreaterEqual(st, 400)
        self.assertLess(st, 500)
        st, _, _ = self.srv.request("GET", "/healthz", token=None,
                                    headers={"X-Big": "b" * 200000})
        self.assertGreaterEqual(st, 200)
        self.assertLess(st, 500)
        self.assertEqual(self.srv.healthz(), 200)

    def test_many_bad_requests_in_a_row_server_survives(self):
        junk = [b"\x00" * 100, b"{" * 10000, b'{"device_id":' + b'"' * 1000, b"\xff" * 5000,
                json.dumps([good(co=-1)] * 999).encode()]
        for i in range(60):
            self.post_raw(junk[i % len(junk)])
        self.assertEqual(self.srv.healthz(), 200)
        st, _, b = self.srv.request("GET", "/readyz", token=None)
        self.assertEqual(st, 200, b)


if __name__ == "__main__":
    main()
