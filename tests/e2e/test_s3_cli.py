"""S3 through the AWS CLI (`aws s3` and `aws s3api`) against a real `muonpipe serve`."""

import base64
import hashlib
import json
import os
import zlib
import urllib.error
import urllib.request

from harness import REGION, ServerTestCase

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class S3CliTest(ServerTestCase):

    def ok(self, *args, **kwargs):
        r = self.server.aws(*args, **kwargs)
        self.assertEqual(r.rc, 0, "aws %s failed: %s" % (" ".join(map(str, args)), r.stderr))
        return r

    def fails_with(self, code, *args):
        r = self.server.aws(*args)
        self.assertNotEqual(r.rc, 0, "aws %s succeeded: %s" % (" ".join(map(str, args)), r.stdout))
        self.assertIn(code, r.stderr)
        return r

    def write(self, rel, data):
        path = os.path.join(self.workdir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def read(self, rel):
        with open(os.path.join(self.workdir, rel), "rb") as f:
            return f.read()

    def test_mb_cp_ls_sync_rm_rb(self):
        self.ok("s3", "mb", "s3://cli-bucket")
        self.assertIn("cli-bucket", self.ok("s3", "ls").stdout)
        small = os.urandom(1000)
        big = os.urandom(9 * 1024 * 1024 + 7)  # above the CLI's 8 MiB multipart threshold
        self.write("up/small.bin", small)
        self.write("up/big.bin", big)
        self.ok("s3", "cp", os.path.join(self.workdir, "up/small.bin"), "s3://cli-bucket/one/small.bin")
        self.ok("s3", "cp", os.path.join(self.workdir, "up/big.bin"), "s3://cli-bucket/one/big.bin")
        self.ok("s3", "cp", "s3://cli-bucket/one/big.bin", os.path.join(self.workdir, "down/big.bin"))
        self.ok("s3", "cp", "s3://cli-bucket/one/small.bin", os.path.join(self.workdir, "down/small.bin"))
        self.assertEqual(self.read("down/big.bin"), big)
        self.assertEqual(self.read("down/small.bin"), small)

        ls = self.ok("s3", "ls", "s3://cli-bucket/one/").stdout
        self.assertIn("small.bin", ls)
        self.assertIn("big.bin", ls)
        self.assertIn("PRE one/", self.ok("s3", "ls", "s3://cli-bucket").stdout)

        for i in range(5):
            self.write("tree/d%d/f%d.txt" % (i % 2, i), ("file %d" % i).encode())
        self.ok("s3", "sync", os.path.join(self.workdir, "tree"), "s3://cli-bucket/tree")
        rec = self.ok("s3", "ls", "--recursive", "s3://cli-bucket/tree/").stdout
        self.assertEqual(len([l for l in rec.splitlines() if l.strip()]), 5)
        # A second sync has nothing to do.
        self.assertEqual(self.ok("s3", "sync", os.path.join(self.workdir, "tree"),
                                 "s3://cli-bucket/tree").stdout.strip(), "")
        self.ok("s3", "sync", "s3://cli-bucket/tree", os.path.join(self.workdir, "back"))
        for i in range(5):
            self.assertEqual(self.read("back/d%d/f%d.txt" % (i % 2, i)), ("file %d" % i).encode())

        self.ok("s3", "rm", "s3://cli-bucket/one/small.bin")
        self.assertNotIn("small.bin", self.ok("s3", "ls", "s3://cli-bucket/one/").stdout)
        self.fails_with("BucketNotEmpty", "s3", "rb", "s3://cli-bucket")
        self.ok("s3", "rm", "--recursive", "s3://cli-bucket")
        self.ok("s3", "rb", "s3://cli-bucket")
        self.assertNotIn("cli-bucket", self.ok("s3", "ls").stdout)

    def test_presign(self):
        self.ok("s3", "mb", "s3://pre-bucket")
        self.write("p.txt", b"presigned body")
        self.ok("s3", "cp", os.path.join(self.workdir, "p.txt"), "s3://pre-bucket/p.txt")
        config = self.write("aws-config", b"[default]\ns3 =\n    signature_version = s3v4\n")
        url = self.ok("s3", "presign", "s3://pre-bucket/p.txt", "--expires-in", "300",
                      config_file=config).stdout.strip()
        self.assertIn("X-Amz-Signature=", url)
        with _OPENER.open(url, timeout=30) as r:
            self.assertEqual(r.read(), b"presigned body")

    def test_s3api_calls_and_errors(self):
        self.ok("s3api", "create-bucket", "--bucket", "api-bucket",
                "--create-bucket-configuration", "LocationConstraint=%s" % REGION)
        body = self.write("obj.bin", b"0123456789" * 100)
        put = self.ok("s3api", "put-object", "--bucket", "api-bucket", "--key", "k/obj",
                      "--body", body, "--content-type", "text/plain").json
        self.assertEqual(put["ETag"], '"%s"' % hashlib.md5(b"0123456789" * 100).hexdigest())
        head = self.ok("s3api", "head-object", "--bucket", "api-bucket", "--key", "k/obj").json
        self.assertEqual(head["ContentLength"], 1000)
        self.assertEqual(head["ContentType"], "text/plain")
        out = os.path.join(self.workdir, "range.out")
        got = self.ok("s3api", "get-object", "--bucket", "api-bucket", "--key", "k/obj",
                      "--range", "bytes=5-14", out).json
        self.assertEqual(got["ContentRange"], "bytes 5-14/1000")
        self.assertEqual(self.read("range.out"), b"5678901234")
        listed = self.ok("s3api", "list-objects-v2", "--bucket", "api-bucket").json
        self.assertEqual([o["Key"] for o in listed["Contents"]], ["k/obj"])
        self.assertEqual(self.ok("s3api", "get-bucket-location", "--bucket", "api-bucket").json,
                         {"LocationConstraint": REGION})

        self.fails_with("NoSuchBucket", "s3api", "list-objects-v2", "--bucket", "no-such-bucket")
        self.fails_with("NoSuchKey", "s3api", "get-object", "--bucket", "api-bucket", "--key", "nope",
                        os.path.join(self.workdir, "x.out"))
        self.fails_with("InvalidRange", "s3api", "get-object", "--bucket", "api-bucket", "--key", "k/obj",
                        "--range", "bytes=5000-", os.path.join(self.workdir, "x.out"))
        self.fails_with("PreconditionFailed", "s3api", "get-object", "--bucket", "api-bucket",
                        "--key", "k/obj", "--if-match", '"00000000000000000000000000000000"',
                        os.path.join(self.workdir, "x.out"))
        self.fails_with("BucketNotEmpty", "s3api", "delete-bucket", "--bucket", "api-bucket")
        self.fails_with("BucketAlreadyOwnedByYou", "s3api", "create-bucket", "--bucket", "api-bucket",
                        "--create-bucket-configuration", "LocationConstraint=%s" % REGION)
        self.fails_with("NoSuchUpload", "s3api", "list-parts", "--bucket", "api-bucket", "--key", "k",
                        "--upload-id", "0123456789abcdef")
        self.ok("s3api", "copy-object", "--bucket", "api-bucket", "--key", "k/copy",
                "--copy-source", "api-bucket/k/obj")
        deleted = self.ok("s3api", "delete-objects", "--bucket", "api-bucket", "--delete",
                          json.dumps({"Objects": [{"Key": "k/obj"}, {"Key": "k/copy"}]})).json
        self.assertEqual(sorted(d["Key"] for d in deleted["Deleted"]), ["k/copy", "k/obj"])
        self.ok("s3api", "delete-bucket", "--bucket", "api-bucket")
        # HEAD errors carry no body: the CLI reports the status.
        self.assertIn("404", self.server.aws("s3api", "head-bucket", "--bucket", "api-bucket").stderr)

    def test_s3api_full_object_checksum_multipart(self):
        self.ok("s3", "mb", "s3://fo-bucket")
        part1, part2 = os.urandom(5 * 1024 * 1024), os.urandom(4321)
        whole = base64.b64encode(zlib.crc32(part1 + part2).to_bytes(4, "big")).decode()
        created = self.ok("s3api", "create-multipart-upload", "--bucket", "fo-bucket", "--key", "k",
                          "--checksum-algorithm", "CRC32", "--checksum-type", "FULL_OBJECT").json
        self.assertEqual(created["ChecksumType"], "FULL_OBJECT")
        upload = created["UploadId"]
        parts = []
        for n, data in ((1, part1), (2, part2)):
            body = self.write("part%d" % n, data)
            p = self.ok("s3api", "upload-part", "--bucket", "fo-bucket", "--key", "k", "--upload-id", upload,
                        "--part-number", n, "--body", body).json
            parts.append({"PartNumber": n, "ETag": p["ETag"]})
        done = self.ok("s3api", "complete-multipart-upload", "--bucket", "fo-bucket", "--key", "k",
                       "--upload-id", upload, "--multipart-upload", json.dumps({"Parts": parts}),
                       "--checksum-crc32", whole, "--checksum-type", "FULL_OBJECT").json
        self.assertEqual((done["ChecksumCRC32"], done["ChecksumType"]), (whole, "FULL_OBJECT"))
        head = self.ok("s3api", "head-object", "--bucket", "fo-bucket", "--key", "k",
                       "--checksum-mode", "ENABLED").json
        self.assertEqual((head["ChecksumCRC32"], head["ChecksumType"]), (whole, "FULL_OBJECT"))
        self.fails_with("InvalidRequest", "s3api", "create-multipart-upload", "--bucket", "fo-bucket",
                        "--key", "k2", "--checksum-algorithm", "SHA256", "--checksum-type", "FULL_OBJECT")
