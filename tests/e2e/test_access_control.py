"""Access control on the real server with the real AWS CLI and boto3: STS (GetCallerIdentity,
GetSessionToken, AssumeRole), MFA, and policy decisions in every API's own error shape.

The tests in IdentityTest create users, keys, MFA devices and roles through the IAM Query API
(`aws iam ...` / boto3 iam); everything else here needs only the bootstrap administrator.
"""

import json
import os
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions

from harness import MUONPIPE_BIN, REGION, ServerTestCase, _NO_PROXY_OPENER, error_code, totp

ACCOUNT = "000000000000"
REGISTRY = "/_muonpipe/registry/v1/"


class AccessControlTestCase(ServerTestCase):

    def registry(self, method, path, body=None, creds=None):
        """A registry request signed with creds = (key, secret[, token]) (default: the
        administrator's); returns (status, parsed JSON or None)."""
        creds = creds or self.server.credentials()
        access_key, secret_key = creds[0], creds[1]
        session_token = creds[2] if len(creds) > 2 else None
        url = self.server.endpoint + REGISTRY + path
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        req = botocore.awsrequest.AWSRequest(method=method, url=url, data=data, headers=headers)
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(access_key, secret_key,
                                                                 session_token),
                                "muonpipe", REGION).add_auth(req)
        prepared = req.prepare()
        r = urllib.request.Request(prepared.url, data=prepared.body or None, method=method,
                                   headers=dict(prepared.headers.items()))
        try:
            with _NO_PROXY_OPENER.open(r, timeout=30) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, (json.loads(raw) if raw else None)

    def clients(self, creds):
        """boto3 clients signing with creds = (key, secret[, token])."""
        key, secret = creds[0], creds[1]
        token = creds[2] if len(creds) > 2 else None
        return {s: self.server.client(s, access_key=key, secret_key=secret, session_token=token)
                for s in ("sts", "kinesis", "s3", "firehose")}

    def seed_data(self):
        """As the administrator: a stream, a bucket with an archive object, a registry site."""
        self.create_stream("muonpipe-live")
        s3 = self.server.client("s3")
        s3.create_bucket(Bucket="muonpipe-data",
                         CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket="muonpipe-data", Key="archive/2026/run1.ndjson", Body=b"{}\n")
        status, body = self.registry("POST", "sites", {
            "id": "dam-north", "name": "Tailings dam north", "kind": "underground",
            "latitude": -31.95, "longitude": 115.86, "depth_m": 40})
        self.assertEqual(status, 201, body)


