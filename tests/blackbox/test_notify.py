"""Notifications end to end (SPEC 5, issue #5): a real `carbon serve` pages
people through a fake Twilio (fake_twilio.py) on 127.0.0.1, escalates, stops
on ACK, survives provider faults and kill -9, and checks webhook signatures.
"""

import os
import sys
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, ServerError, ServerTestCase, uid, main  # noqa: E402
from fake_twilio import FakeTwilio  # noqa: E402

SID = "AC" + "1" * 32
TOKEN = "fake-auth-token-0123456789"
FROM = "+15005550006"
PUBLIC = "https://carbon.example.com"

OWNER = "+14155550101"
SECOND = "+14155550102"
THIRD = "+14155550103"
EMERG = "+14155550109"


def twilio_env(fake, **extra):
    env = {
        "CARBON_TWILIO_API_BASE": fake.base_url,
        "CARBON_TWILIO_ACCOUNT_SID": SID,
        "CARBON_TWILIO_AUTH_TOKEN": TOKEN,
        "CARBON_TWILIO_FROM": FROM,
        "CARBON_PUBLIC_URL": PUBLIC,
        "CARBON_NOTIFY_MIN_DELAY_S": "1",  # escalation in seconds, not minutes
    }
    env.update(extra)
    return env


class NotifyBase(ServerTestCase):
    """One fake Twilio and one server per class; each test uses its own user
    and device (numbers differ per test where it matters)."""

    server_env = {}

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeTwilio(account_sid=SID, auth_token=TOKEN).start()
        cls.srv = Server(env=twilio_env(cls.fake, **cls.server_env))

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.fake.stop()

    def setUp(self):
        self.fake.reset_behaviour()
        self.fake.clear()

    # ---- helpers ----

    def new_user(self, phone=OWNER, secondary=(), emergency=None, name="Alice"):
        body = {"name": name, "phone": phone, "secondary_contacts": list(secondary)}
        if emergency:
            body["emergency_contacts"] = emergency
        st, _, b = self.srv.request("POST", "/v1/users", body)
        self.assertEqual(st, 201, b)
        return b["id"]

    def new_device(self, owner, notify=None, **fields):
        dev = uid("nd")
        body = dict(fields)
        body.setdefault("name", "Kitchen")
        body.setdefault("location", "Home")
        body["owner"] = owner
        if notify:
            body["notify"] = notify
        self.srv.create_device(dev, **body)
        return dev

    def raise_alarm(self, dev, ppm=120.0):
        st, _, b = self.srv.post_readings({"device_id": dev, "co_ppm": ppm})
        self.assertEqual(st, 201, b)
        return self.wait_alert(dev)

    def wait_alert(self, dev, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, _, b = self.srv.request("GET", "/v1/alerts", query={"device_id": dev})
            self.assertEqual(st, 200, b)
            if b["alerts"]:
                return b["alerts"][0]
            time.sleep(0.05)
        self.fail("no alert for %s" % dev)

    def get_alert(self, aid):
        st, _, b = self.srv.request("GET", "/v1/alerts/%d" % aid)
        self.assertEqual(st, 200, b)
        return b

    def to(self, number, kind=None):
        return [r for r in self.fake.accepted(kind) if r.form.get("To") == number]

    def wait_to(self, number, kind, count=1, timeout=15):
        return self.fake.wait_for(lambda r: r.kind == kind and r.form.get("To") == number
                                  and r.status == 201, count=count, timeout=timeout)

    def wait_log(self, aid, pred, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            a = self.get_alert(aid)
            if pred(a["notifications"]):
                return a
            time.sleep(0.1)
        self.fail("alert %d log never matched: %r" % (aid, self.get_alert(aid)["notifications"]))


class EscalationTest(NotifyBase):
    def test_owner_then_secondary_then_ack_by_sms_stops(self):
        # The emergency stage would start escalate_after_s after the
        # secondary one (about t0 + 4 s): the ACK must stop it.
        # test_without_ack_the_emergency_contact_is_paged is the control.
        user = self.new_user(OWNER, secondary=[SECOND], emergency={"neighbour": EMERG})
        dev = self.new_device(user, notify={"escalate_after_s": 2, "renotify_s": 3600})
        t0 = time.time()
        alert = self.raise_alarm(dev)
        sms = self.wait_to(OWNER, "sms")[0]
        call = self.wait_to(OWNER, "call")[0]
        # The SMS: what, where, how much, what to do, how to acknowledge.
        body = sms.form["Body"]
        for word in ("Kitchen", "120", "ACK"):
            self.assertIn(word, body)
        self.assertLessEqual(len(body), 160, body)
        self.assertEqual(sms.form["From"], FROM)
        self.assertEqual(sms.form["StatusCallback"], PUBLIC + "/twilio/status")
        self.assertTrue(sms.header("Authorization").startswith("Basic "))
        # The call: TwiML that says it and gathers one digit, acked at our URL.
        twiml = ET.fromstring(call.form["Twiml"])
        self.assertEqual(twiml.tag, "Response")
        gathers = twiml.findall("Gather")
        self.assertEqual(len(gathers), 2)
        self.assertEqual(gathers[0].get("numDigits"), "1")
        self.assertEqual(gathers[0].get("action"), PUBLIC + "/twilio/voice/%d" % alert["id"])
        self.assertIn("Kitchen", gathers[0].find("Say").text)
        # Nothing to the secondary contact before escalate_after_s ...
        self.assertEqual(self.to(SECOND), [])
        second = self.wait_to(SECOND, "sms", timeout=10)[0]
        self.assertGreaterEqual(second.t_wall - t0, 1.5)
        self.assertIn("Alice", second.form["Body"])
        # ... then the owner replies ACK by SMS: acknowledged, escalation stops.
        st, h, b = self.fake.send_inbound_sms(self.srv.url("/twilio/inbound"), OWNER, FROM,
                                              " ack ", sign_url=PUBLIC + "/twilio/inbound")
        t_ack = time.time()
        self.assertEqual(st, 200, b)
        self.assertIn("xml", h.get("Content-Type"))
        self.assertIn("acknowledged", ET.fromstring(b).find("Message").text)
        self.assertEqual(self.to(EMERG), [],
                         "the emergency stage began before the ACK (%.1f s after the alarm): "
                         "this test needs the ACK sooner" % (t_ack - t0))
        a = self.get_alert(alert["id"])
        self.assertEqual(a["state"], "active_ack")
        self.assertEqual(a["acknowledged_by"], "sms:" + OWNER)
        n = len(self.fake.accepted())
        # Nobody else is paged: 3 s after the ACK, and past the time the
        # emergency contact would have been (the control sees it by t0 + 6.5).
        time.sleep(max(3.0 - (time.time() - t_ack), t0 + 7.0 - time.time(), 0))
        self.assertEqual(self.to(EMERG), [])
        self.assertEqual(len(self.fake.accepted()), n)
        stages = {(x["stage"], x["channel"], x["to"]) for x in a["notifications"]}
        self.assertIn(("owner", "sms", OWNER), stages)
        self.assertIn(("owner", "call", OWNER), stages)
        self.assertIn(("secondary", "sms", SECOND), stages)
        for x in a["notifications"]:
            if x["state"] == "accepted":
                self.assertTrue(x["provider_sid"].startswith(("SM", "CA")))

    def test_without_ack_the_emergency_contact_is_paged(self):
        # The control of test_owner_then_secondary_then_ack_by_sms_stops:
        # the same settings without an ACK page the emergency contact within
        # the window that test watches.
        owner, sec, em = "+14155550151", "+14155550152", "+14155550159"
        user = self.new_user(owner, secondary=[sec], emergency={"neighbour": em})
        dev = self.new_device(user, notify={"escalate_after_s": 2, "renotify_s": 3600})
        t0 = time.time()
        alert = self.raise_alarm(dev)
        self.wait_to(sec, "sms", timeout=10)
        first = self.wait_to(em, "sms", timeout=10)[0]
        self.assertGreaterEqual(first.t_wall - t0, 3.5)
        self.assertLess(first.t_wall - t0, 7.0)
        st, _, b = self.srv.request("POST", "/v1/alerts/%d/ack" % alert["id"])
        self.assertEqual(st, 200, b)

    def test_emergency_contacts_after_secondary_and_reminders(self):
        owner, sec, em = "+14155550201", "+14155550202", "+14155550209"
        user = self.new_user(owner, secondary=[sec], emergency={"neighbour": em})
        dev = self.new_device(user, notify={"escalate_after_s": 1, "renotify_s": 2,
                                            "max_reminders": 1, "calls": False})
        alert = self.raise_alarm(dev)
        self.wait_to(em, "sms", timeout=10)
        # Reminder round 1 reaches everyone again, then no more.
        self.wait_to(owner, "sms", count=2, timeout=10)
        time.sleep(3)
        self.assertEqual(len(self.to(owner, "sms")), 2)
        self.assertEqual(self.to(owner, "call"), [])  # calls: false
        a = self.get_alert(alert["id"])
        rounds = sorted((x["to"], x["round"]) for x in a["notifications"])
        self.assertIn((em, 0), rounds)
        self.assertIn((em, 1), rounds)
        self.assertEqual(max(r for _, r in rounds), 1)

    def test_press_1_acknowledges(self):
        owner = "+14155550301"
        user = self.new_user(owner)
        dev = self.new_device(user, notify={"escalate_after_s": 60})
        alert = self.raise_alarm(dev)
        call = self.wait_to(owner, "call")[0]
        url = "/twilio/voice/%d" % alert["id"]
        st, _, b = self.fake.send_voice_digits(self.srv.url(url), call.sid, "2",
                                               sign_url=PUBLIC + url)
        self.assertEqual(st, 200)
        self.assertIn("not acknowledged", ET.fromstring(b).find("Say").text)
        self.assertEqual(self.get_alert(alert["id"])["state"], "active_unack")
        st, _, b = self.fake.send_voice_digits(self.srv.url(url), call.sid, "1",
                                               sign_url=PUBLIC + url)
        self.assertEqual(st, 200)
        self.assertIn("acknowledged", ET.fromstring(b).find("Say").text)
        a = self.get_alert(alert["id"])
        self.assertEqual(a["state"], "active_ack")
        self.assertEqual(a["acknowledged_by"], "call:" + owner)

    def test_ack_in_app_cancels_pending_and_clear_sends_all_clear(self):
        owner, sec = "+14155550401", "+14155550402"
        user = self.new_user(owner, secondary=[sec])
        dev = self.new_device(user, notify={"escalate_after_s": 2, "all_clear_after_s": 1},
                              thresholds={"clear_hold_s": 0})
        alert = self.raise_alarm(dev)
        self.wait_to(owner, "sms")
        st, _, b = self.srv.request("POST", "/v1/alerts/%d/ack" % alert["id"])
        self.assertEqual(st, 200, b)
        time.sleep(3)
        self.assertEqual(self.to(sec), [])
        # CO back to normal: the people an alarm message reached hear so.
        now = time.time()
        for k in range(3):
            self.srv.post_readings({"device_id": dev, "co_ppm": 0, "ts": now + 1 + k})
        msgs = self.fake.wait_for(lambda r: r.kind == "sms" and r.form.get("To") == owner,
                                  count=2, timeout=10)
        self.assertNotIn("ACK", msgs[-1].form["Body"].upper().split())

    def test_mute_silences_the_owner_not_the_contacts(self):
        # A mute says "I hear it": the owner's phone stays quiet until it
        # ends; their contacts are still paged (only an ACK stops that: the
        # owner may be the one in danger).
        owner, sec = "+14155550451", "+14155550452"
        user = self.new_user(owner, secondary=[sec])
        dev = self.new_device(user, notify={"escalate_after_s": 2, "renotify_s": 1,
                                            "max_reminders": 5})
        alert = self.raise_alarm(dev, ppm=90)
        self.wait_to(owner, "sms")
        st, _, b = self.srv.request("POST", "/v1/alerts/%d/mute" % alert["id"],
                                    query={"minutes": 5})
        self.assertEqual(st, 200, b)
        n_owner = len(self.to(owner))
        self.wait_to(sec, "sms", timeout=10)
        time.sleep(2)  # reminder rounds fell due meanwhile
        self.assertEqual(len(self.to(owner)), n_owner)
        self.assertGreaterEqual(len(self.to(sec, "sms")), 1)
        st, _, b = self.srv.request("POST", "/v1/alerts/%d/ack" % alert["id"])
        self.assertEqual(st, 200, b)

    def test_warning_sends_one_sms_no_call_no_escalation(self):
        owner, sec = "+14155550501", "+14155550502"
        user = self.new_user(owner, secondary=[sec])
        dev = self.new_device(user, notify={"escalate_after_s": 1})
        self.raise_alarm(dev, ppm=35)  # warn 30 <= 35 < alarm 50
        self.wait_to(owner, "sms")
        time.sleep(2.5)
        self.assertEqual(len(self.to(owner, "sms")), 1)
        self.assertEqual(self.to(owner, "call"), [])
        self.assertEqual(self.to(sec), [])

    def test_stale_alarm_confirmed_by_live_readings_pages(self):
        # An hour-old buffer raises the alarm (nobody paged for history) ...
        owner = "+14155550611"
        user = self.new_user(owner)
        dev = self.new_device(user, notify={"escalate_after_s": 600, "ring_s": 45})
        old = time.time() - 3600
        st, _, b = self.srv.post_readings([{"device_id": dev, "co_ppm": 80, "ts": old + k}
                                           for k in range(3)])
        self.assertEqual(st, 201, b)
        self.wait_alert(dev)
        time.sleep(1.5)
        self.assertEqual(self.to(owner), [])
        # ... and live readings still at 80 ppm: the danger is now, page.
        st, _, b = self.srv.post_readings({"device_id": dev, "co_ppm": 80})
        self.assertEqual(st, 201, b)
        self.wait_to(owner, "sms", timeout=10)
        call = self.wait_to(owner, "call", timeout=10)[0]
        self.assertEqual(call.form["Timeout"], "45")  # the device's ring_s

    def test_stale_readings_page_nobody(self):
        owner = "+14155550601"
        user = self.new_user(owner)
        dev = self.new_device(user)
        old = time.time() - 3600  # an hour-old offline buffer
        st, _, b = self.srv.post_readings([{"device_id": dev, "co_ppm": 200, "ts": old + k}
                                           for k in range(3)])
        self.assertEqual(st, 201, b)
        alert = self.wait_alert(dev)
        self.assertTrue(alert["active"])
        time.sleep(2)
        self.assertEqual(self.to(owner), [])
        self.assertEqual(self.get_alert(alert["id"])["notifications"], [])
        self.srv.wait_log(lambda r: "nobody paged" in r.get("msg", ""))

    def test_status_callback_recorded(self):
        owner = "+14155550701"
        user = self.new_user(owner)
        dev = self.new_device(user, notify={"escalate_after_s": 600})
        alert = self.raise_alarm(dev)
        sms = self.wait_to(owner, "sms")[0]
        st, _, _ = self.fake.send_status(self.srv.url("/twilio/status"), sms.sid, "delivered",
                                         sign_url=PUBLIC + "/twilio/status")
        self.assertEqual(st, 204)
        a = self.wait_log(alert["id"], lambda log: any(x.get("provider_status") == "delivered"
                                                       for x in log))
        self.assertTrue(any(x.get("provider_sid") == sms.sid for x in a["notifications"]))
        m = self.srv.metrics()
        self.assertGreaterEqual(
            m.get('carbon_notify_delivery_total{channel="sms",status="delivered"}', 0), 1)
        self.assertGreaterEqual(
            m.get('carbon_notify_attempts_total{channel="sms",outcome="accepted"}', 0), 1)
        # Reading in -> first provider request: counted, well under a second here.
        self.assertGreaterEqual(m['carbon_notify_latency_seconds_count'], 1)
        self.assertGreaterEqual(m['carbon_notify_latency_seconds_bucket{le="1"}'], 1)


class SignatureTest(NotifyBase):
    def test_bad_signatures_are_403(self):
        url = self.srv.url("/twilio/inbound")
        params_sign = PUBLIC + "/twilio/inbound"
        cases = [
            dict(bad_signature=True),
            dict(signature=""),  # header missing
            dict(signature="RSOYDt4T1cUTdK1PDd93/VVr8B8="),
            dict(sign_url=PUBLIC + "/twilio/inbound?x=1"),  # other URL
            dict(sign_url="https://evil.example.com/twilio/inbound"),
        ]
        for c in cases:
            opts = {"sign_url": params_sign}
            opts.update(c)
            st, _, _ = self.fake.send_inbound_sms(url, OWNER, FROM, "ACK", **opts)
            self.assertEqual(st, 403, c)
        for path in ("/twilio/status", "/twilio/voice/1"):
            st, _, _ = self.fake.send_webhook(self.srv.url(path), {"CallSid": "CA1"},
                                              sign_url=PUBLIC + path, bad_signature=True)
            self.assertEqual(st, 403, path)
        # Tampered parameters after signing.
        st, _, _ = self.srv.request(
            "POST", "/twilio/inbound", "From=%2B14155550101&Body=ACK",
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "X-Twilio-Signature": self.fake.sign(params_sign, {"From": OWNER,
                                                                        "Body": "NO"})},
            token=None)
        self.assertEqual(st, 403)

    def test_malformed_form_body_is_400(self):
        # A bad percent escape: refused before anything else is looked at.
        st, _, b = self.srv.request(
            "POST", "/twilio/inbound", "From=%ZZ&Body=ACK", token=None,
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "X-Twilio-Signature": "x"})
        self.assertEqual(st, 400, b)
        self.assertEqual(b["error"]["code"], "bad_request")

    def test_other_text_gets_help(self):
        st, _, b = self.fake.send_inbound_sms(self.srv.url("/twilio/inbound"), "+14155550999",
                                              FROM, "hello?",
                                              sign_url=PUBLIC + "/twilio/inbound")
        self.assertEqual(st, 200)
        self.assertIn("reply ACK", ET.fromstring(b).find("Message").text)
        st, _, b = self.fake.send_inbound_sms(self.srv.url("/twilio/inbound"), "+14155550999",
                                              FROM, "ACK",
                                              sign_url=PUBLIC + "/twilio/inbound")
        self.assertEqual(st, 200)
        self.assertIn("no open CO alarm", ET.fromstring(b).find("Message").text)


