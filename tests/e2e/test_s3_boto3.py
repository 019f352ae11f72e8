"""S3 through boto3 against a real `muonpipe serve`: buckets, objects, conditions, ranges,
listing, multipart, checksums, presigned URLs and errors.

The client's own defaults are used (newer botocore sends CRC32 checksums, in aws-chunked
trailers where it streams); nothing here depends on a feature of the newest clients only.
"""

import datetime
import hashlib
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import zlib
import base64

import boto3.s3.transfer
import botocore.config
import botocore.exceptions

from harness import REGION, Server, ServerTestCase, error_code, self_signed_cert

MIB = 1024 * 1024
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _crc64nvme_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x9A6C9329AC4BC9B5 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC64NVME_TABLE = _crc64nvme_table()


def crc64nvme_b64(data):
    """CRC-64/NVME in plain Python: botocore needs awscrt for it, which may be absent."""
    crc = 0xFFFFFFFFFFFFFFFF
    table = _CRC64NVME_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFFFFFFFFFF
    return base64.b64encode(crc.to_bytes(8, "big")).decode()


class S3TestCase(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.s3 = self.server.client("s3")

    def status_of(self, exc):
        return exc.response["ResponseMetadata"]["HTTPStatusCode"]

    def fetch(self, url, data=None, method="GET", headers=None):
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with _OPENER.open(req, timeout=30) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)


