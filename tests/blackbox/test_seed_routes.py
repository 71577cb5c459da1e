"""The seed's own API (SPEC 8): /Dynamo/* routes with the original names and
response shapes, without the original's bugs (CO in ppm as sent, above the
seed formula's 38.5 cap; temperature and humidity as stored)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, main, uid  # noqa: E402

NOW = int(time.time())
T0 = NOW - 7200


class SeedRoutesTest(ServerTestCase):

    def new_device(self):
        dev = uid("esp32")
        return dev, self.srv.create_device(dev)

    def post_item(self, token, **q):
        return self.srv.request("POST", "/Dynamo/item", query=q, token=token)

    def seed_rows(self, dev, offsets):
        """Stores readings at T0+offset (whole seconds) through /v1/readings."""
        batch = [{"device_id": dev, "ts": T0 + o, "co_ppm": 10 + o, "temperature_c": 20 + o / 10,
                  "humidity_pct": 40} for o in offsets]
        self.assertStatus(self.srv.post_readings(batch), 201)

    # ---- tables ----

    def test_tables(self):
        st, _, b = self.srv.request("GET", "/Dynamo/tables")
        self.assertEqual(st, 200, b)
        self.assertIsInstance(b.get("TableNames"), list, b)
        self.assertIn("CarBon_Data", b["TableNames"])
        self.assertError(self.srv.request("GET", "/Dynamo/tables", token=None), 401)

    # ---- POST /Dynamo/item ----

    def test_post_item_201_shape_and_co_above_seed_cap(self):
        dev, key = self.new_device()
        before = time.time() - 1
        st, _, b = self.post_item(key, item_id=dev, Temp="21.5", Hum="45", CO="250")
        after = time.time() + 1
        self.assertEqual(st, 201, b)
        self.assertIs(b.get("write_successful"), True, b)
        item = b["Item"]
        self.assertEqual(item["device_id"], dev)
        self.assertEqual(item["CO"], "250", "CO is returned as a string, in ppm, uncapped")
        self.assertEqual(item["temperature"], 21.5)
        self.assertEqual(item["humidity"], 45)
        self.assertIsInstance(item["timestamp"], (int, float))
        self.assertTrue(before <= item["timestamp"] <= after, item)
        # The same reading through the new API: 250 ppm, not the seed's <= 38.5.
        latest = self.srv.request("GET", "/v1/devices/%s/readings/latest" % dev)[2]
        self.assertEqual(latest["co_ppm"], 250)
        self.assertEqual(latest["temperature_c"], 21.5)
        self.assertEqual(latest["humidity_pct"], 45)
        # And back through GET /Dynamo/items/{id}/{timestamp}.
        st, _, got = self.srv.request("GET", "/Dynamo/items/%s/%s" % (dev, item["timestamp"]))
        self.assertEqual(st, 200, got)
        self.assertEqual(got["Item"], item)

    def test_post_item_co_values_as_strings(self):
        dev, key = self.new_device()
        for co, want in (("0", "0"), ("12.5", "12.5"), ("38.5", "38.5"), ("400", "400"),
                         ("9999.75", "9999.75"), ("10000", "10000")):
            with self.subTest(co=co):
                st, _, b = self.post_item(key, item_id=dev, CO=co)
                self.assertEqual(st, 201, b)
                self.assertEqual(b["Item"]["CO"], want)
                self.assertNotIn("temperature", b["Item"])
                self.assertNotIn("humidity", b["Item"])

    def test_post_item_numbers_are_decimal(self):
        """CO, Temp and Hum are decimal numbers, the whole value: an optional
        '-', digits, an optional fraction and exponent. Not hex, not padded,
        no '+', no bare '.' (strtod alone would take all of those)."""
        dev, key = self.new_device()
        for co, want in (("1e2", "100"), ("2.5E1", "25"), ("0012.50", "12.5"), ("5e-1", "0.5")):
            with self.subTest(co=co):
                st, _, b = self.post_item(key, item_id=dev, CO=co)
                self.assertEqual(st, 201, b)
                self.assertEqual(b["Item"]["CO"], want)
        for q in ({"CO": "0x10"}, {"CO": "0X1A"}, {"CO": "0x1p4"}, {"CO": " 5"}, {"CO": "5 "},
                  {"CO": "+5"}, {"CO": ".5"}, {"CO": "5."}, {"CO": "1e"}, {"CO": "1e+"},
                  {"CO": "--5"}, {"CO": "infinity"}, {"CO": "5", "Temp": "0x14"},
                  {"CO": "5", "Temp": "+20"}, {"CO": "5", "Hum": "0x20"},
                  {"CO": "5", "Hum": "4 5"}):
            with self.subTest(q=q):
                self.assertError(self.post_item(key, item_id=dev, **q), 422)
        # Negative temperatures are decimal too.
        st, _, b = self.post_item(key, item_id=dev, CO="3", Temp="-12.5", Hum="0")
        self.assertEqual(st, 201, b)
        self.assertEqual(b["Item"]["temperature"], -12.5)

    def test_post_item_admin_may_write(self):
        dev, _ = self.new_device()
        st, _, b = self.post_item(self.srv.admin_token, item_id=dev, CO="7")
        self.assertEqual(st, 201, b)

    def test_post_item_errors(self):
        dev, key = self.new_device()
        other, other_key = self.new_device()
        # missing / invalid item_id
        self.assertError(self.post_item(key, CO="5"), 400)
        self.assertError(self.post_item(key, item_id="", CO="5"), 400)
        self.assertError(self.post_item(key, item_id="bad id!", CO="5"), 400)
        # bad CO / Temp / Hum
        for q in ({"CO": "abc"}, {"CO": "-1"}, {"CO": "10000.5"}, {"CO": "nan"}, {"CO": "inf"},
                  {"CO": ""}, {}, {"CO": "5ppm"}, {"CO": "1e999"}, {"CO": "5", "Temp": "hot"},
                  {"CO": "5", "Temp": "126"}, {"CO": "5", "Temp": "-41"},
                  {"CO": "5", "Hum": "101"}, {"CO": "5", "Hum": "-1"}, {"CO": "5", "Hum": "NaN"}):
            with self.subTest(q=q):
                self.assertError(self.post_item(key, item_id=dev, **q), 422)
        # a device key writing another device
        self.assertError(self.post_item(other_key, item_id=dev, CO="5"), 403)
        # unknown device
        resp = self.post_item(self.srv.admin_token, item_id=uid("ghost"), CO="5")
        self.assertIn(resp[0], (404, 422), resp)
        self.assertError(resp, resp[0])
        # credentials
        self.assertError(self.post_item(None, item_id=dev, CO="5"), 401)
        self.assertError(self.post_item("wrong-key-0123456789", item_id=dev, CO="5"), 401)
        # none of that stored anything
        self.assertEqual(self.srv.all_readings(dev), [])
        self.assertEqual(self.srv.all_readings(other), [])

    # ---- GET /Dynamo/items/{id}/{timestamp} ----

    def test_get_item_by_timestamp(self):
        dev, _ = self.new_device()
        self.seed_rows(dev, [0, 5])
        st, _, b = self.srv.request("GET", "/Dynamo/items/%s/%d" % (dev, T0 + 5))
        self.assertEqual(st, 200, b)
        self.assertEqual(b["Item"], {"device_id": dev, "timestamp": T0 + 5, "CO": "15",
                                     "temperature": 20.5, "humidity": 40})
        self.assertError(self.srv.request("GET", "/Dynamo/items/%s/%d" % (dev, T0 + 1)), 404)
        self.assertError(self.srv.request("GET", "/Dynamo/items/%s/yesterday" % dev), 400)
        self.assertError(self.srv.request("GET", "/Dynamo/items/%s/%d" % (uid("ghost"), T0)), 404)

    # ---- GET /Dynamo/items ----

    def test_items_range_inclusive(self):
        dev, _ = self.new_device()
        self.seed_rows(dev, [0, 1, 2, 3, 4, 5])
        st, _, b = self.srv.request("GET", "/Dynamo/items", query={
            "item_id": dev, "from_timestamp": T0 + 1, "to_timestamp": T0 + 4})
        self.assertEqual(st, 200, b)
        self.assertEqual(set(b.keys()), {"Results", "Metadata"})
        self.assertEqual(b["Metadata"]["count"], 4)
        self.assertEqual([r["timestamp"] for r in b["Results"]], [T0 + 1, T0 + 2, T0 + 3, T0 + 4])
        self.assertEqual([r["CO"] for r in b["Results"]], ["11", "12", "13", "14"])
        for r in b["Results"]:
            self.assertEqual(r["device_id"], dev)
            self.assertEqual(r["humidity"], 40)
        # a single instant: from == to
        b = self.srv.request("GET", "/Dynamo/items", query={
            "item_id": dev, "from_timestamp": T0 + 2, "to_timestamp": T0 + 2})[2]
        self.assertEqual(b["Metadata"]["count"], 1, b)
        # no bounds: everything
        b = self.srv.request("GET", "/Dynamo/items", query={"item_id": dev})[2]
        self.assertEqual(b["Metadata"]["count"], 6)
        self.assertEqual(len(b["Results"]), 6)
        # empty range
        b = self.srv.request("GET", "/Dynamo/items", query={
            "item_id": dev, "from_timestamp": T0 + 100, "to_timestamp": T0 + 200})[2]
        self.assertEqual(b, {"Results": [], "Metadata": {"count": 0}})

    def test_items_errors(self):
        dev, key = self.new_device()
        self.assertError(self.srv.request("GET", "/Dynamo/items"), 400)
        self.assertError(self.srv.request("GET", "/Dynamo/items", query={"item_id": uid("ghost")}),
                         404)
        self.assertError(self.srv.request("GET", "/Dynamo/items", query={
            "item_id": dev, "from_timestamp": "soon"}), 400)
        self.assertError(self.srv.request("GET", "/Dynamo/items", query={
            "item_id": dev, "from_timestamp": T0 + 10, "to_timestamp": T0}), 400)

    # ---- GET /Dynamo/items/latest ----

    def test_items_latest(self):
        dev, _ = self.new_device()
        self.assertError(self.srv.request("GET", "/Dynamo/items/latest", query={"item_id": dev}),
                         404)
        self.seed_rows(dev, [3, 9, 1])
        st, _, b = self.srv.request("GET", "/Dynamo/items/latest", query={"item_id": dev})
        self.assertEqual(st, 200, b)
        self.assertEqual(b["Item"]["timestamp"], T0 + 9)
        self.assertEqual(b["Item"]["CO"], "19")
        self.assertError(self.srv.request("GET", "/Dynamo/items/latest"), 400)
        self.assertError(self.srv.request("GET", "/Dynamo/items/latest",
                                          query={"item_id": uid("ghost")}), 404)

    # ---- authentication on the read routes ----

    def test_read_routes_need_admin(self):
        dev, key = self.new_device()
        other, other_key = self.new_device()
        self.seed_rows(dev, [0])
        routes = ["/Dynamo/tables", "/Dynamo/items?item_id=" + dev,
                  "/Dynamo/items/latest?item_id=" + dev, "/Dynamo/items/%s/%d" % (dev, T0)]
        for path in routes:
            with self.subTest(path=path):
                self.assertError(self.srv.request("GET", path, token=None), 401)
                # another device's key may not read this device
                st, _, b = self.srv.request("GET", path, token=other_key)
                self.assertIn(st, (403, 404), b)
                self.assertError((st, _, b), st)
                self.assertNotIn('"CO"', repr(b))


if __name__ == "__main__":
    main()