class FaultTest(NotifyBase):
    def test_provider_500_then_recovers_delivered_once(self):
        owner = "+14155550801"
        user = self.new_user(owner)
        dev = self.new_device(user, notify={"escalate_after_s": 600, "calls": False})
        self.fake.fail_next(3, status=500, kind="sms")
        alert = self.raise_alarm(dev)
        self.wait_to(owner, "sms", timeout=20)
        time.sleep(1)
        self.assertEqual(len(self.to(owner, "sms")), 1)
        tries = [r for r in self.fake.requests("sms") if r.form.get("To") == owner]
        self.assertEqual([r.status for r in tries], [500, 500, 500, 201])
        a = self.wait_log(alert["id"], lambda log: log and log[0]["state"] == "accepted")
        self.assertEqual(a["notifications"][0]["attempts"], 4)

    def test_429_retry_after_respected(self):
        owner = "+14155550811"
        user = self.new_user(owner)
        dev = self.new_device(user, notify={"escalate_after_s": 600, "calls": False})
        self.fake.rate_limit_next(1, retry_after=2, kind="sms")
        self.raise_alarm(dev)
        self.wait_to(owner, "sms", timeout=15)
        tries = [r for r in self.fake.requests("sms") if r.form.get("To") == owner]
        self.assertEqual([r.status for r in tries], [429, 201])
        self.assertGreaterEqual(tries[1].t_mono - tries[0].t_mono, 1.9)

    def test_invalid_number_moves_to_next_contact(self):
        owner, sec = "+14155550821", "+14155550822"
        self.fake.invalid_number(owner)
        user = self.new_user(owner, secondary=[sec])
        dev = self.new_device(user, notify={"escalate_after_s": 600})
        alert = self.raise_alarm(dev)
        # Not 600 s later: the owner cannot be reached at all.
        self.wait_to(sec, "sms", timeout=10)
        a = self.get_alert(alert["id"])
        failed = [x for x in a["notifications"] if x["to"] == owner]
        self.assertTrue(failed)
        for x in failed:
            self.assertEqual(x["state"], "failed")
            self.assertEqual(x["error_code"], 21211)
            self.assertEqual(x["attempts"], 1)

    def test_timeout_retried(self):
        owner = "+14155550831"
        user = self.new_user(owner)
        dev = self.new_device(user, notify={"escalate_after_s": 600, "calls": False})
        self.fake.hang_next(1, seconds=30, then="close", kind="sms")
        alert = self.raise_alarm(dev)
        self.wait_to(owner, "sms", timeout=40)
        a = self.wait_log(alert["id"], lambda log: log and log[0]["state"] == "accepted")
        self.assertGreaterEqual(a["notifications"][0]["attempts"], 2)


