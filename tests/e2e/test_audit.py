"""The audit log of the real server: calls made with boto3 and the AWS CLI appear in
`aws cloudtrail lookup-events` and in `muonpipe audit`, refused and unauthenticated calls too,
STS calls once each, and requests made with session credentials in CloudTrail's shapes."""

import calendar
import json
import os
import subprocess
import time
import unittest

import botocore.exceptions

from harness import MUONPIPE_BIN, ServerTestCase, error_code, totp

ACCOUNT = "000000000000"

WAIT = 30.0  # seconds any bounded wait may take


class AuditTest(ServerTestCase):

    def lookup(self, *attrs, **kw):
        """Every page of lookup-events through the AWS CLI (it follows NextToken itself)."""
        args = ["cloudtrail", "lookup-events"]
        for k, v in attrs:
            args += ["--lookup-attributes", "AttributeKey=%s,AttributeValue=%s" % (k, v)]
        for k, v in kw.items():
            args += ["--" + k.replace("_", "-"), str(v)]
        r = self.server.aws(*args)
        self.assertEqual(r.rc, 0, r)
        return r.json["Events"]

    def muonpipe_audit(self, *args):
        p = subprocess.run([MUONPIPE_BIN, "audit", "--data-dir", self.server.data_dir] + list(args),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_calls_appear_in_lookup_events_and_in_muonpipe_audit(self):
        self.create_stream("audited")
        self.kinesis.put_record(StreamName="audited", Data=b"x", PartitionKey="det-1")
        s3 = self.server.client("s3")
        s3.create_bucket(Bucket="raw", CreateBucketConfiguration={
            "LocationConstraint": self.server.region})
        s3.put_object(Bucket="raw", Key="site-a/run1.csv", Body=b"1,2,3")

        events = self.lookup(("EventName", "PutRecord"))
        self.assertEqual(len(events), 1, events)
        e = events[0]
        self.assertEqual(e["EventSource"], "kinesis.amazonaws.com")
        self.assertEqual(e["Username"], "admin")
        self.assertEqual(e["AccessKeyId"], self.server.credentials()[0])
        record = json.loads(e["CloudTrailEvent"])
        self.assertEqual(record["eventType"], "AwsApiCall")
        self.assertEqual(record["userIdentity"]["type"], "Root")
        self.assertEqual(record["awsRegion"], self.server.region)
        self.assertEqual(record["requestParameters"], {"streamName": "audited"})
        self.assertEqual(record["sourceIPAddress"], "127.0.0.1")
        self.assertIn("Boto3", record["userAgent"])
        self.assertNotIn("errorCode", record)

        objects = self.lookup(("ResourceName", "raw/site-a/run1.csv"))
        self.assertEqual([x["EventName"] for x in objects], ["PutObject"])
        self.assertEqual(objects[0]["Resources"][0]["ResourceType"], "AWS::S3::Object")
        self.assertEqual(self.lookup(("EventSource", "s3.amazonaws.com"), ("ReadOnly", "false"))[0]
                         ["EventName"], "PutObject")

        # Paged by the CLI: every record once, newest first.
        everything = self.lookup(page_size=2)
        ids = [x["EventId"] for x in everything]
        self.assertEqual(len(ids), len(set(ids)))
        times = [x["EventTime"] for x in everything]
        self.assertEqual(times, sorted(times, reverse=True))
        self.assertIn("CreateStream", [x["EventName"] for x in everything])

        # boto3 with a time window.
        ct = self.server.client("cloudtrail")
        now = time.time()
        page = ct.lookup_events(StartTime=now - 600, EndTime=now + 600, MaxResults=50,
                                LookupAttributes=[{"AttributeKey": "Username",
                                                   "AttributeValue": "admin"}])
        self.assertIn("PutObject", [x["EventName"] for x in page["Events"]])
        self.assertEqual(ct.lookup_events(StartTime=now + 3600)["Events"], [])

        # The same records from the files, without the server's help.
        self.server.terminate()
        out = self.muonpipe_audit("--event", "PutRecord", "--json")
        lines = [json.loads(x) for x in out.splitlines()]
        self.assertEqual([x["eventName"] for x in lines], ["PutRecord"])
        self.assertEqual(lines[0]["eventID"], e["EventId"])
        table = self.muonpipe_audit("--user", "admin", "--since", "1h")
        self.assertIn("PutObject", table)
        self.assertIn("arn:aws:s3:::raw/site-a/run1.csv", table)
        self.server.start()

    def test_a_bad_signature_and_an_unknown_key_are_recorded_as_failures(self):
        key, _ = self.server.credentials()
        bad = self.server.client(secret_key="not-the-secret")
        with self.assertRaises(botocore.exceptions.ClientError) as c:
            bad.list_streams()
        self.assertEqual(error_code(c.exception), "InvalidSignatureException")
        request_id = c.exception.response["ResponseMetadata"]["RequestId"]
        stranger = self.server.client("s3", access_key="AKIANOBODYHERE000000", secret_key="x")
        with self.assertRaises(botocore.exceptions.ClientError):
            stranger.list_buckets()

        bad_sig = self.lookup(("AccessKeyId", key), ("EventName", "ListStreams"))
        self.assertEqual(len(bad_sig), 1, bad_sig)
        record = json.loads(bad_sig[0]["CloudTrailEvent"])
        self.assertEqual(record["errorCode"], "SignatureDoesNotMatch")
        self.assertEqual(record["requestID"], request_id)
        self.assertEqual(record["userIdentity"]["type"], "Unknown")

        unknown = self.lookup(("AccessKeyId", "AKIANOBODYHERE000000"))
        self.assertEqual(len(unknown), 1, unknown)
        record = json.loads(unknown[0]["CloudTrailEvent"])
        self.assertEqual(record["errorCode"], "InvalidClientTokenId")
        self.assertEqual(record["eventSource"], "s3.amazonaws.com")
        self.assertEqual(record["eventName"], "ListBuckets")

        out = self.muonpipe_audit("--failures")
        self.assertIn("SignatureDoesNotMatch", out)
        self.assertIn("InvalidClientTokenId", out)
        self.assertNotIn("LookupEvents", out)

    def test_admin_endpoint_decisions_and_refusals_are_recorded(self):
        status, _ = self.server.admin_get("/_muonpipe/usage", sign=False)
        self.assertEqual(status, 403)
        status, _ = self.server.admin_get("/_muonpipe/metrics")
        self.assertEqual(status, 200)
        iam = self.server.client("iam")
        iam.create_user(UserName="dev-0042")
        iam.attach_user_policy(UserName="dev-0042",
                               PolicyArn="arn:aws:iam::000000000000:policy/Device")
        k = iam.create_access_key(UserName="dev-0042")["AccessKey"]
        status, _ = self.server.admin_get("/_muonpipe/usage",
                                          creds=(k["AccessKeyId"], k["SecretAccessKey"]))
        self.assertEqual(status, 403)

        events = self.lookup(("EventSource", "admin.muonpipe"))
        records = sorted((json.loads(e["CloudTrailEvent"]) for e in events),
                         key=lambda r: r["eventTime"])
        summary = [(r["eventName"], r["userIdentity"].get("userName"), r.get("errorCode"))
                   for r in records]
        self.assertEqual(sorted(summary, key=str), sorted([
            ("GET /_muonpipe/usage", None, "MissingAuthenticationToken"),
            ("GetMetrics", "admin", None),
            ("GetUsage", "dev-0042", "AccessDenied"),
        ], key=str), summary)
        denied = [r for r in records if r.get("errorCode") == "AccessDenied"][0]
        self.assertEqual([(x["ARN"], x["type"]) for x in denied["resources"]],
                         [("arn:muonpipe:admin:::usage", "Muonpipe::Admin::Endpoint")])
        self.assertEqual(denied["userIdentity"]["accessKeyId"], k["AccessKeyId"])
        self.assertTrue(denied["readOnly"])
        out = self.muonpipe_audit("--failures")
        self.assertIn("GetUsage", out)
        self.assertIn("MissingAuthenticationToken", out)

    def test_records_survive_a_restart_and_later_records_follow(self):
        self.create_stream("before")
        self.server.restart()
        self.create_stream("after", client=self.server.client())
        names = [json.loads(x["CloudTrailEvent"])["requestParameters"]["streamName"]
                 for x in self.lookup(("EventName", "CreateStream"))]
        self.assertEqual(names, ["after", "before"])
        self.assertGreaterEqual(len(os.listdir(os.path.join(self.server.data_dir, "audit"))), 2)

    def record(self, event):
        return json.loads(event["CloudTrailEvent"])

    def test_sts_calls_and_session_requests_are_recorded_in_cloudtrails_shapes(self):
        iam = self.server.client("iam")
        iam.create_user(UserName="olga")
        k = iam.create_access_key(UserName="olga")["AccessKey"]
        d = iam.create_virtual_mfa_device(VirtualMFADeviceName="olga")["VirtualMFADevice"]
        seed, serial = d["Base32StringSeed"], d["SerialNumber"]
        now = time.time()
        if now % 30 > 27:  # keep both codes inside the server's window
            time.sleep(30 - now % 30 + 0.1)
            now = time.time()
        iam.enable_mfa_device(UserName="olga", SerialNumber=serial,
                              AuthenticationCode1=totp(seed, now - 30),
                              AuthenticationCode2=totp(seed, now))
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": "arn:aws:iam::%s:user/olga" % ACCOUNT}}]}
        role_arn = iam.create_role(RoleName="field-ops",
                                   AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        long_term = self.server.credentials_file("olga", k["AccessKeyId"], k["SecretAccessKey"])

        # A refused call: one record with the error code of its reply.
        bad = self.server.aws("sts", "get-session-token", "--serial-number", serial,
                              credentials_file=long_term)
        self.assertNotEqual(bad.rc, 0, bad)
        self.assertIn("AccessDenied", bad.stderr)
        refused = self.lookup(("EventName", "GetSessionToken"))
        self.assertEqual(len(refused), 1, refused)
        self.assertEqual(self.record(refused[0])["errorCode"], "AccessDenied")
        self.assertEqual(refused[0]["EventSource"], "sts.amazonaws.com")

        r = self.server.aws("sts", "get-session-token", "--duration-seconds", "900",
                            "--serial-number", serial, "--token-code", totp(seed, now + 30),
                            credentials_file=long_term)
        self.assertEqual(r.rc, 0, r)
        c = r.json["Credentials"]
        # Issued 900 s before it expires.
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(
            calendar.timegm(time.strptime(c["Expiration"][:19], "%Y-%m-%dT%H:%M:%S")) - 900))
        mfa_session = self.server.credentials_file("olga-mfa", c["AccessKeyId"],
                                                   c["SecretAccessKey"], c["SessionToken"])
        self.assertEqual(self.server.aws("sts", "get-caller-identity",
                                         credentials_file=mfa_session).rc, 0)

        # Assumed with the MFA session: the role's session is an AssumedRole.
        r = self.server.aws("sts", "assume-role", "--role-arn", role_arn,
                            "--role-session-name", "olga-ops", credentials_file=mfa_session)
        self.assertEqual(r.rc, 0, r)
        rc = r.json["Credentials"]
        role_session = self.server.credentials_file("olga-ops", rc["AccessKeyId"],
                                                    rc["SecretAccessKey"], rc["SessionToken"])
        self.assertEqual(self.server.aws("sts", "get-caller-identity",
                                         credentials_file=role_session).rc, 0)
        denied = self.server.aws("sts", "assume-role", "--role-arn",
                                 "arn:aws:iam::%s:role/no-such-role" % ACCOUNT,
                                 "--role-session-name", "x1", credentials_file=mfa_session)
        self.assertNotEqual(denied.rc, 0, denied)
        too_long = self.server.aws("sts", "assume-role", "--role-arn", role_arn,
                                   "--role-session-name", "x2", "--duration-seconds", "7200",
                                   credentials_file=mfa_session)
        self.assertIn("ValidationError", too_long.stderr)

        assumed = [self.record(x) for x in self.lookup(("EventName", "AssumeRole"))]
        self.assertEqual(len(assumed), 3, assumed)  # one record per call, newest first
        self.assertEqual([x.get("errorCode") for x in assumed],
                         ["ValidationError", "AccessDenied", None])
        self.assertEqual(assumed[2]["eventSource"], "sts.amazonaws.com")
        self.assertEqual(assumed[2]["requestParameters"],
                         {"roleArn": role_arn, "roleSessionName": "olga-ops"})
        self.assertEqual(assumed[2]["resources"][0]["type"], "AWS::IAM::Role")

        by_user_session = self.lookup(("AccessKeyId", c["AccessKeyId"]))
        self.assertEqual(sorted(x["EventName"] for x in by_user_session),
                         ["AssumeRole", "AssumeRole", "AssumeRole", "GetCallerIdentity"])
        for e in by_user_session:
            u = self.record(e)["userIdentity"]
            self.assertEqual(u["type"], "IAMUser")
            self.assertEqual(u["userName"], "olga")
            self.assertEqual(u["sessionContext"]["attributes"],
                             {"mfaAuthenticated": "true", "creationDate": issued})

        by_role_session = self.lookup(("AccessKeyId", rc["AccessKeyId"]))
        self.assertEqual([x["EventName"] for x in by_role_session], ["GetCallerIdentity"])
        u = self.record(by_role_session[0])["userIdentity"]
        self.assertEqual(u["type"], "AssumedRole")
        self.assertEqual(u["arn"], "arn:aws:sts::%s:assumed-role/field-ops/olga-ops" % ACCOUNT)
        self.assertEqual(u["sessionContext"]["sessionIssuer"]["arn"], role_arn)
        self.assertEqual(u["sessionContext"]["sessionIssuer"]["userName"], "field-ops")
        self.assertEqual(u["sessionContext"]["attributes"]["mfaAuthenticated"], "true")
        self.assertIn("creationDate", u["sessionContext"]["attributes"])
        self.assertEqual(by_role_session[0]["Username"], "olga-ops")


if __name__ == "__main__":
    unittest.main()
