"""Users, login, ownership, the seed's user routes and the user/device CLI
(SPEC 2, 4, 8; issue 3): users with ULIDs and E.164 phones, bad input that
stores nothing, sessions, who may see and change what, brute-force limits on
login, passwords never shown or logged, /user/new and /user/contacts, and
`carbon user|device` against a running server.

Login is always rate limited (10 per client address a minute, 5 per account
then 1 every 3 minutes, not configurable), so the tests log in from distinct
loopback source addresses (127.x.y.z all reach a server on 127.0.0.1) and each
brute-force test starts its own server so its counters are fresh. Argon2id
costs tens of ms per login or password set: the tests log in only where the
login is what they test."""

import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ADMIN_TOKEN, BIN, HttpTestCase, Server, ServerTestCase,  # noqa: E402
                     clean_env, main, parse_iso_ms, uid)

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_RE = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
USER_FIELDS = {"id", "name", "email", "phone", "secondary_contacts", "emergency_contacts",
               "devices", "admin", "can_log_in", "created_at"}
PASSWORD = "correct horse battery staple 42"

_n = itertools.count(1)
_src = itertools.count(1)


def seq():
    return next(_n)


def email(prefix="user"):
    return "%s-%d-%d@example.com" % (prefix, os.getpid() % 100000, seq())


def phone_digits():
    """A fresh UK mobile as (E.164, national): +447700 9xxxxx / 07700 9xxxxx."""
    n = (os.getpid() * 7 + seq()) % 100000
    return "+4477009%05d" % n, "07700 9%05d" % n


def ulid_ms(u):
    """The 48-bit millisecond time of a ULID."""
    ms = 0
    for ch in u[:10]:
        ms = ms * 32 + CROCKFORD.index(ch.upper())
    return ms