class NotifyRoutesTest(NotifyBase):
    server_env = {"CARBON_NOTIFY_LIMIT": "10"}

    def test_manual_alarms_are_limited_per_person(self):
        user = self.new_user("+14155550931")
        dev = self.new_device(user)
        for i in range(10):
            st, _, b = self.srv.request("POST", "/v1/alerts",
                                        {"device_id": dev, "message": "drill %d" % i})
            self.assertEqual(st, 201, b)
            st, _, b = self.srv.request("POST", "/v1/alerts/%d/ack" % b["id"])
            self.assertEqual(st, 200, b)
        st, h, b = self.srv.request("POST", "/v1/alerts", {"device_id": dev})
        self.assertEqual(st, 429, b)
        self.assertGreaterEqual(int(h["Retry-After"]), 1)

    def test_notify_test_and_seed_routes(self):
        owner = "+14155550901"
        user = self.new_user(owner)
        st, _, b = self.srv.request("POST", "/v1/notify/test", {"user_id": user})
        self.assertEqual(st, 200, b)
        n = b["notification"]
        self.assertEqual((n["state"], n["channel"], n["to"], n["stage"]),
                         ("accepted", "sms", owner, "test"))
        self.assertTrue(n["provider_sid"].startswith("SM"))
        st, _, b = self.srv.request("POST", "/v1/notify/test",
                                    {"user_id": user, "channel": "call"})
        self.assertEqual(st, 200, b)
        self.assertTrue(b["notification"]["provider_sid"].startswith("CA"))
        st, _, b = self.srv.request("POST", "/notify/send_sms",
                                    query={"user_id": user, "message": "hello & <b>"})
        self.assertEqual(st, 200, b)
        self.assertTrue(b["sid"].startswith("SM"))
        self.assertEqual(b["message"], "SMS sent successfully")
        self.assertEqual(self.fake.find(b["sid"]).form["Body"], "hello & <b>")
        st, _, b = self.srv.request("POST", "/notify/make_call", query={"user_id": user})
        self.assertEqual(st, 200, b)
        self.assertTrue(b["sid"].startswith("CA"))
        # Bad input.
        for body in ({"channel": "fax", "user_id": user}, {"user_id": 5}, [], {"x": 1}):
            st, _, b = self.srv.request("POST", "/v1/notify/test", body)
            self.assertEqual(st, 422, body)
        st, _, b = self.srv.request("POST", "/v1/notify/test", {})
        self.assertEqual(st, 422, b)  # the admin token names no user
        st, _, b = self.srv.request("POST", "/notify/send_sms", query={"user_id": user})
        self.assertEqual(st, 400, b)
        for q in ({"message": "x"}, {"user_id": "nope", "message": "x"}):
            st, _, b = self.srv.request("POST", "/notify/send_sms", query=q)
            self.assertEqual(st, 400, (q, b))
        st, _, b = self.srv.request("POST", "/v1/notify/test", {"channel": "fax"})
        self.assertEqual(st, 422, b)
        self.assertEqual(b["error"]["field"], "channel")
        self.assertIn("reason", b["error"])
        st, _, b = self.srv.request("POST", "/v1/notify/test",
                                    {"user_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"})
        self.assertEqual(st, 404, b)

    def test_test_messages_are_limited_per_person(self):
        user = self.new_user("+14155550921")
        for i in range(10):
            st, _, b = self.srv.request("POST", "/notify/send_sms",
                                        query={"user_id": user, "message": "t%d" % i})
            self.assertEqual(st, 200, b)
        st, h, b = self.srv.request("POST", "/v1/notify/test", {"user_id": user})
        self.assertEqual(st, 429, b)
        self.assertGreaterEqual(int(h["Retry-After"]), 1)
        self.assertEqual(len(self.to("+14155550921")), 10)
        # Another person is not affected.
        other = self.new_user("+14155550922")
        st, _, b = self.srv.request("POST", "/v1/notify/test", {"user_id": other})
        self.assertEqual(st, 200, b)

    def test_provider_refusal_is_reported(self):
        bad = "+14155550999"
        self.fake.invalid_number(bad)
        user = self.new_user(bad)
        st, _, b = self.srv.request("POST", "/v1/notify/test", {"user_id": user})
        self.assertEqual(st, 422, b)
        self.assertEqual(b["error"]["notification"]["error_code"], 21211)

    def test_user_without_phone(self):
        st, _, b = self.srv.request("POST", "/v1/users", {"name": "No Phone"})
        self.assertEqual(st, 201, b)
        st, _, b = self.srv.request("POST", "/v1/notify/test", {"user_id": b["id"]})
        self.assertEqual(st, 422, b)

    def test_device_notify_settings(self):
        user = self.new_user("+14155550911")
        dev = self.new_device(user)
        st, _, b = self.srv.request("GET", "/v1/devices/" + dev)
        self.assertEqual(b["notify"]["escalate_after_s"], 300)
        self.assertEqual(b["notify"]["fresh_s"], 600)
        st, _, b = self.srv.request("PATCH", "/v1/devices/" + dev,
                                    {"notify": {"escalate_after_s": 120, "calls": False}})
        self.assertEqual(st, 200, b)
        self.assertEqual((b["notify"]["escalate_after_s"], b["notify"]["calls"]), (120, False))
        for bad in ({"escalate_after_s": 0}, {"calls": "yes"}, {"nope": 1}, [],
                    {"max_reminders": 1000}):
            st, _, b = self.srv.request("PATCH", "/v1/devices/" + dev, {"notify": bad})
            self.assertEqual(st, 422, bad)


