"""Temporary credentials and console sessions end on time, on the server's real clock path.

AWS's shortest STS duration is 900 s, too long to wait for. The server runs under libfaketime
(Debian package faketime; scripts/install-deps.sh --test): Clock::Real() reads
clock_gettime(CLOCK_REALTIME), which libfaketime answers from a file this test writes
(FAKETIME_TIMESTAMP_FILE, re-read on every call with FAKETIME_NO_CACHE=1). The fake wall clock
stands still at the instant written, so "899 s after issue" is exact. Monotonic time stays real
(FAKETIME_DONT_FAKE_MONOTONIC=1): the server's waits and timeouts run on it, and a frozen one
would stop them.

Clients sign at the same fake time, or the server would answer RequestTimeTooSkewed: the AWS CLI
and `muonpipe console` run under the same libfaketime environment, and boto3 in this process signs
with botocore's clock patched to the fake time. TOTP codes are computed from the fake time, which
is days away from the real one, so a code taken from the real clock would be refused.
"""

import calendar
import datetime
import glob
import http.client
import json
import os
import subprocess
import time
import unittest
import unittest.mock

from harness import HOST, MUONPIPE_BIN, REGION, ServerTestCase, totp

ACCOUNT = "000000000000"
BUCKET = "muonpipe-data"
DURATION = 900  # AWS's minimum DurationSeconds for AssumeRole and GetSessionToken
CONSOLE = "/_muonpipe/console/v1/"
PASSWORD = "a long console password"


def _libfaketime():
    # The faketime package puts it under the multiarch directory, e.g.
    # /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 (`dpkg -L libfaketime`).
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1") +
                   glob.glob("/usr/lib/faketime/libfaketime.so.1"))
    if not found:  # pragma: no cover
        raise ImportError("libfaketime is required for the expiry end-to-end tests "
                          "(install it with scripts/install-deps.sh --test)")
    return found[0]


LIBFAKETIME = _libfaketime()


class FakeWallClock:
    """The wall clock of every process started with env(): frozen at the instant last set."""

    def __init__(self, path, start):
        self.path = path
        self.now = None
        self.set(start)

    def env(self):
        return {
            "LD_PRELOAD": LIBFAKETIME,
            "FAKETIME_TIMESTAMP_FILE": self.path,
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "TZ": "UTC",  # libfaketime reads the instant below as local time
        }

    def set(self, unix_seconds):
        text = time.strftime("%Y-%m-%d %H:%M:%S\n", time.gmtime(unix_seconds))
        # Readers re-read the file on every clock call: replace it whole, never rewrite it.
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(text)
        os.replace(tmp, self.path)
        self.now = unix_seconds

    def utcnow(self, remove_tzinfo=True):
        """botocore.compat.get_current_datetime at the fake time."""
        t = datetime.datetime.fromtimestamp(self.now, datetime.timezone.utc)
        return t.replace(tzinfo=None) if remove_tzinfo else t


