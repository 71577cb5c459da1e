"""Graphs (SPEC 7, and the seed's /graph/generate of SPEC 8): every chart
parses as XML, renders to PNG with a real SVG renderer (rsvg-convert from
librsvg2-bin) without error, and the PNG has the chart's colours in it (a
blank or broken image fails); hostile device names come out escaped; long
ranges stay small and keep their peaks; errors are clear 4xx; ETag/304;
the CLI draws the same offline and through a running server."""

import base64
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ADMIN_TOKEN, BIN, Server, ServerTestCase, clean_env, main, uid  # noqa: E402

SVG_NS = "{http://www.w3.org/2000/svg}"
RSVG = shutil.which("rsvg-convert")
NOW = int(time.time())
T0 = (NOW - 6 * 3600) // 60 * 60  # six hours of history, minute-aligned

# The chart's colours (src/graph/chart.c).
CO_BLUE = (0x1F, 0x5F, 0xBF)
ALARM_RED = (0xD6, 0x27, 0x28)
WARN_AMBER = (0xD9, 0x82, 0x00)
TEMP_GREEN = (0x2C, 0xA0, 0x2C)
HUM_PURPLE = (0x94, 0x67, 0xBD)


# ---- PNG decoding (standard library only) ----

def decode_png(data):
    """PNG bytes -> (width, height, rows of (r, g, b) tuples). 8-bit RGB/RGBA
    (what rsvg-convert writes); alpha is composited on white."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if ctype == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            bpp = 4 if color == 6 else 3
        elif ctype == b"IDAT":
            idat += chunk
        elif ctype == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        ftype, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 255
            elif ftype == 2:
                line[x] = (line[x] + b) & 255
            elif ftype == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        px = []
        for x in range(w):
            r, g, bl = line[x * bpp:x * bpp + 3]
            al = line[x * bpp + 3] if bpp == 4 else 255
            px.append(tuple((v * al + 255 * (255 - al)) // 255 for v in (r, g, bl)))
        rows.append(px)
    return w, h, rows


def count_colour(rows, rgb, tol=24):
    return sum(1 for row in rows for p in row
               if all(abs(p[k] - rgb[k]) <= tol for k in range(3)))


def non_white(rows):
    return sum(1 for row in rows for p in row if min(p) < 235)


class GraphCase(ServerTestCase):

    def svg(self, dev, expect=200, **query):
        st, h, body = self.srv.request("GET", "/v1/devices/%s/graph" % dev, query=query)
        self.assertEqual(st, expect, body)
        if expect == 200:
            self.assertEqual(h.get("Content-Type"), "image/svg+xml")
            self.assertIsInstance(body, bytes)
        return h, body

    def check_svg(self, body, width=1200, height=500):
        """Parses as XML, renders to PNG; returns (root, png rows)."""
        root = ET.fromstring(body)
        self.assertEqual(root.tag, SVG_NS + "svg")
        self.assertEqual(root.get("width"), str(width))
        self.assertEqual(root.get("height"), str(height))
        for el in root.iter():
            self.assertIn(el.tag[len(SVG_NS):], {"svg", "title", "rect", "text", "line", "path",
                                                  "g"}, "unexpected element %s" % el.tag)
            for k in el.attrib:
                self.assertFalse(k.lower().startswith("on"), "event handler attribute %s" % k)
        png = self.render_png(body)
        w, h, rows = decode_png(png)
        self.assertEqual((w, h), (width, height))
        # A chart, not a blank page: axes, grid, labels and data ink.
        self.assertGreater(non_white(rows), width * height // 100)
        return root, rows

    def render_png(self, body):
        self.assertIsNotNone(RSVG, "rsvg-convert is missing (apt-get install librsvg2-bin)")
        with tempfile.TemporaryDirectory() as d:
            src, out = os.path.join(d, "c.svg"), os.path.join(d, "c.png")
            with open(src, "wb") as f:
                f.write(body)
            r = subprocess.run([RSVG, "-o", out, src], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr.strip(), "", "rsvg-convert complained")
            with open(out, "rb") as f:
                return f.read()

    @staticmethod
    def texts(root):
        return ["".join(t.itertext()) for t in root.iter(SVG_NS + "text")]

    @staticmethod
    def co_paths(root):
        return [p.get("d") for p in root.iter(SVG_NS + "path")
                if p.get("stroke") == "#1f5fbf"]


class GraphTest(GraphCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = uid("kitchen")
        cls.name = 'Kitchen <script>alert("x")</script> & Tom\'s "flat"'
        cls.key = cls.srv.create_device(cls.dev, name=cls.name)
        rows = []
        for i in range(0, 6 * 3600, 10):
            if 2 * 3600 <= i < 2 * 3600 + 1800:
                continue  # the device was off for 30 minutes
            co = 4 + (i % 600) / 100
            if 4 * 3600 <= i < 4 * 3600 + 600:
                co = 20 + (i - 4 * 3600) / 5  # a CO event up to ~140 ppm: alarms
            rows.append({"device_id": cls.dev, "ts": T0 + i, "co_ppm": co,
                         "temperature_c": 21 + (i % 3600) / 3600, "humidity_pct": 40 + (i % 7200) / 720})
        for k in range(0, len(rows), 1000):
            st, _, b = cls.srv.post_readings(rows[k:k + 1000])
            assert st == 201, b
        cls.range = {"from": T0, "to": T0 + 6 * 3600}

    def test_line_chart_parses_renders_and_shows_everything(self):
        h, body = self.svg(self.dev, **self.range)
        self.assertTrue(h.get("ETag", "").startswith('"'), h.get("ETag"))
        self.assertEqual(h.get("Cache-Control"), "private, no-cache")
        self.assertLess(len(body), 150 * 1024)
        root, rows = self.check_svg(body)
        texts = self.texts(root)
        # The hostile name is text, escaped in the markup, intact once parsed.
        self.assertIn(self.name + " \u2014 CO (ppm)", texts)
        self.assertNotIn(b"<script", body)
        self.assertIn(b"&lt;script&gt;", body)
        self.assertIn("warning 30 ppm", texts)
        self.assertIn("alarm 50 ppm", texts)
        self.assertTrue(any(t.startswith("peak 140 ppm") or "peak 13" in t or "peak 14" in t
                            for t in texts), texts)
        self.assertIn("alarm period", texts)  # the CO event was shaded
        # Hours on the time axis for a 6-hour range.
        self.assertTrue(any(len(t) == 5 and t[2] == ":" for t in texts), texts)
        # The line, the thresholds: their colours are in the picture.
        self.assertGreater(count_colour(rows, CO_BLUE), 1500)
        self.assertGreater(count_colour(rows, ALARM_RED), 300)
        self.assertGreater(count_colour(rows, WARN_AMBER), 300)
        # The 30-minute hole breaks the line: more than one subpath.
        d = self.co_paths(root)[0]
        self.assertGreaterEqual(d.count("M"), 2, d[:200])

    def test_bar_chart_and_phone_width(self):
        _, body = self.svg(self.dev, type="bar", width=400, height=300, **self.range)
        root, rows = self.check_svg(body, 400, 300)
        self.assertIn("CO: highest per bar", self.texts(root))
        self.assertGreater(count_colour(rows, CO_BLUE), 200)
        # Bars over 50 ppm are red: solid red rects (alarm periods are
        # translucent ones). At 400 px the bars are 1 px wide, so the PNG's
        # anti-aliasing decides how many pixels match exactly: count the
        # bars in the SVG instead; the event's tallest (~140 ppm) is taller
        # than the warn-level bars are.
        red = [float(r.get("height")) for r in root.iter(SVG_NS + "rect")
               if r.get("fill") == "#d62728" and r.get("fill-opacity") is None]
        amber = [float(r.get("height")) for r in root.iter(SVG_NS + "rect")
                 if r.get("fill") == "#d98200" and r.get("fill-opacity") is None]
        self.assertGreaterEqual(len(red), 1, red)
        self.assertGreater(max(red), max(amber or [0]), (red, amber))
        # The phone's title is shortened, not overflowing.
        title = self.texts(root)[0]
        self.assertTrue(title.endswith("\u2014 CO (ppm)"), title)
        self.assertLessEqual(len(title), 60)

    def test_temperature_and_humidity_axis(self):
        _, body = self.svg(self.dev, series="co,temperature,humidity", **self.range)
        root, rows = self.check_svg(body)
        texts = self.texts(root)
        self.assertIn("temperature \u00b0C", texts)
        self.assertIn("humidity %", texts)
        self.assertGreater(count_colour(rows, TEMP_GREEN), 500)
        self.assertGreater(count_colour(rows, HUM_PURPLE), 500)

    def test_default_range_and_empty_range(self):
        _, body = self.svg(self.dev)  # the last 24 hours
        self.check_svg(body)
        _, body = self.svg(self.dev, **{"from": T0 - 86400 * 3, "to": T0 - 86400 * 2})
        root, rows = self.check_svg(body)
        self.assertIn("No readings in this range", self.texts(root))
        self.assertEqual(self.co_paths(root), [])
        self.assertGreater(count_colour(rows, ALARM_RED), 300)  # thresholds still drawn

    def test_single_point(self):
        dev = uid("one")
        self.srv.create_device(dev)
        self.assertStatus(self.srv.post_readings({"device_id": dev, "ts": T0 + 60, "co_ppm": 12}),
                          201)
        _, body = self.svg(dev, **{"from": T0, "to": T0 + 3600})
        root, rows = self.check_svg(body)
        paths = self.co_paths(root)
        self.assertEqual(len(paths), 1)
        self.assertIn("a2.5", paths[0])  # a lone reading is a visible ring
        self.assertGreater(count_colour(rows, CO_BLUE), 30)
        self.assertTrue(any("peak 12 ppm" in t for t in self.texts(root)))

    def test_long_range_is_small_and_keeps_the_spike(self):
        dev = uid("long")
        self.srv.create_device(dev)
        start = NOW - 40000 * 5 - 60
        for b in range(0, 40000, 1000):
            batch = [{"device_id": dev, "ts": start + (b + i) * 5, "co_ppm": 3 + ((b + i) % 7) / 10}
                     for i in range(1000)]
            if b == 27000:
                batch[123]["co_ppm"] = 950  # one 5-second spike in 55 hours
            self.assertStatus(self.srv.post_readings(batch), 201)
        _, body = self.svg(dev, **{"from": start, "to": start + 40000 * 5})
        self.assertLess(len(body), 150 * 1024)
        root, rows = self.check_svg(body)
        self.assertTrue(any("40000 readings" in t and "peak 950 ppm" in t
                            for t in self.texts(root)), self.texts(root))
        # The spike reaches the top of the plot: the line goes above the alarm line.
        self.assertGreater(count_colour(rows, CO_BLUE), 1000)
        _, bars = self.svg(dev, type="bar", **{"from": start, "to": start + 40000 * 5})
        root, rows = self.check_svg(bars)
        self.assertGreater(count_colour(rows, ALARM_RED), 100)  # the spike's bar is red

    def test_etag_and_304(self):
        h, body = self.svg(self.dev, **self.range)
        etag = h["ETag"]
        for inm in (etag, "W/" + etag, '"other", ' + etag, "*"):
            st, h2, b2 = self.srv.request("GET", "/v1/devices/%s/graph" % self.dev,
                                          query=self.range, headers={"If-None-Match": inm})
            self.assertEqual(st, 304, inm)
            self.assertEqual(b2, b"")
            self.assertEqual(h2.get("ETag"), etag)
        st, _, b3 = self.srv.request("GET", "/v1/devices/%s/graph" % self.dev, query=self.range,
                                     headers={"If-None-Match": '"stale"'})
        self.assertEqual(st, 200)
        self.assertEqual(b3, body)
        _, other = self.svg(self.dev, type="bar", **self.range)
        self.assertNotEqual(other, body)

    def test_errors(self):
        path = "/v1/devices/%s/graph" % self.dev
        for q, msg in (({"from": T0 + 100, "to": T0}, "from must be before to"),
                       ({"from": T0, "to": T0}, "from must be before to"),
                       ({"type": "pie"}, "type must be line or bar"),
                       ({"width": "50"}, "width must be an integer from 200 to 4000"),
                       ({"height": "9999"}, "height must be an integer from 150 to 2000"),
                       ({"series": "co,pressure"}, "series"),
                       ({"from": "last tuesday"}, "ISO 8601"),
                       ({"from": "1990-01-01", "to": "2020-01-01"}, "20 years")):
            with self.subTest(q=q):
                err = self.assertError(self.srv.request("GET", path, query=q), 400)
                self.assertIn(msg, err["message"])
        self.assertError(self.srv.request("GET", "/v1/devices/nope-404/graph"), 404)
        self.assertError(self.srv.request("GET", path, token=None), 401)
        # The device's own key may see its chart; another device's key gets 404.
        st, _, _ = self.srv.request("GET", path, token=self.key, query=self.range)
        self.assertEqual(st, 200)
        key = self.srv.create_device(uid("other"))
        self.assertError(self.srv.request("GET", path, token=key), 404)

    def test_hostile_names(self):
        names = ["<script>alert(1)</script>", '"><svg onload=alert(1)>', "Tom & Jerry's",
                 "]]><!--", "\u0416" * 64, "\U0001F525" * 32, "tab\there"]
        for name in names:
            with self.subTest(name=name[:20]):
                dev = uid("evil")
                self.srv.create_device(dev, name=name)
                self.assertStatus(self.srv.post_readings(
                    {"device_id": dev, "ts": T0 + 5, "co_ppm": 3}), 201)
                for width in (1200, 400):
                    _, body = self.svg(dev, width=width, **self.range)
                    root, _ = self.check_svg(body, width)
                    title = self.texts(root)[0]
                    shown = title[:-len(" \u2014 CO (ppm)")]
                    # Either the whole name, or a prefix of it and an ellipsis.
                    self.assertTrue(shown == name or (shown.endswith("\u2026") and
                                                      name.startswith(shown[:-1])), shown)
                    self.assertEqual(root.find(SVG_NS + "title").text.split(", ")[0],
                                     "CO of " + name)

    # ---- the seed's route ----

    def seed(self, expect=200, **query):
        st, h, body = self.srv.request("GET", "/graph/generate", query=query)
        self.assertEqual(st, expect, body)
        return h, body

    def test_seed_graph_generate(self):
        start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0))
        end = time.strftime("%Y-%m-%d %H:%M", time.gmtime(T0 + 6 * 3600))
        h, body = self.seed(device=self.dev, start_date=start, end_date=end)
        self.assertEqual(list(body.keys()), ["base64_data"])
        prefix = "data:image/svg+xml;charset=utf-8;base64,"
        self.assertTrue(body["base64_data"].startswith(prefix))
        svg = base64.b64decode(body["base64_data"][len(prefix):], validate=True)
        root, _ = self.check_svg(svg)
        self.assertIn("CO ppm (min-max)", self.texts(root))  # Line by default
        self.assertEqual(h.get("start_date"), start + ".000Z")
        self.assertEqual(h.get("end_date"), end.replace(" ", "T") + ":00.000Z")
        self.assertEqual(h.get("device_type"), self.dev)
        for gt in ("Bar", "bar", "BAR"):
            _, b = self.seed(device=self.dev, start_date=start, end_date=end, graph_type=gt)
            svg = base64.b64decode(b["base64_data"][len(prefix):])
            self.assertIn("CO: highest per bar", self.texts(self.check_svg(svg)[0]))
        _, b = self.seed(device=self.dev, start_date=start, end_date=end, graph_type="Line")
        self.assertIn("CO ppm (min-max)", self.texts(ET.fromstring(
            base64.b64decode(b["base64_data"][len(prefix):]))))

    def test_seed_errors(self):
        for q, st, msg in (({}, 400, "device is required"),
                           ({"device": "bad id!"}, 400, "device must be"),
                           ({"device": self.dev, "graph_type": "Pie"}, 400, "Line or Bar"),
                           ({"device": self.dev, "start_date": "2026-02-30"}, 400, "start_date"),
                           ({"device": self.dev, "start_date": "2026-01-02",
                             "end_date": "2026-01-01"}, 400, "start_date must be before end_date"),
                           ({"device": "nobody-here"}, 404, "no device")):
            with self.subTest(q=q):
                err = self.assertError(self.srv.request("GET", "/graph/generate", query=q), st)
                self.assertIn(msg, err["message"])
        self.assertError(self.srv.request("GET", "/graph/generate", query={"device": self.dev},
                                          token=None), 401)


class GraphCliTest(GraphCase):
    """carbon graph through a running server, then offline on its data."""

    def run_cli(self, *args, expect=0):
        env = clean_env({"CARBON_ADMIN_TOKEN": ADMIN_TOKEN})
        r = subprocess.run([BIN, "graph"] + list(args), env=env, capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, expect, r.stderr)
        return r

    def test_cli(self):
        dev = uid("cli")
        self.srv.create_device(dev, name="Garage & <car>")
        self.assertStatus(self.srv.post_readings(
            [{"device_id": dev, "ts": T0 + 60 * i, "co_ppm": 5 + i % 40} for i in range(300)]), 201)
        rng = ["--from", str(T0), "--to", str(T0 + 5 * 3600)]
        with tempfile.TemporaryDirectory() as d:
            via_server = os.path.join(d, "server.svg")
            self.run_cli("--device", dev, "--out", via_server, "--server", self.srv.url(""), *rng)
            with open(via_server, "rb") as f:
                served = f.read()
            root, _ = self.check_svg(served)
            self.assertIn("Garage & <car> \u2014 CO (ppm)", self.texts(root))
            # While the server runs, its data directory is locked.
            r = self.run_cli("--device", dev, "--out", os.path.join(d, "x.svg"), "--data",
                             self.srv.data_dir, expect=1)
            self.assertIn("use --server", r.stderr)
            # Usage errors.
            self.assertIn("--device and --out are required", self.run_cli("--out", "x", expect=2).stderr)
            self.assertIn("type must be line or bar", self.run_cli(
                "--device", dev, "--out", "x", "--type", "pie", expect=2).stderr)
            r = self.run_cli("--device", "nope", "--out", "x", "--server", self.srv.url(""),
                             expect=1)
            self.assertIn("no device", r.stderr)
            self.assertIn("--server URL", self.run_cli("--help").stdout)
            # Offline, the server stopped: the same chart from the files.
            self.srv.stop()
            offline = os.path.join(d, "offline.svg")
            self.run_cli("--device", dev, "--out", offline, "--data", self.srv.data_dir, *rng)
            with open(offline, "rb") as f:
                self.assertEqual(f.read(), served)
            bar = os.path.join(d, "bar.svg")
            self.run_cli("--device", dev, "--out", bar, "--data", self.srv.data_dir, "--type",
                         "bar", "--width", "400", "--height", "300", *rng)
            with open(bar, "rb") as f:
                self.check_svg(f.read(), 400, 300)
            r = self.run_cli("--device", dev, "--out", bar, "--data", os.path.join(d, "none"),
                             expect=1)
            self.assertIn("no data directory", r.stderr)
            self.srv.start()


if __name__ == "__main__":
    main()