def message_text(body):
    return ET.fromstring(body).find("Message").text


def say_text(body):
    return ET.fromstring(body).find("Say").text


class WebhookUrlTest(NotifyBase):
    """The signed URL is CARBON_PUBLIC_URL + the path + the query string
    exactly as Twilio sent it (a webhook configured with one)."""

    def post(self, path, signed, params=None):
        """POSTs a form to path exactly as written, signed for PUBLIC + signed."""
        params = params or {"From": "+14155550941", "To": FROM, "Body": "hello",
                            "MessageSid": "SM" + "9" * 32}
        return self.srv.request(
            "POST", path, urllib.parse.urlencode(params), token=None,
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "X-Twilio-Signature": self.fake.sign(signed, params)})

    def test_query_string_is_signed(self):
        for path in ("/twilio/inbound?x=1", "/twilio/inbound?a=b%2Fc&d=e+f&d=%7E&e",
                     "/twilio/inbound?", "/twilio/inbound?x=%ZZ"):
            st, _, b = self.post(path, PUBLIC + path)
            self.assertEqual(st, 200, (path, b))
            self.assertIn("reply ACK", message_text(b))
        # Not the URL without it, nor the query decoded, nor another one.
        for sent, signed in (("/twilio/inbound?x=1", "/twilio/inbound"),
                             ("/twilio/inbound?a=b%2Fc", "/twilio/inbound?a=b/c"),
                             ("/twilio/inbound?d=e+f", "/twilio/inbound?d=e f"),
                             ("/twilio/inbound?x=1", "/twilio/inbound?x=2"),
                             ("/twilio/inbound", "/twilio/inbound?x=1"),
                             ("/twilio/inbound", "/twilio/inbound?"),
                             ("/twilio/inbound?", "/twilio/inbound")):
            st, _, b = self.post(sent, PUBLIC + signed)
            self.assertEqual(st, 403, (sent, signed, b))
        # The default port written out, with a query string.
        st, _, b = self.post("/twilio/inbound?x=1",
                             "https://carbon.example.com:443/twilio/inbound?x=1")
        self.assertEqual(st, 200, b)

    def test_query_string_on_status_and_voice(self):
        owner = "+14155550951"
        user = self.new_user(owner)
        dev = self.new_device(user, notify={"escalate_after_s": 600})
        alert = self.raise_alarm(dev)
        sms = self.wait_to(owner, "sms")[0]
        call = self.wait_to(owner, "call")[0]
        path = "/twilio/status?src=twilio&v=2"
        st, _, b = self.fake.send_status(self.srv.url(path), sms.sid, "delivered",
                                         sign_url=PUBLIC + path)
        self.assertEqual(st, 204, b)
        path = "/twilio/voice/%d?lang=en" % alert["id"]
        st, _, b = self.fake.send_voice_digits(self.srv.url(path), call.sid, "1",
                                               sign_url=PUBLIC + path)
        self.assertEqual(st, 200, b)
        self.assertEqual(self.get_alert(alert["id"])["state"], "active_ack")


