"""co_raw on the server (SPEC 3, 6): readings carrying ADC counts are
converted with the device's stored calibration by the firmware core's own
mq7.c; the seed's POST /Dynamo/item reads CO as counts when the calibration
says "input":"raw"."""

import math
import json
import os
import time
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, uid, now_s  # noqa: E402

# The firmware core's defaults (firmware/core/mq7.c, mq7_calibration_default).
DEFAULTS = {"r0_ohms": 10000.0, "rl_ohms": 49000.0, "divider_ratio": 49000.0 / 22000.0,
            "adc_bits": 12, "vref_volts": 2.45, "vc_volts": 5.0}
CAL = {"r0_ohms": 8123.0, "rl_ohms": 49000, "divider_ratio": 0.449, "adc_bits": 12,
       "vref_volts": 2.45, "vc_volts": 5.0}


def expected_ppm(raw, cal):
    """The conversion of firmware/README.md, written out again in Python."""
    c = dict(DEFAULTS)
    c.update(cal)
    div = c["divider_ratio"]
    div = 1 / div if div < 1 else div
    top = 2 ** c["adc_bits"] - 1
    assert 2 < raw < top - 2
    vout = raw * c["vref_volts"] / top * div
    rs = (c["vc_volts"] / vout - 1) * c["rl_ohms"]
    return min(99.042 * (rs / c["r0_ohms"]) ** -1.518, 10000)


