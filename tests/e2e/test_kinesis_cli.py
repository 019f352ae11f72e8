"""Kinesis Data Streams through the AWS CLI (v1 or v2) against a real `muonpipe serve`.

The CLI runs as a subprocess with AWS_SHARED_CREDENTIALS_FILE=<data-dir>/admin-credentials,
AWS_CONFIG_FILE=/dev/null and --endpoint-url. Blob arguments are raw bytes on both CLI majors
(the harness passes --cli-binary-format raw-in-base64-out to v2); blobs in JSON output are base64.
"""

import base64
import hashlib
import json
import os
import unittest

from harness import AWS_CLI_VERSION, HASH_SPACE, REGION, ServerTestCase, shard_for_hash

S0, S1, S2 = ("shardId-%012d" % i for i in range(3))


class CliTestCase(ServerTestCase):

    def ok(self, *args):
        """Run the CLI, assert exit 0, return the parsed JSON output (or None if there is none)."""
        r = self.server.aws(*args)
        self.assertEqual(r.rc, 0, "aws %s failed (%s):\n%r" % (" ".join(map(str, args)),
                                                                AWS_CLI_VERSION, r))
        if r.stdout.strip():
            self.assertIsNotNone(r.json, "output is not JSON: %r" % r)
        return r.json

    def fails(self, code, *args):
        """Run the CLI, assert a non-zero exit with the AWS error code in stderr."""
        r = self.server.aws(*args)
        self.assertNotEqual(r.rc, 0, "aws %s succeeded, expected %s:\n%r" % (
            " ".join(map(str, args)), code, r))
        self.assertIn(code, r.stderr, "aws %s: expected %s in stderr:\n%r" % (
            " ".join(map(str, args)), code, r))
        return r

    def iterator(self, stream, shard, kind, *extra):
        return self.ok("kinesis", "get-shard-iterator", "--stream-name", stream, "--shard-id", shard,
                       "--shard-iterator-type", kind, *extra)["ShardIterator"]

    def read(self, it, max_calls=50):
        out = []
        for _ in range(max_calls):
            r = self.ok("kinesis", "get-records", "--shard-iterator", it)
            out += r["Records"]
            it = r.get("NextShardIterator")
            if not it or (not r["Records"] and r.get("MillisBehindLatest", 0) == 0):
                return out
        self.fail("shard not drained")

    @staticmethod
    def data(records):
        return [base64.b64decode(r["Data"]) for r in records]


class CliStreamTest(CliTestCase):

    def test_stream_lifecycle(self):
        self.assertIsNone(self.ok("kinesis", "create-stream", "--stream-name", "cli",
                                  "--shard-count", "3"))
        self.ok("kinesis", "wait", "stream-exists", "--stream-name", "cli")

        d = self.ok("kinesis", "describe-stream", "--stream-name", "cli")["StreamDescription"]
        self.assertEqual(d["StreamName"], "cli")
        self.assertEqual(d["StreamStatus"], "ACTIVE")
        self.assertEqual(d["RetentionPeriodHours"], 24)
        self.assertRegex(d["StreamARN"], r"^arn:aws:kinesis:%s:[0-9]{12}:stream/cli$" % REGION)
        self.assertEqual([s["ShardId"] for s in d["Shards"]], [S0, S1, S2])
        self.assertEqual(d["Shards"][0]["HashKeyRange"]["StartingHashKey"], "0")
        self.assertEqual(d["Shards"][-1]["HashKeyRange"]["EndingHashKey"], str(HASH_SPACE - 1))

        s = self.ok("kinesis", "describe-stream-summary", "--stream-name", "cli")
        s = s["StreamDescriptionSummary"]
        self.assertEqual(s["OpenShardCount"], 3)
        self.assertEqual(s["StreamStatus"], "ACTIVE")
        self.assertEqual(s["StreamARN"], d["StreamARN"])

        self.ok("kinesis", "create-stream", "--stream-name", "other", "--shard-count", "1")
        names = self.ok("kinesis", "list-streams")["StreamNames"]
        self.assertEqual(sorted(names), ["cli", "other"])

        shards = self.ok("kinesis", "list-shards", "--stream-name", "cli")["Shards"]
        self.assertEqual([x["ShardId"] for x in shards], [S0, S1, S2])
        self.assertEqual(shards, d["Shards"])

        self.assertIsNone(self.ok("kinesis", "delete-stream", "--stream-name", "cli"))
        self.ok("kinesis", "wait", "stream-not-exists", "--stream-name", "cli")
        self.assertEqual(self.ok("kinesis", "list-streams")["StreamNames"], ["other"])
        self.fails("ResourceNotFoundException", "kinesis", "describe-stream", "--stream-name", "cli")

    def test_on_demand(self):
        self.ok("kinesis", "create-stream", "--stream-name", "od",
                "--stream-mode-details", "StreamMode=ON_DEMAND")
        self.ok("kinesis", "wait", "stream-exists", "--stream-name", "od")
        s = self.ok("kinesis", "describe-stream-summary", "--stream-name", "od")
        self.assertEqual(s["StreamDescriptionSummary"]["OpenShardCount"], 4)
        self.assertEqual(s["StreamDescriptionSummary"]["StreamModeDetails"]["StreamMode"], "ON_DEMAND")

    def test_cli_pagination(self):
        # The CLI pages through ListShards / ListStreams itself with --page-size.
        self.ok("kinesis", "create-stream", "--stream-name", "five", "--shard-count", "5")
        shards = self.ok("kinesis", "list-shards", "--stream-name", "five", "--page-size", "2")
        self.assertEqual([x["ShardId"] for x in shards["Shards"]],
                         ["shardId-%012d" % i for i in range(5)])
        for n in ("a1", "a2", "a3"):
            self.ok("kinesis", "create-stream", "--stream-name", n, "--shard-count", "1")
        names = self.ok("kinesis", "list-streams", "--page-size", "1")["StreamNames"]
        self.assertEqual(sorted(names), ["a1", "a2", "a3", "five"])
        self.assertEqual(len(names), 4)

    def test_tags_and_retention(self):
        self.ok("kinesis", "create-stream", "--stream-name", "tr", "--shard-count", "1")
        self.assertIsNone(self.ok("kinesis", "add-tags-to-stream", "--stream-name", "tr",
                                  "--tags", "site=mine-a,detector=d7"))
        tags = self.ok("kinesis", "list-tags-for-stream", "--stream-name", "tr")
        self.assertEqual({t["Key"]: t["Value"] for t in tags["Tags"]},
                         {"site": "mine-a", "detector": "d7"})
        self.assertIs(tags["HasMoreTags"], False)

        self.ok("kinesis", "increase-stream-retention-period", "--stream-name", "tr",
                "--retention-period-hours", "168")
        s = self.ok("kinesis", "describe-stream-summary", "--stream-name", "tr")
        self.assertEqual(s["StreamDescriptionSummary"]["RetentionPeriodHours"], 168)
        self.ok("kinesis", "decrease-stream-retention-period", "--stream-name", "tr",
                "--retention-period-hours", "48")
        s = self.ok("kinesis", "describe-stream", "--stream-name", "tr")
        self.assertEqual(s["StreamDescription"]["RetentionPeriodHours"], 48)
        self.fails("InvalidArgumentException", "kinesis", "increase-stream-retention-period",
                   "--stream-name", "tr", "--retention-period-hours", "8761")
        self.fails("InvalidArgumentException", "kinesis", "decrease-stream-retention-period",
                   "--stream-name", "tr", "--retention-period-hours", "23")


