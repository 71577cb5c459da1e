"""Devices, keys and gateways (SPEC 2, 4): register (key shown once), list,
get, patch with validation, delete, rotate, gateways scoped to a device list,
live fields after ingest, and who may call the admin routes."""

import os
import sys
import threading
import time
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, iso_ms, main, parse_iso_ms, uid  # noqa: E402

NOW = int(time.time())
TS = NOW - 600


def levels(device):
    """The two CO levels of a device's thresholds (which also hold the other
    alarm settings, defaults filled in)."""
    t = device["thresholds"]
    return {"warn_ppm": t["warn_ppm"], "alarm_ppm": t["alarm_ppm"]}


def rd(dev, ts=TS, co=3.5):
    return {"device_id": dev, "ts": ts, "co_ppm": co}


class DevicesTest(ServerTestCase):

    def get_device(self, dev):
        st, _, b = self.srv.request("GET", "/v1/devices/" + dev)
        self.assertEqual(st, 200, b)
        return b

    def assertNoKey(self, body, key):
        text = repr(body)
        self.assertNotIn("api_key", text)
        self.assertNotIn(key, text)
        self.assertNotIn("key_hash", text)

    # ---- create ----

    def test_create_returns_key_once(self):
        dev = uid()
        st, h, b = self.srv.request("POST", "/v1/devices",
                                    {"id": dev, "name": "Kitchen", "location": "Flat 2"})
        self.assertEqual(st, 201, b)
        key = b["api_key"]
        self.assertIsInstance(key, str)
        self.assertGreaterEqual(len(key), 20, "a key must be long enough not to be guessed")
        self.assertEqual(b["id"], dev)
        self.assertEqual(b["name"], "Kitchen")
        self.assertEqual(b["location"], "Flat 2")
        loc = h.get("Location")
        if loc is not None:
            self.assertTrue(loc.endswith("/v1/devices/" + dev), loc)
        # GET and list never show it again
        self.assertNoKey(self.get_device(dev), key)
        st, _, lst = self.srv.request("GET", "/v1/devices")
        self.assertEqual(st, 200)
        self.assertNoKey(lst, key)
        # and it works
        self.assertStatus(self.srv.post_readings(rd(dev), token=key), 201)

    def test_keys_are_distinct(self):
        keys = {self.srv.create_device() for _ in range(5)}
        self.assertEqual(len(keys), 5)

    def test_defaults(self):
        dev = uid()
        self.srv.create_device(dev)
        d = self.get_device(dev)
        self.assertEqual(d["id"], dev)
        self.assertEqual(d["thresholds"]["warn_ppm"], 30)
        self.assertEqual(d["thresholds"]["alarm_ppm"], 50)
        self.assertEqual(d["offline_after_s"], 600)
        self.assertIsNone(d["last_seen"])
        self.assertIsNone(d["last_reading"])
        self.assertEqual(d["status"], "offline")

    def test_create_with_all_fields(self):
        dev = uid()
        st, _, user = self.srv.request("POST", "/v1/users", {"name": "Owner"})
        self.assertEqual(st, 201, user)
        body = {"id": dev, "name": "Bedroom", "location": "Upstairs", "owner": user["id"],
                "thresholds": {"warn_ppm": 20, "alarm_ppm": 40},
                "calibration": {"r0_ohms": 10000, "rl_ohms": 10000, "adc_bits": 12,
                                "vref_volts": 3.3, "vc_volts": 5, "divider_ratio": 0.66},
                "offline_after_s": 120}
        st, _, b = self.srv.request("POST", "/v1/devices", body)
        self.assertEqual(st, 201, b)
        d = self.get_device(dev)
        for k in ("name", "location", "owner", "calibration", "offline_after_s"):
            self.assertEqual(d[k], body[k], k)
        self.assertEqual(levels(d), body["thresholds"])

    def test_create_invalid_422(self):
        cases = [
            {}, {"name": "no id"}, {"id": ""}, {"id": "a b"}, {"id": "x" * 65}, {"id": 5},
            {"id": uid(), "bogus": 1}, {"id": uid(), "api_key": "mine"},
            {"id": uid(), "name": 5}, {"id": uid(), "name": "n" * 129},
            {"id": uid(), "thresholds": {"warn_ppm": 50, "alarm_ppm": 50}},
            {"id": uid(), "thresholds": {"warn_ppm": 60, "alarm_ppm": 50}},
            {"id": uid(), "thresholds": {"warn_ppm": 60}},       # above the default alarm 50
            {"id": uid(), "thresholds": {"alarm_ppm": 20}},      # below the default warn 30
            {"id": uid(), "thresholds": {"warn_ppm": -1, "alarm_ppm": 50}},
            {"id": uid(), "thresholds": {"warn_ppm": "30"}},
            {"id": uid(), "thresholds": {"panic_ppm": 400}},
            {"id": uid(), "thresholds": [30, 50]},
            {"id": uid(), "calibration": {"r0": 1}},
            {"id": uid(), "calibration": {"r0_ohms": "ten"}},
            {"id": uid(), "calibration": {"r0_ohms": -1}},
            {"id": uid(), "calibration": 5},
            {"id": uid(), "offline_after_s": 0},
            {"id": uid(), "offline_after_s": 1.5},
            [{"id": uid()}],
        ]
        for body in cases:
            with self.subTest(body=body):
                self.assertError(self.srv.request("POST", "/v1/devices", body), 422)
                if isinstance(body, dict) and isinstance(body.get("id"), str) and body["id"]:
                    # nothing was created
                    st, _, _ = self.srv.request("GET", "/v1/devices/" + quote(body["id"], safe=""))
                    self.assertIn(st, (404,), body)

    def test_create_bad_json_and_type(self):
        self.assertError(self.srv.request("POST", "/v1/devices", "{", headers={
            "Content-Type": "application/json"}), 400)
        self.assertError(self.srv.request("POST", "/v1/devices", '{"id":"x"}', headers={
            "Content-Type": "text/plain"}), 415)

    def test_concurrent_create_same_id_one_wins(self):
        dev = uid("race")
        results, lock = [], threading.Lock()
        go = threading.Barrier(8)

        def create(i):
            go.wait()
            st, _, b = self.srv.request("POST", "/v1/devices", {"id": dev, "name": "n%d" % i})
            with lock:
                results.append((st, b))
        threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        codes = sorted(st for st, _ in results)
        self.assertEqual(codes, [201] + [409] * 7, results)
        winner = [b for st, b in results if st == 201][0]
        self.assertEqual(self.get_device(dev)["name"], winner["name"])
        self.assertStatus(self.srv.post_readings(rd(dev), token=winner["api_key"]), 201)

    def test_ids_with_every_allowed_character(self):
        for dev in ("A.b_c:d-9", "x" * 64, "0", "a:b", "..", "-", "_.:-"):
            with self.subTest(dev=dev):
                key = self.srv.create_device(dev)
                path = "/v1/devices/" + quote(dev, safe="")
                self.assertEqual(self.srv.request("GET", path)[2]["id"], dev)
                self.assertStatus(self.srv.post_readings(rd(dev), token=key), 201)
                st, _, b = self.srv.request("GET", path + "/readings")
                self.assertEqual(st, 200, b)
                self.assertEqual(len(b["readings"]), 1)
                self.assertStatus(self.srv.request("DELETE", path), 204)

    def test_text_fields_round_trip(self):
        dev = uid()
        name = 'K\u00fcche "north" <b>&amp; \\ \u2603 \U0001F525'
        self.srv.create_device(dev, name=name, location="line1\nline2\ttab")
        d = self.get_device(dev)
        self.assertEqual(d["name"], name)
        self.assertEqual(d["location"], "line1\nline2\ttab")
        self.assertError(self.srv.request("PATCH", "/v1/devices/" + dev, {"name": "a\u0000b"}),
                         422)
        self.assertEqual(self.get_device(dev)["name"], name)

    def test_duplicate_id_409(self):
        dev = uid()
        key = self.srv.create_device(dev, name="first")
        self.assertError(self.srv.request("POST", "/v1/devices", {"id": dev, "name": "second"}),
                         409)
        # the original is untouched, its key still works
        self.assertEqual(self.get_device(dev)["name"], "first")
        self.assertStatus(self.srv.post_readings(rd(dev), token=key), 201)

    # ---- list / get ----

    def test_list_and_get(self):
        ids = [uid("lst") for _ in range(3)]
        for i, dev in enumerate(ids):
            self.srv.create_device(dev, name="n%d" % i)
        st, _, b = self.srv.request("GET", "/v1/devices")
        self.assertEqual(st, 200, b)
        by_id = {d["id"]: d for d in b["devices"]}
        for i, dev in enumerate(ids):
            self.assertIn(dev, by_id)
            self.assertEqual(by_id[dev]["name"], "n%d" % i)
            self.assertEqual(self.get_device(dev), by_id[dev])
        self.assertError(self.srv.request("GET", "/v1/devices/" + uid("nosuch")), 404)

    # ---- patch ----

    def test_patch_name_location(self):
        dev = uid()
        self.srv.create_device(dev, name="old", location="here")
        st, _, b = self.srv.request("PATCH", "/v1/devices/" + dev, {"name": "new"})
        self.assertEqual(st, 200, b)
        self.assertEqual(b["name"], "new")
        self.assertEqual(b["location"], "here", "PATCH must leave absent fields alone")
        st, _, b = self.srv.request("PATCH", "/v1/devices/" + dev, {"location": "there"})
        self.assertEqual(st, 200, b)
        d = self.get_device(dev)
        self.assertEqual((d["name"], d["location"]), ("new", "there"))

    def test_patch_thresholds_validation(self):
        dev = uid()
        self.srv.create_device(dev)
        st, _, b = self.srv.request("PATCH", "/v1/devices/" + dev,
                                    {"thresholds": {"warn_ppm": 35, "alarm_ppm": 70}})
        self.assertEqual(st, 200, b)
        self.assertEqual(levels(self.get_device(dev)), {"warn_ppm": 35, "alarm_ppm": 70})
        for bad in ({"warn_ppm": 70, "alarm_ppm": 70}, {"warn_ppm": 80, "alarm_ppm": 70},
                    {"warn_ppm": 0, "alarm_ppm": 70}, {"alarm_ppm": 10001},
                    {"warn_ppm": None, "alarm_ppm": "x"}, {"other": 1}, "high"):
            with self.subTest(bad=bad):
                self.assertError(self.srv.request("PATCH", "/v1/devices/" + dev,
                                                  {"thresholds": bad}), 422)
        # refused patches changed nothing
        self.assertEqual(levels(self.get_device(dev)), {"warn_ppm": 35, "alarm_ppm": 70})

    def test_patch_one_threshold_keeps_the_other(self):
        # PATCH semantics: changing warn_ppm must not reset a stored alarm_ppm
        # to its default (that would silently lower the alarm level), and the
        # warn < alarm check must use the stored alarm_ppm.
        dev = uid()
        self.srv.create_device(dev, thresholds={"warn_ppm": 30, "alarm_ppm": 100})
        st, _, b = self.srv.request("PATCH", "/v1/devices/" + dev,
                                    {"thresholds": {"warn_ppm": 40}})
        self.assertEqual(st, 200, b)
        self.assertEqual(levels(self.get_device(dev)), {"warn_ppm": 40, "alarm_ppm": 100})
        st, _, b = self.srv.request("PATCH", "/v1/devices/" + dev,
                                    {"thresholds": {"warn_ppm": 70}})
        self.assertEqual(st, 200, b)
        self.assertEqual(levels(self.get_device(dev)), {"warn_ppm": 70, "alarm_ppm": 100})

    def test_patch_threshold_null_resets_to_default(self):
        dev = uid()
        self.srv.create_device(dev, thresholds={"warn_ppm": 20, "alarm_ppm": 100})
        st, _, b = self.srv.request("PATCH", "/v1/devices/" + dev,
                                    {"thresholds": {"alarm_ppm": None}})
        self.assertEqual(st, 200, b)
        # the stored override is gone; the default alarm level shows again
        self.assertEqual(levels(self.get_device(dev)), {"warn_ppm": 20, "alarm_ppm": 50})

    def test_encoded_nul_never_shortens_a_path(self):
        # DELETE /v1/devices/<id>%00/keys must not become DELETE /v1/devices/<id>
        dev = uid()
        self.srv.create_device(dev)
        st, _, _ = self.srv.request("DELETE", "/v1/devices/" + dev + "%00/keys")
        self.assertEqual(st, 405)
        st, _, _ = self.srv.request("DELETE", "/v1/devices/" + dev + "%00")
        self.assertEqual(st, 404)
        self.assertEqual(self.srv.request("GET", "/v1/devices/" + dev)[0], 200)
        # decoded exactly once: %252D is the text "%2D", not "-"
        st, _, _ = self.srv.request("GET", "/v1/devices/" + dev.replace("-", "%252D", 1))
        self.assertEqual(st, 404 if "-" in dev else 200)

    def test_patch_calibration(self):
        dev = uid()
        self.srv.create_device(dev)
        cal = {"r0_ohms": 12000.5, "rl_ohms": 10000, "adc_bits": 12, "vref_volts": 3.3,
               "vc_volts": 5.0, "divider_ratio": 0.5}
        st, _, b = self.srv.request("PATCH", "/v1/devices/" + dev, {"calibration": cal})
        self.assertEqual(st, 200, b)
        self.assertEqual(self.get_device(dev)["calibration"], cal)
        for bad in ({"r0": 1}, {"r0_ohms": "x"}, {"r0_ohms": -5}, {"adc_bits": [12]}, "cal"):
            with self.subTest(bad=bad):
                self.assertError(self.srv.request("PATCH", "/v1/devices/" + dev,
                                                  {"calibration": bad}), 422)
        self.assertEqual(self.get_device(dev)["calibration"], cal)

    def test_owner_null_clears_the_owner(self):
        # Regression: "owner": null once crashed the server (NULL read).
        st, _, user = self.srv.request("POST", "/v1/users", {"name": "Owner"})
        self.assertEqual(st, 201, user)
        dev = uid()
        st, _, d = self.srv.request("POST", "/v1/devices", {"id": dev, "owner": None})
        self.assertEqual((st, d["owner"]), (201, None), d)
        st, _, d = self.srv.request("PATCH", "/v1/devices/" + dev, {"owner": user["id"]})
        self.assertEqual((st, d["owner"]), (200, user["id"]), d)
        st, _, d = self.srv.request("PATCH", "/v1/devices/" + dev, {"owner": None})
        self.assertEqual((st, d["owner"]), (200, None), d)
        self.assertError(self.srv.request("PATCH", "/v1/devices/" + dev, {"owner": "nobody"}),
                         422)
        self.assertIsNone(self.get_device(dev)["owner"])

    def test_patch_refuses_id_key_and_unknown(self):
        dev = uid()
        self.srv.create_device(dev, name="x")
        for body in ({"id": "other"}, {"api_key": "k"}, {"last_seen": None}, {"status": "online"},
                     {"bogus": 1}, {"name": 7}, {"offline_after_s": 9}, [1]):
            with self.subTest(body=body):
                self.assertError(self.srv.request("PATCH", "/v1/devices/" + dev, body), 422)
        self.assertEqual(self.get_device(dev)["name"], "x")
        self.assertError(self.srv.request("PATCH", "/v1/devices/" + uid("nosuch"), {"name": "y"}),
                         404)

    # ---- delete ----

    def test_delete(self):
        dev = uid()
        key = self.srv.create_device(dev)
        self.assertStatus(self.srv.post_readings(rd(dev), token=key), 201)
        st, _, b = self.srv.request("DELETE", "/v1/devices/" + dev)
        self.assertIn(st, (200, 204), b)
        self.assertError(self.srv.request("GET", "/v1/devices/" + dev), 404)
        self.assertError(self.srv.request("GET", "/v1/devices/%s/readings" % dev), 404)
        self.assertNotIn(dev, [d["id"] for d in self.srv.request("GET", "/v1/devices")[2]["devices"]])
        # its key is dead
        self.assertError(self.srv.post_readings(rd(dev, TS + 1), token=key), 401)
        self.assertError(self.srv.request("DELETE", "/v1/devices/" + dev), 404)
        # re-registering the id gives a new device: no old readings, old key still dead
        key2 = self.srv.create_device(dev)
        self.assertNotEqual(key, key2)
        self.assertEqual(self.srv.all_readings(dev), [])
        self.assertError(self.srv.post_readings(rd(dev, TS + 2), token=key), 401)
        self.assertStatus(self.srv.post_readings(rd(dev, TS + 2), token=key2), 201)

    # ---- rotate ----

    def test_rotate_key(self):
        dev = uid()
        old = self.srv.create_device(dev)
        st, _, b = self.srv.request("POST", "/v1/devices/%s/keys" % dev)
        self.assertIn(st, (200, 201), b)
        new = b["api_key"]
        self.assertNotEqual(new, old)
        self.assertError(self.srv.post_readings(rd(dev, TS + 1), token=old), 401)
        self.assertStatus(self.srv.post_readings(rd(dev, TS + 2), token=new), 201)
        self.assertNoKey(self.get_device(dev), new)
        self.assertError(self.srv.request("POST", "/v1/devices/%s/keys" % uid("nosuch")), 404)

    # ---- live fields ----

    def test_last_seen_last_reading_status_after_ingest(self):
        dev = uid()
        key = self.srv.create_device(dev)
        before = int(time.time() * 1000) - 1000
        self.assertStatus(self.srv.post_readings(
            {"device_id": dev, "ts": TS + 5, "co_ppm": 12.5, "temperature_c": 21}, token=key), 201)
        after = int(time.time() * 1000) + 1000
        d = self.get_device(dev)
        self.assertEqual(d["status"], "online")
        self.assertIsNotNone(d["last_seen"])
        seen = parse_iso_ms(d["last_seen"])
        self.assertTrue(before <= seen <= after, "last_seen is the time of receipt: %s" % d)
        self.assertEqual(d["last_reading"], {"device_id": dev, "ts": iso_ms((TS + 5) * 1000),
                                             "co_ppm": 12.5, "temperature_c": 21})
        # an older reading arriving later does not replace last_reading
        self.assertStatus(self.srv.post_readings(rd(dev, TS - 100, 99), token=key), 201)
        d2 = self.get_device(dev)
        self.assertEqual(d2["last_reading"]["ts"], iso_ms((TS + 5) * 1000))
        self.assertGreaterEqual(parse_iso_ms(d2["last_seen"]), seen)
        # shows in the list too
        lst = self.srv.request("GET", "/v1/devices")[2]["devices"]
        mine = [x for x in lst if x["id"] == dev][0]
        self.assertEqual(mine["status"], "online")
        self.assertEqual(mine["last_reading"]["co_ppm"], 12.5)

    # ---- gateways ----

    def test_gateway_lifecycle(self):
        a, b_, c = uid("gwa"), uid("gwb"), uid("gwc")
        for d in (a, b_, c):
            self.srv.create_device(d)
        gw = uid("hub")
        st, _, g = self.srv.request("POST", "/v1/gateways",
                                    {"id": gw, "name": "Hallway hub", "devices": [a, b_]})
        self.assertEqual(st, 201, g)
        gkey = g["api_key"]
        self.assertEqual(sorted(g["devices"]), sorted([a, b_]))
        # it writes a batch for its devices
        resp = self.srv.post_readings([rd(a, TS + 1), rd(b_, TS + 1), rd(a, TS + 2)], token=gkey)
        self.assertStatus(resp, 201)
        self.assertEqual(resp[2], {"stored": 3, "duplicates": 0})
        # and is refused for a device outside its list (whole batch)
        self.assertError(self.srv.post_readings([rd(a, TS + 3), rd(c, TS + 3)], token=gkey), 403)
        self.assertError(self.srv.post_readings(rd(c, TS + 4), token=gkey), 403)
        self.assertEqual(len(self.srv.all_readings(a)), 2)
        self.assertEqual(self.srv.all_readings(c), [])
        # GET / list never show the key
        st, _, got = self.srv.request("GET", "/v1/gateways/" + gw)
        self.assertEqual(st, 200, got)
        self.assertNoKey(got, gkey)
        self.assertEqual(got["name"], "Hallway hub")
        st, _, lst = self.srv.request("GET", "/v1/gateways")
        self.assertEqual(st, 200)
        self.assertIn(gw, [x["id"] for x in lst["gateways"]])
        self.assertNoKey(lst, gkey)
        # patch the devices list
        st, _, got = self.srv.request("PATCH", "/v1/gateways/" + gw, {"devices": [c]})
        self.assertEqual(st, 200, got)
        self.assertEqual(got["devices"], [c])
        self.assertStatus(self.srv.post_readings(rd(c, TS + 5), token=gkey), 201)
        self.assertError(self.srv.post_readings(rd(a, TS + 5), token=gkey), 403)
        # rotate
        st, _, r = self.srv.request("POST", "/v1/gateways/%s/keys" % gw)
        self.assertIn(st, (200, 201), r)
        gkey2 = r["api_key"]
        self.assertNotEqual(gkey2, gkey)
        self.assertError(self.srv.post_readings(rd(c, TS + 6), token=gkey), 401)
        self.assertStatus(self.srv.post_readings(rd(c, TS + 6), token=gkey2), 201)
        # delete
        st, _, _ = self.srv.request("DELETE", "/v1/gateways/" + gw)
        self.assertIn(st, (200, 204))
        self.assertError(self.srv.request("GET", "/v1/gateways/" + gw), 404)
        self.assertError(self.srv.post_readings(rd(c, TS + 7), token=gkey2), 401)
        self.assertError(self.srv.request("DELETE", "/v1/gateways/" + gw), 404)
        self.assertEqual(len(self.srv.all_readings(c)), 2)

    def test_gateway_scope_does_not_survive_device_delete(self):
        # A gateway was scoped to device d. d is deleted and the id registered
        # again (a new device, maybe someone else's): the old gateway key must
        # not be able to write for it.
        d, keep = uid("gwdel"), uid("gwkeep")
        self.srv.create_device(d)
        self.srv.create_device(keep)
        gw = uid("hub")
        gkey = self.srv.create_gateway(gw, [d, keep])
        self.assertStatus(self.srv.post_readings(rd(d, TS + 1), token=gkey), 201)
        st, _, _ = self.srv.request("DELETE", "/v1/devices/" + d)
        self.assertIn(st, (200, 204))
        self.srv.create_device(d)
        self.assertError(self.srv.post_readings(rd(d, TS + 2), token=gkey), 403)
        self.assertEqual(self.srv.all_readings(d), [])
        # the gateway still works for its other device
        self.assertStatus(self.srv.post_readings(rd(keep, TS + 2), token=gkey), 201)

    def test_gateway_key_cannot_administer(self):
        d = uid()
        self.srv.create_device(d)
        gw = uid("hub")
        gkey = self.srv.create_gateway(gw, [d])
        for method, path, body in (("GET", "/v1/devices", None), ("GET", "/v1/gateways", None),
                                   ("PATCH", "/v1/gateways/" + gw, {"devices": [d]}),
                                   ("POST", "/v1/gateways/%s/keys" % gw, None),
                                   ("POST", "/v1/devices", {"id": uid()})):
            with self.subTest(method=method, path=path):
                self.assertError(self.srv.request(method, path, body, token=gkey), 403)

    def test_gateway_invalid(self):
        d = uid()
        self.srv.create_device(d)
        gw = uid("hub")
        for body in ({"id": gw}, {"id": gw, "devices": []}, {"id": gw, "devices": "x"},
                     {"id": gw, "devices": [uid("ghost")]}, {"id": gw, "devices": [5]},
                     {"id": "bad id", "devices": [d]}, {"devices": [d]},
                     {"id": gw, "devices": [d], "bogus": 1}):
            with self.subTest(body=body):
                self.assertError(self.srv.request("POST", "/v1/gateways", body), 422)
        self.assertError(self.srv.request("GET", "/v1/gateways/" + gw), 404)
        self.srv.create_gateway(gw, [d])
        self.assertError(self.srv.request("POST", "/v1/gateways", {"id": gw, "devices": [d]}), 409)
        self.assertError(self.srv.request("PATCH", "/v1/gateways/" + gw,
                                          {"devices": [uid("ghost")]}), 422)
        self.assertError(self.srv.request("PATCH", "/v1/gateways/" + uid("nosuch"),
                                          {"devices": [d]}), 404)

    # ---- who may call what ----

    def admin_routes(self, dev):
        gw = "gw-of-" + dev
        return [
            ("POST", "/v1/devices", {"id": uid()}),
            ("PATCH", "/v1/devices/" + dev, {"name": "pwned"}),
            ("DELETE", "/v1/devices/" + dev, None),
            ("POST", "/v1/devices/%s/keys" % dev, None),
            ("POST", "/v1/gateways", {"id": uid("hub"), "devices": [dev]}),
            ("GET", "/v1/gateways", None),
            ("GET", "/v1/gateways/" + gw, None),
            ("PATCH", "/v1/gateways/" + gw, {"devices": [dev]}),
            ("DELETE", "/v1/gateways/" + gw, None),
            ("POST", "/v1/gateways/%s/keys" % gw, None),
        ]

    def test_admin_routes_refuse_device_keys_403(self):
        dev = uid()
        key = self.srv.create_device(dev, name="mine")
        self.srv.create_gateway("gw-of-" + dev, [dev])
        for method, path, body in self.admin_routes(dev):
            with self.subTest(method=method, path=path):
                self.assertError(self.srv.request(method, path, body, token=key), 403)
                # X-Api-Key is the same credential
                self.assertError(self.srv.request(method, path, body, token=None,
                                                  headers={"X-Api-Key": key}), 403)
        # nothing changed: the device, its name and its key are intact
        self.assertEqual(self.get_device(dev)["name"], "mine")
        self.assertStatus(self.srv.post_readings(rd(dev), token=key), 201)
        self.assertEqual(self.srv.request("GET", "/v1/gateways/gw-of-" + dev)[0], 200)

    def test_admin_routes_without_credentials_401(self):
        dev = uid()
        self.srv.create_device(dev)
        self.srv.create_gateway("gw-of-" + dev, [dev])
        routes = self.admin_routes(dev) + [("GET", "/v1/devices", None),
                                           ("GET", "/v1/devices/" + dev, None)]
        for method, path, body in routes:
            with self.subTest(method=method, path=path):
                self.assertError(self.srv.request(method, path, body, token=None), 401)
                self.assertError(self.srv.request(method, path, body,
                                                  token="not-the-admin-token-123"), 401)
        self.assertEqual(self.srv.request("GET", "/v1/devices/" + dev)[0], 200)

    def test_device_key_cannot_list_or_read_other_devices(self):
        mine, theirs = uid(), uid()
        key = self.srv.create_device(mine)
        self.srv.create_device(theirs, name="secret")
        for path in ("/v1/devices", "/v1/devices/" + theirs, "/v1/devices/%s/readings" % theirs,
                     "/v1/devices/%s/readings/latest" % theirs):
            with self.subTest(path=path):
                st, _, b = self.srv.request("GET", path, token=key)
                self.assertIn(st, (403, 404), b)
                self.assertError((st, _, b), st)
                self.assertNotIn("secret", repr(b))


if __name__ == "__main__":
    main()
