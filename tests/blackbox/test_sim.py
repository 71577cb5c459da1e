"""carbon sim against a real carbon serve: simulated sensors on the firmware
core post over HTTP with their own keys; a fast leak raises an alarm on the
server, an offline spell delivers every reading exactly once afterwards,
co_raw goes through the server's conversion, and the options are checked."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, Server, clean_env, uid  # noqa: E402

TIMEOUT = 240


def run_sim(args, env=None, timeout=TIMEOUT):
    p = subprocess.run([BIN, "sim"] + args, env=clean_env(env), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class SimAgainstServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.url = "http://%s:%d" % (cls.srv.host, cls.srv.port)
        cls.env = {"CARBON_ADMIN_TOKEN": cls.srv.admin_token}

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def sim(self, args, env=None, expect=0):
        rc, out, err = run_sim(args + ["--server", self.url], self.env if env is None else env)
        self.assertEqual(rc, expect, "stdout:\n%s\nstderr:\n%s" % (out, err))
        return out, err

    def alerts(self, dev, **q):
        q["device_id"] = dev
        st, _, b = self.srv.request("GET", "/v1/alerts", query=q)
        self.assertEqual(st, 200, b)
        return b["alerts"]

    def test_fast_leak_alarms_on_the_server(self):
        prefix = uid("fl")
        out, err = self.sim(["--create", "--prefix", prefix, "--devices", "3", "--scenario",
                             "fast-leak", "--speed", "600", "--duration", "30m"])
        lines = out.splitlines()
        # The keys first (id,key), then the summary.
        keys = [ln for ln in lines if ln.startswith(prefix + "-")]
        self.assertEqual(len(keys), 3, out)
        self.assertTrue(all(ln.split(",", 1)[1].startswith("cbk_") for ln in keys), out)
        summary = "\n".join(lines[3:])
        self.assertIn("carbon sim: 3 device(s), 1800 simulated s", summary)
        self.assertRegex(summary, r"readings: produced (\d+), sent \1, accepted \1, "
                                  r"duplicates 0, rejected 0, dropped 0, unsent 0")
        self.assertRegex(summary, r"alarms seen locally: 3 device\(s\) \(critical 3")
        self.assertRegex(summary, r"alarms on the server: 3 device\(s\) \(co_high 3")
        self.assertIn("produced", err)  # the progress line
        produced = int(summary.split("produced ")[1].split(",")[0])
        total = 0
        for i in (1, 2, 3):
            dev = "%s-%d" % (prefix, i)
            rows = self.srv.all_readings(dev)
            self.assertGreaterEqual(len(rows), 10, dev)
            self.assertGreater(max(r["co_ppm"] for r in rows), 200, dev)
            total += len(rows)
            high = self.alerts(dev, kind="co_high", state="active")
            self.assertEqual(len(high), 1, (dev, high))
            self.assertEqual(high[0]["severity"], "critical")
            self.assertGreater(high[0]["peak_ppm"], 200)
        self.assertEqual(total, produced)

    def test_offline_delivers_exactly_once(self):
        prefix = uid("off")
        out, _ = self.sim(["--create", "--prefix", prefix, "--devices", "2", "--scenario",
                           "offline", "--speed", "1200", "--duration", "60m", "--json",
                           "--quiet", "--seed", "7"])
        s = json.loads(out)
        r = s["readings"]
        self.assertEqual(s["devices"], 2)
        self.assertEqual(r["produced"], 48)  # one per 150 s for an hour, two devices
        self.assertEqual((r["sent"], r["accepted"], r["duplicates"], r["unsent"],
                          r["rejected"], r["dropped"]), (48, 48, 0, 0, 0, 0))
        self.assertGreater(s["posts"]["no_answer"], 0)  # the link was down a while
        self.assertGreater(s["posts"]["retried"], 0)
        for d in s["per_device"]:
            rows = self.srv.all_readings(d["id"])
            self.assertEqual(len(rows), d["produced"], d)
            self.assertEqual(len({r["ts"] for r in rows}), len(rows))
            self.assertEqual(d["sent"], d["produced"])
            self.assertEqual(d["local_max"], "off")
            self.assertNotIn("co_high", d["server_alarms"])
            # In order, one heater cycle apart: nothing lost in the gap.
            self.assertEqual(d["api_key"][:4], "cbk_")

    def test_raw_payload_converted_by_the_server(self):
        prefix = uid("raw")
        out, _ = self.sim(["--create", "--prefix", prefix, "--scenario",
                           "fast-leak:1,steady:1", "--payload", "raw", "--speed", "900",
                           "--duration", "30m", "--json", "--quiet"])
        s = json.loads(out)
        leak, steady = s["per_device"]
        self.assertEqual((leak["scenario"], steady["scenario"]), ("fast-leak", "steady"))
        for d in s["per_device"]:
            rows = self.srv.all_readings(d["id"])
            self.assertEqual(len(rows), d["produced"])
            st, _, dev = self.srv.request("GET", "/v1/devices/" + d["id"])
            self.assertAlmostEqual(dev["calibration"]["r0_ohms"], d["r0_ohms"], places=3)
        self.assertIn("co_high", leak["server_active"])
        self.assertGreater(max(r["co_ppm"] for r in self.srv.all_readings(leak["id"])), 200)
        self.assertLess(max(r["co_ppm"] for r in self.srv.all_readings(steady["id"])), 5)
        self.assertEqual(steady["server_alarms"], [])

    def test_sensor_fault_and_keys_file(self):
        dev = uid("kf")
        key = self.srv.create_device(dev)
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            f.write("# id,key\n%s,%s\n" % (dev, key))
            path = f.name
        try:
            # No admin token: the devices' keys are enough; no server check.
            out, _ = self.sim(["--keys", path, "--scenario", "sensor-fault", "--speed", "1200",
                               "--duration", "30m", "--quiet"], env={})
        finally:
            os.unlink(path)
        self.assertIn("alarms seen locally: 1 device(s) (critical 0, warning 0, fault 1)", out)
        self.assertIn("alarms on the server: not checked", out)
        # Fault readings carry co_raw at a rail: the server refuses them (422),
        # the device drops them; the good ones before the fault arrived.
        self.assertRegex(out, r"rejected [1-9]")
        rows = self.srv.all_readings(dev)
        self.assertGreaterEqual(len(rows), 3)

    def test_same_seed_same_sensors(self):
        a = json.loads(self.sim(["--create", "--prefix", uid("sd"), "--devices", "3", "--mix",
                                 "--seed", "42", "--speed", "3000", "--duration", "10m",
                                 "--json", "--quiet"])[0])
        b = json.loads(self.sim(["--create", "--prefix", uid("sd"), "--devices", "3", "--mix",
                                 "--seed", "42", "--speed", "3000", "--duration", "10m",
                                 "--json", "--quiet"])[0])
        pick = lambda s: [(d["scenario"], d["r0_ohms"], d["produced"]) for d in s["per_device"]]
        self.assertEqual(pick(a), pick(b))

    def test_unreachable_server_exit_1(self):
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write("x-1,cbk_nothing\n")
            path = f.name
        try:
            rc, out, err = run_sim(["--keys", path, "--server", "http://127.0.0.1:1",
                                    "--speed", "3000", "--duration", "10m", "--quiet"], {})
        finally:
            os.unlink(path)
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("took none", err)


class SimUsage(unittest.TestCase):
    def test_help(self):
        rc, out, _ = run_sim(["--help"])
        self.assertEqual(rc, 0)
        self.assertIn("Usage: carbon sim", out)
        for opt in ("--devices", "--scenario", "--speed", "--rate", "--duration", "--create",
                    "--keys", "--seed", "--quiet", "--json", "--payload"):
            self.assertIn(opt, out)
        p = subprocess.run([BIN, "--help"], stdout=subprocess.PIPE)
        self.assertEqual(p.returncode, 0)
        self.assertIn(" sim ", p.stdout.decode())

    def test_bad_options_exit_2(self):
        env = {"CARBON_ADMIN_TOKEN": "x" * 20}
        cases = [
            ([], "--create"),
            (["--create", "--keys", "f"], "exclude"),
            (["--create", "--devices", "0"], "--devices"),
            (["--create", "--devices", "lots"], "--devices"),
            (["--create", "--scenario", "bogus"], "scenario"),
            (["--create", "--scenario", "fast-leak:0"], "count"),
            (["--create", "--devices", "3", "--scenario", "fast-leak:2"], "does not match"),
            (["--create", "--speed", "-1"], "--speed"),
            (["--create", "--speed", "2", "--rate", "10"], "exclude"),
            (["--create", "--duration", "soon"], "--duration"),
            (["--create", "--payload", "volts"], "--payload"),
            (["--create", "--prefix", "a b"], "--prefix"),
            (["--create", "--frobnicate"], "--frobnicate"),
            (["--create", "--devices"], "--devices"),
            (["--create", "extra"], "extra"),
            (["--keys", "/nonexistent/keys"], "/nonexistent/keys"),
        ]
        for args, word in cases:
            with self.subTest(args=args):
                rc, out, err = run_sim(args + ["--server", "http://127.0.0.1:1"], env)
                self.assertEqual(rc, 1 if args[:1] == ["--keys"] else 2, (out, err))
                self.assertIn(word, err)
                self.assertEqual(out, "")
        # --create needs the admin token.
        rc, _, err = run_sim(["--create", "--server", "http://127.0.0.1:1"], {})
        self.assertEqual(rc, 2)
        self.assertIn("CARBON_ADMIN_TOKEN", err)


if __name__ == "__main__":
    unittest.main()