class CliRecordsTest(CliTestCase):

    def setUp(self):
        super().setUp()
        self.ok("kinesis", "create-stream", "--stream-name", "rec", "--shard-count", "2")
        self.ok("kinesis", "wait", "stream-exists", "--stream-name", "rec")
        self.shards = self.ok("kinesis", "list-shards", "--stream-name", "rec")["Shards"]

    def test_put_record_round_trip(self):
        r = self.ok("kinesis", "put-record", "--stream-name", "rec", "--partition-key", "det-1",
                    "--data", "hello muon")
        want_shard = shard_for_hash(self.shards, int(hashlib.md5(b"det-1").hexdigest(), 16))
        self.assertEqual(r["ShardId"], want_shard)
        self.assertRegex(r["SequenceNumber"], r"^[0-9]{56}$")
        recs = self.read(self.iterator("rec", want_shard, "TRIM_HORIZON"))
        self.assertEqual(self.data(recs), [b"hello muon"])
        self.assertEqual(recs[0]["PartitionKey"], "det-1")
        self.assertEqual(recs[0]["SequenceNumber"], r["SequenceNumber"])
        self.assertIn("ApproximateArrivalTimestamp", recs[0])

    def test_put_record_binary_file(self):
        payload = bytes(range(256)) * 4
        path = os.path.join(self.workdir, "payload.bin")
        with open(path, "wb") as f:
            f.write(payload)
        r = self.ok("kinesis", "put-record", "--stream-name", "rec", "--partition-key", "bin",
                    "--data", "fileb://" + path, "--explicit-hash-key", "0")
        self.assertEqual(r["ShardId"], S0)
        self.assertEqual(self.data(self.read(self.iterator("rec", S0, "TRIM_HORIZON"))), [payload])

    def test_put_records(self):
        records = [{"Data": "rec-%d" % i, "PartitionKey": "key-%d" % i} for i in range(20)]
        records.append({"Data": "explicit", "PartitionKey": "x", "ExplicitHashKey": str(HASH_SPACE - 1)})
        path = os.path.join(self.workdir, "records.json")
        with open(path, "w") as f:
            json.dump(records, f)
        r = self.ok("kinesis", "put-records", "--stream-name", "rec", "--records", "file://" + path)
        self.assertEqual(r.get("FailedRecordCount", 0), 0)
        self.assertEqual(len(r["Records"]), len(records))
        for req, res in zip(records, r["Records"]):
            h = int(req["ExplicitHashKey"]) if "ExplicitHashKey" in req else \
                int(hashlib.md5(req["PartitionKey"].encode()).hexdigest(), 16)
            self.assertEqual(res["ShardId"], shard_for_hash(self.shards, h), req)
        got = []
        for s in self.shards:
            recs = self.read(self.iterator("rec", s["ShardId"], "TRIM_HORIZON"))
            got += self.data(recs)
            seqs = [int(x["SequenceNumber"]) for x in recs]
            self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(sorted(got), sorted(x["Data"].encode() for x in records))
        # Shorthand syntax too.
        r = self.ok("kinesis", "put-records", "--stream-name", "rec", "--records",
                    "Data=short1,PartitionKey=p1", "Data=short2,PartitionKey=p2")
        self.assertEqual(len(r["Records"]), 2)

    def test_every_iterator_type(self):
        seqs = []
        for i in range(5):
            r = self.ok("kinesis", "put-record", "--stream-name", "rec", "--partition-key", "k",
                        "--data", "r%d" % i, "--explicit-hash-key", "1")
            self.assertEqual(r["ShardId"], S0)
            seqs.append(r["SequenceNumber"])
        want = [b"r%d" % i for i in range(5)]
        self.assertEqual(self.data(self.read(self.iterator("rec", S0, "TRIM_HORIZON"))), want)
        self.assertEqual(self.data(self.read(self.iterator(
            "rec", S0, "AT_SEQUENCE_NUMBER", "--starting-sequence-number", seqs[2]))), want[2:])
        self.assertEqual(self.data(self.read(self.iterator(
            "rec", S0, "AFTER_SEQUENCE_NUMBER", "--starting-sequence-number", seqs[2]))), want[3:])
        self.assertEqual(self.data(self.read(self.iterator(
            "rec", S0, "AT_TIMESTAMP", "--timestamp", "2000-01-01T00:00:00Z"))), want)
        # A timestamp in the future is refused, as AWS does.
        r = self.server.aws("kinesis", "get-shard-iterator", "--stream-name", "rec", "--shard-id", S0,
                            "--shard-iterator-type", "AT_TIMESTAMP", "--timestamp", "2999-01-01T00:00:00Z")
        self.assertNotEqual(r.rc, 0)
        self.assertIn("InvalidArgumentException", r.stderr)
        # Epoch seconds as --timestamp (the CLI accepts both forms).
        self.assertEqual(self.data(self.read(self.iterator(
            "rec", S0, "AT_TIMESTAMP", "--timestamp", "946684800"))), want)
        latest = self.iterator("rec", S0, "LATEST")
        self.assertEqual(self.read(latest), [])
        self.ok("kinesis", "put-record", "--stream-name", "rec", "--partition-key", "k",
                "--data", "after", "--explicit-hash-key", "1")
        self.assertEqual(self.data(self.read(latest)), [b"after"])

    def test_get_records_limit(self):
        for i in range(4):
            self.ok("kinesis", "put-record", "--stream-name", "rec", "--partition-key", "k",
                    "--data", "%d" % i, "--explicit-hash-key", "5")
        r = self.ok("kinesis", "get-records", "--limit", "3",
                    "--shard-iterator", self.iterator("rec", S0, "TRIM_HORIZON"))
        self.assertEqual(self.data(r["Records"]), [b"0", b"1", b"2"])
        self.assertIn("MillisBehindLatest", r)
        r = self.ok("kinesis", "get-records", "--shard-iterator", r["NextShardIterator"])
        self.assertEqual(self.data(r["Records"]), [b"3"])