def source_addr():
    """A loopback source address not used before by this process (own
    per-address login bucket on the server)."""
    n = next(_src)
    return "127.%d.%d.%d" % (1 + n // 62500, (n // 250) % 250, 1 + n % 250)


def login(srv, who, password, addr=None, **extra):
    """POST /v1/auth/login {"login": who, "password": ...} from addr (a fresh
    source address by default). Returns (status, headers, body)."""
    body = {"login": who, "password": password}
    body.update(extra)
    return srv.request_from(addr or source_addr(), "POST", "/v1/auth/login", body, token=None)


def run_cli(args, stdin=None, token=ADMIN_TOKEN, timeout=30):
    env = clean_env({"CARBON_ADMIN_TOKEN": token} if token else None)
    return subprocess.run([BIN] + list(args), input=stdin, capture_output=True, text=True,
                          env=env, timeout=timeout)


class UserHelpers:
    """Mixin for tests with self.srv."""

    def mk_user(self, **fields):
        fields.setdefault("name", "User %d" % seq())
        st, h, b = self.srv.request("POST", "/v1/users", fields)
        self.assertEqual(st, 201, b)
        return b

    def mk_login_user(self, password=PASSWORD, **fields):
        """A user with an email and a password, and a session token."""
        fields.setdefault("email", email())
        u = self.mk_user(password=password, **fields)
        st, _, b = login(self.srv, u["email"], password)
        self.assertEqual(st, 200, b)
        return u, b["token"]

    def get_user(self, uid_, token=None):
        st, _, b = self.srv.request("GET", "/v1/users/" + uid_,
                                    **({"token": token} if token else {}))
        self.assertEqual(st, 200, b)
        return b

    def list_users(self):
        st, _, b = self.srv.request("GET", "/v1/users")
        self.assertEqual(st, 200, b)
        return b["users"]

    def assertUlidNow(self, u, slack_ms=10000):
        self.assertRegex(u, ULID_RE)
        self.assertLess(abs(ulid_ms(u) - time.time() * 1000), slack_ms, u)


class UsersTest(UserHelpers, ServerTestCase):

    # ---- CRUD as admin ----

    def test_create_fields_location_ulid(self):
        em = email("Mixed.Case")
        e164, national = phone_digits()
        body = {"name": "Ada L\u00f6velace", "email": em.upper(), "phone": national,
                "country": "gb", "password": PASSWORD,
                "secondary_contacts": ["+1 (202) 555-0143", "0044 7700 900999"],
                "emergency_contacts": {"neighbour": "+49 30 1234567"}}
        before = time.time() * 1000
        st, h, u = self.srv.request("POST", "/v1/users", body)
        after = time.time() * 1000
        self.assertEqual(st, 201, u)
        self.assertEqual(set(u), USER_FIELDS, u)
        self.assertUlidNow(u["id"])
        self.assertTrue(before - 5 <= ulid_ms(u["id"]) <= after + 5, (before, u["id"], after))
        self.assertLessEqual(abs(parse_iso_ms(u["created_at"]) - ulid_ms(u["id"])), 1000, u)
        self.assertTrue(h.get("Location", "").endswith("/v1/users/" + u["id"]), h.get("Location"))
        self.assertEqual(u["name"], "Ada L\u00f6velace")
        self.assertEqual(u["email"], em.lower())
        self.assertEqual(u["phone"], e164)
        self.assertEqual(u["secondary_contacts"], ["+12025550143", "+447700900999"])
        self.assertEqual(u["emergency_contacts"], {"neighbour": "+49301234567"})
        self.assertEqual(u["devices"], [])
        self.assertIs(u["admin"], False)
        self.assertIs(u["can_log_in"], True)
        text = json.dumps(u)
        self.assertNotIn("password", text)
        self.assertNotIn(PASSWORD, text)
        self.assertNotIn("$argon2", text)
        # GET and the list show the same user
        self.assertEqual(self.get_user(u["id"]), u)
        self.assertIn(u, self.list_users())
        # contacts
        st, _, c = self.srv.request("GET", "/v1/users/%s/contacts" % u["id"])
        self.assertEqual(st, 200, c)
        self.assertEqual(c, {"user_id": u["id"], "personal_contact": e164,
                             "secondary_contacts": u["secondary_contacts"],
                             "emergency_contacts": u["emergency_contacts"]})

    def test_create_without_password_cannot_log_in(self):
        u = self.mk_user(name="No Login")
        self.assertIs(u["can_log_in"], False)
        self.assertIsNone(u["email"])
        self.assertIsNone(u["phone"])

    def test_lower_case_id_in_path(self):
        u = self.mk_user()
        self.assertEqual(self.get_user(u["id"].lower())["id"], u["id"])

    def test_list_sorted_by_creation(self):
        ids = [self.mk_user()["id"] for _ in range(5)]
        self.assertEqual(ids, sorted(ids))
        listed = [x["id"] for x in self.list_users()]
        self.assertEqual(listed, sorted(listed))
        self.assertEqual([i for i in listed if i in ids], ids)

    def test_hundred_fresh_ulids(self):
        conn = self.srv.connect()
        ids = []
        try:
            for i in range(100):
                st, _, b = self.srv.request("POST", "/v1/users", {"name": "bulk %d" % i},
                                            conn=conn)
                self.assertEqual(st, 201, b)
                ids.append(b["id"])
        finally:
            conn.close()
        self.assertEqual(len(set(ids)), 100)
        for i in ids:
            self.assertUlidNow(i)
        self.assertEqual(ids, sorted(ids), "ULIDs must sort by creation")
        self.assertEqual([ulid_ms(i) for i in ids], sorted(ulid_ms(i) for i in ids))

    def test_patch_changes_only_named_fields(self):
        e164, _ = phone_digits()
        u = self.mk_user(name="Before", email=email(), phone=e164,
                         secondary_contacts=["+12025550144"],
                         emergency_contacts={"gran": "+447700900888"})
        st, _, p = self.srv.request("PATCH", "/v1/users/" + u["id"], {"name": "After"})
        self.assertEqual(st, 200, p)
        self.assertEqual(p, dict(u, name="After"))
        self.assertEqual(self.get_user(u["id"]), p)
        # a national phone with its country
        new164, national = phone_digits()
        st, _, p = self.srv.request("PATCH", "/v1/users/" + u["id"],
                                    {"phone": national, "country": "GB"})
        self.assertEqual(st, 200, p)
        self.assertEqual(p, dict(u, name="After", phone=new164))
        # email null clears it; contacts replaced as a whole
        st, _, p = self.srv.request("PATCH", "/v1/users/" + u["id"],
                                    {"email": None, "secondary_contacts": []})
        self.assertEqual(st, 200, p)
        self.assertEqual(p, dict(u, name="After", phone=new164, email=None,
                                 secondary_contacts=[]))
        self.assertEqual(self.get_user(u["id"]), p)
        st, _, p = self.srv.request("PATCH", "/v1/users/" + u["id"], {"phone": None})
        self.assertEqual(st, 200, p)
        self.assertIsNone(p["phone"])
        # the freed email and phone can be taken by someone else
        self.mk_user(email=u["email"], phone=new164)

    def test_delete(self):
        u, token = self.mk_login_user()
        dev = uid("owned")
        self.srv.create_device(dev, owner=u["id"])
        self.assertEqual(self.get_user(u["id"])["devices"], [dev])
        self.assertStatus(self.srv.request("GET", "/v1/me", token=token), 200)
        st, _, b = self.srv.request("DELETE", "/v1/users/" + u["id"])
        self.assertEqual(st, 204, b)
        self.assertEqual(b, b"")
        self.assertError(self.srv.request("GET", "/v1/users/" + u["id"]), 404)
        self.assertError(self.srv.request("DELETE", "/v1/users/" + u["id"]), 404)
        self.assertError(self.srv.request("GET", "/v1/users/%s/contacts" % u["id"]), 404)
        self.assertNotIn(u["id"], [x["id"] for x in self.list_users()])
        # their device stays, without an owner; their session is gone
        st, _, d = self.srv.request("GET", "/v1/devices/" + dev)
        self.assertEqual(st, 200, d)
        self.assertIsNone(d["owner"])
        self.assertError(self.srv.request("GET", "/v1/me", token=token), 401)
        self.assertError(self.srv.request("GET", "/v1/devices", token=token), 401)

    def test_concurrent_creates_same_email_one_wins(self):
        em = email("race")
        results = []
        go = threading.Barrier(8)

        def create(i):
            go.wait()
            results.append(self.srv.request("POST", "/v1/users",
                                            {"name": "r%d" % i, "email": em.upper()
                                             if i % 2 else em}))
        threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(sorted(r[0] for r in results), [201] + [409] * 7,
                         [(r[0], r[2]) for r in results])
        self.assertEqual(sum(1 for x in self.list_users() if x["email"] == em), 1)

    # ---- bad input ----

    BAD_ULIDS = ["abc", "01ARZ3NDEKTSV4RRFFQ69G5FAI", "01ARZ3NDEKTSV4RRFFQ69G5FAL",
                 "01ARZ3NDEKTSV4RRFFQ69G5FAO", "01ARZ3NDEKTSV4RRFFQ69G5FAU",
                 "01ARZ3NDEKTSV4RRFFQ69G5FAVV", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
                 "01ARZ3NDEKTSV4RRFFQ69G5FA-", "%2e%2e"]

    def test_invalid_ulids_in_paths_400(self):
        before = self.list_users()
        for bad in self.BAD_ULIDS:
            for method, path, body in (("GET", "/v1/users/%s", None),
                                       ("PATCH", "/v1/users/%s", {"name": "x"}),
                                       ("DELETE", "/v1/users/%s", None),
                                       ("GET", "/v1/users/%s/contacts", None)):
                with self.subTest(method=method, id=bad):
                    err = self.assertError(self.srv.request(method, path % bad, body), 400)
                    self.assertIn("ULID", err["message"])
        self.assertError(self.srv.request("GET", "/user/contacts", query={"user_id": "abc"}), 400)
        # a valid ULID of nobody: 404
        self.assertError(self.srv.request("GET", "/v1/users/7ZZZZZZZZZZZZZZZZZZZZZZZZZ"), 404)
        self.assertError(self.srv.request("GET", "/v1/users/00000000000000000000000000"), 404)
        self.assertEqual(self.list_users(), before)

    def assertRefused(self, body, status, field, method="POST", path="/v1/users"):
        err = self.assertError(self.srv.request(method, path, body), status,
                               "%s %s" % (method, body))
        if field is not None:
            self.assertEqual(err.get("field"), field, err)
        self.assertNotIn(PASSWORD, json.dumps(err))
        return err

    def test_create_bad_input_stores_nothing(self):
        taken_email = email("Taken")
        taken164, _ = phone_digits()
        self.mk_user(email=taken_email, phone=taken164)
        before = self.list_users()
        fresh = email()
        bad_phones = ["+44 77OO 900123", "call me", "+0123456789", "+999123456789",
                      "+4477", "+44770090012345678", "112", "911", "999", "+44 999",
                      "+", "", "++447700900123", "44-7700-900123x"]
        cases = [
            # (body, status, field)
            ({"name": "P", "phone": "07700 900123"}, 422, "phone"),           # needs country
            ({"name": "P", "phone": "07700 900123", "country": "ZZ"}, 422, "country"),
            ({"name": "P", "phone": "+447700900123", "country": "GBR"}, 422, "country"),
            ({"name": "P", "phone": "+447700900123", "country": 44}, 422, "country"),
            ({"name": "Dup", "email": taken_email}, 409, "email"),
            ({"name": "Dup", "email": taken_email.upper()}, 409, "email"),
            ({"name": "Dup", "phone": taken164}, 409, "phone"),
            ({"name": "Dup", "phone": taken164[3:], "country": "GB"}, 409, "phone"),
            ({"name": "n" * 129}, 422, "name"),
            ({"name": "\u00e9" * 65}, 422, "name"),                            # 130 bytes
            ({"name": ""}, 422, "name"),
            ({}, 422, "name"),
            ({"name": None}, 422, "name"),
            ({"name": 5}, 422, "name"),
            ({"name": "x", "bogus": 1}, 422, "bogus"),
            ({"name": "x", "id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, 422, "id"),
            ({"name": "x", "password_hash": "x"}, 422, "password_hash"),
            ({"name": "x", "email": "not-an-email"}, 422, "email"),
            ({"name": "x", "email": "a@b"}, 422, "email"),
            ({"name": "x", "email": "a" * 250 + "@x.com"}, 422, "email"),
            ({"name": "x", "email": "a b@example.com"}, 422, "email"),
            ({"name": "a\u0000b"}, 422, "name"),
            ({"name": "x", "email": fresh, "password": "short1"}, 422, "password"),
            ({"name": "x", "email": fresh, "password": "password123"}, 422, "password"),
            ({"name": "x", "email": fresh, "password": "PassWord123"}, 422, "password"),
            ({"name": "x", "email": fresh, "password": "a" * 20}, 422, "password"),
            ({"name": "x", "email": fresh, "password": fresh}, 422, "password"),
            ({"name": "x", "email": fresh, "password": fresh.upper()}, 422, "password"),
            ({"name": "x", "email": fresh, "password": ""}, 422, "password"),
            ({"name": "x", "email": fresh, "password": "x" * 257}, 422, "password"),
            ({"name": "x", "email": fresh, "password": 1234567890123}, 422, "password"),
            ({"name": "x", "secondary_contacts": "+447700900123"}, 422, "secondary_contacts"),
            ({"name": "x", "secondary_contacts": {"a": "+447700900123"}}, 422,
             "secondary_contacts"),
            ({"name": "x", "secondary_contacts": ["+4477009001%02d" % i for i in range(11)]},
             422, "secondary_contacts"),
            ({"name": "x", "secondary_contacts": ["+447700900123", "nope"]}, 422,
             "secondary_contacts[1]"),
            ({"name": "x", "secondary_contacts": ["112"]}, 422, "secondary_contacts[0]"),
            ({"name": "x", "secondary_contacts": [447700900123]}, 422, "secondary_contacts[0]"),
            ({"name": "x", "emergency_contacts": ["+447700900123"]}, 422, "emergency_contacts"),
            ({"name": "x", "emergency_contacts": "+447700900123"}, 422, "emergency_contacts"),
            ({"name": "x", "emergency_contacts": {"gran": "12"}}, 422, "emergency_contacts.gran"),
            ({"name": "x", "emergency_contacts": {"gran": 5}}, 422, "emergency_contacts.gran"),
            ({"name": "x", "emergency_contacts": {"": "+447700900123"}}, 422,
             "emergency_contacts"),
            ({"name": "x", "admin": "yes"}, 422, "admin"),
            ([{"name": "x"}], 422, None),
        ] + [({"name": "x", "phone": p}, 422, "phone") for p in bad_phones]
        for body, status, field in cases:
            with self.subTest(body=body):
                self.assertRefused(body, status, field)
        # transport-level refusals
        self.assertError(self.srv.request("POST", "/v1/users", '{"name":"x"}',
                                          headers={"Content-Type": "text/plain"}), 415)
        self.assertError(self.srv.request("POST", "/v1/users", '{"name":"x"}',
                                          headers={"Content-Type": None}), 415)
        self.assertError(self.srv.request("POST", "/v1/users", '{"name":"x"',
                                          headers={"Content-Type": "application/json"}), 400)
        self.assertError(self.srv.request("POST", "/v1/users", "",
                                          headers={"Content-Type": "application/json"}), 400)
        resp = self.srv.request("POST", "/v1/users", '"just a string"',
                                headers={"Content-Type": "application/json"})
        self.assertIn(resp[0], (400, 422), resp)    # a top-level scalar: 400 observed
        self.assertError(resp, resp[0])
        self.assertError(self.srv.request("POST", "/v1/users", '{"name":"x","name":"y"}',
                                          headers={"Content-Type": "application/json"}), 400)
        self.assertError(self.srv.request("PUT", "/v1/users", {"name": "x"}), 405)
        self.assertEqual(self.list_users(), before, "a refused create stored something")

    def test_patch_bad_input_changes_nothing(self):
        other = self.mk_user(email=email("Other"), phone=phone_digits()[0])
        u = self.mk_user(email=email(), phone=phone_digits()[0], password=PASSWORD,
                         secondary_contacts=["+12025550145"])
        path = "/v1/users/" + u["id"]
        cases = [
            ({"name": "ok", "phone": "+999123456789"}, 422, "phone"),   # nothing partial
            ({"name": "ok", "email": other["email"].upper()}, 409, "email"),
            ({"name": "ok", "phone": other["phone"]}, 409, "phone"),
            ({"phone": "07700 900123"}, 422, "phone"),
            ({"phone": "07700 900123", "country": "ZZ"}, 422, "country"),
            ({"name": ""}, 422, "name"),
            ({"name": "n" * 129}, 422, "name"),
            ({"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, 422, "id"),
            ({"created_at": "2020-01-01T00:00:00Z"}, 422, "created_at"),
            ({"devices": []}, 422, "devices"),
            ({"password": "password123"}, 422, "password"),
            ({"password": u["email"]}, 422, "password"),
            ({"password": ""}, 422, "password"),
            ({"secondary_contacts": ["+447700900123", "911"]}, 422, "secondary_contacts[1]"),
            ({"emergency_contacts": {"x": "abc"}}, 422, "emergency_contacts.x"),
        ]
        for body, status, field in cases:
            with self.subTest(body=body):
                self.assertRefused(body, status, field, "PATCH", path)
        self.assertError(self.srv.request("PATCH", path, '{"name":"x"}',
                                          headers={"Content-Type": "text/plain"}), 415)
        self.assertError(self.srv.request("PATCH", path, "{",
                                          headers={"Content-Type": "application/json"}), 400)
        self.assertEqual(self.get_user(u["id"]), u)
        self.assertEqual(self.get_user(other["id"]), other)

    # ---- login, sessions, self-service ----

    def test_login_by_email_and_phone(self):
        e164, national = phone_digits()
        em = email("Login")
        u = self.mk_user(email=em, phone=e164, password=PASSWORD)
        for who in (em, em.upper(), e164, "+44 " + national[1:], "0044" + e164[3:]):
            with self.subTest(login=who):
                st, _, b = login(self.srv, who, PASSWORD)
                self.assertEqual(st, 200, b)
                self.assertEqual(set(b), {"token", "expires_at", "user"}, b)
                self.assertTrue(b["token"].startswith("cbs_"), b)
                self.assertGreaterEqual(len(b["token"]), 40)
                self.assertEqual(b["user"], u)
                exp = parse_iso_ms(b["expires_at"])
                self.assertGreater(exp, time.time() * 1000 + 3600 * 1000)
                text = json.dumps(b)
                self.assertNotIn(PASSWORD, text)
                self.assertNotIn("$argon2", text)
        # the older keys are accepted too
        self.assertStatus(self.srv.request_from(source_addr(), "POST", "/v1/auth/login",
                                       {"email": em, "password": PASSWORD}, token=None), 200)

    def test_login_by_national_phone_with_country(self):
        # A national number needs its country (as on create): sent as "country".
        # (Before the fix in progress at the time of writing, /v1/auth/login
        # refused the key "country" with 422, so a national number could never
        # log in.)
        e164, national = phone_digits()
        self.mk_user(phone=e164, password=PASSWORD)
        st, _, b = login(self.srv, national, PASSWORD, country="GB")
        self.assertEqual(st, 200, b)

    def test_login_failures_look_the_same(self):
        em = email()
        self.mk_user(email=em, password=PASSWORD)
        wrong = self.assertError(login(self.srv, em, PASSWORD + "x"), 401)
        nobody = self.assertError(login(self.srv, email("nobody"), PASSWORD), 401)
        self.assertEqual(wrong, nobody)
        self.assertEqual(wrong["code"], "unauthorized")
        no_pw_user = self.mk_user(email=email())
        self.assertEqual(self.assertError(login(self.srv, no_pw_user["email"], PASSWORD), 401),
                         wrong)
        # malformed logins are 4xx, not 500
        for body in ({"login": em}, {"password": PASSWORD}, {"login": em, "password": ""},
                     {"login": em, "password": 5}, {"login": em, "password": PASSWORD, "x": 1},
                     [em, PASSWORD]):
            with self.subTest(body=body):
                st, _, b = self.srv.request_from(source_addr(), "POST", "/v1/auth/login",
                                        body, token=None)
                self.assertIn(st, (400, 422), b)
        st, _, b = self.srv.request_from(source_addr(), "POST", "/v1/auth/login",
                                json.dumps({"login": em, "password": PASSWORD}), token=None,
                                headers={"Content-Type": "text/plain"})
        self.assertEqual(st, 415, b)

    def test_session_me_logout(self):
        u, token = self.mk_login_user()
        st, _, me = self.srv.request("GET", "/v1/me", token=token)
        self.assertEqual(st, 200, me)
        self.assertEqual(me, u)
        st, _, b = self.srv.request("POST", "/v1/auth/logout", token=token)
        self.assertEqual(st, 204, b)
        self.assertError(self.srv.request("GET", "/v1/me", token=token), 401)
        self.assertError(self.srv.request("POST", "/v1/auth/logout", token=token), 401)
        self.assertError(self.srv.request("GET", "/v1/me", token=None), 401)
        self.assertError(self.srv.request("GET", "/v1/me", token="cbs_" + "A" * 43), 401)

    def test_user_sees_only_themselves(self):
        other = self.mk_user()
        u, token = self.mk_login_user()
        self.assertError(self.srv.request("GET", "/v1/users", token=token), 403)
        self.assertError(self.srv.request("POST", "/v1/users", {"name": "x"}, token=token), 403)
        for method, path, body in (("GET", "/v1/users/%s", None),
                                   ("PATCH", "/v1/users/%s", {"name": "pwned"}),
                                   ("DELETE", "/v1/users/%s", None),
                                   ("GET", "/v1/users/%s/contacts", None)):
            with self.subTest(method=method, path=path):
                self.assertError(self.srv.request(method, path % other["id"], body, token=token),
                                 404)
        self.assertEqual(self.get_user(other["id"]), other)
        self.assertEqual(self.get_user(u["id"], token=token), u)
        st, _, p = self.srv.request("PATCH", "/v1/users/" + u["id"],
                                    {"name": "Renamed", "secondary_contacts": ["+12025550146"]},
                                    token=token)
        self.assertEqual(st, 200, p)
        self.assertEqual(p, dict(u, name="Renamed", secondary_contacts=["+12025550146"]))
        st, _, c = self.srv.request("GET", "/v1/users/%s/contacts" % u["id"], token=token)
        self.assertEqual(st, 200, c)
        # never an admin by their own hand
        self.assertError(self.srv.request("PATCH", "/v1/users/" + u["id"], {"admin": True},
                                          token=token), 403)
        self.assertIs(self.get_user(u["id"])["admin"], False)
        self.assertStatus(self.srv.request("PATCH", "/v1/users/" + u["id"], {"admin": False},
                                           token=token), 200)

    def test_admin_user(self):
        boss, tb = self.mk_login_user(admin=True)
        self.assertIs(boss["admin"], True)
        u, tu = self.mk_login_user()
        st, _, me = self.srv.request("GET", "/v1/me", token=tb)
        self.assertEqual((st, me["id"]), (200, boss["id"]), me)
        self.assertStatus(self.srv.request("GET", "/v1/users", token=tb), 200)
        self.assertStatus(self.srv.request("GET", "/v1/users/" + u["id"], token=tb), 200)
        # (a password set by an admin would end u's session: see
        # test_admin_password_reset_ends_sessions; here, another field)
        self.assertStatus(self.srv.request("PATCH", "/v1/users/" + u["id"],
                                           {"name": "Renamed by an admin"}, token=tb), 200)
        # a user made admin is one at once; and no longer once demoted
        self.assertError(self.srv.request("GET", "/v1/users", token=tu), 403)
        self.assertStatus(self.srv.request("PATCH", "/v1/users/" + u["id"], {"admin": True}),
                          200)
        self.assertStatus(self.srv.request("GET", "/v1/users", token=tu), 200)
        self.assertStatus(self.srv.request("PATCH", "/v1/users/" + boss["id"], {"admin": False}),
                          200)
        self.assertError(self.srv.request("GET", "/v1/users", token=tb), 403)

    def test_sessions_per_user_are_capped(self):
        # The 21st login ends the oldest session (20 at most per user); the
        # newer ones keep working.
        u, first = self.mk_login_user()
        tokens = [first]
        for _ in range(20):
            st, _, b = login(self.srv, u["email"], PASSWORD)
            self.assertEqual(st, 200, b)
            tokens.append(b["token"])
        self.assertEqual(self.srv.request("GET", "/v1/me", token=tokens[0])[0], 401)
        for t in tokens[1:]:
            self.assertEqual(self.srv.request("GET", "/v1/me", token=t)[0], 200)

    def test_stolen_session_cannot_take_the_account(self):
        # Changing what logs a user in (email, phone, password) needs the
        # current password, and guesses of it are limited like logins.
        u, token = self.mk_login_user()
        path = "/v1/users/" + u["id"]
        self.assertError(self.srv.request("PATCH", path, {"email": email("thief")}, token=token),
                         422)
        self.assertError(self.srv.request("PATCH", path, {"phone": "+14155550177"},
                                          token=token), 422)
        self.assertEqual(self.get_user(u["id"])["email"], u["email"])
        st, _, b = self.srv.request("PATCH", path, {"email": email("moved"),
                                                    "current_password": PASSWORD}, token=token)
        self.assertEqual(st, 200, b)
        # other fields need nothing more
        self.assertStatus(self.srv.request("PATCH", path, {"name": "Still me"}, token=token), 200)
        statuses = [self.srv.request("PATCH", path, {"email": email("x"),
                                                     "current_password": "guess %d" % i},
                                     token=token)[0] for i in range(8)]
        self.assertIn(429, statuses, statuses)
        self.assertEqual(statuses[0], 422)

    def test_admin_password_reset_ends_sessions(self):
        # An admin resets a password when an account is compromised: the
        # sessions opened with the old password must end, or the reset does
        # not lock anyone out (sessions last 7 days). (Sessions used to
        # survive a password change.)
        u, token = self.mk_login_user()
        self.assertStatus(self.srv.request("PATCH", "/v1/users/" + u["id"],
                                           {"password": "reset after a breach 1"}), 200)
        self.assertError(self.srv.request("GET", "/v1/me", token=token), 401)

    def test_user_id_case_for_self(self):
        # A ULID is case-insensitive: the admin may use either case (see
        # test_lower_case_id_in_path), and so may the user for their own id.
        # (The owner check used to compare the raw path text with the
        # session's upper-case id: 404 for themselves.)
        u, token = self.mk_login_user()
        st, _, b = self.srv.request("GET", "/v1/users/" + u["id"].lower(), token=token)
        self.assertEqual(st, 200, b)

    def test_password_change(self):
        u, token = self.mk_login_user()
        path = "/v1/users/" + u["id"]
        new = "a brand new passphrase 7"
        err = self.assertError(self.srv.request("PATCH", path, {"password": new}, token=token),
                               422)
        self.assertEqual(err.get("field"), "current_password", err)
        err = self.assertError(self.srv.request("PATCH", path, {"password": new,
                                                                "current_password": "wrong one!!"},
                                                token=token), 422)
        self.assertEqual(err.get("field"), "current_password", err)
        st, _, b = self.srv.request("PATCH", path, {"password": new, "current_password": PASSWORD},
                                    token=token)
        self.assertEqual(st, 200, b)
        self.assertNotIn(new, json.dumps(b))
        self.assertError(login(self.srv, u["email"], PASSWORD), 401)
        self.assertStatus(login(self.srv, u["email"], new), 200)
        # the admin resets without the current password
        reset = "reset by the admin 2024"
        st, _, b = self.srv.request("PATCH", path, {"password": reset})
        self.assertEqual(st, 200, b)
        self.assertError(login(self.srv, u["email"], new), 401)
        self.assertStatus(login(self.srv, u["email"], reset), 200)

    # ---- ownership ----

    def test_device_ownership(self):
        a, ta = self.mk_login_user()
        b, tb = self.mk_login_user()
        # a user's new device is theirs
        dev_a = uid("own-a")
        st, _, d = self.srv.request("POST", "/v1/devices", {"id": dev_a, "name": "A's"},
                                    token=ta)
        self.assertEqual(st, 201, d)
        self.assertEqual(d["owner"], a["id"])
        self.assertTrue(d.get("api_key"))
        dev_b = uid("own-b")
        self.srv.create_device(dev_b, owner=b["id"])
        dev_none = uid("own-none")
        self.srv.create_device(dev_none)
        # lists are scoped
        st, _, la = self.srv.request("GET", "/v1/devices", token=ta)
        self.assertEqual(st, 200, la)
        self.assertEqual([x["id"] for x in la["devices"]], [dev_a])
        st, _, lb = self.srv.request("GET", "/v1/devices", token=tb)
        self.assertEqual([x["id"] for x in lb["devices"]], [dev_b])
        st, _, lall = self.srv.request("GET", "/v1/devices")
        self.assertTrue({dev_a, dev_b, dev_none} <= {x["id"] for x in lall["devices"]})
        self.assertEqual(self.get_user(a["id"])["devices"], [dev_a])
        # others' devices are invisible
        for dev in (dev_b, dev_none):
            self.assertError(self.srv.request("GET", "/v1/devices/" + dev, token=ta), 404)
            self.assertError(self.srv.request("PATCH", "/v1/devices/" + dev, {"name": "x"},
                                              token=ta), 404)
        # a user cannot give a device away, nor create one for someone else
        self.assertError(self.srv.request("PATCH", "/v1/devices/" + dev_a, {"owner": b["id"]},
                                          token=ta), 403)
        self.assertError(self.srv.request("POST", "/v1/devices",
                                          {"id": uid("gift"), "owner": b["id"]}, token=ta), 403)
        self.assertEqual(self.srv.request("GET", "/v1/devices/" + dev_a)[2]["owner"], a["id"])
        # naming themselves is fine
        self.assertStatus(self.srv.request("PATCH", "/v1/devices/" + dev_a, {"owner": a["id"]},
                                           token=ta), 200)
        # the admin moves a device; unknown or invalid owners are 422
        st, _, d = self.srv.request("PATCH", "/v1/devices/" + dev_none, {"owner": b["id"]})
        self.assertEqual(st, 200, d)
        self.assertEqual(d["owner"], b["id"])
        for bad in ("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "abc", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", 5):
            with self.subTest(owner=bad):
                err = self.assertError(self.srv.request("PATCH", "/v1/devices/" + dev_a,
                                                        {"owner": bad}), 422)
                self.assertEqual(err.get("field"), "owner", err)
                gift = uid("gift")
                err = self.assertError(self.srv.request("POST", "/v1/devices",
                                                        {"id": gift, "owner": bad}), 422)
                self.assertEqual(err.get("field"), "owner", err)
                self.assertError(self.srv.request("GET", "/v1/devices/" + gift), 404)
        self.assertEqual(self.srv.request("GET", "/v1/devices/" + dev_a)[2]["owner"], a["id"])
        st, _, lb = self.srv.request("GET", "/v1/devices", token=tb)
        self.assertEqual(sorted(x["id"] for x in lb["devices"]), sorted([dev_b, dev_none]))

    # ---- the seed's user routes ----

    def test_seed_user_new(self):
        dev = uid("esp32")
        self.srv.create_device(dev)
        e164, national = phone_digits()
        st, _, b = self.srv.request("POST", "/user/new", query={
            "name": "Seed User", "registered_device_id": dev, "personal_contact": national,
            "country": "GB"})
        self.assertEqual(st, 201, b)
        self.assertEqual(set(b), {"Item", "write_successful"}, b)
        self.assertIs(b["write_successful"], True)
        item = b["Item"]
        self.assertUlidNow(item["id"])
        self.assertEqual(item["name"], "Seed User")
        self.assertEqual(item["registered_device_id"], dev)
        self.assertEqual(item["personal_contact"], e164)
        self.assertEqual(item["secondary_contacts"], [])
        self.assertEqual(item["emergency_contacts"], {})
        # the device is now theirs
        self.assertEqual(self.srv.request("GET", "/v1/devices/" + dev)[2]["owner"], item["id"])
        self.assertEqual(self.get_user(item["id"])["devices"], [dev])
        # a second call: a fresh id (the seed reused one per process)
        e2, _ = phone_digits()
        st, _, b2 = self.srv.request("POST", "/user/new", query={
            "name": "Seed User", "personal_contact": e2})
        self.assertEqual(st, 201, b2)
        self.assertNotEqual(b2["Item"]["id"], item["id"])
        self.assertGreater(b2["Item"]["id"], item["id"])
        self.assertIsNone(b2["Item"]["registered_device_id"])
        # /user/contacts has the shape of /v1/users/{id}/contacts
        st, _, c = self.srv.request("GET", "/user/contacts", query={"user_id": item["id"]})
        self.assertEqual(st, 200, c)
        st, _, c2 = self.srv.request("GET", "/v1/users/%s/contacts" % item["id"])
        self.assertEqual(c, c2)
        self.assertEqual(c["personal_contact"], e164)

    def test_seed_user_new_bad_input(self):
        dev = uid("esp32")
        self.srv.create_device(dev)
        before = self.list_users()
        e164, national = phone_digits()
        cases = [
            {"personal_contact": e164},                                        # no name
            {"name": "", "personal_contact": e164},
            {"name": "n" * 129, "personal_contact": e164},
            {"name": "x"},                                                     # no contact
            {"name": "x", "personal_contact": "not a phone"},
            {"name": "x", "personal_contact": "911"},
            {"name": "x", "personal_contact": "+999123456789"},
            {"name": "x", "personal_contact": national},                      # no country
            {"name": "x", "personal_contact": national, "country": "ZZ"},
            {"name": "x", "personal_contact": national, "country": "GBR"},
            {"name": "x", "personal_contact": e164, "registered_device_id": uid("nosuch")},
        ]
        for q in cases:
            with self.subTest(query=q):
                st, h, b = self.srv.request("POST", "/user/new", query=q)
                self.assertTrue(400 <= st < 500, (st, b))
                self.assertError((st, h, b), st)
        self.assertEqual(self.list_users(), before)
        self.assertIsNone(self.srv.request("GET", "/v1/devices/" + dev)[2]["owner"])
        self.assertError(self.srv.request("GET", "/user/contacts"), 400)
        self.assertError(self.srv.request("GET", "/user/contacts",
                                          query={"user_id": "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"}), 404)

    def test_seed_user_routes_need_credentials(self):
        u, token = self.mk_login_user()
        other = self.mk_user()
        q = {"name": "x", "personal_contact": phone_digits()[0]}
        self.assertError(self.srv.request("POST", "/user/new", query=q, token=None), 401)
        self.assertError(self.srv.request("POST", "/user/new", query=q, token="nope-" * 5), 401)
        self.assertError(self.srv.request("POST", "/user/new", query=q, token=token), 403)
        dev_key = self.srv.create_device()
        self.assertError(self.srv.request("POST", "/user/new", query=q, token=dev_key), 403)
        self.assertError(self.srv.request("GET", "/user/contacts", query={"user_id": u["id"]},
                                          token=None), 401)
        st, _, c = self.srv.request("GET", "/user/contacts", query={"user_id": u["id"]},
                                    token=token)
        self.assertEqual(st, 200, c)
        self.assertEqual(c["user_id"], u["id"])
        self.assertError(self.srv.request("GET", "/user/contacts",
                                          query={"user_id": other["id"]}, token=token), 404)


class PersistenceTest(UserHelpers, HttpTestCase):

    def test_users_and_sessions_survive_restart(self):
        self.srv = Server()
        self.addCleanup(self.srv.cleanup)
        e164, _ = phone_digits()
        u, token = self.mk_login_user(phone=e164, secondary_contacts=["+12025550147"],
                                      emergency_contacts={"n": "+447700900777"})
        dev = uid("persist")
        self.srv.create_device(dev, owner=u["id"])
        u = self.get_user(u["id"])
        self.srv.restart()
        self.assertEqual(self.get_user(u["id"]), u)
        self.assertStatus(self.srv.request("GET", "/v1/me", token=token), 200)
        st, _, lst = self.srv.request("GET", "/v1/devices", token=token)
        self.assertEqual([d["id"] for d in lst["devices"]], [dev])
        # the indexes are rebuilt: duplicates still refused, logins still found
        self.assertError(self.srv.request("POST", "/v1/users",
                                          {"name": "d", "email": u["email"].upper()}), 409)
        self.assertError(self.srv.request("POST", "/v1/users", {"name": "d", "phone": e164}), 409)
        later = self.mk_user()
        self.assertGreater(later["id"], u["id"])
        # a changed email: the old one no longer logs in, the new one does
        new_email = email("moved")
        self.assertStatus(self.srv.request("PATCH", "/v1/users/" + u["id"],
                                           {"email": new_email}), 200)
        self.assertError(login(self.srv, u["email"], PASSWORD), 401)
        self.assertStatus(login(self.srv, new_email.upper(), PASSWORD), 200)
        # logout survives a restart too
        self.assertStatus(self.srv.request("POST", "/v1/auth/logout", token=token), 204)
        self.srv.restart()
        self.assertError(self.srv.request("GET", "/v1/me", token=token), 401)
        self.srv.stop()


class PasswordSecrecyTest(UserHelpers, HttpTestCase):
    """A distinctive password through create, login, patch and failed login:
    never in a response, never in the log."""

    def test_password_never_in_responses_or_logs(self):
        pw1 = "Quokka-Zebra-7319-" + "xyzzy"
        pw2 = "Narwhal-Okapi-4482-" + "plugh"
        pw_wrong = "Wombat-Ibis-5521-" + "frotz"
        self.srv = Server(log_level="debug")
        self.addCleanup(self.srv.cleanup)
        seen = []

        def rec(resp):
            st, h, b = resp
            seen.append("%d %s %s" % (st, "".join("%s: %s\n" % kv for kv in h.items()),
                                      b if isinstance(b, bytes) else json.dumps(b)))
            return resp

        em = email("secret")
        st, _, u = rec(self.srv.request("POST", "/v1/users",
                                        {"name": "S", "email": em, "password": pw1}))
        self.assertEqual(st, 201, u)
        st, _, b = rec(login(self.srv, em, pw1))
        self.assertEqual(st, 200, b)
        token = b["token"]
        rec(login(self.srv, em, pw_wrong))
        rec(login(self.srv, email("nobody"), pw_wrong))
        rec(self.srv.request("PATCH", "/v1/users/" + u["id"],
                             {"password": pw2, "current_password": pw_wrong}, token=token))
        st, _, b = rec(self.srv.request("PATCH", "/v1/users/" + u["id"],
                                        {"password": pw2, "current_password": pw1}, token=token))
        self.assertEqual(st, 200, b)
        rec(self.srv.request("PATCH", "/v1/users/" + u["id"], {"password": pw_wrong}))
        rec(self.srv.request("POST", "/v1/users", {"name": "W", "email": email(),
                                                   "password": pw1, "bogus": pw2}))
        rec(self.srv.request("GET", "/v1/users"))
        rec(self.srv.request("GET", "/v1/users/" + u["id"]))
        rec(self.srv.request("GET", "/v1/me", token=token))
        rec(login(self.srv, em, pw_wrong))
        self.srv.stop()
        log = "\n".join(self.srv.stderr_lines())
        self.assertIn('"status"', log, "no access log captured")
        for pw in (pw1, pw2, pw_wrong):
            for text in seen:
                self.assertNotIn(pw, text)
            self.assertNotIn(pw, log)
            self.assertNotIn(quote(pw), log)
        for text in seen:
            self.assertNotIn("$argon2", text)
        self.assertNotIn("$argon2", log)
        self.assertNotIn(token, log)

    def test_malformed_login_body_does_not_echo_password(self):
        # Regression: the invalid-JSON message used to quote the text near the
        # error ("premature end of input near '\"<password>'"; jansson adds
        # that context when the token is at most 20 bytes), so a truncated
        # login or user body with a 10-19 character password sends the
        # password back in the 400.
        pw = "Capy-Heron-2290" + "x"
        self.srv = Server()
        self.addCleanup(self.srv.cleanup)
        for path, text in (("/v1/auth/login", '{"login":"a@example.com","password":"%s' % pw),
                           ("/v1/users", '{"name":"x","password":"%s' % pw)):
            with self.subTest(path=path):
                st, h, b = self.srv.request_from(source_addr(), "POST", path, text,
                                        headers={"Content-Type": "application/json"})
                self.assertEqual(st, 400, b)
                self.assertNotIn(pw, json.dumps(b))
        self.srv.stop()
        self.assertNotIn(pw, "\n".join(self.srv.stderr_lines()))


class BruteForceTest(UserHelpers, HttpTestCase):
    """Login limits: 5 attempts per account then 1 per 3 minutes, 10 per
    client address a minute; a success clears the account's count. Each test
    has its own server, so the counters start fresh."""

    def setUp(self):
        self.srv = Server()
        self.addCleanup(self.srv.cleanup)

    def tearDown(self):
        if self.srv.running:
            self.srv.stop()  # exit 0 (under ASan: no leak or error report)

    def assertLimited(self, resp):
        err = self.assertError(resp, 429)
        ra = resp[1].get("Retry-After")
        self.assertIsNotNone(ra, "429 without Retry-After")
        self.assertRegex(ra, r"^[1-9][0-9]*$")
        return int(ra), err

    def test_account_limit(self):
        em = email("victim")
        self.mk_user(email=em, password=PASSWORD)
        statuses = []
        for i in range(6):
            # each attempt from another address: only the account limit applies
            resp = login(self.srv, em, "wrong password %d" % i)
            statuses.append(resp[0])
            if resp[0] == 429:
                break
        self.assertEqual(statuses, [401] * 5 + [429], statuses)
        retry, _ = self.assertLimited(resp)
        # Observed: 5 attempts, then 1 every 180 s: Retry-After 180.
        self.assertGreater(retry, 60)
        self.assertLessEqual(retry, 180)
        # The right password is refused too until then (the limit is checked
        # before the password), from any address.
        retry2, _ = self.assertLimited(login(self.srv, em, PASSWORD))
        self.assertLessEqual(retry2, retry)
        # other accounts are unaffected
        other = email("bystander")
        self.mk_user(email=other, password=PASSWORD)
        self.assertStatus(login(self.srv, other, PASSWORD), 200)

    def test_account_limit_holds_across_login_spellings(self):
        # The account is the same whatever the case of the email: so is its
        # limit. (Regression: the counter was keyed by the login text as sent,
        # so each spelling (victim@, VICTIM@, Victim@...) got 5 fresh attempts.)
        em = email("victim")
        self.mk_user(email=em, password=PASSWORD)
        for i in range(5):
            self.assertError(login(self.srv, em, "wrong password %d" % i), 401)
        self.assertLimited(login(self.srv, em.upper(), "wrong password 5"))
        self.assertLimited(login(self.srv, em.capitalize(), "wrong password 6"))

    def test_account_limit_by_phone_any_format(self):
        e164, national = phone_digits()
        self.mk_user(phone=e164, password=PASSWORD)
        spellings = [e164, "+44 " + national[1:], "0044" + e164[3:],
                     "+44-" + national[1:].replace(" ", "-"), "+44 (0)" + national[1:]]
        for i, who in enumerate(spellings):
            self.assertError(login(self.srv, who, "wrong password %d" % i), 401, who)
        self.assertLimited(login(self.srv, e164, PASSWORD))

    def test_success_resets_account(self):
        em = email()
        self.mk_user(email=em, password=PASSWORD)
        for i in range(4):
            self.assertError(login(self.srv, em, "wrong password %d" % i), 401)
        self.assertStatus(login(self.srv, em, PASSWORD), 200)
        for i in range(4):
            self.assertError(login(self.srv, em, "wrong again %d" % i), 401)
        self.assertStatus(login(self.srv, em, PASSWORD), 200)

    def test_address_limit(self):
        em = email()
        self.mk_user(email=em, password=PASSWORD)
        addr = source_addr()
        statuses = []
        for i in range(11):
            resp = login(self.srv, email("spray"), "wrong password %d" % i, addr=addr)
            statuses.append(resp[0])
            if resp[0] == 429:
                break
        self.assertEqual(statuses, [401] * 10 + [429], statuses)
        retry, _ = self.assertLimited(resp)
        # Observed: 10 a minute: Retry-After 6 s for the next attempt.
        self.assertLessEqual(retry, 60)
        # a correct login from that address is refused too...
        self.assertLimited(login(self.srv, em, PASSWORD, addr=addr))
        # ...while another address logs in
        self.assertStatus(login(self.srv, em, PASSWORD), 200)
        # and after Retry-After the address may try again
        time.sleep(retry + 0.2)
        self.assertStatus(login(self.srv, em, PASSWORD, addr=addr), 200)


class CliTest(UserHelpers, ServerTestCase):
    """carbon user|device against the running server (--server, admin token
    from CARBON_ADMIN_TOKEN)."""

    def cli(self, *args, stdin=None, token=ADMIN_TOKEN, server=True):
        argv = list(args)
        if server:
            argv += ["--server", "http://%s:%d" % (self.srv.host, self.srv.port)]
        r = run_cli(argv, stdin=stdin, token=token)
        self.outputs.append(r.stdout + r.stderr)
        return r

    def setUp(self):
        self.outputs = []

    def test_user_commands(self):
        pw, pw2 = "Cli-Passphrase-3141-" + "abc", "Cli-Passphrase-2718-" + "def"
        em = email("Cli")
        r = self.cli("user", "add", "--name", "Cli User", "--email", em, "--phone",
                     "07700 900555", "--country", "GB", "--password-stdin", stdin=pw + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"user ([0-9A-Z]{26}) created", r.stdout)
        self.assertTrue(m, r.stdout)
        uid_ = m.group(1)
        u = self.get_user(uid_)
        self.assertEqual(u["email"], em.lower())
        self.assertEqual(u["phone"], "+447700900555")
        self.assertIs(u["can_log_in"], True)
        r = self.cli("user", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(uid_, r.stdout)
        r = self.cli("user", "list", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(uid_, [x["id"] for x in json.loads(r.stdout)["users"]])
        r = self.cli("user", "show", uid_)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), u)
        r = self.cli("user", "passwd", uid_, "--password-stdin", stdin=pw2 + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertError(login(self.srv, em, pw), 401)
        self.assertStatus(login(self.srv, em, pw2), 200)
        # refusals by the server: exit 1 with its message
        r = self.cli("user", "passwd", uid_, "--password-stdin", stdin="password123\n")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("password", r.stderr)
        r = self.cli("user", "add", "--name", "Dup", "--email", em.upper())
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("409", r.stderr)
        r = self.cli("user", "show", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        r = self.cli("user", "show", "not-a-ulid")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        r = self.cli("user", "list", token="wrong-admin-token-0000")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        r = self.cli("user", "delete", uid_)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertError(self.srv.request("GET", "/v1/users/" + uid_), 404)
        r = self.cli("user", "delete", uid_)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        for out in self.outputs:
            self.assertNotIn(pw, out)
            self.assertNotIn(pw2, out)
            self.assertNotIn("$argon2", out)

    def test_device_commands(self):
        owner = self.mk_user()
        dev = uid("cli-dev")
        r = self.cli("device", "add", dev, "--name", "Hall", "--location", "Flat 3",
                     "--owner", owner["id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"api_key: (\S+)", r.stdout)
        self.assertTrue(m, r.stdout)
        key = m.group(1)
        reading = {"device_id": dev, "co_ppm": 1.5}
        self.assertStatus(self.srv.post_readings(reading, token=key), 201)
        d = self.srv.request("GET", "/v1/devices/" + dev)[2]
        self.assertEqual((d["name"], d["location"], d["owner"]), ("Hall", "Flat 3", owner["id"]))
        r = self.cli("device", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(dev, r.stdout)
        self.assertNotIn(key, r.stdout)
        r = self.cli("device", "list", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(dev, [x["id"] for x in json.loads(r.stdout)["devices"]])
        r = self.cli("device", "rotate-key", dev)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"api_key of \S+: (\S+)", r.stdout)
        self.assertTrue(m, r.stdout)
        key2 = m.group(1)
        self.assertNotEqual(key, key2)
        self.assertError(self.srv.post_readings(reading, token=key), 401)
        self.assertStatus(self.srv.post_readings(dict(reading, co_ppm=2), token=key2), 201)
        r = self.cli("device", "add", dev)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        r = self.cli("device", "add", uid("cli-bad"), "--owner", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        r = self.cli("device", "delete", dev)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertError(self.srv.request("GET", "/v1/devices/" + dev), 404)
        r = self.cli("device", "delete", dev)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        r = self.cli("device", "rotate-key", dev)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)

    def test_usage_and_exit_codes(self):
        for cmd, subs in (("user", ("add", "list", "show", "passwd", "delete")),
                          ("device", ("add", "list", "rotate-key", "delete"))):
            with self.subTest(cmd=cmd):
                r = self.cli(cmd, "--help", server=False)
                self.assertEqual(r.returncode, 0, r.stderr)
                for s in subs:
                    self.assertRegex(r.stdout, r"carbon %s %s\b" % (cmd, s))
                self.assertIn("--server", r.stdout)
                self.assertIn("CARBON_ADMIN_TOKEN", r.stdout)
                r = self.cli(cmd, "frobnicate")
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertIn("frobnicate", r.stderr)
                r = self.cli(cmd, server=False)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                r = self.cli(cmd, "list", "--no-such-flag")
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                r = self.cli(cmd, "delete")                  # missing the id
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                # unreachable server: 1, saying so
                r = run_cli([cmd, "list", "--server", "http://127.0.0.1:1"])
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn("cannot reach", r.stderr)
                r = self.cli(cmd, "list", token=None)       # no admin token
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertIn("CARBON_ADMIN_TOKEN", r.stderr)
        r = run_cli(["--help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("user", r.stdout)
        self.assertIn("device", r.stdout)
        # user add needs --name; passwd without a terminal needs --password-stdin
        r = self.cli("user", "add", "--email", email())
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        u = self.mk_user()
        r = self.cli("user", "passwd", u["id"], stdin="")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)


if __name__ == "__main__":
    main()