class BucketTest(S3TestCase):

    def test_create_list_head_locate_delete(self):
        self.s3.create_bucket(Bucket="alpha", CreateBucketConfiguration={"LocationConstraint": REGION})
        self.s3.create_bucket(Bucket="beta", CreateBucketConfiguration={"LocationConstraint": REGION})
        names = [b["Name"] for b in self.s3.list_buckets()["Buckets"]]
        self.assertEqual(names, ["alpha", "beta"])
        self.assertEqual(self.s3.head_bucket(Bucket="alpha")["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertEqual(self.s3.get_bucket_location(Bucket="alpha")["LocationConstraint"], REGION)
        self.s3.delete_bucket(Bucket="alpha")
        names = [b["Name"] for b in self.s3.list_buckets()["Buckets"]]
        self.assertEqual(names, ["beta"])

    def test_bucket_errors(self):
        self.s3.create_bucket(Bucket="alpha", CreateBucketConfiguration={"LocationConstraint": REGION})
        self.assertAwsError("BucketAlreadyOwnedByYou", self.s3.create_bucket, Bucket="alpha",
                            CreateBucketConfiguration={"LocationConstraint": REGION})
        self.assertAwsError("InvalidBucketName", self.s3.create_bucket, Bucket="Not_Valid",
                            CreateBucketConfiguration={"LocationConstraint": REGION})
        self.assertAwsError("NoSuchBucket", self.s3.delete_bucket, Bucket="nope")
        self.assertAwsError("NoSuchBucket", self.s3.list_objects_v2, Bucket="nope")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.s3.head_bucket(Bucket="nope")
        self.assertEqual(self.status_of(cm.exception), 404)
        self.s3.put_object(Bucket="alpha", Key="k", Body=b"v")
        self.assertAwsError("BucketNotEmpty", self.s3.delete_bucket, Bucket="alpha")


class ObjectTest(S3TestCase):

    def setUp(self):
        super().setUp()
        self.s3.create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": REGION})

    def test_put_get_head_delete_with_metadata(self):
        body = os.urandom(100_000)
        put = self.s3.put_object(Bucket="data", Key="dir/file.bin", Body=body,
                                 ContentType="application/x-muon", Metadata={"Detector": "d-7"},
                                 CacheControl="max-age=60")
        self.assertEqual(put["ETag"], '"%s"' % hashlib.md5(body).hexdigest())
        got = self.s3.get_object(Bucket="data", Key="dir/file.bin")
        self.assertEqual(got["Body"].read(), body)
        self.assertEqual(got["ContentType"], "application/x-muon")
        self.assertEqual(got["Metadata"], {"detector": "d-7"})
        self.assertEqual(got["CacheControl"], "max-age=60")
        self.assertEqual(got["ContentLength"], len(body))
        head = self.s3.head_object(Bucket="data", Key="dir/file.bin")
        self.assertEqual(head["ContentLength"], len(body))
        self.assertEqual(head["ETag"], put["ETag"])
        self.assertIsInstance(head["LastModified"], datetime.datetime)
        self.s3.delete_object(Bucket="data", Key="dir/file.bin")
        self.assertAwsError("NoSuchKey", self.s3.get_object, Bucket="data", Key="dir/file.bin")
        # Deleting what is not there succeeds, as on S3.
        self.s3.delete_object(Bucket="data", Key="dir/file.bin")

    def test_keys_with_awkward_characters(self):
        keys = ["a/b", "a/b/", "../up", "sp ace+plus", "pct%2Fsign", "ünï/cödé", "q?x=1&y", "#hash"]
        for k in keys:
            self.s3.put_object(Bucket="data", Key=k, Body=k.encode())
        for k in keys:
            self.assertEqual(self.s3.get_object(Bucket="data", Key=k)["Body"].read(), k.encode(), k)
        listed = [o["Key"] for o in self.s3.list_objects_v2(Bucket="data")["Contents"]]
        self.assertEqual(listed, sorted(keys, key=lambda s: s.encode()))

    def test_missing_key_and_head_404(self):
        self.assertAwsError("NoSuchKey", self.s3.get_object, Bucket="data", Key="none")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.s3.head_object(Bucket="data", Key="none")
        self.assertEqual(self.status_of(cm.exception), 404)
        self.assertAwsError("NoSuchBucket", self.s3.get_object, Bucket="nobucket", Key="k")

    def test_ranges(self):
        body = bytes(range(256)) * 4
        self.s3.put_object(Bucket="data", Key="r", Body=body)
        got = self.s3.get_object(Bucket="data", Key="r", Range="bytes=10-19")
        self.assertEqual(got["Body"].read(), body[10:20])
        self.assertEqual(got["ContentRange"], "bytes 10-19/1024")
        self.assertEqual(got["ResponseMetadata"]["HTTPStatusCode"], 206)
        self.assertEqual(self.s3.get_object(Bucket="data", Key="r", Range="bytes=-5")["Body"].read(),
                         body[-5:])
        self.assertEqual(self.s3.get_object(Bucket="data", Key="r", Range="bytes=1000-")["Body"].read(),
                         body[1000:])
        self.assertEqual(self.s3.get_object(Bucket="data", Key="r", Range="bytes=1000-5000")["Body"].read(),
                         body[1000:])
        e = self.assertAwsError("InvalidRange", self.s3.get_object, Bucket="data", Key="r",
                                Range="bytes=1024-")
        self.assertEqual(self.status_of(e), 416)

    def test_conditional_gets(self):
        put = self.s3.put_object(Bucket="data", Key="c", Body=b"cond")
        etag = put["ETag"]
        head = self.s3.head_object(Bucket="data", Key="c")
        lm = head["LastModified"]
        self.assertEqual(self.s3.get_object(Bucket="data", Key="c", IfMatch=etag)["Body"].read(), b"cond")
        e = self.assertAwsError("PreconditionFailed", self.s3.get_object, Bucket="data", Key="c",
                                IfMatch='"0123"')
        self.assertEqual(self.status_of(e), 412)
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.s3.get_object(Bucket="data", Key="c", IfNoneMatch=etag)
        self.assertEqual(self.status_of(cm.exception), 304)
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.s3.get_object(Bucket="data", Key="c", IfModifiedSince=lm)
        self.assertEqual(self.status_of(cm.exception), 304)
        earlier = lm - datetime.timedelta(hours=1)
        self.assertEqual(self.s3.get_object(Bucket="data", Key="c", IfModifiedSince=earlier)["Body"].read(),
                         b"cond")
        self.assertAwsError("PreconditionFailed", self.s3.get_object, Bucket="data", Key="c",
                            IfUnmodifiedSince=earlier)
        self.assertEqual(self.s3.get_object(Bucket="data", Key="c", IfUnmodifiedSince=lm)["Body"].read(),
                         b"cond")

    def test_conditional_put_if_none_match(self):
        self.s3.put_object(Bucket="data", Key="once", Body=b"first")
        # Older botocore has no IfNoneMatch parameter on PutObject: send the header directly.
        def if_none_match(request, **kwargs):
            request.headers["If-None-Match"] = "*"
        self.s3.meta.events.register("before-sign.s3.PutObject", if_none_match)
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.s3.put_object(Bucket="data", Key="once", Body=b"second")
        self.assertEqual(error_code(cm.exception), "PreconditionFailed")
        self.assertEqual(self.status_of(cm.exception), 412)
        self.s3.put_object(Bucket="data", Key="new-key", Body=b"created")
        self.s3.meta.events.unregister("before-sign.s3.PutObject", if_none_match)
        self.assertEqual(self.s3.get_object(Bucket="data", Key="once")["Body"].read(), b"first")
        self.assertEqual(self.s3.get_object(Bucket="data", Key="new-key")["Body"].read(), b"created")

    def test_checksums_verified_stored_and_returned(self):
        body = b"muon data " * 1000
        put = self.s3.put_object(Bucket="data", Key="sum", Body=body, ChecksumAlgorithm="SHA256")
        want = base64.b64encode(hashlib.sha256(body).digest()).decode()
        self.assertEqual(put["ChecksumSHA256"], want)
        got = self.s3.get_object(Bucket="data", Key="sum", ChecksumMode="ENABLED")
        self.assertEqual(got["Body"].read(), body)
        self.assertEqual(got["ChecksumSHA256"], want)
        head = self.s3.head_object(Bucket="data", Key="sum", ChecksumMode="ENABLED")
        self.assertEqual(head["ChecksumSHA256"], want)

    def test_wrong_checksum_rejected_and_nothing_stored(self):
        body = b"payload that will not match"
        e = self.assertAwsError("BadDigest", self.s3.put_object, Bucket="data", Key="bad", Body=body,
                                ChecksumCRC32=crc32_b64(b"something else"))
        self.assertEqual(self.status_of(e), 400)
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.s3.head_object(Bucket="data", Key="bad")
        self.assertEqual(self.status_of(cm.exception), 404)
        # A wrong Content-MD5 too.
        self.assertAwsError("BadDigest", self.s3.put_object, Bucket="data", Key="bad", Body=body,
                            ContentMD5=base64.b64encode(hashlib.md5(b"x").digest()).decode())
        self.assertNotIn("Contents", self.s3.list_objects_v2(Bucket="data"))

    def test_copy_object(self):
        self.s3.put_object(Bucket="data", Key="src", Body=b"copy me", ContentType="text/plain",
                           Metadata={"a": "1"})
        r = self.s3.copy_object(Bucket="data", Key="dst", CopySource={"Bucket": "data", "Key": "src"})
        self.assertEqual(r["CopyObjectResult"]["ETag"], '"%s"' % hashlib.md5(b"copy me").hexdigest())
        got = self.s3.get_object(Bucket="data", Key="dst")
        self.assertEqual(got["Body"].read(), b"copy me")
        self.assertEqual(got["ContentType"], "text/plain")
        self.assertEqual(got["Metadata"], {"a": "1"})
        self.s3.copy_object(Bucket="data", Key="dst2", CopySource="data/src",
                            MetadataDirective="REPLACE", Metadata={"b": "2"})
        self.assertEqual(self.s3.head_object(Bucket="data", Key="dst2")["Metadata"], {"b": "2"})
        self.assertAwsError("NoSuchKey", self.s3.copy_object, Bucket="data", Key="x",
                            CopySource="data/missing")
        self.assertAwsError("InvalidRequest", self.s3.copy_object, Bucket="data", Key="src",
                            CopySource="data/src")

    def test_delete_objects(self):
        for k in ("a", "b", "c"):
            self.s3.put_object(Bucket="data", Key=k, Body=b"x")
        r = self.s3.delete_objects(Bucket="data", Delete={"Objects": [{"Key": "a"}, {"Key": "b"},
                                                                      {"Key": "zz"}]})
        self.assertEqual(sorted(d["Key"] for d in r["Deleted"]), ["a", "b", "zz"])
        self.assertEqual([o["Key"] for o in self.s3.list_objects_v2(Bucket="data")["Contents"]], ["c"])


class ListingTest(S3TestCase):

    def setUp(self):
        super().setUp()
        self.s3.create_bucket(Bucket="lst", CreateBucketConfiguration={"LocationConstraint": REGION})
        self.keys = (["top%02d" % i for i in range(5)] +
                     ["dir%d/file%d" % (d, f) for d in range(4) for f in range(3)] +
                     ["dir1/sub/deep"])
        for k in self.keys:
            self.s3.put_object(Bucket="lst", Key=k, Body=b"x")

    def test_v2_pagination_with_delimiter(self):
        paginator = self.s3.get_paginator("list_objects_v2")
        keys, prefixes, pages = [], [], 0
        for page in paginator.paginate(Bucket="lst", Delimiter="/", PaginationConfig={"PageSize": 3}):
            pages += 1
            keys += [o["Key"] for o in page.get("Contents", [])]
            prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
            self.assertLessEqual(page["KeyCount"], 3)
        self.assertEqual(prefixes, ["dir0/", "dir1/", "dir2/", "dir3/"])
        self.assertEqual(keys, ["top%02d" % i for i in range(5)])
        self.assertEqual(pages, 3)

    def test_v2_prefix_and_start_after(self):
        r = self.s3.list_objects_v2(Bucket="lst", Prefix="dir1/", Delimiter="/")
        self.assertEqual([o["Key"] for o in r["Contents"]], ["dir1/file0", "dir1/file1", "dir1/file2"])
        self.assertEqual([p["Prefix"] for p in r["CommonPrefixes"]], ["dir1/sub/"])
        r = self.s3.list_objects_v2(Bucket="lst", StartAfter="top02")
        self.assertEqual([o["Key"] for o in r["Contents"]], ["top03", "top04"])
        r = self.s3.list_objects_v2(Bucket="lst", MaxKeys=2)
        self.assertTrue(r["IsTruncated"])
        self.assertEqual(r["KeyCount"], 2)
        r2 = self.s3.list_objects_v2(Bucket="lst", MaxKeys=1000, ContinuationToken=r["NextContinuationToken"])
        self.assertEqual(len(r2["Contents"]), len(self.keys) - 2)
        self.assertAwsError("InvalidArgument", self.s3.list_objects_v2, Bucket="lst",
                            ContinuationToken="garbage!")

    def test_v1_markers(self):
        paginator = self.s3.get_paginator("list_objects")
        keys = []
        for page in paginator.paginate(Bucket="lst", PaginationConfig={"PageSize": 4}):
            keys += [o["Key"] for o in page.get("Contents", [])]
        self.assertEqual(keys, sorted(self.keys))
        prefixes = []
        for page in paginator.paginate(Bucket="lst", Delimiter="/", PaginationConfig={"PageSize": 2}):
            prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        self.assertEqual(prefixes, ["dir0/", "dir1/", "dir2/", "dir3/"])


class MultipartTest(S3TestCase):

    def setUp(self):
        super().setUp()
        self.s3.create_bucket(Bucket="mpu", CreateBucketConfiguration={"LocationConstraint": REGION})

    def test_upload_file_and_download_file_multipart_default_checksums(self):
        src = os.path.join(self.workdir, "big.bin")
        dst = os.path.join(self.workdir, "big.out")
        data = os.urandom(20 * MIB + 12345)
        with open(src, "wb") as f:
            f.write(data)
        cfg = boto3.s3.transfer.TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB)
        self.s3.upload_file(src, "mpu", "big/file.bin", Config=cfg)
        head = self.s3.head_object(Bucket="mpu", Key="big/file.bin")
        self.assertEqual(head["ContentLength"], len(data))
        self.assertRegex(head["ETag"], r'^"[0-9a-f]{32}-3"$')
        parts = [hashlib.md5(data[i:i + 8 * MIB]).digest() for i in range(0, len(data), 8 * MIB)]
        self.assertEqual(head["ETag"], '"%s-3"' % hashlib.md5(b"".join(parts)).hexdigest())
        self.s3.download_file("mpu", "big/file.bin", dst, Config=cfg)
        with open(dst, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), hashlib.sha256(data).hexdigest())
        self.assertEqual(self.s3.list_multipart_uploads(Bucket="mpu").get("Uploads", []), [])

    def test_low_level_multipart_and_errors(self):
        u = self.s3.create_multipart_upload(Bucket="mpu", Key="k")["UploadId"]
        listed = self.s3.list_multipart_uploads(Bucket="mpu")["Uploads"]
        self.assertEqual([(x["Key"], x["UploadId"]) for x in listed], [("k", u)])
        p1 = self.s3.upload_part(Bucket="mpu", Key="k", UploadId=u, PartNumber=1, Body=b"a" * (5 * MIB))
        p2 = self.s3.upload_part(Bucket="mpu", Key="k", UploadId=u, PartNumber=2, Body=b"small")
        small = self.s3.upload_part(Bucket="mpu", Key="k", UploadId=u, PartNumber=3, Body=b"tail")
        parts = self.s3.list_parts(Bucket="mpu", Key="k", UploadId=u)["Parts"]
        self.assertEqual([p["PartNumber"] for p in parts], [1, 2, 3])
        self.assertEqual(parts[1]["Size"], 5)
        # Not visible before completion.
        self.assertAwsError("NoSuchKey", self.s3.get_object, Bucket="mpu", Key="k")
        self.assertAwsError("InvalidPartOrder", self.s3.complete_multipart_upload, Bucket="mpu", Key="k",
                            UploadId=u, MultipartUpload={"Parts": [
                                {"PartNumber": 2, "ETag": p2["ETag"]}, {"PartNumber": 1, "ETag": p1["ETag"]}]})
        self.assertAwsError("InvalidPart", self.s3.complete_multipart_upload, Bucket="mpu", Key="k",
                            UploadId=u, MultipartUpload={"Parts": [
                                {"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]})
        self.assertAwsError("EntityTooSmall", self.s3.complete_multipart_upload, Bucket="mpu", Key="k",
                            UploadId=u, MultipartUpload={"Parts": [
                                {"PartNumber": 2, "ETag": p2["ETag"]}, {"PartNumber": 3, "ETag": small["ETag"]}]})
        r = self.s3.complete_multipart_upload(Bucket="mpu", Key="k", UploadId=u, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
        self.assertRegex(r["ETag"], r'-2"$')
        self.assertEqual(self.s3.get_object(Bucket="mpu", Key="k")["Body"].read(), b"a" * (5 * MIB) + b"small")
        part2 = self.s3.get_object(Bucket="mpu", Key="k", PartNumber=2)
        self.assertEqual(part2["Body"].read(), b"small")
        self.assertEqual(part2["PartsCount"], 2)
        self.assertAwsError("NoSuchUpload", self.s3.list_parts, Bucket="mpu", Key="k", UploadId=u)
        u2 = self.s3.create_multipart_upload(Bucket="mpu", Key="gone")["UploadId"]
        self.s3.abort_multipart_upload(Bucket="mpu", Key="gone", UploadId=u2)
        self.assertAwsError("NoSuchUpload", self.s3.upload_part, Bucket="mpu", Key="gone", UploadId=u2,
                            PartNumber=1, Body=b"x")

    def test_upload_file_default_checksum_is_composite_crc32(self):
        # botocore 1.36+ (request_checksum_calculation=when_supported) makes
        # s3transfer create multipart uploads with ChecksumAlgorithm CRC32 and
        # no ChecksumType, which S3 takes as COMPOSITE.
        data = os.urandom(20 * MIB + 12345)
        src = os.path.join(self.workdir, "big.bin")
        with open(src, "wb") as f:
            f.write(data)
        cfg = boto3.s3.transfer.TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB)
        self.s3.upload_file(src, "mpu", "default", Config=cfg)
        head = self.s3.head_object(Bucket="mpu", Key="default", ChecksumMode="ENABLED")
        raw = b"".join(zlib.crc32(data[i:i + 8 * MIB]).to_bytes(4, "big")
                       for i in range(0, len(data), 8 * MIB))
        self.assertEqual(head["ChecksumType"], "COMPOSITE")
        self.assertEqual(head["ChecksumCRC32"], crc32_b64(raw) + "-3")

    def test_upload_file_with_full_object_crc32(self):
        data = os.urandom(20 * MIB + 12345)
        src = os.path.join(self.workdir, "big.bin")
        with open(src, "wb") as f:
            f.write(data)
        cfg = boto3.s3.transfer.TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB)
        sent = []
        self.s3.meta.events.register(
            "before-send.s3.*", lambda request, **kw: sent.append(
                {k.lower(): v for k, v in request.headers.items()}))
        # A whole-file checksum given to upload_file makes s3transfer create
        # the upload as FULL_OBJECT and send the checksum with Complete.
        self.s3.upload_file(src, "mpu", "full", Config=cfg, ExtraArgs={"ChecksumCRC32": crc32_b64(data)})
        types = {h.get("x-amz-checksum-type") for h in sent} - {None}
        self.assertEqual({t.decode() if isinstance(t, bytes) else t for t in types}, {"FULL_OBJECT"})
        head = self.s3.head_object(Bucket="mpu", Key="full", ChecksumMode="ENABLED")
        self.assertEqual(head["ChecksumCRC32"], crc32_b64(data))
        self.assertEqual(head["ChecksumType"], "FULL_OBJECT")
        # botocore checks the body it reads against the full-object CRC32.
        got = self.s3.get_object(Bucket="mpu", Key="full", ChecksumMode="ENABLED")
        self.assertEqual(got["ChecksumType"], "FULL_OBJECT")
        self.assertEqual(got["Body"].read(), data)

        # A wrong whole-file checksum: BadDigest at Complete, nothing stored.
        with self.assertRaises(Exception) as caught:
            self.s3.upload_file(src, "mpu", "wrong", Config=cfg,
                                ExtraArgs={"ChecksumCRC32": crc32_b64(data + b"x")})
        self.assertIn("BadDigest", str(caught.exception))
        self.assertAwsError("404", self.s3.head_object, Bucket="mpu", Key="wrong")

    def test_low_level_full_object_crc64nvme(self):
        part1, part2 = os.urandom(5 * MIB), os.urandom(100_000)
        self.assertEqual(base64.b64decode(crc64nvme_b64(b"123456789")).hex(), "ae8b14860a799888")
        r = self.s3.create_multipart_upload(Bucket="mpu", Key="nvme", ChecksumAlgorithm="CRC64NVME")
        self.assertEqual(r["ChecksumType"], "FULL_OBJECT")  # CRC64NVME's default
        u = r["UploadId"]
        parts = []
        for n, body in ((1, part1), (2, part2)):
            p = self.s3.upload_part(Bucket="mpu", Key="nvme", UploadId=u, PartNumber=n, Body=body,
                                    ChecksumCRC64NVME=crc64nvme_b64(body))
            parts.append({"PartNumber": n, "ETag": p["ETag"]})
        listed = self.s3.list_parts(Bucket="mpu", Key="nvme", UploadId=u)
        self.assertEqual((listed["ChecksumAlgorithm"], listed["ChecksumType"]), ("CRC64NVME", "FULL_OBJECT"))
        whole = crc64nvme_b64(part1 + part2)
        self.assertAwsError("BadDigest", self.s3.complete_multipart_upload, Bucket="mpu", Key="nvme",
                            UploadId=u, MultipartUpload={"Parts": parts},
                            ChecksumCRC64NVME=crc64nvme_b64(part2 + part1), ChecksumType="FULL_OBJECT")
        self.assertAwsError("BadDigest", self.s3.complete_multipart_upload, Bucket="mpu", Key="nvme",
                            UploadId=u, MultipartUpload={"Parts": parts}, ChecksumType="COMPOSITE")
        done = self.s3.complete_multipart_upload(
            Bucket="mpu", Key="nvme", UploadId=u, MultipartUpload={"Parts": parts},
            ChecksumCRC64NVME=whole, ChecksumType="FULL_OBJECT", MpuObjectSize=len(part1) + len(part2))
        self.assertEqual((done["ChecksumCRC64NVME"], done["ChecksumType"]), (whole, "FULL_OBJECT"))
        head = self.s3.head_object(Bucket="mpu", Key="nvme", ChecksumMode="ENABLED")
        self.assertEqual((head["ChecksumCRC64NVME"], head["ChecksumType"]), (whole, "FULL_OBJECT"))

    def test_full_object_with_sha256_refused(self):
        self.assertAwsError("InvalidRequest", self.s3.create_multipart_upload, Bucket="mpu", Key="k",
                            ChecksumAlgorithm="SHA256", ChecksumType="FULL_OBJECT")
        self.assertEqual(self.s3.list_multipart_uploads(Bucket="mpu").get("Uploads", []), [])

    def test_upload_part_copy(self):
        src = os.urandom(6 * MIB)
        self.s3.put_object(Bucket="mpu", Key="src", Body=src)
        u = self.s3.create_multipart_upload(Bucket="mpu", Key="dst")["UploadId"]
        a = self.s3.upload_part_copy(Bucket="mpu", Key="dst", UploadId=u, PartNumber=1,
                                     CopySource={"Bucket": "mpu", "Key": "src"},
                                     CopySourceRange="bytes=0-%d" % (5 * MIB - 1))
        b = self.s3.upload_part_copy(Bucket="mpu", Key="dst", UploadId=u, PartNumber=2,
                                     CopySource={"Bucket": "mpu", "Key": "src"},
                                     CopySourceRange="bytes=%d-%d" % (5 * MIB, 6 * MIB - 1))
        self.s3.complete_multipart_upload(Bucket="mpu", Key="dst", UploadId=u, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": a["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": b["CopyPartResult"]["ETag"]}]})
        self.assertEqual(self.s3.get_object(Bucket="mpu", Key="dst")["Body"].read(), src)


class PresignAndAuthTest(S3TestCase):

    def setUp(self):
        super().setUp()
        self.s3.create_bucket(Bucket="pre", CreateBucketConfiguration={"LocationConstraint": REGION})

    def test_presigned_get_and_put(self):
        v4 = self.server.client("s3", signature_version="s3v4")
        put_url = v4.generate_presigned_url("put_object", Params={"Bucket": "pre", "Key": "up/x.txt"},
                                            ExpiresIn=300)
        self.assertIn("X-Amz-Signature=", put_url)
        status, _, _ = self.fetch(put_url, data=b"via presigned put", method="PUT")
        self.assertEqual(status, 200)
        get_url = v4.generate_presigned_url("get_object", Params={"Bucket": "pre", "Key": "up/x.txt"},
                                            ExpiresIn=300)
        status, body, _ = self.fetch(get_url)
        self.assertEqual((status, body), (200, b"via presigned put"))
        status, body, _ = self.fetch(get_url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
        self.assertEqual(status, 403)
        self.assertIn(b"SignatureDoesNotMatch", body)
        # Signature Version 2 (some clients' presign default) is refused with a pointer to v4.
        v2 = self.server.client("s3", signature_version="s3")
        status, body, _ = self.fetch(v2.generate_presigned_url(
            "get_object", Params={"Bucket": "pre", "Key": "up/x.txt"}))
        self.assertEqual(status, 400)
        self.assertIn(b"AWS4-HMAC-SHA256", body)

    def test_wrong_secret_and_anonymous(self):
        ak, _ = self.server.credentials()
        bad = self.server.client("s3", access_key=ak, secret_key="wrong-secret")
        self.assertAwsError("SignatureDoesNotMatch", bad.list_buckets)
        unknown = self.server.client("s3", access_key="AKIAUNKNOWNKEY000000", secret_key="x")
        self.assertAwsError("InvalidAccessKeyId", unknown.list_buckets)
        status, body, _ = self.fetch(self.server.endpoint + "/pre/x")
        self.assertEqual(status, 403)
        self.assertIn(b"<Code>AccessDenied</Code>", body)

    def _signed(self, method, host, path, body=b""):
        """A SigV4-signed request for `host` sent to the server's loopback address."""
        import http.client
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        ak, sk = self.server.credentials()
        port = int(self.server.endpoint.rsplit(":", 1)[1])
        req = botocore.awsrequest.AWSRequest(method=method, url="http://%s:%d%s" % (host, port, path),
                                             data=body)
        botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(ak, sk), "s3", REGION).add_auth(req)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = dict(req.headers.items())
        headers["Host"] = "%s:%d" % (host, port)
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        out = (r.status, r.read())
        conn.close()
        return out

    def test_virtual_host_addressing(self):
        self.assertEqual(self._signed("PUT", "pre.localhost", "/vh/key", b"virtual")[0], 200)
        self.assertEqual(self.s3.get_object(Bucket="pre", Key="vh/key")["Body"].read(), b"virtual")
        status, body = self._signed("GET", "pre.s3.%s.localhost" % REGION, "/vh/key")
        self.assertEqual((status, body), (200, b"virtual"))
        status, body = self._signed("GET", "pre.localhost", "/?list-type=2")
        self.assertEqual(status, 200)
        self.assertIn(b"<Key>vh/key</Key>", body)
        status, body = self._signed("GET", "s3.%s.localhost" % REGION, "/pre/vh/key")
        self.assertEqual((status, body), (200, b"virtual"))


class KillDuringPutsTest(S3TestCase):
    """Small objects share one fdatasync per group of puts (segment files). After kill -9 every
    acknowledged put and delete must hold; a request in flight at the kill may or may not have
    happened, and nothing else may appear."""

    WRITERS = 4
    KEYS_PER_WRITER = 12

    def _writer(self, t, state, stop):
        s3 = self.server.client("s3", max_pool_connections=2)
        rng = random.Random(t)
        i = 0
        while not stop.is_set():
            key = "w%d/k%02d" % (t, rng.randrange(self.KEYS_PER_WRITER))
            if i % 7 == 6:
                op = ("delete", None)
            else:
                # Mostly small (segment records), now and then larger than 256 KiB (own file).
                size = rng.choice([100, 4096, 65536, 200000, 300000 if i % 11 == 0 else 1000])
                op = ("put", hashlib.md5(rng.randbytes(8) + bytes(size - 8)).hexdigest(), size)
            state["inflight"][key] = op
            try:
                if op[0] == "delete":
                    s3.delete_object(Bucket="crash", Key=key)
                    state["acked"][key] = None
                else:
                    body = self._body(op)
                    s3.put_object(Bucket="crash", Key=key, Body=body)
                    state["acked"][key] = op[1]
            except Exception:  # the kill
                return
            del state["inflight"][key]
            state["count"] += 1
            i += 1

    @staticmethod
    def _body(op):
        # The content is a function of its label, so the label names what must be read back.
        digest, size = op[1], op[2]
        return (digest.encode() * (size // 32 + 1))[:size]

    def test_kill9_during_small_and_large_puts_and_deletes(self):
        self.s3.create_bucket(Bucket="crash", CreateBucketConfiguration={"LocationConstraint": REGION})
        before = {}  # key -> label read back after the previous kill (None: absent)
        for cycle in range(2):
            states = [{"acked": {}, "inflight": {}, "count": 0} for _ in range(self.WRITERS)]
            stop = threading.Event()
            threads = [threading.Thread(target=self._writer, args=(t, states[t], stop))
                       for t in range(self.WRITERS)]
            for th in threads:
                th.start()
            deadline = time.time() + 60
            while sum(st["count"] for st in states) < 150 and time.time() < deadline:
                time.sleep(0.05)
            self.assertGreaterEqual(sum(st["count"] for st in states), 150, "writers too slow")
            self.server.kill9()
            stop.set()
            for th in threads:
                th.join(timeout=30)
            self.server.start()
            s3 = self.server.client("s3")
            for t, st in enumerate(states):
                for k in range(self.KEYS_PER_WRITER):
                    key = "w%d/k%02d" % (t, k)
                    try:
                        obj = s3.get_object(Bucket="crash", Key=key)
                        body = obj["Body"].read()
                        got = body[:32].decode()
                        self.assertEqual(body, self._body(("put", got, len(body))), key)
                    except botocore.exceptions.ClientError as e:
                        self.assertEqual(error_code(e), "NoSuchKey")
                        got = None
                    allowed = {st["acked"][key] if key in st["acked"] else before.get(key)}
                    op = st["inflight"].get(key)
                    if op is not None:
                        allowed.add(None if op[0] == "delete" else op[1])
                    self.assertIn(got, allowed, "%s after kill -9 (cycle %d)" % (key, cycle))
                    before[key] = got


class LifecycleTest(S3TestCase):

    def test_put_get_delete_configuration(self):
        self.s3.create_bucket(Bucket="lcy", CreateBucketConfiguration={"LocationConstraint": REGION})
        self.assertAwsError("NoSuchLifecycleConfiguration", self.s3.get_bucket_lifecycle_configuration,
                            Bucket="lcy")
        rules = [{"ID": "raw", "Filter": {"Prefix": "raw/"}, "Status": "Enabled",
                  "Expiration": {"Days": 30}},
                 {"ID": "uploads", "Filter": {"Prefix": ""}, "Status": "Enabled",
                  "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]
        self.s3.put_bucket_lifecycle_configuration(Bucket="lcy", LifecycleConfiguration={"Rules": rules})
        got = self.s3.get_bucket_lifecycle_configuration(Bucket="lcy")["Rules"]
        self.assertEqual(got[0]["ID"], "raw")
        self.assertEqual(got[0]["Filter"]["Prefix"], "raw/")
        self.assertEqual(got[0]["Expiration"]["Days"], 30)
        self.assertEqual(got[1]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"], 7)
        self.server.restart()
        s3 = self.server.client("s3")
        self.assertEqual(len(s3.get_bucket_lifecycle_configuration(Bucket="lcy")["Rules"]), 2)
        s3.delete_bucket_lifecycle(Bucket="lcy")
        self.assertAwsError("NoSuchLifecycleConfiguration", s3.get_bucket_lifecycle_configuration,
                            Bucket="lcy")


class TlsPayloadFormsTest(unittest.TestCase):
    """Over HTTPS newer botocore streams PutObject and UploadPart as aws-chunked with the checksum
    in a trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER); older clients sign the payload. Both must
    store the object and its checksum."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="muonpipe-e2e-s3tls-")
        self.addCleanup(shutil.rmtree, self.workdir, True)
        self.server = Server(self.workdir, tls=self_signed_cert(self.workdir))
        self.server.start()
        self.addCleanup(lambda: self.assertEqual(self.server.terminate(), 0))
        self.s3 = self.server.client("s3")
        self.s3.create_bucket(Bucket="tls-data", CreateBucketConfiguration={"LocationConstraint": REGION})

    def test_default_checksums_over_https(self):
        sent = []
        self.s3.meta.events.register(
            "before-send.s3.*", lambda request, **kw: sent.append(
                {k.lower(): v for k, v in request.headers.items()}))
        body = os.urandom(300_000)
        self.s3.put_object(Bucket="tls-data", Key="small", Body=body)
        self.assertEqual(self.s3.get_object(Bucket="tls-data", Key="small")["Body"].read(), body)
        src = os.path.join(self.workdir, "big.bin")
        data = os.urandom(20 * MIB)
        with open(src, "wb") as f:
            f.write(data)
        self.s3.upload_file(src, "tls-data", "big")
        dst = os.path.join(self.workdir, "big.out")
        self.s3.download_file("tls-data", "big", dst)
        with open(dst, "rb") as f:
            self.assertEqual(f.read(), data)
        forms = {(h.get("x-amz-content-sha256") or b"") for h in sent}
        forms = {f.decode() if isinstance(f, bytes) else f for f in forms}
        sys.stderr.write("\npayload forms this client sent over HTTPS: %s\n" % sorted(
            f if f.startswith(("STREAMING", "UNSIGNED")) else "<sha256>" for f in forms))
        if "STREAMING-UNSIGNED-PAYLOAD-TRAILER" in forms:
            head = self.s3.head_object(Bucket="tls-data", Key="small", ChecksumMode="ENABLED")
            self.assertEqual(head["ChecksumCRC32"], crc32_b64(body))
