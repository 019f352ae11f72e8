"""The IAM Query API of the real server, driven by the real AWS CLI (`aws iam ...`) and boto3:
users, access keys, groups, managed policies, roles and virtual MFA devices, and IAM's error codes
as botocore reads them."""

import json
import os
import subprocess
import time
import unittest

import botocore.exceptions

from harness import MUONPIPE_BIN, ServerTestCase, totp, error_code

WAIT = 30.0  # seconds a running server may take to see another process's change (it takes ~1)

ALLOW_KINESIS_READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["kinesis:Get*", "kinesis:Describe*"],
                   "Resource": "*"}],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                   "Action": "sts:AssumeRole"}],
}


def two_consecutive_codes(seed_base32):
    now = time.time()
    return totp(seed_base32, now - 30), totp(seed_base32, now)


class IamTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.iam = self.server.client("iam")

    def cli(self, *args):
        r = self.server.aws("iam", *args)
        self.assertEqual(r.rc, 0, r)
        return r.json

    def cli_error(self, code, *args):
        r = self.server.aws("iam", *args)
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("(%s)" % code, r.stderr, r)
        return r

    def write(self, name, content):
        path = os.path.join(self.workdir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(content)
        return path

    def test_users_with_the_cli(self):
        created = self.cli("create-user", "--user-name", "alice", "--path", "/team/",
                           "--tags", "Key=dept,Value=physics")["User"]
        self.assertEqual(created["UserName"], "alice")
        self.assertEqual(created["Arn"], "arn:aws:iam::000000000000:user/team/alice")
        self.assertTrue(created["UserId"].startswith("AIDA"))
        self.assertEqual(created["Tags"], [{"Key": "dept", "Value": "physics"}])

        got = self.cli("get-user", "--user-name", "alice")["User"]
        self.assertEqual(got["UserId"], created["UserId"])
        # Without a name: the caller, the bootstrap administrator.
        me = self.cli("get-user")["User"]
        self.assertEqual(me["UserName"], "admin")

        names = [u["UserName"] for u in self.cli("list-users")["Users"]]
        self.assertIn("alice", names)
        self.assertIn("admin", names)
        self.assertEqual([u["UserName"] for u in
                          self.cli("list-users", "--path-prefix", "/team/")["Users"]], ["alice"])

        self.cli_error("EntityAlreadyExists", "create-user", "--user-name", "alice")
        self.cli_error("NoSuchEntity", "get-user", "--user-name", "nobody")
        self.cli("delete-user", "--user-name", "alice")
        self.cli_error("NoSuchEntity", "get-user", "--user-name", "alice")

    def test_access_keys_work_at_once_and_stop_at_once(self):
        self.cli("create-user", "--user-name", "dev")
        key = self.cli("create-access-key", "--user-name", "dev")["AccessKey"]
        self.assertEqual(key["Status"], "Active")
        self.assertTrue(key["AccessKeyId"].startswith("AKIA"))
        listed = self.cli("list-access-keys", "--user-name", "dev")["AccessKeyMetadata"]
        self.assertEqual([k["AccessKeyId"] for k in listed], [key["AccessKeyId"]])

        # The new key signs requests as its user, with boto3.
        dev = self.server.client("iam", access_key=key["AccessKeyId"],
                                 secret_key=key["SecretAccessKey"])
        # Policies decide: a user with none is refused, one allowed is answered.
        self.assertAwsError("AccessDenied", dev.get_user)
        policy_arn = self.allow_on_own_user("dev", ["iam:GetUser", "iam:ListAccessKeys"])
        self.assertEqual(dev.get_user()["User"]["UserName"], "dev")
        self.assertEqual(
            dev.list_access_keys()["AccessKeyMetadata"][0]["AccessKeyId"], key["AccessKeyId"])
        used = self.iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
        self.assertEqual(used["UserName"], "dev")

        # Disabled: refused at the very next request.
        self.cli("update-access-key", "--user-name", "dev", "--access-key-id",
                 key["AccessKeyId"], "--status", "Inactive")
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            dev.get_user()
        self.assertEqual(error_code(e.exception), "InvalidClientTokenId")
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        listed = self.cli("list-access-keys", "--user-name", "dev")["AccessKeyMetadata"]
        self.assertEqual(listed[0]["Status"], "Inactive")

        # Active again: works again.
        self.cli("update-access-key", "--user-name", "dev", "--access-key-id",
                 key["AccessKeyId"], "--status", "Active")
        self.assertEqual(dev.get_user()["User"]["UserName"], "dev")

        self.assertAwsError("DeleteConflict", self.iam.delete_user, UserName="dev")
        self.cli("delete-access-key", "--user-name", "dev", "--access-key-id", key["AccessKeyId"])
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            dev.get_user()
        self.assertEqual(error_code(e.exception), "InvalidClientTokenId")
        self.iam.detach_user_policy(UserName="dev", PolicyArn=policy_arn)
        self.cli("delete-user", "--user-name", "dev")

    def allow_on_own_user(self, user, actions):
        """Attaches to `user` a managed policy allowing `actions` on the user's own ARN."""
        arn = self.iam.get_user(UserName=user)["User"]["Arn"]
        document = {"Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": actions, "Resource": arn}]}
        policy_arn = self.iam.create_policy(PolicyName=f"{user}-self",
                                            PolicyDocument=json.dumps(document))["Policy"]["Arn"]
        self.iam.attach_user_policy(UserName=user, PolicyArn=policy_arn)
        return policy_arn

    def test_a_wrong_secret_is_signature_does_not_match(self):
        ak, _ = self.server.credentials()
        bad = self.server.client("iam", access_key=ak, secret_key="x" * 40)
        self.assertAwsError("SignatureDoesNotMatch", bad.list_users)
        unknown = self.server.client("iam", access_key="AKIAUNKNOWNUNKNOWN23", secret_key="x" * 40)
        self.assertAwsError("InvalidClientTokenId", unknown.list_users)

    def test_groups_policies_and_attachments(self):
        self.cli("create-user", "--user-name", "ana")
        group = self.cli("create-group", "--group-name", "analysts")["Group"]
        self.assertEqual(group["Arn"], "arn:aws:iam::000000000000:group/analysts")
        self.cli("add-user-to-group", "--group-name", "analysts", "--user-name", "ana")
        members = self.cli("get-group", "--group-name", "analysts")["Users"]
        self.assertEqual([u["UserName"] for u in members], ["ana"])
        self.assertEqual([g["GroupName"] for g in
                          self.iam.list_groups_for_user(UserName="ana")["Groups"]], ["analysts"])

        doc = self.write("policy.json", json.dumps(ALLOW_KINESIS_READ))
        policy = self.cli("create-policy", "--policy-name", "KinesisRead",
                          "--policy-document", "file://" + doc,
                          "--description", "read streams")["Policy"]
        self.assertEqual(policy["Arn"], "arn:aws:iam::000000000000:policy/KinesisRead")
        self.assertEqual(policy["DefaultVersionId"], "v1")
        # The document comes back URL-encoded on the wire; botocore decodes it.
        version = self.iam.get_policy_version(PolicyArn=policy["Arn"], VersionId="v1")
        self.assertEqual(version["PolicyVersion"]["Document"], ALLOW_KINESIS_READ)
        self.assertTrue(version["PolicyVersion"]["IsDefaultVersion"])

        self.cli("attach-user-policy", "--user-name", "ana", "--policy-arn", policy["Arn"])
        self.cli("attach-group-policy", "--group-name", "analysts", "--policy-arn", policy["Arn"])
        attached = self.iam.list_attached_user_policies(UserName="ana")["AttachedPolicies"]
        self.assertEqual(attached, [{"PolicyName": "KinesisRead", "PolicyArn": policy["Arn"]}])
        self.assertEqual(self.iam.get_policy(PolicyArn=policy["Arn"])["Policy"]["AttachmentCount"], 2)
        names = [p["PolicyName"] for p in self.iam.list_policies(Scope="Local")["Policies"]]
        for predefined in ("Administrator", "Operator", "Analyst", "Device", "Auditor"):
            self.assertIn(predefined, names)

        self.assertAwsError("DeleteConflict", self.iam.delete_policy, PolicyArn=policy["Arn"])
        self.assertAwsError("DeleteConflict", self.iam.delete_group, GroupName="analysts")
        self.assertAwsError("MalformedPolicyDocument", self.iam.create_policy,
                            PolicyName="Broken", PolicyDocument='{"Version": "2012-10-17"')
        self.assertAwsError("MalformedPolicyDocument", self.iam.create_policy,
                            PolicyName="NoStatement", PolicyDocument='{"Version": "2012-10-17"}')
        self.assertAwsError("NoSuchEntity", self.iam.attach_user_policy, UserName="ana",
                            PolicyArn="arn:aws:iam::000000000000:policy/Missing")
        self.assertAwsError("EntityAlreadyExists", self.iam.create_group, GroupName="analysts")

        self.iam.detach_user_policy(UserName="ana", PolicyArn=policy["Arn"])
        self.iam.detach_group_policy(GroupName="analysts", PolicyArn=policy["Arn"])
        self.iam.remove_user_from_group(GroupName="analysts", UserName="ana")
        self.iam.delete_group(GroupName="analysts")
        self.iam.delete_policy(PolicyArn=policy["Arn"])
        self.assertAwsError("NoSuchEntity", self.iam.get_policy, PolicyArn=policy["Arn"])

    def test_policy_versions(self):
        arn = self.iam.create_policy(PolicyName="P", PolicyDocument=json.dumps(ALLOW_KINESIS_READ))[
            "Policy"]["Arn"]
        v2 = self.iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(TRUST_FREE),
                                            SetAsDefault=True)["PolicyVersion"]
        self.assertEqual(v2["VersionId"], "v2")
        versions = self.iam.list_policy_versions(PolicyArn=arn)["Versions"]
        self.assertEqual(sorted(v["VersionId"] for v in versions), ["v1", "v2"])
        self.assertAwsError("DeleteConflict", self.iam.delete_policy_version, PolicyArn=arn,
                            VersionId="v2")
        self.iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
        self.iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
        self.assertEqual(self.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"], "v1")

    def test_roles(self):
        trust = self.write("trust.json", json.dumps(TRUST))
        role = self.cli("create-role", "--role-name", "Reader",
                        "--assume-role-policy-document", "file://" + trust,
                        "--max-session-duration", "7200", "--description", "reads")["Role"]
        self.assertEqual(role["Arn"], "arn:aws:iam::000000000000:role/Reader")
        self.assertTrue(role["RoleId"].startswith("AROA"))
        self.assertEqual(role["AssumeRolePolicyDocument"], TRUST)
        roles = self.cli("list-roles")["Roles"]
        self.assertEqual([r["RoleName"] for r in roles], ["Reader"])
        self.assertEqual(roles[0]["MaxSessionDuration"], 7200)
        got = self.iam.get_role(RoleName="Reader")["Role"]
        self.assertEqual(got["AssumeRolePolicyDocument"], TRUST)
        self.assertEqual(got["Description"], "reads")
        arn = "arn:aws:iam::000000000000:policy/Analyst"
        self.iam.attach_role_policy(RoleName="Reader", PolicyArn=arn)
        self.assertEqual([p["PolicyArn"] for p in
                          self.iam.list_attached_role_policies(RoleName="Reader")["AttachedPolicies"]],
                         [arn])
        self.assertAwsError("DeleteConflict", self.iam.delete_role, RoleName="Reader")
        self.assertAwsError("MalformedPolicyDocument", self.iam.create_role, RoleName="Bad",
                            AssumeRolePolicyDocument="not json")
        self.iam.detach_role_policy(RoleName="Reader", PolicyArn=arn)
        self.iam.delete_role(RoleName="Reader")
        self.assertAwsError("NoSuchEntity", self.iam.get_role, RoleName="Reader")

    def test_virtual_mfa_enrolment_with_the_cli(self):
        self.cli("create-user", "--user-name", "mia")
        seed_path = os.path.join(self.workdir, "seed.txt")
        device = self.cli("create-virtual-mfa-device", "--virtual-mfa-device-name", "mia-phone",
                          "--outfile", seed_path,
                          "--bootstrap-method", "Base32StringSeed")["VirtualMFADevice"]
        serial = device["SerialNumber"]
        self.assertEqual(serial, "arn:aws:iam::000000000000:mfa/mia-phone")
        with open(seed_path, encoding="ascii") as f:
            seed = f.read().strip()
        self.assertRegex(seed, r"^[A-Z2-7]{32}$")

        png_path = os.path.join(self.workdir, "qr.png")
        self.cli("create-virtual-mfa-device", "--virtual-mfa-device-name", "spare",
                 "--outfile", png_path, "--bootstrap-method", "QRCodePNG")
        with open(png_path, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

        self.cli_error("InvalidAuthenticationCode", "enable-mfa-device", "--user-name", "mia",
                       "--serial-number", serial, "--authentication-code1", "000000",
                       "--authentication-code2", "000001")
        code1, code2 = two_consecutive_codes(seed)
        self.cli("enable-mfa-device", "--user-name", "mia", "--serial-number", serial,
                 "--authentication-code1", code1, "--authentication-code2", code2)
        devices = self.cli("list-mfa-devices", "--user-name", "mia")["MFADevices"]
        self.assertEqual([d["SerialNumber"] for d in devices], [serial])
        assigned = self.iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")
        self.assertEqual([(d["SerialNumber"], d["User"]["UserName"])
                          for d in assigned["VirtualMFADevices"]], [(serial, "mia")])
        free = self.iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")
        self.assertEqual([d["SerialNumber"] for d in free["VirtualMFADevices"]],
                         ["arn:aws:iam::000000000000:mfa/spare"])

        self.assertAwsError("DeleteConflict", self.iam.delete_virtual_mfa_device,
                            SerialNumber=serial)
        self.iam.deactivate_mfa_device(UserName="mia", SerialNumber=serial)
        self.iam.delete_virtual_mfa_device(SerialNumber=serial)
        self.assertAwsError("NoSuchEntity", self.iam.delete_virtual_mfa_device,
                            SerialNumber=serial)

    def test_login_profile(self):
        self.iam.create_user(UserName="lee")
        lp = self.iam.create_login_profile(UserName="lee", Password="a long passphrase",
                                           PasswordResetRequired=True)["LoginProfile"]
        self.assertEqual(lp["UserName"], "lee")
        self.assertTrue(lp["PasswordResetRequired"])
        self.assertAwsError("PasswordPolicyViolation", self.iam.update_login_profile,
                            UserName="lee", Password="short")
        self.assertAwsError("EntityAlreadyExists", self.iam.create_login_profile, UserName="lee",
                            Password="a long passphrase")
        self.iam.update_login_profile(UserName="lee", PasswordResetRequired=False)
        self.assertFalse(
            self.iam.get_login_profile(UserName="lee")["LoginProfile"]["PasswordResetRequired"])
        # ChangePassword is the caller's own: lee signs with a key of lee's.
        key = self.iam.create_access_key(UserName="lee")["AccessKey"]
        lee = self.server.client("iam", access_key=key["AccessKeyId"],
                                 secret_key=key["SecretAccessKey"])
        self.allow_on_own_user("lee", ["iam:ChangePassword"])
        self.assertAwsError("AccessDenied", lee.change_password, OldPassword="not the password",
                            NewPassword="another long one")
        lee.change_password(OldPassword="a long passphrase", NewPassword="another long one")
        self.iam.delete_login_profile(UserName="lee")
        self.assertAwsError("NoSuchEntity", self.iam.get_login_profile, UserName="lee")

    def muonpipe_iam(self, *args, stdin=""):
        p = subprocess.run([MUONPIPE_BIN, "iam", "--data-dir", self.server.data_dir]
                           + list(args), input=stdin, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, (args, p.stdout, p.stderr))
        return p.stdout

    def eventually(self, fn):
        deadline = time.monotonic() + WAIT
        while True:
            try:
                return fn()
            except (AssertionError, botocore.exceptions.ClientError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def test_the_local_cli_changes_what_the_running_server_answers(self):
        self.assertIn("user/ops1", self.muonpipe_iam("users", "create", "ops1"))
        out = self.muonpipe_iam("keys", "create", "ops1")
        fields = dict(line.split(" = ") for line in out.splitlines() if " = " in line)
        key_id, secret = fields["aws_access_key_id"], fields["aws_secret_access_key"]
        self.muonpipe_iam("groups", "create", "ops")
        self.muonpipe_iam("groups", "add-user", "ops", "ops1")
        self.muonpipe_iam("attach", "Operator", "--group", "ops")
        self.muonpipe_iam("login-profile", "create", "ops1", stdin="a long enough password\n")

        ops1 = self.server.client("iam", access_key=key_id, secret_key=secret)
        self.assertEqual(self.eventually(lambda: ops1.get_user())["User"]["UserName"], "ops1")
        self.assertEqual([p["PolicyName"] for p in
                          self.iam.list_attached_group_policies(GroupName="ops")["AttachedPolicies"]],
                         ["Operator"])
        self.assertEqual(self.iam.get_login_profile(UserName="ops1")["LoginProfile"]["UserName"],
                         "ops1")
        self.assertIn(key_id, self.muonpipe_iam("keys", "list", "ops1"))

        self.muonpipe_iam("keys", "disable", "ops1", key_id)

        def refused():
            with self.assertRaises(botocore.exceptions.ClientError) as e:
                ops1.get_user()
            self.assertEqual(error_code(e.exception), "InvalidClientTokenId")
        self.eventually(refused)

    def test_the_local_cli_enrols_and_resets_mfa(self):
        self.muonpipe_iam("users", "create", "fay")
        p = subprocess.Popen([MUONPIPE_BIN, "iam", "--data-dir", self.server.data_dir, "mfa",
                              "enable", "fay"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        shown = []
        try:
            # It shows the QR code, the otpauth URI and the key, then waits for two codes.
            while not (shown and shown[-1].startswith("key: ")):
                line = p.stdout.readline()
                self.assertTrue(line, "muonpipe iam mfa enable ended early: %r" % shown)
                shown.append(line)
            seed = shown[-1][len("key: "):].strip()
            self.assertTrue(any(l.startswith("otpauth://totp/") for l in shown), shown)
            self.assertTrue(any("\u2588" in l or "\u2580" in l or "\u2584" in l for l in shown),
                            "no QR code in %r" % shown[:3])
            code1, code2 = two_consecutive_codes(seed)
            out, err = p.communicate("%s\n%s\n" % (code1, code2), timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 0, (out, err))
        # Lists are read from the database, so the server answers them with the change at once.
        devices = self.iam.list_mfa_devices(UserName="fay")["MFADevices"]
        self.assertEqual([d["SerialNumber"] for d in devices],
                         ["arn:aws:iam::000000000000:mfa/fay"])

        self.muonpipe_iam("mfa", "reset", "fay")
        self.assertEqual(self.iam.list_mfa_devices(UserName="fay")["MFADevices"], [])
        self.assertEqual(self.iam.list_virtual_mfa_devices()["VirtualMFADevices"], [])
        # The reset bypassed the API, so the tool audited it itself.
        p = subprocess.run([MUONPIPE_BIN, "audit", "--data-dir", self.server.data_dir,
                            "--event", "iam mfa reset", "--json"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        records = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
        self.assertEqual(len(records), 1, p.stdout)
        self.assertEqual(records[0]["eventSource"], "cli.muonpipe")
        self.assertEqual(records[0]["requestParameters"], {"name": "fay"})
        self.assertNotIn("errorCode", records[0])


TRUST_FREE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}

if __name__ == "__main__":
    unittest.main()