class CliErrorsTest(CliTestCase):

    def test_unknown_stream(self):
        for args in (["describe-stream", "--stream-name", "nope"],
                     ["describe-stream-summary", "--stream-name", "nope"],
                     ["list-shards", "--stream-name", "nope"],
                     ["put-record", "--stream-name", "nope", "--partition-key", "k", "--data", "x"],
                     ["delete-stream", "--stream-name", "nope"]):
            with self.subTest(op=args[0]):
                self.fails("ResourceNotFoundException", "kinesis", *args)

    def test_create_existing(self):
        self.ok("kinesis", "create-stream", "--stream-name", "dup", "--shard-count", "1")
        self.fails("ResourceInUseException", "kinesis", "create-stream", "--stream-name", "dup",
                   "--shard-count", "1")

    def test_bad_explicit_hash_key(self):
        self.ok("kinesis", "create-stream", "--stream-name", "e", "--shard-count", "1")
        self.fails("InvalidArgumentException", "kinesis", "put-record", "--stream-name", "e",
                   "--partition-key", "k", "--data", "x", "--explicit-hash-key", "not-a-number")
        self.fails("InvalidArgumentException", "kinesis", "put-record", "--stream-name", "e",
                   "--partition-key", "k", "--data", "x", "--explicit-hash-key", str(HASH_SPACE))

    def test_garbage_iterator(self):
        self.fails("InvalidArgumentException", "kinesis", "get-records",
                   "--shard-iterator", "this-is-not-an-iterator")

    def test_wrong_credentials(self):
        path = os.path.join(self.workdir, "bad-credentials")
        with open(path, "w") as f:
            f.write("[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
                    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
        r = self.server.aws("kinesis", "list-streams", credentials_file=path)
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("UnrecognizedClientException", r.stderr, r)


if __name__ == "__main__":
    unittest.main()
