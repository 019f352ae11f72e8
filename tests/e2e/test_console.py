"""Console sign-in against the real server with Python's http.client: a password set and an MFA
device enrolled with `muonpipe console`, the code computed here (RFC 6238), the registry read and
written with the session cookie, sign-out; failures answered alike and audited; a password that
must be reset changed before any session."""

import http.client
import json
import subprocess
import time
import unittest

from harness import HOST, MUONPIPE_BIN, ServerTestCase, totp

PASSWORD = "a long console password"
CONSOLE = "/_muonpipe/console/v1/"
REGISTRY = "/_muonpipe/registry/v1/"


class Browser:
    """Keeps cookies as a browser would for one origin (plain HTTP on loopback)."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}
        self.origin = "http://%s:%d" % (HOST, port)

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        h = {"Host": "%s:%d" % (HOST, self.port)}
        if body is not None:
            h["Content-Type"] = "application/json"
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        h.update(headers or {})
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = conn.getresponse()
        raw = r.read()
        set_cookies = r.msg.get_all("Set-Cookie") or []
        conn.close()
        for c in set_cookies:
            name, _, rest = c.partition("=")
            value = rest.split(";", 1)[0]
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return r.status, (json.loads(raw) if raw else None), set_cookies


class ConsoleTest(ServerTestCase):

    def muonpipe(self, *args, stdin=None):
        p = subprocess.run([MUONPIPE_BIN] + list(args) + ["--data-dir", self.server.data_dir],
                           input=stdin, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def audit_records(self, *args, count=1):
        """`muonpipe audit --json ARGS` once it shows `count` records: a running server's records
        reach the files within a second (group commit); the wait is bounded."""
        deadline = time.monotonic() + 15
        while True:
            out = self.muonpipe("audit", "--json", *args)
            records = [json.loads(x) for x in out.splitlines()]
            if len(records) >= count or time.monotonic() > deadline:
                return records
            time.sleep(0.2)

    def enrol_admin(self):
        self.muonpipe("console", "password", "--user", "admin", stdin=PASSWORD + "\n")
        out = self.muonpipe("console", "mfa-create", "--user", "admin")
        fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        seed, serial = fields["seed"], fields["serial"]
        now = time.time()
        self.muonpipe("console", "mfa-enable", "--user", "admin", "--serial", serial,
                      "--code1", totp(seed, now - 30), "--code2", totp(seed, now))
        return seed

    def test_sign_in_with_password_and_code_then_use_the_registry_and_sign_out(self):
        seed = self.enrol_admin()
        b = Browser(self.server.port)
        st, body, cookies = b.request("POST", CONSOLE + "signin",
                                      {"user": "admin", "password": PASSWORD})
        self.assertEqual(st, 200, body)
        self.assertTrue(body["mfa_required"])
        self.assertNotIn("muonpipe-session", b.cookies)
        # The next step's code: the enrolment spent this one.
        st, body, cookies = b.request("POST", CONSOLE + "signin/mfa",
                                      {"code": totp(seed, time.time() + 30)})
        self.assertEqual(st, 200, body)
        self.assertEqual(body["user"], "admin")
        self.assertTrue(body["mfa_authenticated"])
        csrf = body["csrf_token"]
        session_cookie = [c for c in cookies if c.startswith("muonpipe-session=")][0]
        for attr in ("HttpOnly", "Path=/", "SameSite=Strict"):
            self.assertIn(attr, session_cookie)
        self.assertNotIn("Secure", session_cookie)

        st, body, _ = b.request("GET", CONSOLE + "session")
        self.assertEqual((st, body["arn"]), (200, "arn:aws:iam::000000000000:user/admin"))

        st, body, _ = b.request("GET", REGISTRY + "sites")
        self.assertEqual(st, 200, body)
        site = {"id": "dam-north", "name": "Tailings dam north", "kind": "underground",
                "latitude": -31.95, "longitude": 115.86, "depth_m": 40}
        st, body, _ = b.request("POST", REGISTRY + "sites", site)
        self.assertEqual(st, 403, body)  # no CSRF token: the cookie does not count
        st, body, _ = b.request("POST", REGISTRY + "sites", site, {"X-CSRF-Token": csrf})
        self.assertEqual(st, 201, body)

        st, body, _ = b.request("POST", CONSOLE + "signout", None,
                                {"X-CSRF-Token": csrf, "Origin": b.origin})
        self.assertEqual(st, 200, body)
        b.cookies["muonpipe-session"] = session_cookie.split(";")[0].split("=", 1)[1]
        st, body, _ = b.request("GET", REGISTRY + "sites")
        self.assertEqual(st, 403, body)

        logins = self.audit_records("--event", "ConsoleLogin")
        self.assertEqual([x["responseElements"]["ConsoleLogin"] for x in logins], ["Success"])
        self.assertEqual(logins[0]["eventType"], "AwsConsoleSignIn")
        self.assertEqual(logins[0]["additionalEventData"]["MFAUsed"], "Yes")
        logouts = self.audit_records("--event", "ConsoleLogout")
        self.assertEqual(len(logouts), 1, logouts)
        self.assertEqual(logouts[0]["eventSource"], "signin.amazonaws.com")
        self.assertEqual(logouts[0]["eventType"], "AwsConsoleSignIn")
        self.assertEqual(logouts[0]["userIdentity"]["arn"], "arn:aws:iam::000000000000:user/admin")
        created = self.audit_records("--event", "CreateSite")
        self.assertEqual(len(created), 1)
        attrs = created[0]["userIdentity"]["sessionContext"]["attributes"]
        self.assertEqual(attrs["mfaAuthenticated"], "true")
        self.assertIn("creationDate", attrs)

    def test_wrong_password_and_wrong_code_answer_alike_and_are_audited(self):
        seed = self.enrol_admin()
        b = Browser(self.server.port)
        st1, bad_password, _ = b.request("POST", CONSOLE + "signin",
                                         {"user": "admin", "password": "wrong"})
        st, body, _ = b.request("POST", CONSOLE + "signin", {"user": "admin", "password": PASSWORD})
        self.assertEqual(st, 200, body)
        wrong = "000000" if totp(seed, time.time() + 30) != "000000" else "111111"
        st2, bad_code, _ = b.request("POST", CONSOLE + "signin/mfa", {"code": wrong})
        self.assertEqual((st1, st2), (401, 401))
        self.assertEqual(bad_password, bad_code)
        failures = self.audit_records("--failures", count=2)
        self.assertEqual([x["responseElements"]["ConsoleLogin"] for x in failures],
                         ["Failure", "Failure"])
        self.assertEqual(failures[1]["additionalEventData"]["MFAUsed"], "Yes")

    def test_a_password_reset_required_must_be_changed_before_any_session(self):
        iam = self.server.client("iam")
        iam.create_user(UserName="rita")
        iam.create_login_profile(UserName="rita", Password=PASSWORD, PasswordResetRequired=True)
        b = Browser(self.server.port)
        st, body, _ = b.request("POST", CONSOLE + "signin", {"user": "rita", "password": PASSWORD})
        self.assertEqual(st, 200, body)
        self.assertTrue(body["password_change_required"])
        self.assertNotIn("csrf_token", body)
        self.assertNotIn("muonpipe-session", b.cookies)
        st, body, _ = b.request("GET", CONSOLE + "session")
        self.assertEqual(st, 401, body)
        st, body, _ = b.request("GET", REGISTRY + "sites")
        self.assertEqual(st, 403, body)

        st, body, _ = b.request("POST", CONSOLE + "signin/password",
                                {"old_password": PASSWORD, "new_password": "x"})
        self.assertEqual((st, body["error"]["code"]), (400, "PasswordPolicyViolation"), body)
        new_password = "another long console password"
        st, body, _ = b.request("POST", CONSOLE + "signin/password",
                                {"old_password": PASSWORD, "new_password": new_password})
        self.assertEqual(st, 200, body)
        self.assertEqual(body["arn"], "arn:aws:iam::000000000000:user/rita")
        self.assertIn("csrf_token", body)
        st, body, _ = b.request("GET", CONSOLE + "session")
        self.assertEqual((st, body["user"]), (200, "rita"))
        self.assertFalse(iam.get_login_profile(UserName="rita")["LoginProfile"]
                         ["PasswordResetRequired"])

        changes = self.audit_records("--event", "ChangePassword", count=2)
        self.assertEqual([x.get("errorCode") for x in changes], ["PasswordPolicyViolation", None])
        self.assertEqual(changes[1]["eventSource"], "iam.amazonaws.com")
        self.assertEqual(changes[1]["userIdentity"]["userName"], "rita")
        logins = self.audit_records("--event", "ConsoleLogin")
        self.assertEqual([x["responseElements"]["ConsoleLogin"] for x in logins], ["Success"])


if __name__ == "__main__":
    unittest.main()