class NoPublicUrlTest(unittest.TestCase):
    """With the auth token but without CARBON_PUBLIC_URL the server cannot
    know the URL Twilio signed: every webhook is refused, however signed."""

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeTwilio(account_sid=SID, auth_token=TOKEN).start()
        env = twilio_env(cls.fake)
        del env["CARBON_PUBLIC_URL"]
        cls.srv = Server(env=env)

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        cls.fake.stop()

    def test_webhooks_refused(self):
        host = "http://%s:%d" % (self.srv.host, self.srv.port)
        for path in ("/twilio/inbound", "/twilio/status", "/twilio/voice/1"):
            # Signed for the Host header (what the server once checked), for
            # another instance of the same account, and for a TLS proxy.
            for base in (host, "http://other.example.com", "https://%s:%d" % (self.srv.host,
                                                                              self.srv.port)):
                st, _, b = self.fake.send_webhook(
                    self.srv.url(path), {"From": "+14155550961", "Body": "ACK",
                                         "MessageSid": "SM" + "1" * 32, "MessageStatus": "sent",
                                         "CallSid": "CA" + "1" * 32, "Digits": "1"},
                    sign_url=base + path)
                self.assertEqual(st, 403, (path, base, b))
                self.assertIn("CARBON_PUBLIC_URL", b.decode())
        self.srv.wait_log(lambda r: r.get("level") == "warn"
                          and "CARBON_PUBLIC_URL is not set" in r.get("msg", ""))

    def test_startup_warning_mentions_webhooks(self):
        rec = self.srv.wait_log(lambda r: r.get("level") == "warn"
                                and "no CARBON_PUBLIC_URL" in r.get("msg", ""))
        self.assertIn("webhook", rec["msg"])