class RawReadings(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def device(self, cal=None):
        dev = uid("raw")
        key = self.srv.create_device(dev)
        if cal is not None:
            st, _, b = self.srv.request("PATCH", "/v1/devices/" + dev, {"calibration": cal})
            self.assertEqual(st, 200, b)
        return dev, key

    def stored(self, dev):
        return self.srv.all_readings(dev)

    def test_round_trip_same_ppm(self):
        dev, key = self.device(CAL)
        t0 = int(now_s()) - 600
        raws = [600, 1200, 1840, 2500, 3000, 3400]
        body = [{"device_id": dev, "ts": t0 + i, "co_raw": r} for i, r in enumerate(raws)]
        st, _, b = self.srv.post_readings(body, token=key)
        self.assertEqual((st, b), (201, {"stored": 6, "duplicates": 0}))
        got = self.stored(dev)
        self.assertEqual(len(got), 6)
        for r, row in zip(raws, got):
            want = expected_ppm(r, CAL)
            self.assertTrue(math.isclose(row["co_ppm"], want, rel_tol=1e-9), (r, row, want))
        # Resending the same reading is a no-op, as for co_ppm.
        st, _, b = self.srv.post_readings(body[:1], token=key)
        self.assertEqual((st, b), (201, {"stored": 0, "duplicates": 1}))

    def test_known_value_from_the_c_core(self):
        # 1840 counts with these numbers: worked by hand from the formula
        # (Vpin 1.1008 V, Vout 2.4517 V, Rs 50927 ohm, Rs/R0 5.0927).
        cal = {"r0_ohms": 10000, "rl_ohms": 49000, "divider_ratio": 2.2272727272727273,
               "adc_bits": 12, "vref_volts": 2.45, "vc_volts": 5}
        dev, key = self.device(cal)
        st, _, b = self.srv.post_readings({"device_id": dev, "co_raw": 1840}, token=key)
        self.assertEqual(st, 201, b)
        ppm = self.stored(dev)[0]["co_ppm"]
        self.assertAlmostEqual(ppm, 99.042 * 5.0927 ** -1.518, delta=0.01)
        self.assertAlmostEqual(ppm, expected_ppm(1840, cal), places=9)

    def test_uncalibrated_refused(self):
        dev, key = self.device()
        st, _, b = self.srv.post_readings({"device_id": dev, "co_raw": 1800}, token=key)
        self.assertEqual(st, 422, b)
        item = b["error"]["items"][0]
        self.assertEqual(item["field"], "co_raw")
        self.assertIn("PATCH /v1/devices/" + dev, item["reason"])
        # A calibration without r0_ohms is not enough either.
        st, _, _ = self.srv.request("PATCH", "/v1/devices/" + dev,
                                    {"calibration": {"rl_ohms": 47000}})
        self.assertEqual(st, 200)
        st, _, b = self.srv.post_readings({"device_id": dev, "co_raw": 1800}, token=key)
        self.assertEqual(st, 422, b)
        self.assertEqual(self.stored(dev), [])

    def test_rails_and_range_refused(self):
        dev, key = self.device(CAL)
        for raw, word in ((0, "rail"), (2, "rail"), (4093, "rail"), (4095, "rail"),
                          (4096, "0 to 4095"), (3900, "short")):
            with self.subTest(raw=raw):
                st, _, b = self.srv.post_readings({"device_id": dev, "co_raw": raw}, token=key)
                self.assertEqual(st, 422, b)
                self.assertIn(word, b["error"]["items"][0]["reason"])
        for bad in (1.5, -1, "12", None, True, 2 ** 24):
            with self.subTest(bad=bad):
                st, _, b = self.srv.post_readings({"device_id": dev, "co_raw": bad}, token=key)
                self.assertEqual(st, 422, b)
        self.assertEqual(self.stored(dev), [])

    def test_batch_all_or_nothing(self):
        dev, key = self.device(CAL)
        t0 = int(now_s()) - 300
        body = [{"device_id": dev, "ts": t0, "co_raw": 1500},
                {"device_id": dev, "ts": t0 + 1, "co_ppm": 3},
                {"device_id": dev, "ts": t0 + 2, "co_raw": 4095},
                {"device_id": dev, "ts": t0 + 3, "co_raw": 2000}]
        st, _, b = self.srv.post_readings(body, token=key)
        self.assertEqual(st, 422, b)
        self.assertEqual([i["index"] for i in b["error"]["items"]], [2])
        self.assertEqual(self.stored(dev), [])
        del body[2]
        st, _, b = self.srv.post_readings(body, token=key)
        self.assertEqual((st, b), (201, {"stored": 3, "duplicates": 0}))

    def test_both_fields_store_co_ppm(self):
        # The firmware's "both" payload: co_ppm is the device's conversion and
        # is stored; co_raw must still fit the ADC.
        dev, key = self.device()
        st, _, b = self.srv.post_readings({"device_id": dev, "co_ppm": 12.5, "co_raw": 1840},
                                          token=key)
        self.assertEqual(st, 201, b)
        self.assertEqual(self.stored(dev)[0]["co_ppm"], 12.5)
        st, _, b = self.srv.post_readings({"device_id": dev, "co_ppm": 12.5, "co_raw": 5000},
                                          token=key)
        self.assertEqual(st, 422, b)

    def test_clamped_at_10000(self):
        dev, key = self.device(CAL)
        # A small Rs, far beyond the sensor's range but not a short
        # (about 15,000 ppm by the curve): stored at the API's 10000.
        st, _, b = self.srv.post_readings({"device_id": dev, "co_raw": 3730}, token=key)
        self.assertEqual(st, 201, b)
        self.assertEqual(self.stored(dev)[0]["co_ppm"], 10000)
        # Just under the circuit voltage: Rs/R0 below the physical floor, a
        # shorted sensor (a fault, not a number), whatever the ADC noise.
        for raw in (3740, 3751, 3752):
            st, _, b = self.srv.post_readings({"device_id": dev, "co_raw": raw,
                                               "ts": time.time() - raw % 7}, token=key)
            self.assertEqual(st, 422, (raw, b))
            self.assertIn("short", json.dumps(b), raw)

    def test_calibration_checked_when_written(self):
        dev, _ = self.device()
        for cal, field in (({"r0_ohms": 0}, "calibration.r0_ohms"),
                           ({"adc_bits": 12.5}, "calibration.adc_bits"),
                           ({"adc_bits": 40}, "calibration.adc_bits"),
                           ({"vref_volts": 1.0}, "calibration"),
                           ({"input": "volts"}, "calibration.input"),
                           ({"input": "raw"}, "calibration.input"),
                           ({"curve_b": 1}, "calibration.curve_b"),
                           ({"r0_ohms": None}, "calibration.r0_ohms")):
            with self.subTest(cal=cal):
                st, _, b = self.srv.request("PATCH", "/v1/devices/" + dev, {"calibration": cal})
                self.assertEqual(st, 422, b)
                self.assertEqual(b["error"]["field"], field, b)
        full = dict(CAL, adc_gain=1.01, adc_offset_volts=-0.01, rail_counts=3, curve_a=99.042,
                    curve_b=-1.518, input="raw")
        st, _, b = self.srv.request("PATCH", "/v1/devices/" + dev, {"calibration": full})
        self.assertEqual(st, 200, b)
        self.assertEqual(b["calibration"], full)

    def test_seed_route_input_modes(self):
        dev, key = self.device(CAL)
        # Calibrated but input not set: CO is still ppm (the default).
        st, _, b = self.srv.request("POST", "/Dynamo/item", token=key,
                                    query={"item_id": dev, "CO": "1840"})
        self.assertEqual(st, 201, b)
        self.assertEqual(b["Item"]["CO"], "1840")
        st, _, _ = self.srv.request("PATCH", "/v1/devices/" + dev,
                                    {"calibration": dict(CAL, input="raw")})
        self.assertEqual(st, 200)
        st, _, b = self.srv.request("POST", "/Dynamo/item", token=key,
                                    query={"item_id": dev, "CO": "1840", "Temp": "21"})
        self.assertEqual(st, 201, b)
        want = expected_ppm(1840, CAL)
        self.assertTrue(math.isclose(float(b["Item"]["CO"]), want, rel_tol=1e-6), (b, want))
        self.assertTrue(b["write_successful"])
        st, _, latest = self.srv.request("GET", "/v1/devices/%s/readings/latest" % dev)
        self.assertTrue(math.isclose(latest["co_ppm"], want, rel_tol=1e-9))
        for co in ("4095", "0", "12.5", "-3", "lots", "99999"):
            with self.subTest(co=co):
                st, _, b = self.srv.request("POST", "/Dynamo/item", token=key,
                                            query={"item_id": dev, "CO": co})
                self.assertEqual(st, 422, b)
                self.assertIn("CO", b["error"]["message"])


if __name__ == "__main__":
    unittest.main()
