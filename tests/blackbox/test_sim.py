"""carbon sim against a real carbon serve: simulated sensors on the firmware
core post over HTTP with their own keys; a fast leak raises an alarm on the
server, an alarm at --speed 1 is live (would page) while a compressed run
ends at real "now", an offline spell delivers every reading exactly once
afterwards, co_raw goes through the server's conversion, SIGINT stops the
sim promptly even against a server that never answers, and the options are
checked."""

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, Server, clean_env, uid  # noqa: E402

TIMEOUT = 240


def epoch(rfc3339):
    """Seconds since the epoch of an RFC 3339 UTC time such as 2026-01-02T03:04:05.678Z."""
    dt = datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return dt.timestamp()


def keys_file(lines):
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write(lines)
        return f.name


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
            # Compressed time is a past that ends now: the newest reading was
            # made within the last heater cycle (150 s) of the run's end...
            newest = epoch(rows[-1]["ts"])
            self.assertLessEqual(newest, time.time())
            self.assertGreater(newest, time.time() - 150 - 60, rows[-1])
            # ... and the leak's alarm, raised about 25 simulated minutes
            # before the end, is history: older than fresh_s (600 s) when it
            # was recorded, so it pages nobody by itself (docs/SIM.md).
            raised, recorded = epoch(high[0]["raised_at"]), epoch(high[0]["recorded_at"])
            self.assertGreater(recorded - raised, 600, high[0])
        self.assertEqual(total, produced)

    def test_speed_1_alarm_is_live(self):
        """At --speed 1 readings carry the real time they are made, so an
        alarm is raised by a fresh reading and pages (docs/NOTIFY.md: an
        alarm from a reading more than fresh_s = 600 s old pages nobody).
        A device samples once per 150 s heater cycle and a one-minute run's
        leak starts 10-70 s in, so about one device in ten alarms within the
        minute: 50 of them make that certain whatever the seed."""
        prefix = uid("live")
        start = time.time()
        out, _ = self.sim(["--create", "--prefix", prefix, "--devices", "50", "--scenario",
                           "fast-leak", "--speed", "1", "--duration", "60s", "--json", "--quiet"])
        end = time.time()
        s = json.loads(out)
        self.assertEqual(s["readings"]["unsent"], 0)
        alarmed = 0
        for d in s["per_device"]:
            for r in self.srv.all_readings(d["id"]):
                self.assertTrue(start - 1 <= epoch(r["ts"]) <= end, (start, end, r))
            alerts = self.alerts(d["id"])
            alarmed += bool(alerts)
            self.assertEqual(bool(alerts), d["local_max"] != "off", (d, alerts))
            for a in alerts:
                raised, recorded = epoch(a["raised_at"]), epoch(a["recorded_at"])
                self.assertTrue(start - 1 <= raised <= end, (start, end, a))
                self.assertLess(end - raised, 60, a)
                self.assertLess(recorded - raised, 5, a)  # arrived at once: fresh
        self.assertGreater(alarmed, 0, s)

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
            self.assertEqual(d["api_key"][:4], "cbk_")  # --create without --keys-out
            rows = self.srv.all_readings(d["id"])
            self.assertEqual(len(rows), d["produced"], d)
            self.assertEqual(d["sent"], d["produced"])
            self.assertEqual(d["local_max"], "off")
            self.assertNotIn("co_high", d["server_alarms"])
            # One report interval (150 s) apart, the offline spell included:
            # nothing lost or repeated in the gap.
            ts = [epoch(r["ts"]) for r in rows]
            gaps = [round(b - a, 3) for a, b in zip(ts, ts[1:])]
            self.assertEqual(gaps, [150.0] * (len(rows) - 1), d["id"])

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


class HungServer:
    """A TCP server that accepts every connection and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


class SimStops(unittest.TestCase):
    """SIGINT stops the clock and the devices deliver what they hold, but a
    server that accepts and never answers must not keep the sim running: the
    POST in flight is given up at once, the drain gives up at the first POST
    without an answer (5 s), and a second signal quits at once. Exit 1 when
    readings are left undelivered, with the reason."""

    def setUp(self):
        self.hung = HungServer()
        self.keys = keys_file("h-1,cbk_nothing\nh-2,cbk_nothing\n")

    def tearDown(self):
        self.hung.close()
        os.unlink(self.keys)

    def interrupt(self, signals):
        p = subprocess.Popen([BIN, "sim", "--keys", self.keys, "--server", self.hung.url,
                              "--speed", "600", "--duration", "2h"], env=clean_env({}),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            time.sleep(2)  # readings are made and their POSTs hang
            self.assertIsNone(p.poll(), "the sim ended by itself")
            start = time.time()
            for sig in signals:
                p.send_signal(sig)
                time.sleep(0.2)
            out, err = p.communicate(timeout=60)
            took = time.time() - start
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        return p.returncode, out.decode(), err.decode(), took

    def test_sigint_against_a_hung_server(self):
        rc, out, err, took = self.interrupt([signal.SIGINT])
        self.assertLess(took, 10, err)
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("stopping: delivering the buffered readings", err)
        self.assertRegex(err, r"\d+ reading\(s\) not delivered: .*the server stopped answering")
        self.assertRegex(out, r"unsent [1-9]")

    def test_second_signal_quits_at_once(self):
        rc, out, err, took = self.interrupt([signal.SIGTERM, signal.SIGINT])
        self.assertLess(took, 3, err)
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("interrupted: quitting without delivering the rest", err)
        self.assertIn("cut short (interrupted)", err)


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
            (["--create", "--scenario", ","], "empty item"),
            (["--create", "--scenario", "fast-leak:1,"], "empty item"),
            (["--create", "--scenario", "fast-leak:1,,steady:1"], "empty item"),
            (["--create", "--scenario", ""], "empty"),
            (["--create", "--scenario", "fast-leak,steady"], "fast-leak:N"),
            (["--create", "--scenario", "fast-leak:0x10"], "count"),
            (["--create", "--scenario", "steady:20001"], "count"),
            (["--create", "--devices", "20001"], "100 KB"),
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