class ReplayTest(NotifyBase):
    """A captured, validly signed webhook request replayed later acknowledges
    nothing (its MessageSid, or CallSid and Digits, was handled already)."""

    def ack(self, number, sid=None):
        extra = {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid} if sid else None
        st, _, b = self.fake.send_inbound_sms(self.srv.url("/twilio/inbound"), number, FROM,
                                              "ACK", sign_url=PUBLIC + "/twilio/inbound",
                                              extra=extra)
        self.assertEqual(st, 200, b)
        return message_text(b)

    def test_replayed_sms_ack_acknowledges_nothing_new(self):
        owner = "+14155550971"
        user = self.new_user(owner)
        first = self.raise_alarm(self.new_device(user, notify={"escalate_after_s": 600,
                                                               "calls": False}))
        self.wait_to(owner, "sms")
        sid = "SM" + "ab" * 16
        text = self.ack(owner, sid)
        self.assertIn("1 CO alarm acknowledged", text)
        self.assertEqual(self.get_alert(first["id"])["state"], "active_ack")
        # Later, another alarm pages the same number ...
        later = self.raise_alarm(self.new_device(user, notify={"escalate_after_s": 600,
                                                               "calls": False}))
        self.wait_to(owner, "sms", count=2)
        # ... and the captured ACK comes again: the first answer, nothing more.
        self.assertEqual(self.ack(owner, sid), text)
        self.assertEqual(self.get_alert(later["id"])["state"], "active_unack")
        rec = self.srv.wait_log(lambda r: "already handled" in r.get("msg", "")
                                and sid in r.get("msg", ""))
        self.assertEqual(rec["level"], "info")
        # A real reply (a new MessageSid) acknowledges it.
        self.assertIn("1 CO alarm acknowledged", self.ack(owner, "SM" + "cd" * 16))
        self.assertEqual(self.get_alert(later["id"])["state"], "active_ack")
        # An ACK that found nothing, repeated, says so again.
        self.assertIn("no open CO alarm", self.ack(owner, "SM" + "ef" * 16))
        self.assertIn("no open CO alarm", self.ack(owner, "SM" + "ef" * 16))

    def test_replayed_key_press_acknowledges_once(self):
        owner = "+14155550981"
        user = self.new_user(owner)
        alert = self.raise_alarm(self.new_device(user, notify={"escalate_after_s": 600}))
        call = self.wait_to(owner, "call")[0]
        url = "/twilio/voice/%d" % alert["id"]

        def press(digits):
            st, _, b = self.fake.send_voice_digits(self.srv.url(url), call.sid, digits,
                                                   sign_url=PUBLIC + url)
            self.assertEqual(st, 200, b)
            return say_text(b)

        self.assertIn("not acknowledged", press("2"))
        said = press("1")
        self.assertIn("acknowledged", said)
        self.assertNotIn("not acknowledged", said)
        self.assertEqual(press("1"), said)  # the same answer, no second acknowledgement
        self.srv.wait_log(lambda r: r.get("level") == "info" and call.sid in r.get("msg", "")
                          and "already handled" in r.get("msg", ""))
        acks = [r for r in self.srv.log_records()
                if "alert %d acknowledged by pressing 1" % alert["id"] in r.get("msg", "")]
        self.assertEqual(len(acks), 1)
        self.assertEqual(self.get_alert(alert["id"])["acknowledged_by"], "call:" + owner)


class StatusOrderTest(NotifyBase):
    """Status callbacks arrive in any order: provider_status only moves
    forward."""

    def test_late_status_does_not_undo_a_final_one(self):
        owner = "+14155550991"
        user = self.new_user(owner)
        dev = self.new_device(user, notify={"escalate_after_s": 600})
        alert = self.raise_alarm(dev)
        sms = self.wait_to(owner, "sms")[0]
        call = self.wait_to(owner, "call")[0]
        status_url = self.srv.url("/twilio/status")
        for sid, status, code in ((sms.sid, "undelivered", 30003), (sms.sid, "sent", None),
                                  (sms.sid, "sending", None), (call.sid, "completed", None),
                                  (call.sid, "ringing", None), (call.sid, "in-progress", None)):
            st, _, b = self.fake.send_status(status_url, sid, status, error_code=code,
                                             sign_url=PUBLIC + "/twilio/status")
            self.assertEqual(st, 204, (sid, status, b))
        log = {x.get("provider_sid"): x for x in self.get_alert(alert["id"])["notifications"]}
        self.assertEqual(log[sms.sid]["provider_status"], "undelivered")
        self.assertEqual(log[sms.sid]["error_code"], 30003)
        self.assertEqual(log[call.sid]["provider_status"], "completed")