class StsTest(AccessControlTestCase):
    """What needs no identity besides the bootstrap administrator."""

    def test_get_caller_identity_with_the_cli_and_boto3(self):
        r = self.server.aws("sts", "get-caller-identity")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json["Arn"], "arn:aws:iam::%s:user/admin" % ACCOUNT)
        self.assertEqual(r.json["Account"], ACCOUNT)
        self.assertTrue(r.json["UserId"].startswith("AIDA"), r.json)
        who = self.server.client("sts").get_caller_identity()
        self.assertEqual(who["Arn"], r.json["Arn"])

    def test_session_without_mfa_is_denied_by_the_mfa_rule_in_every_api(self):
        self.seed_data()
        r = self.server.aws("sts", "get-session-token", "--duration-seconds", "900")
        self.assertEqual(r.rc, 0, r)
        c = r.json["Credentials"]
        self.assertTrue(c["AccessKeyId"].startswith("ASIA"), c)
        creds = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        # The session is the administrator, with temporary credentials and no MFA; the
        # Administrator policy's deny-unless-MFA statement applies to it.
        path = self.server.credentials_file("session", *creds)
        who = self.server.aws("sts", "get-caller-identity", credentials_file=path)
        self.assertEqual(who.rc, 0, who)
        self.assertEqual(who.json["Arn"], "arn:aws:iam::%s:user/admin" % ACCOUNT)
        denied = self.server.aws("kinesis", "list-streams", credentials_file=path)
        self.assertNotEqual(denied.rc, 0, denied)
        self.assertIn("AccessDeniedException", denied.stderr)
        clients = self.clients(creds)
        self.assertAwsError("AccessDeniedException", clients["kinesis"].put_record,
                            StreamName="muonpipe-live", Data=b"x", PartitionKey="d1")
        self.assertAwsError("AccessDeniedException", clients["firehose"].list_delivery_streams)
        e = self.assertAwsError("AccessDenied", clients["s3"].get_object,
                                Bucket="muonpipe-data", Key="archive/2026/run1.ndjson")
        self.assertEqual(e.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        status, body = self.registry("GET", "sites/dam-north", creds=creds)
        self.assertEqual(status, 403, body)
        self.assertEqual(body["error"]["code"], "AccessDenied")
        e = self.assertAwsError("AccessDenied", clients["sts"].assume_role,
                                RoleArn="arn:aws:iam::%s:role/none" % ACCOUNT,
                                RoleSessionName="s1")
        self.assertEqual(e.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        # Sessions cannot mint sessions.
        self.assertAwsError("AccessDenied", clients["sts"].get_session_token)

    def test_unknown_keys_and_altered_tokens_are_refused(self):
        bogus = self.server.client("sts", access_key="AKIAUNKNOWNUNKNOWN00", secret_key="x" * 40)
        self.assertAwsError("InvalidClientTokenId", bogus.get_caller_identity)
        c = self.server.client("sts").get_session_token(DurationSeconds=900)["Credentials"]
        token = c["SessionToken"]
        altered = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
        for t in (altered, None):
            sts = self.server.client("sts", access_key=c["AccessKeyId"],
                                     secret_key=c["SecretAccessKey"], session_token=t)
            self.assertAwsError("InvalidClientTokenId", sts.get_caller_identity)
        kinesis = self.server.client("kinesis", access_key=c["AccessKeyId"],
                                     secret_key=c["SecretAccessKey"], session_token=altered)
        self.assertAwsError("UnrecognizedClientException", kinesis.list_streams)

    def test_parameters_are_validated_in_the_sts_shape(self):
        sts = self.server.client("sts")
        self.assertAwsError("ValidationError", sts.get_session_token, DurationSeconds=129601)
        r = self.server.aws("sts", "get-session-token", "--serial-number",
                            "arn:aws:iam::%s:mfa/admin" % ACCOUNT, "--token-code", "123456")
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("AccessDenied", r.stderr)
        self.assertIn("invalid MFA one time pass code", r.stderr)

    def test_the_bootstrap_key_keeps_every_api(self):
        # The bootstrap administrator's long-term key is the account's break-glass credential.
        self.seed_data()
        self.kinesis.put_record(StreamName="muonpipe-live", Data=b"x", PartitionKey="d1")
        r = self.server.aws("s3", "ls", "s3://muonpipe-data/archive/", "--recursive")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("run1.ndjson", r.stdout)


class IdentityTest(AccessControlTestCase):
    """Users, keys, MFA devices and roles made through the IAM Query API."""

    def setUp(self):
        super().setUp()
        self.iam = self.server.client("iam")

    def new_user(self, name, policy):
        self.iam.create_user(UserName=name)
        if policy:
            self.iam.attach_user_policy(UserName=name,
                                        PolicyArn="arn:aws:iam::%s:policy/%s" % (ACCOUNT, policy))
        k = self.iam.create_access_key(UserName=name)["AccessKey"]
        return k["AccessKeyId"], k["SecretAccessKey"]

    def enrol_mfa(self, name):
        """Creates and enables a virtual MFA device; returns (serial, seed, step time used last)."""
        d = self.iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
        seed = d["Base32StringSeed"]
        now = time.time()
        if now % 30 > 27:  # keep both codes inside the server's window
            time.sleep(30 - now % 30 + 0.1)
            now = time.time()
        self.iam.enable_mfa_device(UserName=name, SerialNumber=d["SerialNumber"],
                                   AuthenticationCode1=totp(seed, now - 30),
                                   AuthenticationCode2=totp(seed, now))
        return d["SerialNumber"], seed, now

    def session_token_cli(self, name, creds, serial, code):
        """`aws sts get-session-token` with an MFA code, signed with `creds`; the CLI result."""
        path = self.server.credentials_file(name, *creds)
        return self.server.aws("sts", "get-session-token", "--serial-number", serial,
                               "--token-code", code, credentials_file=path)

    def mfa_session(self, name, creds, serial, code):
        """The (key, secret, token) of a session that session_token_cli must grant."""
        r = self.session_token_cli(name, creds, serial, code)
        self.assertEqual(r.rc, 0, r)
        c = r.json["Credentials"]
        return (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

    def test_analyst_needs_mfa_then_reads_data_and_registry_but_does_not_write(self):
        self.seed_data()
        creds = self.new_user("ann", "Analyst")
        serial, seed, last = self.enrol_mfa("ann")
        plain = self.clients(creds)
        self.assertAwsError("AccessDenied", plain["s3"].get_object,
                            Bucket="muonpipe-data", Key="archive/2026/run1.ndjson")
        status, body = self.registry("GET", "sites/dam-north", creds=creds)
        self.assertEqual(status, 403, body)
        # The code of the step after the enrolment's last: fresh, inside the drift window.
        session = self.mfa_session("ann", creds, serial, totp(seed, last + 30))
        mfa = self.clients(session)
        body = mfa["s3"].get_object(Bucket="muonpipe-data", Key="archive/2026/run1.ndjson")
        self.assertEqual(body["Body"].read(), b"{}\n")
        status, site = self.registry("GET", "sites/dam-north", creds=session)
        self.assertEqual(status, 200, site)
        status, body = self.registry("PATCH", "sites/dam-north", {"name": "renamed"},
                                     creds=session)
        self.assertEqual(status, 403, body)
        self.assertEqual(body["error"]["code"], "AccessDenied")
        self.assertAwsError("AccessDenied", mfa["s3"].put_object, Bucket="muonpipe-data",
                            Key="archive/2026/run2.ndjson", Body=b"x")
        self.assertAwsError("AccessDeniedException", mfa["kinesis"].put_record,
                            StreamName="muonpipe-live", Data=b"x", PartitionKey="d1")
        # The code just used is refused a second time.
        again = self.session_token_cli("ann", creds, serial, totp(seed, last + 30))
        self.assertNotEqual(again.rc, 0, again)
        self.assertIn("AccessDenied", again.stderr)

    def admin_endpoint(self, path, creds=None, sign=True):
        """(status, error code or None, body) of GET path."""
        status, raw = self.server.admin_get(path, creds=creds, sign=sign)
        code = None
        if status != 200:
            code = json.loads(raw)["error"]["code"]
        return status, code, raw

    def test_admin_endpoints_need_a_signature_and_a_role_that_allows_them(self):
        usage, metrics = "/_muonpipe/usage", "/_muonpipe/metrics"
        self.create_stream("muonpipe-live")
        self.kinesis.put_record(StreamName="muonpipe-live", Data=b"{}\n", PartitionKey="det-1")
        # Health stays open; usage and metrics refuse unsigned requests.
        status, raw = self.server.admin_get("/_muonpipe/health", sign=False)
        self.assertEqual((status, json.loads(raw)), (200, {"status": "ok"}))
        for path in (usage, metrics):
            status, code, raw = self.admin_endpoint(path, sign=False)
            self.assertEqual((status, code), (403, "MissingAuthenticationToken"), raw)
        # The administrator's key reads both.
        status, _, raw = self.admin_endpoint(usage)
        self.assertEqual(status, 200, raw)
        self.assertEqual(json.loads(raw)["schema"], "muonpipe.usage.v1")
        status, _, raw = self.admin_endpoint(metrics)
        self.assertEqual(status, 200, raw)
        self.assertIn(b"# TYPE muonpipe_kinesis_records_in_total counter", raw)
        # A device reaches neither.
        device = self.new_user("dev-0042", "Device")
        for path in (usage, metrics):
            status, code, raw = self.admin_endpoint(path, creds=device)
            self.assertEqual((status, code), (403, "AccessDenied"), raw)
        # An analyst reads usage (planning), never metrics, and only with MFA.
        analyst = self.new_user("ann", "Analyst")
        serial, seed, last = self.enrol_mfa("ann")
        status, code, raw = self.admin_endpoint(usage, creds=analyst)
        self.assertEqual((status, code), (403, "AccessDenied"), raw)
        self.assertIn(b"explicit deny", raw)
        session = self.mfa_session("ann", analyst, serial, totp(seed, last + 30))
        status, _, raw = self.admin_endpoint(usage, creds=session)
        self.assertEqual(status, 200, raw)
        status, code, raw = self.admin_endpoint(metrics, creds=session)
        self.assertEqual((status, code), (403, "AccessDenied"), raw)
        self.assertIn(b"admin:GetMetrics", raw)
        # The planner signs with the analyst's session taken from the environment.
        env = dict(os.environ, AWS_ACCESS_KEY_ID=session[0], AWS_SECRET_ACCESS_KEY=session[1],
                   AWS_SESSION_TOKEN=session[2])
        plan = subprocess.run([MUONPIPE_BIN, "plan", "--from-url", self.server.endpoint, "--json"],
                              capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(plan.returncode, 0, plan.stdout + plan.stderr)
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = device
        del env["AWS_SESSION_TOKEN"]
        plan = subprocess.run([MUONPIPE_BIN, "plan", "--from-url", self.server.endpoint],
                              capture_output=True, text=True, timeout=120, env=env)
        self.assertNotEqual(plan.returncode, 0, plan.stdout)
        self.assertIn("AccessDenied", plan.stderr)

    def test_device_key_puts_to_its_stream_and_nothing_else(self):
        self.seed_data()
        self.create_stream("other-stream")
        creds = self.new_user("dev-0042", "Device")
        c = self.clients(creds)
        c["kinesis"].put_record(StreamName="muonpipe-live", Data=b"x", PartitionKey="dev-0042")
        c["kinesis"].put_records(StreamName="muonpipe-live",
                                 Records=[{"Data": b"y", "PartitionKey": "dev-0042"}])
        self.assertAwsError("AccessDeniedException", c["kinesis"].put_record,
                            StreamName="other-stream", Data=b"x", PartitionKey="k")
        self.assertAwsError("AccessDeniedException", c["kinesis"].list_streams)
        self.assertAwsError("AccessDeniedException", c["kinesis"].delete_stream,
                            StreamName="muonpipe-live")
        self.assertAwsError("AccessDenied", c["s3"].get_object,
                            Bucket="muonpipe-data", Key="archive/2026/run1.ndjson")
        c["s3"].put_object(Bucket="muonpipe-data", Key="incoming/dev-0042/batch1.ndjson",
                           Body=b"{}\n")
        self.assertAwsError("AccessDenied", c["s3"].put_object, Bucket="muonpipe-data",
                            Key="incoming/dev-0043/batch1.ndjson", Body=b"{}\n")
        status, body = self.registry("GET", "sites/dam-north", creds=creds)
        self.assertEqual(status, 403, body)

    def test_role_assumed_with_mfa_works_for_its_duration(self):
        self.seed_data()
        creds = self.new_user("olga", None)
        serial, seed, last = self.enrol_mfa("olga")
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": "arn:aws:iam::%s:user/olga" % ACCOUNT},
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}
        role = self.iam.create_role(RoleName="field-ops",
                                    AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        self.iam.attach_role_policy(RoleName="field-ops",
                                    PolicyArn="arn:aws:iam::%s:policy/Device" % ACCOUNT)
        sts = self.clients(creds)["sts"]
        self.assertAwsError("AccessDenied", sts.assume_role, RoleArn=role["Arn"],
                            RoleSessionName="olga")
        path = self.server.credentials_file("olga", *creds)
        before = time.time()
        r = self.server.aws("sts", "assume-role", "--role-arn", role["Arn"],
                            "--role-session-name", "olga", "--duration-seconds", "900",
                            "--serial-number", serial, "--token-code", totp(seed, last + 30),
                            credentials_file=path)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json["AssumedRoleUser"]["Arn"],
                         "arn:aws:sts::%s:assumed-role/field-ops/olga" % ACCOUNT)
        c = r.json["Credentials"]
        expires = time.mktime(time.strptime(c["Expiration"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        self.assertLessEqual(abs(expires - (before + 900)), 60, c["Expiration"])
        session = self.clients((c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]))
        session["kinesis"].put_record(StreamName="muonpipe-live", Data=b"x", PartitionKey="k")
        self.assertAwsError("AccessDeniedException", session["kinesis"].delete_stream,
                            StreamName="muonpipe-live")
        who = session["sts"].get_caller_identity()
        self.assertEqual(who["Arn"], "arn:aws:sts::%s:assumed-role/field-ops/olga" % ACCOUNT)

    def test_disabled_access_key_stops_at_once(self):
        self.seed_data()
        creds = self.new_user("dev-7", "Device")
        kinesis = self.clients(creds)["kinesis"]
        kinesis.put_record(StreamName="muonpipe-live", Data=b"x", PartitionKey="dev-7")
        self.iam.update_access_key(UserName="dev-7", AccessKeyId=creds[0], Status="Inactive")
        self.assertAwsError("UnrecognizedClientException", kinesis.put_record,
                            StreamName="muonpipe-live", Data=b"x", PartitionKey="dev-7")
        self.iam.update_access_key(UserName="dev-7", AccessKeyId=creds[0], Status="Active")
        kinesis.put_record(StreamName="muonpipe-live", Data=b"x", PartitionKey="dev-7")


if __name__ == "__main__":
    unittest.main()
