"""Readings (SPEC 3): ingest single and batch, idempotency, timestamp forms,
range queries with cursor pagination, latest, series, CSV."""

import csv
import io
import math
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, iso_ms, main, parse_iso_ms, uid  # noqa: E402

# Two days ago, on an hour boundary: far enough back for any range, recent
# enough for the clock check, aligned so series buckets are hand-computable.
BASE_S = (int(time.time()) // 3600 - 48) * 3600
BASE_MS = BASE_S * 1000


def reading(dev, ts_s, co, **kw):
    r = {"device_id": dev, "ts": ts_s, "co_ppm": co}
    r.update(kw)
    return r


class ReadingsTest(ServerTestCase):

    def new_device(self):
        dev = uid("rd")
        key = self.srv.create_device(dev)
        return dev, key

    def readings(self, dev, **query):
        st, _, b = self.srv.request("GET", "/v1/devices/%s/readings" % dev, query=query or None)
        self.assertEqual(st, 200, b)
        self.assertEqual(b["device_id"], dev)
        return b

    # ---- ingest ----

    def test_single_reading_201_and_stored(self):
        dev, key = self.new_device()
        resp = self.srv.post_readings(reading(dev, BASE_S + 1, 12.5), token=key)
        self.assertStatus(resp, 201)
        self.assertEqual(resp[2], {"stored": 1, "duplicates": 0})
        b = self.readings(dev)
        self.assertEqual(b["readings"], [{"device_id": dev, "ts": iso_ms(BASE_MS + 1000),
                                          "co_ppm": 12.5}])
        self.assertIsNone(b["next_cursor"])

    def test_batch_201_and_all_stored_in_order(self):
        dev, key = self.new_device()
        # Sent out of order: queries must come back sorted by ts.
        offsets = [7, 3, 9, 1, 5, 2, 8, 4, 6, 0]
        batch = [reading(dev, BASE_S + o, float(o * 10)) for o in offsets]
        resp = self.srv.post_readings(batch, token=key)
        self.assertStatus(resp, 201)
        self.assertEqual(resp[2], {"stored": 10, "duplicates": 0})
        got = self.readings(dev)["readings"]
        self.assertEqual([r["ts"] for r in got], [iso_ms(BASE_MS + o * 1000) for o in range(10)])
        self.assertEqual([r["co_ppm"] for r in got], [float(o * 10) for o in range(10)])

    def test_api_key_header_and_bearer_both_work(self):
        dev, key = self.new_device()
        r1 = self.srv.request("POST", "/v1/readings", reading(dev, BASE_S + 1, 1), token=None,
                              headers={"X-Api-Key": key})
        self.assertStatus(r1, 201)
        r2 = self.srv.post_readings(reading(dev, BASE_S + 2, 2), token=key)
        self.assertStatus(r2, 201)
        self.assertEqual(len(self.readings(dev)["readings"]), 2)

    def test_admin_may_write_any_device(self):
        dev, _ = self.new_device()
        self.assertStatus(self.srv.post_readings(reading(dev, BASE_S, 3)), 201)
        self.assertEqual(len(self.readings(dev)["readings"]), 1)

    def test_resend_is_idempotent(self):
        dev, key = self.new_device()
        batch = [reading(dev, BASE_S + i, i + 0.5) for i in range(5)]
        self.assertEqual(self.srv.post_readings(batch, token=key)[2],
                         {"stored": 5, "duplicates": 0})
        # The same batch again: all duplicates.
        resp = self.srv.post_readings(batch, token=key)
        self.assertStatus(resp, 201)
        self.assertEqual(resp[2], {"stored": 0, "duplicates": 5})
        # A single re-send.
        resp = self.srv.post_readings(batch[2], token=key)
        self.assertStatus(resp, 201)
        self.assertEqual(resp[2], {"stored": 0, "duplicates": 1})
        # Mixed: 3 old, 2 new.
        mixed = batch[:3] + [reading(dev, BASE_S + 100, 1), reading(dev, BASE_S + 101, 2)]
        resp = self.srv.post_readings(mixed, token=key)
        self.assertStatus(resp, 201)
        self.assertEqual(resp[2], {"stored": 2, "duplicates": 3})
        got = self.readings(dev)["readings"]
        self.assertEqual(len(got), 7)
        self.assertEqual(len({r["ts"] for r in got}), 7)
        # The first value stays: a re-send is a no-op.
        self.assertEqual(got[0]["co_ppm"], 0.5)

    def test_concurrent_resends_store_each_reading_once(self):
        # 8 clients send the same 200 readings at once, split into different
        # batches: across every answer exactly 200 are "stored".
        dev, key = self.new_device()
        readings = [reading(dev, BASE_S + 2000 + i * 0.001, float(i)) for i in range(200)]
        totals, errors, lock = [0, 0], [], threading.Lock()
        go = threading.Barrier(8)

        def client(seed):
            rnd = random.Random(seed)
            mine = readings[:]
            rnd.shuffle(mine)
            go.wait()
            i = 0
            while i < len(mine):
                n = rnd.randint(1, 40)
                st, _, b = self.srv.post_readings(mine[i:i + n], token=key)
                i += n
                with lock:
                    if st != 201:
                        errors.append((st, b))
                        continue
                    totals[0] += b["stored"]
                    totals[1] += b["duplicates"]
        threads = [threading.Thread(target=client, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(totals, [200, 7 * 200], "stored/duplicates over all answers")
        got = self.srv.all_readings(dev)
        self.assertEqual(len(got), 200)
        self.assertEqual([r["co_ppm"] for r in got], [float(i) for i in range(200)])

    def test_resend_stays_duplicate_over_time(self):
        # Re-send the same readings for ~1.5 s while the store moves them
        # from its ingest journal to the main table: always duplicates.
        dev, key = self.new_device()
        batch = [reading(dev, BASE_S + 3000 + i, float(i)) for i in range(50)]
        self.assertEqual(self.srv.post_readings(batch, token=key)[2],
                         {"stored": 50, "duplicates": 0})
        newer = reading(dev, BASE_S + 9000, 1.0)
        self.assertEqual(self.srv.post_readings(newer, token=key)[2]["stored"], 1)
        deadline = time.monotonic() + 1.5
        rounds = 0
        while time.monotonic() < deadline or rounds < 3:
            rounds += 1
            resp = self.srv.post_readings(batch[rounds % 50], token=key)
            self.assertEqual(resp[2], {"stored": 0, "duplicates": 1}, rounds)
            resp = self.srv.post_readings(batch, token=key)
            self.assertEqual(resp[2], {"stored": 0, "duplicates": 50}, rounds)
            time.sleep(0.1)
        self.assertEqual(len(self.srv.all_readings(dev)), 51)

    def test_same_reading_twice_in_one_batch_stored_once(self):
        dev, key = self.new_device()
        r = reading(dev, BASE_S + 42, 9)
        resp = self.srv.post_readings([r, dict(r)], token=key)
        self.assertStatus(resp, 201)
        self.assertEqual(resp[2]["stored"] + resp[2]["duplicates"], 2, resp[2])
        self.assertEqual(resp[2]["stored"], 1, resp[2])
        self.assertEqual(len(self.readings(dev)["readings"]), 1)

    def test_identity_is_millisecond_ts_across_forms(self):
        dev, key = self.new_device()
        t = BASE_S + 300
        self.assertEqual(self.srv.post_readings(reading(dev, t + 0.5, 1), token=key)[2],
                         {"stored": 1, "duplicates": 0})
        # The same instant as RFC 3339, with an offset, and with sub-ms noise.
        same = [iso_ms(t * 1000 + 500),
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t + 7200)) + ".500+02:00",
                t + 0.5000001]
        for ts in same:
            resp = self.srv.post_readings(reading(dev, ts, 1), token=key)
            self.assertStatus(resp, 201)
            self.assertEqual(resp[2], {"stored": 0, "duplicates": 1}, ts)
        # One millisecond later is another reading.
        self.assertEqual(self.srv.post_readings(reading(dev, t + 0.501, 1), token=key)[2],
                         {"stored": 1, "duplicates": 0})
        self.assertEqual([r["ts"] for r in self.readings(dev)["readings"]],
                         [iso_ms(t * 1000 + 500), iso_ms(t * 1000 + 501)])

    # ---- timestamps ----

    def test_timestamp_forms(self):
        dev, key = self.new_device()
        t = BASE_S + 1000
        cases = [
            (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)), t * 1000),
            (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t + 1)) + ".123Z", (t + 1) * 1000 + 123),
            (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t + 2 - 3600)) + "-01:00",
             (t + 2) * 1000),
            (t + 3, (t + 3) * 1000),                 # integer epoch seconds
            (t + 4.25, (t + 4) * 1000 + 250),        # fractional seconds
            (t + 5.007, (t + 5) * 1000 + 7),
        ]
        for ts, _ in cases:
            resp = self.srv.post_readings(reading(dev, ts, 1), token=key)
            self.assertStatus(resp, 201, "ts=%r" % (ts,))
        got = [r["ts"] for r in self.readings(dev)["readings"]]
        self.assertEqual(got, [iso_ms(ms) for _, ms in cases])

    def test_absent_ts_is_time_of_receipt(self):
        dev, key = self.new_device()
        before = int(time.time() * 1000) - 1000
        resp = self.srv.post_readings({"device_id": dev, "co_ppm": 4}, token=key)
        after = int(time.time() * 1000) + 1000
        self.assertStatus(resp, 201)
        got = self.readings(dev)["readings"]
        self.assertEqual(len(got), 1)
        ms = parse_iso_ms(got[0]["ts"])
        self.assertTrue(before <= ms <= after, (before, got[0]["ts"], after))
        # null means absent too
        resp = self.srv.post_readings({"device_id": dev, "co_ppm": 5, "ts": None}, token=key)
        self.assertStatus(resp, 201)

    # ---- temperature / humidity ----

    def test_temperature_humidity_round_trip(self):
        dev, key = self.new_device()
        batch = [
            reading(dev, BASE_S + 1, 1.25, temperature_c=21.5, humidity_pct=40.25),
            reading(dev, BASE_S + 2, 2, temperature_c=-39.75),
            reading(dev, BASE_S + 3, 3, humidity_pct=99.5),
            reading(dev, BASE_S + 4, 4),
            reading(dev, BASE_S + 5, 0, temperature_c=125, humidity_pct=0),
        ]
        self.assertStatus(self.srv.post_readings(batch, token=key), 201)
        got = self.readings(dev)["readings"]
        self.assertEqual(len(got), 5)
        for sent, back in zip(batch, got):
            self.assertEqual(back["co_ppm"], sent["co_ppm"])
            for k in ("temperature_c", "humidity_pct"):
                if k in sent:
                    self.assertEqual(back.get(k), sent[k], (k, sent, back))
                else:
                    self.assertIsNone(back.get(k), "%s was not sent but came back: %r" % (k, back))
        latest = self.srv.request("GET", "/v1/devices/%s/readings/latest" % dev)[2]
        self.assertEqual(latest["temperature_c"], 125)
        self.assertEqual(latest["humidity_pct"], 0)

    # ---- range queries and pagination ----

    def _load(self, n, spacing_s=1):
        dev, key = self.new_device()
        batch = [reading(dev, BASE_S + i * spacing_s, float(i)) for i in range(n)]
        self.assertStatus(self.srv.post_readings(batch, token=key), 201)
        return dev, [iso_ms(BASE_MS + i * spacing_s * 1000) for i in range(n)]

    def _walk(self, dev, order, limit, **extra):
        pages, cursor = [], None
        for _ in range(1000):
            q = {"limit": limit, "order": order}
            q.update(extra)
            if cursor is not None:
                q["cursor"] = cursor
            b = self.readings(dev, **q)
            self.assertLessEqual(len(b["readings"]), limit)
            pages.append([r["ts"] for r in b["readings"]])
            cursor = b["next_cursor"]
            if cursor is None:
                return pages
            self.assertIsInstance(cursor, str)
            self.assertTrue(b["readings"], "an empty page must not carry a cursor")
        self.fail("pagination does not end")

    def test_pagination_asc_walks_all_without_gaps_or_repeats(self):
        dev, expect = self._load(57)
        pages = self._walk(dev, "asc", 10)
        self.assertEqual([len(p) for p in pages], [10, 10, 10, 10, 10, 7])
        self.assertEqual(sum(pages, []), expect)

    def test_pagination_desc_walks_all_without_gaps_or_repeats(self):
        dev, expect = self._load(57)
        pages = self._walk(dev, "desc", 10)
        self.assertEqual([len(p) for p in pages], [10, 10, 10, 10, 10, 7])
        self.assertEqual(sum(pages, []), expect[::-1])

    def test_pagination_exact_multiple_and_limit_one(self):
        dev, expect = self._load(20)
        flat = sum(self._walk(dev, "asc", 5), [])
        self.assertEqual(flat, expect)
        flat = sum(self._walk(dev, "desc", 1), [])
        self.assertEqual(flat, expect[::-1])

    def test_pagination_with_ms_neighbours(self):
        # Readings 1 ms apart: a cursor that is off by one millisecond loses or repeats one.
        dev, key = self.new_device()
        batch = [reading(dev, (BASE_MS + 5000 + i) / 1000.0, i) for i in range(25)]
        self.assertStatus(self.srv.post_readings(batch, token=key), 201)
        expect = [iso_ms(BASE_MS + 5000 + i) for i in range(25)]
        self.assertEqual(sum(self._walk(dev, "asc", 4), []), expect)
        self.assertEqual(sum(self._walk(dev, "desc", 4), []), expect[::-1])

    def test_range_from_to_bounds(self):
        dev, expect = self._load(30)
        # from inclusive, to exclusive (half-open range)
        b = self.readings(dev, **{"from": BASE_S + 10, "to": BASE_S + 20})
        self.assertEqual([r["ts"] for r in b["readings"]], expect[10:20])
        # RFC 3339 bounds give the same
        b = self.readings(dev, **{"from": iso_ms(BASE_MS + 10000), "to": iso_ms(BASE_MS + 20000)})
        self.assertEqual([r["ts"] for r in b["readings"]], expect[10:20])
        # paginated inside bounds, both orders
        self.assertEqual(sum(self._walk(dev, "asc", 3, **{"from": BASE_S + 5, "to": BASE_S + 25}),
                             []), expect[5:25])
        self.assertEqual(sum(self._walk(dev, "desc", 3, **{"from": BASE_S + 5, "to": BASE_S + 25}),
                             []), expect[5:25][::-1])
        # empty range
        b = self.readings(dev, **{"from": BASE_S + 1000, "to": BASE_S + 2000})
        self.assertEqual(b["readings"], [])
        self.assertIsNone(b["next_cursor"])

    def test_default_limit_pages_large_sets(self):
        dev, expect = self._load(250)
        b = self.readings(dev)
        self.assertLess(len(b["readings"]), 250, "an unbounded first page")
        self.assertIsNotNone(b["next_cursor"])
        self.assertEqual(self.srv.all_readings(dev, limit=100), [
            {"device_id": dev, "ts": ts, "co_ppm": float(i)} for i, ts in enumerate(expect)])

    def test_query_bad_parameters_400(self):
        dev, _ = self._load(3)
        path = "/v1/devices/%s/readings" % dev
        for q in ({"limit": 0}, {"limit": -1}, {"limit": "ten"}, {"limit": 1001},
                  {"order": "sideways"}, {"from": "yesterday"}, {"to": "2026-99-01T00:00:00Z"},
                  {"cursor": "not-a-cursor"}):
            self.assertError(self.srv.request("GET", path, query=q), 400, repr(q))

    def test_unknown_format_refused(self):
        dev, _ = self._load(2)
        st, _, b = self.srv.request("GET", "/v1/devices/%s/readings?format=xml" % dev)
        self.assertIn(st, (400, 406), b)
        self.assertError((st, _, b), st)

    def test_query_unknown_device_404(self):
        for p in ("/v1/devices/%s/readings", "/v1/devices/%s/readings/latest",
                  "/v1/devices/%s/series"):
            self.assertError(self.srv.request("GET", p % uid("nosuch")), 404, p)

    # ---- latest ----

    def test_latest_is_greatest_ts(self):
        dev, key = self.new_device()
        self.assertError(self.srv.request("GET", "/v1/devices/%s/readings/latest" % dev), 404)
        self.assertStatus(self.srv.post_readings(reading(dev, BASE_S + 50, 5), token=key), 201)
        self.assertStatus(self.srv.post_readings(reading(dev, BASE_S + 10, 1), token=key), 201)
        st, _, b = self.srv.request("GET", "/v1/devices/%s/readings/latest" % dev)
        self.assertEqual(st, 200, b)
        self.assertEqual(b, {"device_id": dev, "ts": iso_ms(BASE_MS + 50000), "co_ppm": 5})
        self.assertStatus(self.srv.post_readings(reading(dev, BASE_S + 60, 6.5,
                                                         temperature_c=20), token=key), 201)
        b = self.srv.request("GET", "/v1/devices/%s/readings/latest" % dev)[2]
        self.assertEqual(b, {"device_id": dev, "ts": iso_ms(BASE_MS + 60000), "co_ppm": 6.5,
                             "temperature_c": 20})

    # ---- series ----

    SERIES = [
        # (offset s, co, temperature, humidity)
        (0, 10, 20.0, None),
        (15, 20, 22.0, 40.0),
        (59, 30, None, None),
        # minute 1 empty
        (120, 5, None, None),
        (179.999, 7, 30.0, 50.0),
        (180, 100, None, 60.0),
        (181, 0, None, 70.0),
    ]

    def _series_device(self):
        dev, key = self.new_device()
        batch = []
        for off, co, t, h in self.SERIES:
            r = reading(dev, BASE_S + off, co)
            if t is not None:
                r["temperature_c"] = t
            if h is not None:
                r["humidity_pct"] = h
            batch.append(r)
        # one reading just outside the range on each side
        batch.append(reading(dev, BASE_S - 1, 9999))
        batch.append(reading(dev, BASE_S + 600, 9999))
        self.assertStatus(self.srv.post_readings(batch, token=key), 201)
        return dev

    def test_series_buckets_hand_computed(self):
        dev = self._series_device()
        st, _, b = self.srv.request("GET", "/v1/devices/%s/series" % dev,
                                    query={"from": BASE_S, "to": BASE_S + 600, "step": 60})
        self.assertEqual(st, 200, b)
        self.assertEqual(b["step"], 60)
        buckets = b["buckets"]
        self.assertEqual([x["start"] for x in buckets],
                         [iso_ms(BASE_MS), iso_ms(BASE_MS + 120000), iso_ms(BASE_MS + 180000)])
        expect = [
            dict(count=3, co_min=10, co_max=30, co_avg=20, temperature_c_avg=21.0,
                 humidity_pct_avg=40.0),
            dict(count=2, co_min=5, co_max=7, co_avg=6, temperature_c_avg=30.0,
                 humidity_pct_avg=50.0),
            dict(count=2, co_min=0, co_max=100, co_avg=50, temperature_c_avg=None,
                 humidity_pct_avg=65.0),
        ]
        for got, want in zip(buckets, expect):
            self.assertEqual(got["count"], want["count"], got)
            for k in ("co_min", "co_max", "co_avg", "temperature_c_avg", "humidity_pct_avg"):
                if want[k] is None:
                    self.assertIsNone(got.get(k), (k, got))
                else:
                    self.assertTrue(math.isclose(got[k], want[k], abs_tol=1e-9), (k, got, want))

    def test_series_one_big_step(self):
        dev = self._series_device()
        st, _, b = self.srv.request("GET", "/v1/devices/%s/series" % dev,
                                    query={"from": BASE_S, "to": BASE_S + 600, "step": 3600})
        self.assertEqual(st, 200, b)
        self.assertEqual(len(b["buckets"]), 1, b)
        x = b["buckets"][0]
        cos = [c for _, c, _, _ in self.SERIES]
        self.assertEqual(x["count"], len(cos))
        self.assertEqual(x["co_min"], min(cos))
        self.assertEqual(x["co_max"], max(cos))
        self.assertTrue(math.isclose(x["co_avg"], sum(cos) / len(cos)), x)
        self.assertTrue(math.isclose(x["temperature_c_avg"], (20 + 22 + 30) / 3), x)
        self.assertTrue(math.isclose(x["humidity_pct_avg"], (40 + 50 + 60 + 70) / 4), x)

    def test_series_bad_parameters_400(self):
        dev = self._series_device()
        for q in ({"step": 0}, {"step": "abc"}, {"from": BASE_S + 10, "to": BASE_S},
                  {"from": "garbage"}, {"from": 0, "to": BASE_S, "step": 1}):
            self.assertError(self.srv.request("GET", "/v1/devices/%s/series" % dev, query=q), 400,
                             repr(q))

    def test_series_csv(self):
        dev = self._series_device()
        st, h, b = self.srv.request("GET", "/v1/devices/%s/series" % dev,
                                    query={"from": BASE_S, "to": BASE_S + 600, "step": 60,
                                           "format": "csv"})
        self.assertEqual(st, 200, b)
        self.assertTrue(h["Content-Type"].startswith("text/csv"), h["Content-Type"])
        rows = list(csv.DictReader(io.StringIO(b.decode())))
        self.assertEqual(len(rows), 3, rows)
        self.assertEqual(rows[0]["start"], iso_ms(BASE_MS))
        self.assertEqual(int(rows[0]["count"]), 3)
        self.assertEqual(float(rows[0]["co_avg"]), 20)
        self.assertEqual(rows[2]["temperature_c_avg"], "")
        self.assertEqual(float(rows[2]["humidity_pct_avg"]), 65)

    # ---- CSV ----

    def _check_csv(self, dev, st, h, body, batch):
        self.assertEqual(st, 200, body)
        self.assertTrue(h["Content-Type"].startswith("text/csv"), h["Content-Type"])
        rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
        self.assertEqual(rows[0], ["device_id", "ts", "co_ppm", "temperature_c", "humidity_pct"])
        self.assertEqual(len(rows) - 1, len(batch), rows)
        for row, sent in zip(rows[1:], batch):
            self.assertEqual(row[0], dev)
            self.assertEqual(parse_iso_ms(row[1]), round(sent["ts"] * 1000))
            self.assertEqual(float(row[2]), sent["co_ppm"])
            if "temperature_c" in sent:
                self.assertEqual(float(row[3]), sent["temperature_c"])
            else:
                self.assertEqual(row[3], "")
            if "humidity_pct" in sent:
                self.assertEqual(float(row[4]), sent["humidity_pct"])
            else:
                self.assertEqual(row[4], "")

    def _csv_device(self):
        dev, key = self.new_device()
        batch = [reading(dev, BASE_S + 1, 1.5, temperature_c=19.5, humidity_pct=33),
                 reading(dev, BASE_S + 2.25, 2),
                 reading(dev, BASE_S + 3, 1234.5, humidity_pct=80)]
        self.assertStatus(self.srv.post_readings(batch, token=key), 201)
        return dev, batch

    def test_csv_via_format_param(self):
        dev, batch = self._csv_device()
        st, h, b = self.srv.request("GET", "/v1/devices/%s/readings?format=csv" % dev)
        self._check_csv(dev, st, h, b, batch)

    def test_csv_via_accept_header(self):
        dev, batch = self._csv_device()
        st, h, b = self.srv.request("GET", "/v1/devices/%s/readings" % dev,
                                    headers={"Accept": "text/csv"})
        self._check_csv(dev, st, h, b, batch)

    def test_json_by_default(self):
        dev, _ = self._csv_device()
        st, h, b = self.srv.request("GET", "/v1/devices/%s/readings" % dev,
                                    headers={"Accept": "application/json"})
        self.assertEqual(st, 200)
        self.assertTrue(h["Content-Type"].startswith("application/json"))
        self.assertEqual(len(b["readings"]), 3)

    def test_csv_pagination(self):
        dev, expect = self._load(12)
        seen, cursor = [], None
        for _ in range(10):
            q = {"format": "csv", "limit": 5}
            if cursor:
                q["cursor"] = cursor
            st, h, b = self.srv.request("GET", "/v1/devices/%s/readings" % dev, query=q)
            self.assertEqual(st, 200)
            rows = list(csv.reader(io.StringIO(b.decode())))[1:]
            seen += [r[1] for r in rows]
            cursor = h.get("X-Next-Cursor")
            if not cursor:
                break
        self.assertEqual(seen, expect)


if __name__ == "__main__":
    main()