class WebhookLogTest(NotifyBase):
    """What the webhooks log: no phone numbers in full, and no flood."""

    def test_sms_ack_logs_a_masked_number(self):
        owner = "+14155550931"
        user = self.new_user(owner)
        self.raise_alarm(self.new_device(user, notify={"escalate_after_s": 600,
                                                       "calls": False}))
        self.wait_to(owner, "sms")
        st, _, b = self.fake.send_inbound_sms(self.srv.url("/twilio/inbound"), owner, FROM,
                                              "ACK", sign_url=PUBLIC + "/twilio/inbound")
        self.assertEqual(st, 200, b)
        rec = self.srv.wait_log(lambda r: r.get("msg", "").startswith("SMS ACK from"))
        self.assertIn("+1********31", rec["msg"])
        for line in self.srv.stderr_lines():
            self.assertNotIn(owner, line)
            self.assertNotIn(owner[2:], line)

    def test_bad_signature_warnings_are_throttled(self):
        def warnings():
            return [r for r in self.srv.log_records()
                    if r.get("msg") == "webhook /twilio/status: bad or missing X-Twilio-Signature"]
        before = len(warnings())
        t0 = time.monotonic()
        for _ in range(25):
            st, _, _ = self.fake.send_status(self.srv.url("/twilio/status"), "SM" + "0" * 32,
                                             "sent", sign_url=PUBLIC + "/twilio/status",
                                             bad_signature=True)
            self.assertEqual(st, 403)
        elapsed = time.monotonic() - t0
        time.sleep(1.1)
        st, _, _ = self.fake.send_status(self.srv.url("/twilio/status"), "SM" + "0" * 32, "sent",
                                         sign_url=PUBLIC + "/twilio/status", signature="")
        self.assertEqual(st, 403)
        self.srv.wait_log(lambda r: r.get("msg", "").startswith("webhook /twilio/status")
                          and r.get("suppressed"))
        got = warnings()[before:]
        self.assertLessEqual(len(got), 2 + int(elapsed), got)
        # Each logged line counts those left out before it: none is lost.
        self.assertEqual(sum(1 + r.get("suppressed", 0) for r in got), 26, got)


class RestartTest(unittest.TestCase):
    def test_kill_9_with_pending_notifications_resumes(self):
        owner = "+14155551001"
        with FakeTwilio(account_sid=SID, auth_token=TOKEN) as fake:
            srv = Server(env=twilio_env(fake))
            try:
                st, _, b = srv.request("POST", "/v1/users", {"name": "R", "phone": owner})
                user = b["id"]
                dev = uid("rk")
                srv.create_device(dev, owner=user, notify={"escalate_after_s": 600,
                                                           "calls": False})
                # The provider is down: the SMS stays pending, retried.
                fake.fail_next(1000, status=503, kind="sms")
                srv.post_readings({"device_id": dev, "co_ppm": 150})
                fake.wait_for(lambda r: r.kind == "sms" and r.status == 503, timeout=10)
                srv.kill()
                fake.reset_behaviour()
                srv.start()
                fake.wait_for(lambda r: r.kind == "sms" and r.status == 201, timeout=20)
                time.sleep(1)
                self.assertEqual(len([r for r in fake.accepted("sms")
                                      if r.form["To"] == owner]), 1)
                # Restarted again once accepted: not sent twice.
                srv.kill()
                srv.start()
                time.sleep(2)
                self.assertEqual(len([r for r in fake.accepted("sms")
                                      if r.form["To"] == owner]), 1)
            finally:
                srv.cleanup()

    def test_crash_during_the_provider_call_is_recorded(self):
        owner = "+14155551011"
        with FakeTwilio(account_sid=SID, auth_token=TOKEN) as fake:
            srv = Server(env=twilio_env(fake))
            try:
                st, _, b = srv.request("POST", "/v1/users", {"name": "R", "phone": owner})
                dev = uid("rk")
                srv.create_device(dev, owner=b["id"], notify={"escalate_after_s": 600,
                                                              "calls": False})
                fake.hang_next(1, seconds=60, then="answer", kind="sms")
                srv.post_readings({"device_id": dev, "co_ppm": 150})
                fake.wait_for(lambda r: r.kind == "sms" and r.behaviour == "hang", timeout=10)
                srv.kill()  # the request is with the provider
                fake.reset_behaviour()
                srv.start()
                fake.wait_for(lambda r: r.kind == "sms" and r.status == 201
                              and r.behaviour == "normal", timeout=20)
                st, _, b = srv.request("GET", "/v1/alerts", query={"device_id": dev})
                a = b["alerts"][0]
                deadline = time.time() + 10
                while time.time() < deadline:
                    st, _, a = srv.request("GET", "/v1/alerts/%d" % a["id"])
                    if a["notifications"][0]["state"] == "accepted":
                        break
                    time.sleep(0.1)
                n = a["notifications"][0]
                self.assertEqual(n["state"], "accepted")
                self.assertTrue(n["maybe_duplicate"])
            finally:
                srv.cleanup()


class BadSettingsTest(unittest.TestCase):
    def test_bad_twilio_settings_stop_the_start(self):
        # Every case has the auth token: none of them may print it.
        cases = [
            ({"CARBON_TWILIO_ACCOUNT_SID": SID}, "must be set together"),
            ({"CARBON_TWILIO_FROM": FROM}, "must be set together"),
            ({"CARBON_TWILIO_ACCOUNT_SID": SID, "CARBON_TWILIO_FROM": FROM,
              "CARBON_TWILIO_API_BASE": "ftp://x"}, "Twilio settings"),
            ({"CARBON_PUBLIC_URL": "carbon.example.com"}, "CARBON_PUBLIC_URL"),
            ({"CARBON_PUBLIC_URL": "https://carbon.example.com/"}, "CARBON_PUBLIC_URL"),
            ({"CARBON_NOTIFY_MIN_DELAY_S": "0"}, "CARBON_NOTIFY_MIN_DELAY_S must be 1 to 3600"),
            ({"CARBON_NOTIFY_MIN_DELAY_S": "3601"}, "CARBON_NOTIFY_MIN_DELAY_S must be 1 to 3600"),
            ({"CARBON_NOTIFY_MIN_DELAY_S": "1m"}, "CARBON_NOTIFY_MIN_DELAY_S must be 1 to 3600"),
            ({"CARBON_NOTIFY_LIMIT": "-1"}, "CARBON_NOTIFY_LIMIT must be 0 to 10000"),
            ({"CARBON_NOTIFY_LIMIT": "ten"}, "CARBON_NOTIFY_LIMIT must be 0 to 10000"),
        ]
        for env, words in cases:
            env = dict(env, CARBON_TWILIO_AUTH_TOKEN=TOKEN)
            s = Server(env=env, start=False)
            try:
                with self.assertRaises(ServerError, msg=env) as cm:
                    s.start()
                self.assertIn(words, str(cm.exception))
                self.assertNotIn(TOKEN, s.stderr_text())
            finally:
                s.cleanup()


