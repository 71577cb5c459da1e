#!/usr/bin/env python3
"""notify_latency.py - reading in -> first provider request, over N alarms.

Starts a fake Twilio (tests/blackbox/fake_twilio.py) and a real `carbon
serve` (build/carbon, or $CARBON_BIN) on 127.0.0.1, creates N devices owned
by one user, then raises one critical alarm per device by POSTing a single
120 ppm reading, and measures, on one monotonic clock (the fake runs in this
process), the time from just before the POST is written to the moment the
fake receives the owner's SMS for that device.

Two runs:
  sequential  one alarm at a time (the next after the previous SMS arrived):
              the latency of the path itself;
  burst       all N alarms posted by 16 concurrent clients as fast as the
              server takes them: the latency under an alarm storm.
Reference, same run: the latency of the POST itself (request written ->
201 read) for the same readings, so the result can be read as a ratio on
this shared, noisy machine.

    bench/notify_latency.py            # N=1000
    bench/notify_latency.py 200        # fewer
"""

import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "blackbox"))
from harness import Server  # noqa: E402
from fake_twilio import FakeTwilio  # noqa: E402

SID = "AC" + "2" * 32
TOKEN = "bench-token-0123456789"


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def ms(x):
    return "%.1f" % (x * 1000)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with FakeTwilio(account_sid=SID, auth_token=TOKEN) as fake:
        env = {"CARBON_TWILIO_API_BASE": fake.base_url, "CARBON_TWILIO_ACCOUNT_SID": SID,
               "CARBON_TWILIO_AUTH_TOKEN": TOKEN, "CARBON_TWILIO_FROM": "+15005550006",
               "CARBON_PUBLIC_URL": "https://carbon.example.com", "CARBON_LOG_LEVEL": "warn"}
        srv = Server(env=env, data_dir=os.environ.get("NOTIFY_DATA"))
        try:
            # One owner per 10 devices: a number gets at most 20 SMS an hour
            # (the server's per-number cap), and each alarm texts its owner.
            owners = []
            for k in range((2 * n + 9) // 10):
                st, _, u = srv.request("POST", "/v1/users",
                                       {"name": "Bench %d" % k, "phone": "+1415555%04d" % k})
                assert st == 201, u
                owners.append(u["id"])
            names = {}
            for r, run in enumerate(("sequential", "burst")):
                for i in range(n):
                    dev = "%s-%d" % (run[0], i)
                    # calls off: one provider request per alarm (the SMS) keeps
                    # the fake from being the bottleneck of the burst.
                    srv.create_device(dev, name="B%s%d" % (run[0], i),
                                      owner=owners[(r * n + i) // 10],
                                      notify={"escalate_after_s": 3600, "calls": False})
                    names["B%s%d" % (run[0], i)] = dev
            # Arrival time of each device's first SMS, by its name in the body.
            arrived = {}
            cv = threading.Condition()

            def watch():
                seen = 0
                while not stop.is_set():
                    reqs = fake.requests("sms")
                    for r in reqs[seen:]:
                        for word in r.form.get("Body", "").replace(",", " ").split():
                            if word in names and word not in arrived:
                                with cv:
                                    arrived[word] = r.t_mono
                                    cv.notify_all()
                    seen = len(reqs)
                    time.sleep(0.001)

            stop = threading.Event()
            w = threading.Thread(target=watch)
            w.start()
            results = {}
            try:
                # sequential
                lat, post = [], []
                for i in range(n):
                    name = "Bs%d" % i
                    t0 = time.monotonic()
                    st, _, b = srv.post_readings({"device_id": names[name], "co_ppm": 120})
                    t1 = time.monotonic()
                    assert st == 201, b
                    with cv:
                        if not cv.wait_for(lambda: name in arrived, timeout=10):
                            raise SystemExit("no SMS for %s within 10 s" % name)
                    lat.append(arrived[name] - t0)
                    post.append(t1 - t0)
                results["sequential"] = (lat, post)
                # burst: 16 clients
                sent = {}
                post = []
                lock = threading.Lock()

                def client(k):
                    c = srv.connect()
                    for i in range(k, n, 16):
                        name = "Bb%d" % i
                        t0 = time.monotonic()
                        st, _, b = srv.post_readings({"device_id": names[name], "co_ppm": 120})
                        t1 = time.monotonic()
                        assert st == 201, b
                        with lock:
                            sent[name] = t0
                            post.append(t1 - t0)
                    c.close()

                ts = [threading.Thread(target=client, args=(k,)) for k in range(16)]
                tb = time.monotonic()
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                with cv:
                    if not cv.wait_for(lambda: all(("Bb%d" % i) in arrived for i in range(n)),
                                       timeout=120):
                        raise SystemExit("burst: not every SMS arrived")
                span = max(arrived["Bb%d" % i] for i in range(n)) - tb
                results["burst"] = ([arrived[k] - sent[k] for k in sent], post)
                if os.environ.get("NOTIFY_DEBUG"):
                    print(sorted(round(arrived[k] - tb, 3) for k in sent)[::10])
            finally:
                stop.set()
                w.join()
            print("date: %s; %d alarms per run; %d cores" %
                  (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), n, os.cpu_count()))
            print()
            print("| run | reading -> SMS p50 | p99 | max | POST p50 (ref) | p99 ratio to POST p50 |")
            print("|---|---|---|---|---|---|")
            for run in ("sequential", "burst"):
                lat, post = results[run]
                print("| %s | %s ms | %s ms | %s ms | %s ms | %.1f |" %
                      (run, ms(pct(lat, 50)), ms(pct(lat, 99)), ms(max(lat)),
                       ms(pct(post, 50)), pct(lat, 99) / pct(post, 50)))
            print()
            print("burst: %d alarms in %.2f s from the first POST to the last SMS" % (n, span))
            p99 = pct(results["sequential"][0], 99)
            print("target p99 < 100 ms (sequential): %s" % ("met" if p99 < 0.1 else "NOT met"))
        finally:
            srv.cleanup()


if __name__ == "__main__":
    main()