def console_request(port, method, path, body=None, cookie=None):
    """One request to the console API; returns (status, parsed JSON or None, session cookie)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {"Host": "%s:%d" % (HOST, port)}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if cookie:
        headers["Cookie"] = cookie
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers=headers)
    r = conn.getresponse()
    raw = r.read()
    set_cookies = r.msg.get_all("Set-Cookie") or []
    conn.close()
    for c in set_cookies:
        pair = c.split(";", 1)[0]
        if pair.partition("=")[2]:
            cookie = pair
    return r.status, (json.loads(raw) if raw else None), cookie


def _unix(iso8601):
    return calendar.timegm(time.strptime(iso8601[:19], "%Y-%m-%dT%H:%M:%S"))


class ExpiryTest(ServerTestCase):

    def server_env(self):
        # Three days ahead of the real clock, 10 s into a TOTP step.
        start = (int(time.time()) // 86400 + 3) * 86400 + 10 * 3600 + 10
        self.clock = FakeWallClock(os.path.join(self.workdir, "faketime"), start)
        self.t0 = start
        return self.clock.env()

    def setUp(self):
        super().setUp()
        patch = unittest.mock.patch("botocore.auth.get_current_datetime", self.clock.utcnow)
        patch.start()
        self.addCleanup(patch.stop)
        self.iam = self.server.client("iam")
        s3 = self.server.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket=BUCKET, Key="archive/run1.ndjson", Body=b"{}\n")

    # ---- helpers -------------------------------------------------------------------------

    def aws(self, credentials_file, *args):
        return self.server.aws(*args, credentials_file=credentials_file, env=self.clock.env())

    def operator_with_mfa(self, name):
        """A user with the Operator policy and an enabled virtual MFA device, enrolled at the
        fake time; returns (credentials file, MFA serial, Base32 seed)."""
        self.iam.create_user(UserName=name)
        self.iam.attach_user_policy(UserName=name,
                                    PolicyArn="arn:aws:iam::%s:policy/Operator" % ACCOUNT)
        k = self.iam.create_access_key(UserName=name)["AccessKey"]
        d = self.iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
        seed = d["Base32StringSeed"].decode() if isinstance(d["Base32StringSeed"], bytes) \
            else d["Base32StringSeed"]
        now = self.clock.now
        self.iam.enable_mfa_device(UserName=name, SerialNumber=d["SerialNumber"],
                                   AuthenticationCode1=totp(seed, now - 30),
                                   AuthenticationCode2=totp(seed, now))
        path = self.server.credentials_file(name, k["AccessKeyId"], k["SecretAccessKey"])
        return path, d["SerialNumber"], seed

    def session_of(self, name, reply):
        c = reply["Credentials"]
        self.assertEqual(_unix(c["Expiration"]), self.t0 + DURATION, c["Expiration"])
        creds = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        return creds, self.server.credentials_file(name + "-session", *creds)

    def assert_works(self, creds, path):
        """The temporary credentials read Kinesis (JSON 1.1), S3 (REST XML) and STS (Query)."""
        r = self.aws(path, "kinesis", "list-streams")
        self.assertEqual(r.rc, 0, r)
        r = self.aws(path, "s3api", "list-objects-v2", "--bucket", BUCKET)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual([o["Key"] for o in r.json["Contents"]], ["archive/run1.ndjson"])
        r = self.aws(path, "sts", "get-caller-identity")
        self.assertEqual(r.rc, 0, r)
        kinesis = self.server.client("kinesis", *creds[:2], session_token=creds[2])
        self.assertEqual(kinesis.list_streams()["StreamNames"], [])
        s3 = self.server.client("s3", *creds[:2], session_token=creds[2])
        self.assertEqual(s3.get_object(Bucket=BUCKET, Key="archive/run1.ndjson")["Body"].read(),
                         b"{}\n")

    def assert_expired(self, creds, path):
        """Each API says ExpiredToken in its own shape: Kinesis in JSON (`__type`), S3 in an XML
        <Error>, STS in a Query <ErrorResponse>; all with HTTP 400."""
        r = self.aws(path, "kinesis", "list-streams")
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("(ExpiredTokenException)", r.stderr, r)
        r = self.aws(path, "s3api", "list-objects-v2", "--bucket", BUCKET)
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("(ExpiredToken)", r.stderr, r)
        r = self.aws(path, "sts", "get-caller-identity")
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("(ExpiredToken)", r.stderr, r)

        kinesis = self.server.client("kinesis", *creds[:2], session_token=creds[2])
        e = self.assertAwsError("ExpiredTokenException", kinesis.list_streams)
        meta = e.response["ResponseMetadata"]
        self.assertEqual(meta["HTTPStatusCode"], 400)
        self.assertEqual(meta["HTTPHeaders"]["content-type"], "application/x-amz-json-1.1")
        s3 = self.server.client("s3", *creds[:2], session_token=creds[2])
        e = self.assertAwsError("ExpiredToken", s3.get_object, Bucket=BUCKET,
                                Key="archive/run1.ndjson")
        meta = e.response["ResponseMetadata"]
        self.assertEqual(meta["HTTPStatusCode"], 400)
        self.assertEqual(meta["HTTPHeaders"]["content-type"], "application/xml")
        sts = self.server.client("sts", *creds[:2], session_token=creds[2])
        e = self.assertAwsError("ExpiredToken", sts.get_caller_identity)
        self.assertEqual(e.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def assert_expires_at_900_seconds(self, creds, session):
        self.assert_works(creds, session)
        self.clock.set(self.t0 + DURATION - 1)
        self.assert_works(creds, session)
        # From Expiration on (docs/iam.md), then well past it.
        self.clock.set(self.t0 + DURATION)
        kinesis = self.server.client("kinesis", *creds[:2], session_token=creds[2])
        self.assertAwsError("ExpiredTokenException", kinesis.list_streams)
        self.clock.set(self.t0 + DURATION + 1)
        self.assert_expired(creds, session)

    # ---- tests ---------------------------------------------------------------------------

    def test_role_assumed_with_mfa_works_for_899_seconds_and_expires_at_900(self):
        path, serial, seed = self.operator_with_mfa("olga")
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": "arn:aws:iam::%s:user/olga" % ACCOUNT},
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}
        role = self.iam.create_role(RoleName="field-ops",
                                    AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        self.iam.attach_role_policy(RoleName="field-ops",
                                    PolicyArn="arn:aws:iam::%s:policy/Operator" % ACCOUNT)
        # The enrolment spent the codes up to this step; the next one is inside the drift window.
        r = self.aws(path, "sts", "assume-role", "--role-arn", role["Arn"],
                     "--role-session-name", "olga", "--duration-seconds", str(DURATION),
                     "--serial-number", serial, "--token-code", totp(seed, self.clock.now + 30))
        self.assertEqual(r.rc, 0, r)
        creds, session = self.session_of("olga", r.json)
        self.assert_expires_at_900_seconds(creds, session)

    def test_session_token_with_mfa_works_for_899_seconds_and_expires_at_900(self):
        path, serial, seed = self.operator_with_mfa("pat")
        r = self.aws(path, "sts", "get-session-token", "--duration-seconds", str(DURATION),
                     "--serial-number", serial, "--token-code", totp(seed, self.clock.now + 30))
        self.assertEqual(r.rc, 0, r)
        creds, session = self.session_of("pat", r.json)
        self.assert_expires_at_900_seconds(creds, session)

    def test_a_code_from_the_real_clock_is_refused_at_the_fake_time(self):
        path, serial, seed = self.operator_with_mfa("quinn")
        r = self.aws(path, "sts", "get-session-token", "--serial-number", serial,
                     "--token-code", totp(seed, time.time()))
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("(AccessDenied)", r.stderr, r)

    def test_console_session_ends_after_15_minutes_without_a_request(self):
        def muonpipe(*args, stdin=None):
            env = dict(os.environ, **self.clock.env())
            p = subprocess.run([MUONPIPE_BIN] + list(args) + ["--data-dir", self.server.data_dir],
                               input=stdin, capture_output=True, text=True, timeout=60, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            return p.stdout

        muonpipe("console", "password", "--user", "admin", stdin=PASSWORD + "\n")
        out = muonpipe("console", "mfa-create", "--user", "admin")
        fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        seed, serial = fields["seed"], fields["serial"]
        muonpipe("console", "mfa-enable", "--user", "admin", "--serial", serial,
                 "--code1", totp(seed, self.t0 - 30), "--code2", totp(seed, self.t0))

        port = self.server.port
        st, body, pending = console_request(port, "POST", CONSOLE + "signin",
                                            {"user": "admin", "password": PASSWORD})
        self.assertEqual(st, 200, body)
        st, body, cookie = console_request(port, "POST", CONSOLE + "signin/mfa",
                                           {"code": totp(seed, self.t0 + 30)}, pending)
        self.assertEqual(st, 200, body)
        self.assertTrue(cookie.startswith("muonpipe-session="), cookie)

        # Each request restarts the idle timer: two gaps of 899 s, 1798 s after sign-in.
        for at in (self.t0 + 899, self.t0 + 2 * 899):
            self.clock.set(at)
            st, body, _ = console_request(port, "GET", CONSOLE + "session", cookie=cookie)
            self.assertEqual(st, 200, (at - self.t0, body))
            self.assertEqual(body["arn"], "arn:aws:iam::%s:user/admin" % ACCOUNT)

        self.clock.set(self.t0 + 2 * 899 + 900)
        st, body, _ = console_request(port, "GET", CONSOLE + "session", cookie=cookie)
        self.assertEqual(st, 401, body)


if __name__ == "__main__":
    unittest.main()
