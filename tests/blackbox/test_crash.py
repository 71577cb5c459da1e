"""The crash test (SPEC 3): a 201 means durably stored. Load the server from
8 threads, SIGKILL it mid-load, restart on the same data dir, and check
that every acknowledged reading is there exactly once. Twice over."""

import http.client
import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, iso_ms, main, parse_iso_ms  # noqa: E402

NDEVICES = 20
NTHREADS = 8
CYCLES = 2
LOAD_MIN_S = 1.5        # load at least this long before the kill ...
LOAD_MIN_ACKS = 300     # ... and until this many requests were acknowledged
LOAD_MAX_S = 8.0
# Every (device, ts) is unique: ts_ms = BASE_MS + seq * NTHREADS + thread.
BASE_MS = (int(time.time()) - 6 * 3600) * 1000


class CrashTest(unittest.TestCase):

    def setUp(self):
        self.srv = Server()
        self.addCleanup(self.srv.cleanup)
        self.devices = ["crash-%02d" % i for i in range(NDEVICES)]
        self.keys = {d: self.srv.create_device(d) for d in self.devices}
        self.acked = {}          # (device, ts_ms) -> co_ppm, for every 201
        self.lock = threading.Lock()
        self.seq = [0] * NTHREADS  # per thread, continues across cycles
        self.errors = []

    def make_reading(self, t, dev):
        ts_ms = BASE_MS + self.seq[t] * NTHREADS + t
        self.seq[t] += 1
        # co encodes the identity so a mixed-up row is caught
        co = float((ts_ms % 100000) / 10.0)
        return {"device_id": dev, "ts": ts_ms / 1000.0, "co_ppm": co}, (dev, ts_ms), co

    def worker(self, t, stop, counts):
        rnd = random.Random(t * 7919 + sum(self.seq))
        conn = None
        while not stop.is_set():
            dev = rnd.choice(self.devices)
            kind = rnd.random()
            if kind < 0.5:          # single reading, device key
                r, ident, co = self.make_reading(t, dev)
                body, token, items = r, self.keys[dev], [(ident, co)]
            elif kind < 0.8:        # small batch for one device, device key
                n = rnd.randint(2, 10)
                body, items = [], []
                for _ in range(n):
                    r, ident, co = self.make_reading(t, dev)
                    body.append(r)
                    items.append((ident, co))
                token = self.keys[dev]
            else:                   # small batch over several devices, admin
                n = rnd.randint(2, 10)
                body, items = [], []
                for _ in range(n):
                    r, ident, co = self.make_reading(t, rnd.choice(self.devices))
                    body.append(r)
                    items.append((ident, co))
                token = self.srv.admin_token
            try:
                if conn is None:
                    conn = self.srv.connect(timeout=10)
                st, _, resp = self.srv.request("POST", "/v1/readings", body, token=token,
                                               conn=conn)
            except (OSError, http.client.HTTPException) as e:
                if conn is not None:
                    conn.close()
                conn = None
                if self.killing.is_set():
                    break  # killed: this request's fate is unknown
                self.errors.append("request failed under load: %r" % (e,))
                continue
            if st == 201:
                if resp != {"stored": len(items), "duplicates": 0}:
                    self.errors.append("201 with %r for %d new readings" % (resp, len(items)))
                with self.lock:
                    for ident, co in items:
                        self.acked[ident] = co
                counts[t] += 1
            else:
                self.errors.append("HTTP %d under load: %r" % (st, resp))
        if conn is not None:
            conn.close()

    def load_and_kill(self):
        stop = threading.Event()
        self.killing = threading.Event()
        counts = [0] * NTHREADS
        threads = [threading.Thread(target=self.worker, args=(t, stop, counts), daemon=True)
                   for t in range(NTHREADS)]
        start = time.monotonic()
        for th in threads:
            th.start()
        while True:
            elapsed = time.monotonic() - start
            if elapsed >= LOAD_MAX_S or (elapsed >= LOAD_MIN_S and sum(counts) >= LOAD_MIN_ACKS):
                break
            time.sleep(0.05)
        # kill -9 while the workers are still posting
        self.assertTrue(all(th.is_alive() for th in threads), "a worker died early")
        self.killing.set()
        self.srv.kill()
        stop.set()
        for th in threads:
            th.join(20)
            self.assertFalse(th.is_alive(), "worker stuck after the kill")
        return sum(counts)

    def verify(self):
        stored = {}
        dups = []
        for dev in self.devices:
            for r in self.srv.all_readings(dev, limit=1000):
                ident = (dev, parse_iso_ms(r["ts"]))
                if ident in stored:
                    dups.append(ident)
                stored[ident] = r["co_ppm"]
        self.assertEqual(dups, [], "readings stored twice")
        missing = [k for k in self.acked if k not in stored]
        self.assertEqual(missing[:20], [], "%d of %d acknowledged readings lost after kill -9"
                         % (len(missing), len(self.acked)))
        wrong = [(k, v, stored[k]) for k, v in self.acked.items() if stored[k] != v]
        self.assertEqual(wrong[:20], [], "acknowledged readings came back changed")
        # anything stored but not acknowledged must be one we sent (in flight at the kill)
        sent_max = {t: BASE_MS + self.seq[t] * NTHREADS + t for t in range(NTHREADS)}
        for (dev, ts) in stored:
            t = (ts - BASE_MS) % NTHREADS
            self.assertLess(ts, sent_max[t], "a reading nobody sent: %s %s" % (dev, iso_ms(ts)))
        return stored

    def test_kill_9_after_idle_compaction(self):
        # After a quiet spell the journal is compacted, checkpointed and
        # emptied; the next reading must still get a journal row that
        # recovery replays (a reused row id would be taken as applied).
        dev = self.devices[0]
        base = BASE_MS + 10_000_000
        for i in range(5):
            st, _, b = self.srv.post_readings({"device_id": dev, "ts": iso_ms(base + i),
                                               "co_ppm": 1})
            self.assertEqual(st, 201, b)
        time.sleep(3.2)  # compaction (1 s) and a checkpoint (2 s) go by
        st, _, b = self.srv.post_readings({"device_id": dev, "ts": iso_ms(base + 50),
                                           "co_ppm": 2})
        self.assertEqual(st, 201, b)
        time.sleep(3.2)
        st, _, b = self.srv.post_readings({"device_id": dev, "ts": iso_ms(base + 100),
                                           "co_ppm": 42})
        self.assertEqual(st, 201, b)
        self.srv.kill()
        self.srv.start()
        got = [r["co_ppm"] for r in self.srv.all_readings(dev)
               if parse_iso_ms(r["ts"]) >= base]
        self.assertEqual(got, [1, 1, 1, 1, 1, 2, 42])

    def test_kill_9_mid_load_loses_no_acknowledged_reading(self):
        for cycle in range(CYCLES):
            with self.subTest(cycle=cycle):
                n = self.load_and_kill()
                self.assertGreater(n, 0, "no request was acknowledged under load")
                self.assertEqual(self.errors, [])
                self.srv.start()  # same data dir
                self.assertEqual(self.srv.healthz(), 200)
                stored = self.verify()
                sys.stderr.write("\n  cycle %d: %d requests acknowledged, %d readings "
                                 "acknowledged, %d stored\n" % (cycle, n, len(self.acked),
                                                               len(stored)))
                # re-sending acknowledged readings after recovery is a no-op
                sample = random.Random(cycle).sample(sorted(self.acked), min(200, len(self.acked)))
                batch = [{"device_id": d, "ts": ts / 1000.0, "co_ppm": self.acked[(d, ts)]}
                         for d, ts in sample]
                st, _, resp = self.srv.post_readings(batch)
                self.assertEqual(st, 201, resp)
                self.assertEqual(resp, {"stored": 0, "duplicates": len(batch)})
        # finally a clean stop works on the twice-crashed data
        self.srv.stop()


if __name__ == "__main__":
    main()