class NoProviderTest(unittest.TestCase):
    def test_no_account_keeps_pending_and_webhooks_refuse(self):
        srv = Server()
        try:
            st, _, b = srv.request("POST", "/v1/users", {"name": "N", "phone": "+14155551101"})
            st, _, b = srv.request("POST", "/v1/notify/test", {"user_id": b["id"]})
            self.assertEqual(st, 202, b)
            self.assertEqual(b["notification"]["state"], "pending")
            self.assertIn("no Twilio account", b["notification"]["last_error"])
            st, _, b = srv.request("POST", "/twilio/inbound", "From=%2B1&Body=ACK", token=None,
                                   headers={"Content-Type":
                                            "application/x-www-form-urlencoded"})
            self.assertEqual(st, 403, b)
        finally:
            srv.cleanup()


class FloodTest(NotifyBase):
    """What keeps people from being paged too often (review findings)."""

    def test_one_event_one_escalation(self):
        # 400 ppm raises co_high, co_rising and (soon) co_exposure: one
        # escalation for the device, not one per kind.
        owner, sec = "+14155551201", "+14155551202"
        user = self.new_user(owner, secondary=[sec])
        dev = self.new_device(user, notify={"escalate_after_s": 2})
        now = time.time()
        st, _, b = self.srv.post_readings([{"device_id": dev, "co_ppm": 0, "ts": now - 200},
                                           {"device_id": dev, "co_ppm": 400, "ts": now}])
        self.assertEqual(st, 201, b)
        self.wait_to(owner, "call")
        time.sleep(1)
        st, _, b = self.srv.request("GET", "/v1/alerts", query={"device_id": dev})
        kinds = {a["kind"] for a in b["alerts"] if a["active"]}
        self.assertIn("co_high", kinds)
        self.assertGreaterEqual(len(kinds), 2, kinds)
        self.assertEqual(len(self.to(owner, "sms")), 1)
        self.assertEqual(len(self.to(owner, "call")), 1)
        # Pressing 1 on that call: nobody else is paged for any of them.
        call = self.to(owner, "call")[0]
        aid = int(call.form["Twiml"].split("/twilio/voice/")[1].split('"')[0])
        url = "/twilio/voice/%d" % aid
        st, _, _ = self.fake.send_voice_digits(self.srv.url(url), call.sid, "1",
                                               sign_url=PUBLIC + url)
        self.assertEqual(st, 200)
        time.sleep(3)
        self.assertEqual(self.to(sec), [])

    def test_reminders_do_not_pile_up_during_an_outage(self):
        owner = "+14155551211"
        user = self.new_user(owner)
        dev = self.new_device(user, notify={"escalate_after_s": 600, "renotify_s": 1,
                                            "max_reminders": 5, "calls": False})
        self.fake.fail_next(1000, status=503, kind="sms")
        self.raise_alarm(dev)
        time.sleep(4)  # four reminder intervals with nothing going out
        self.fake.reset_behaviour()
        self.wait_to(owner, "sms", timeout=15)
        time.sleep(0.5)
        # Not the owner SMS plus four stored-up reminders at once.
        self.assertLessEqual(len(self.to(owner, "sms")), 2)

    def test_flapping_sends_no_all_clear_between_alarms(self):
        owner = "+14155551221"
        user = self.new_user(owner)
        dev = self.new_device(user, notify={"all_clear_after_s": 4, "calls": False},
                              thresholds={"clear_hold_s": 0})
        now = time.time()
        for k in range(6):  # 60, 5, 60, 5 ...: raised and cleared three times
            st, _, b = self.srv.post_readings({"device_id": dev, "co_ppm": 60 if k % 2 == 0 else 5,
                                               "ts": now - 6 + k})
            self.assertEqual(st, 201, b)
            time.sleep(0.3)
        self.wait_to(owner, "sms", timeout=10)
        time.sleep(2)
        clear = [r for r in self.to(owner, "sms") if "ACK" not in r.form["Body"]]
        self.assertEqual(clear, [])  # the all-clear waits for quiet ...
        time.sleep(4)
        clear = [r for r in self.to(owner, "sms") if "ACK" not in r.form["Body"]]
        self.assertEqual(len(clear), 1)  # ... then says it once

    def test_messages_per_number_are_capped(self):
        owner = "+14155551231"
        user = self.new_user(owner)
        for i in range(20):
            st, _, b = self.srv.request("POST", "/notify/send_sms",
                                        query={"user_id": user, "message": "n%d" % i})
            self.assertEqual(st, 200, b)
        t0 = time.time()
        st, _, b = self.srv.request("POST", "/v1/notify/test", {"user_id": user})
        self.assertLess(time.time() - t0, 5)  # answered at once, not after the 10 s wait
        self.assertEqual(st, 202, b)  # held, not refused: it goes out later
        n = b["notification"]
        self.assertEqual(n["state"], "pending")  # still to be sent, never lost
        self.assertIn("held", n["last_error"])
        self.assertEqual(n["attempts"], 0)
        self.assertIn("next_attempt_at", n)
        self.assertEqual(len(self.to(owner, "sms")), 20)

    def test_policy_floor(self):
        user = self.new_user("+14155551241")
        dev = self.new_device(user)
        srv = Server()  # the default floor: 60 s
        try:
            srv.create_device(dev)
            st, _, b = srv.request("PATCH", "/v1/devices/" + dev,
                                   {"notify": {"escalate_after_s": 59}})
            self.assertEqual(st, 422, b)
            st, _, b = srv.request("PATCH", "/v1/devices/" + dev,
                                   {"notify": {"escalate_after_s": 60, "renotify_s": 60}})
            self.assertEqual(st, 200, b)
        finally:
            srv.cleanup()


if __name__ == "__main__":
    main()
