"""Firehose delivery streams through boto3 against a real `muonpipe serve`: Direct PUT and
Kinesis-sourced streams deliver into the object store, read back through the S3 API with the
object names, prefixes, compression and contents Firehose defines; AWS errors; and exactly-once
delivery across SIGKILL restarts.
"""

import gzip
import json
import os
import re
import subprocess
import threading
import time
import zlib

import botocore.exceptions

from harness import ServerTestCase, error_code

ROLE = "arn:aws:iam::000000000000:role/firehose"
BUCKET = "delivered"
DELIVERY_TIMEOUT = 60.0
KEY_TAIL = r"-\d+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def unzstd(data):
    p = subprocess.run(["zstd", "-d", "-c"], input=data, capture_output=True, timeout=60, check=True)
    return p.stdout


def decode(key, data):
    if key.endswith(".gz"):
        return gzip.decompress(data)
    if key.endswith(".zst"):
        return unzstd(data)
    return data


class FirehoseTestCase(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.s3 = self.server.client("s3")
        self.firehose = self.server.client("firehose")
        self.s3.create_bucket(Bucket=BUCKET,
                              CreateBucketConfiguration={"LocationConstraint": self.server.region})

    def reconnect(self):
        self.s3 = self.server.client("s3")
        self.firehose = self.server.client("firehose")
        self.kinesis = self.server.client()

    def destination(self, prefix=None, error_prefix=None, compression="UNCOMPRESSED", interval=0,
                    size=1, delimiter=True, **extra):
        d = {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::" + BUCKET,
             "BufferingHints": {"SizeInMBs": size, "IntervalInSeconds": interval},
             "CompressionFormat": compression}
        if prefix is not None:
            d["Prefix"] = prefix
        if error_prefix is not None:
            d["ErrorOutputPrefix"] = error_prefix
        if delimiter:
            d["ProcessingConfiguration"] = {
                "Enabled": True, "Processors": [{"Type": "AppendDelimiterToRecord"}]}
        d.update(extra)
        return d

    def objects(self, prefix=""):
        """{key: decoded bytes} of every object under prefix."""
        out = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            for o in page.get("Contents", []):
                body = self.s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
                out[o["Key"]] = decode(o["Key"], body)
        return out

    def lines(self, prefix=""):
        counts = {}
        for data in self.objects(prefix).values():
            for line in data.split(b"\n"):
                if line:
                    counts[line] = counts.get(line, 0) + 1
        return counts

    def wait_for_lines(self, expected, prefix="", timeout=DELIVERY_TIMEOUT):
        deadline = time.monotonic() + timeout
        counts = {}
        while time.monotonic() < deadline:
            counts = self.lines(prefix)
            if all(counts.get(e, 0) >= 1 for e in expected):
                return counts
            time.sleep(0.2)
        missing = [e for e in expected if e not in counts]
        self.fail("%d of %d records not delivered within %.0fs, e.g. %r; log:\n%s"
                  % (len(missing), len(expected), timeout, missing[:3], self.server.log_tail(4000)))

    def put_batches(self, name, records):
        for i in range(0, len(records), 500):
            r = self.firehose.put_record_batch(
                DeliveryStreamName=name, Records=[{"Data": d} for d in records[i:i + 500]])
            self.assertEqual(r["FailedPutCount"], 0)
            self.assertEqual(len(r["RequestResponses"]), len(records[i:i + 500]))


class TestDirectPut(FirehoseTestCase):

    def test_gzip_objects_with_default_prefix_and_firehose_names(self):
        arn = self.firehose.create_delivery_stream(
            DeliveryStreamName="hose", DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration=self.destination(compression="GZIP"))["DeliveryStreamARN"]
        self.assertEqual(arn, "arn:aws:firehose:%s:000000000000:deliverystream/hose" % self.server.region)
        desc = self.firehose.describe_delivery_stream(DeliveryStreamName="hose")["DeliveryStreamDescription"]
        self.assertEqual(desc["DeliveryStreamStatus"], "ACTIVE")
        self.assertEqual(desc["DeliveryStreamType"], "DirectPut")
        self.assertEqual(desc["VersionId"], "1")
        ext = desc["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual(ext["CompressionFormat"], "GZIP")
        self.assertEqual(ext["BufferingHints"], {"SizeInMBs": 1, "IntervalInSeconds": 0})
        self.assertEqual(self.firehose.list_delivery_streams()["DeliveryStreamNames"], ["hose"])

        records = [json.dumps({"detector": "d%d" % (i % 4), "i": i}).encode() for i in range(1200)]
        self.put_batches("hose", records)
        rid = self.firehose.put_record(DeliveryStreamName="hose", Record={"Data": b"single"})["RecordId"]
        self.assertTrue(rid)
        counts = self.wait_for_lines(records + [b"single"])
        self.assertEqual(set(counts.values()), {1})
        self.assertEqual(len(counts), 1201)
        for key in self.objects():
            self.assertRegex(key, r"^\d{4}/\d{2}/\d{2}/\d{2}/hose" + KEY_TAIL + r"\.gz$")
        raw = self.s3.get_object(Bucket=BUCKET, Key=next(iter(self.objects())))["Body"].read()
        self.assertEqual(raw[:2], b"\x1f\x8b")

    def test_zstd_custom_prefix_and_dynamic_partitioning(self):
        self.firehose.create_delivery_stream(
            DeliveryStreamName="parts",
            ExtendedS3DestinationConfiguration=self.destination(
                prefix="detector=!{partitionKeyFromQuery:detector}/!{timestamp:yyyy}/",
                error_prefix="errors/!{firehose:error-output-type}/",
                compression="ZSTD",
                DynamicPartitioningConfiguration={"Enabled": True},
                ProcessingConfiguration={"Enabled": True, "Processors": [
                    {"Type": "MetadataExtraction", "Parameters": [
                        {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{detector: .detector}"},
                        {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]},
                    {"Type": "AppendDelimiterToRecord"}]}))
        records = [json.dumps({"detector": "d%d" % (i % 3), "i": i}).encode() for i in range(300)]
        self.put_batches("parts", records + [b"not json"])
        year = time.strftime("%Y", time.gmtime())
        for d in range(3):
            mine = [r for r in records if json.loads(r)["detector"] == "d%d" % d]
            counts = self.wait_for_lines(mine, prefix="detector=d%d/%s/parts-1-" % (d, year))
            self.assertEqual(sorted(counts), sorted(mine))
        errors = self.wait_for_lines([], prefix="errors/partitioning-failed/")
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while not errors and time.monotonic() < deadline:
            time.sleep(0.2)
            errors = self.lines("errors/partitioning-failed/")
        self.assertEqual(len(errors), 1)
        err = json.loads(next(iter(errors)))
        self.assertEqual(err["errorCode"], "DynamicPartitioning.MetadataExtractionFailed")
        self.assertIn("not valid JSON", err["errorMessage"])
        for key in self.objects():
            self.assertTrue(key.endswith(".zst"), key)

    def test_update_destination_and_errors(self):
        self.firehose.create_delivery_stream(
            DeliveryStreamName="upd", ExtendedS3DestinationConfiguration=self.destination(prefix="v1/"))
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.firehose.create_delivery_stream(
                DeliveryStreamName="upd", ExtendedS3DestinationConfiguration=self.destination())
        self.assertEqual(error_code(cm.exception), "ResourceInUseException")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.firehose.describe_delivery_stream(DeliveryStreamName="nope")
        self.assertEqual(error_code(cm.exception), "ResourceNotFoundException")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.firehose.create_delivery_stream(
                DeliveryStreamName="badprefix",
                ExtendedS3DestinationConfiguration=self.destination(prefix="a/!{timestamp:yyyy}/"))
        self.assertEqual(error_code(cm.exception), "InvalidArgumentException")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.firehose.update_destination(
                DeliveryStreamName="upd", CurrentDeliveryStreamVersionId="9",
                DestinationId="destinationId-000000000001",
                ExtendedS3DestinationUpdate={"Prefix": "v2/"})
        self.assertEqual(error_code(cm.exception), "ConcurrentModificationException")
        self.firehose.update_destination(
            DeliveryStreamName="upd", CurrentDeliveryStreamVersionId="1",
            DestinationId="destinationId-000000000001",
            ExtendedS3DestinationUpdate={"Prefix": "v2/", "CompressionFormat": "GZIP"})
        desc = self.firehose.describe_delivery_stream(DeliveryStreamName="upd")["DeliveryStreamDescription"]
        self.assertEqual(desc["VersionId"], "2")
        self.firehose.put_record_batch(DeliveryStreamName="upd", Records=[{"Data": b"after"}])
        self.wait_for_lines([b"after"], prefix="v2/")
        key = next(iter(self.objects("v2/")))
        self.assertRegex(key, r"^v2/\d{4}/\d{2}/\d{2}/\d{2}/upd-2-.*\.gz$")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.firehose.put_record_batch(DeliveryStreamName="upd",
                                           Records=[{"Data": b"x" * (1000 * 1024 + 1)}])
        self.assertIn(error_code(cm.exception), ("ValidationException", "InvalidArgumentException"))
        self.firehose.delete_delivery_stream(DeliveryStreamName="upd")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.firehose.put_record(DeliveryStreamName="upd", Record={"Data": b"x"})
        self.assertEqual(error_code(cm.exception), "ResourceNotFoundException")


class TestChunkedObjects(FirehoseTestCase):

    def test_large_objects_are_several_members_or_frames_read_as_one_stream(self):
        # Objects are compressed in chunks of 64 KiB and up: a 150 KB object is two or more
        # gzip members or zstd frames, which gunzip, Python's gzip and zstd -d read as one.
        for comp, name in (("GZIP", "biggz"), ("ZSTD", "bigzst")):
            self.firehose.create_delivery_stream(
                DeliveryStreamName=name,
                ExtendedS3DestinationConfiguration=self.destination(prefix=name + "/", compression=comp))
            records = [("%s-%05d-%s" % (name, i, os.urandom(140).hex())).encode() for i in range(2000)]
            self.put_batches(name, records)
            counts = self.wait_for_lines(records, prefix=name + "/")
            self.assertEqual(set(counts[r] for r in records), {1})
            several = 0
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=name + "/"):
                for o in page.get("Contents", []):
                    raw = self.s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
                    if comp == "GZIP":
                        first = zlib.decompressobj(wbits=31)
                        first.decompress(raw)
                        several += bool(first.unused_data)
                        cli = subprocess.run(["gunzip", "-c"], input=raw, capture_output=True,
                                             timeout=60, check=True).stdout
                        self.assertEqual(cli, gzip.decompress(raw))
                    else:
                        several += raw.count(b"\x28\xb5\x2f\xfd") > 1  # zstd frame magic
            self.assertGreater(several, 0, comp)


class TestKinesisSource(FirehoseTestCase):

    def test_kinesis_put_records_become_objects(self):
        self.create_stream("live", shards=2)
        karn = self.kinesis.describe_stream_summary(StreamName="live")["StreamDescriptionSummary"]["StreamARN"]
        self.firehose.create_delivery_stream(
            DeliveryStreamName="fromk", DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": karn, "RoleARN": ROLE},
            ExtendedS3DestinationConfiguration=self.destination(prefix="k/", compression="GZIP"))
        desc = self.firehose.describe_delivery_stream(DeliveryStreamName="fromk")["DeliveryStreamDescription"]
        self.assertEqual(desc["DeliveryStreamType"], "KinesisStreamAsSource")
        self.assertEqual(desc["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"], karn)
        records = [("rec-%d" % i).encode() for i in range(1000)]
        for i in range(0, len(records), 250):
            r = self.kinesis.put_records(StreamName="live", Records=[
                {"Data": d, "PartitionKey": "pk%d" % j} for j, d in enumerate(records[i:i + 250])])
            self.assertEqual(r.get("FailedRecordCount", 0), 0)
        counts = self.wait_for_lines(records, prefix="k/")
        self.assertEqual(len(counts), 1000)
        self.assertEqual(set(counts.values()), {1})
        for key in self.objects("k/"):
            self.assertRegex(key, r"^k/\d{4}/\d{2}/\d{2}/\d{2}/fromk" + KEY_TAIL + r"\.gz$")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.firehose.put_record(DeliveryStreamName="fromk", Record={"Data": b"x"})
        self.assertEqual(error_code(cm.exception), "InvalidArgumentException")


class Writer(threading.Thread):
    """Puts batches until stopped or a request fails; remembers what was acknowledged."""

    def __init__(self, server, kind, name, tag):
        super().__init__(daemon=True)
        self.kind, self.name, self.tag = kind, name, tag
        self.client = server.client(kind, read_timeout=15)
        self.stop = threading.Event()
        self.acked, self.unacked = [], []
        self.error = None

    def run(self):
        i = 0
        while not self.stop.is_set():
            batch = [("%s-%d-%d" % (self.tag, i, j)).encode() for j in range(50)]
            i += 1
            try:
                if self.kind == "firehose":
                    r = self.client.put_record_batch(DeliveryStreamName=self.name,
                                                     Records=[{"Data": d} for d in batch])
                    failed = r["FailedPutCount"]
                else:
                    r = self.client.put_records(StreamName=self.name, Records=[
                        {"Data": d, "PartitionKey": d.decode()} for d in batch])
                    failed = r.get("FailedRecordCount", 0)
                if failed:
                    raise RuntimeError("%d records failed" % failed)
                self.acked += batch
            except Exception as e:  # the server died under the request
                self.unacked += batch
                self.error = e
                return


class TestExactlyOnceAcrossKill(FirehoseTestCase):

    def test_sigkill_during_delivery_loses_and_duplicates_nothing(self):
        self.create_stream("src", shards=2)
        karn = self.kinesis.describe_stream_summary(StreamName="src")["StreamDescriptionSummary"]["StreamARN"]
        self.firehose.create_delivery_stream(
            DeliveryStreamName="direct",
            ExtendedS3DestinationConfiguration=self.destination(prefix="direct/", compression="GZIP"))
        self.firehose.create_delivery_stream(
            DeliveryStreamName="viak", DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": karn, "RoleARN": ROLE},
            ExtendedS3DestinationConfiguration=self.destination(prefix="viak/", compression="ZSTD"))
        acked = {"direct/": [], "viak/": []}
        unacked = {"direct/": [], "viak/": []}
        for round_ in range(3):
            writers = [Writer(self.server, "firehose", "direct", "f%d" % round_),
                       Writer(self.server, "kinesis", "src", "k%d" % round_)]
            for w in writers:
                w.start()
            time.sleep(1.5)  # puts and deliveries in full flow
            self.server.kill9()
            for w in writers:
                w.stop.set()
                w.join(timeout=30)
            for w, p in zip(writers, ("direct/", "viak/")):
                acked[p] += w.acked
                unacked[p] += w.unacked
            self.server.start()
            self.reconnect()
        for p in ("direct/", "viak/"):
            self.assertGreater(len(acked[p]), 100, p)
            if os.environ.get("MUONPIPE_E2E_VERBOSE") == "1":
                print("%s: %d acked, %d unacked, %d objects" % (p, len(acked[p]), len(unacked[p]), len(self.objects(p))))
            counts = self.wait_for_lines(acked[p], prefix=p, timeout=120)
            dup = {k: v for k, v in counts.items() if v != 1}
            self.assertEqual(dup, {}, "records delivered more than once under " + p)
            stray = set(counts) - set(acked[p]) - set(unacked[p])
            self.assertEqual(stray, set(), p)
        # After a clean restart nothing is delivered again.
        before = {p: self.lines(p) for p in acked}
        self.server.restart()
        self.reconnect()
        time.sleep(1.0)
        for p in acked:
            self.assertEqual(self.lines(p), before[p])
