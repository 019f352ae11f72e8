"""Kinesis Data Streams through boto3 against a real `muonpipe serve`.

Not covered (cannot be tested in real time or not triggerable through the contract):
ExpiredIteratorException (iterators expire after 5 minutes) and LimitExceededException.
"""

import datetime
import hashlib
import random
import re
import time
import unittest

import botocore.exceptions

from harness import (HASH_SPACE, REGION, ServerTestCase, aws_type, error_code, shard_for_hash)

SEQ_RE = re.compile(r"^[0-9]{56}$")
MIB = 1024 * 1024


def md5_hash(key):
    return int(hashlib.md5(key.encode("utf-8")).hexdigest(), 16)


class StreamLifecycleTest(ServerTestCase):

    def test_create_describe_provisioned(self):
        self.kinesis.create_stream(StreamName="s3", ShardCount=3)
        desc = self.kinesis.describe_stream(StreamName="s3")["StreamDescription"]
        self.assertEqual(desc["StreamName"], "s3")
        self.assertEqual(desc["StreamStatus"], "ACTIVE", "streams are ACTIVE immediately")
        self.assertRegex(desc["StreamARN"], r"^arn:aws:kinesis:%s:[0-9]{12}:stream/s3$" % REGION)
        self.assertEqual(desc["RetentionPeriodHours"], 24)
        self.assertIs(desc["HasMoreShards"], False)
        self.assertIn("StreamCreationTimestamp", desc)
        self.assertIsInstance(desc["StreamCreationTimestamp"], datetime.datetime)
        self.assertIn("EnhancedMonitoring", desc)
        shards = desc["Shards"]
        self.assertEqual([s["ShardId"] for s in shards],
                         ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"])
        self._check_even_split(shards)
        for s in shards:
            self.assertRegex(s["SequenceNumberRange"]["StartingSequenceNumber"], SEQ_RE)
            self.assertNotIn("EndingSequenceNumber", s["SequenceNumberRange"], "open shard")
            self.assertNotIn("ParentShardId", s)

    def _check_even_split(self, shards):
        n = len(shards)
        step = HASH_SPACE // n
        for i, s in enumerate(shards):
            r = s["HashKeyRange"]
            self.assertEqual(int(r["StartingHashKey"]), i * step, "shard %d start (AWS split)" % i)
            end = HASH_SPACE - 1 if i == n - 1 else (i + 1) * step - 1
            self.assertEqual(int(r["EndingHashKey"]), end, "shard %d end (AWS split)" % i)

    def test_aws_split_known_values(self):
        # The exact ranges AWS gives a 3-shard stream.
        self.kinesis.create_stream(StreamName="k", ShardCount=3)
        shards = self.kinesis.list_shards(StreamName="k")["Shards"]
        self.assertEqual([(s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"])
                          for s in shards], [
            ("0", "113427455640312821154458202477256070484"),
            ("113427455640312821154458202477256070485", "226854911280625642308916404954512140969"),
            ("226854911280625642308916404954512140970", "340282366920938463463374607431768211455"),
        ])

    def test_describe_stream_summary(self):
        self.kinesis.create_stream(StreamName="sum", ShardCount=2)
        s = self.kinesis.describe_stream_summary(StreamName="sum")["StreamDescriptionSummary"]
        for field in ("StreamName", "StreamARN", "StreamStatus", "RetentionPeriodHours",
                      "StreamCreationTimestamp", "EnhancedMonitoring", "OpenShardCount"):
            self.assertIn(field, s, "required member of StreamDescriptionSummary")
        self.assertEqual(s["StreamName"], "sum")
        self.assertEqual(s["StreamStatus"], "ACTIVE")
        self.assertEqual(s["OpenShardCount"], 2)
        self.assertEqual(s["RetentionPeriodHours"], 24)
        self.assertEqual(s.get("StreamModeDetails", {}).get("StreamMode"), "PROVISIONED")
        self.assertRegex(s["StreamARN"], r"^arn:aws:kinesis:%s:[0-9]{12}:stream/sum$" % REGION)
        age = abs((datetime.datetime.now(datetime.timezone.utc)
                   - s["StreamCreationTimestamp"]).total_seconds())
        self.assertLess(age, 300, "StreamCreationTimestamp %s is not now" % s["StreamCreationTimestamp"])

    def test_create_on_demand(self):
        self.kinesis.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        s = self.wait_active("od")
        self.assertEqual(s["OpenShardCount"], 4)
        self.assertEqual(s.get("StreamModeDetails", {}).get("StreamMode"), "ON_DEMAND")
        shards = self.list_all_shards("od")
        self.assertEqual(len(shards), 4)
        self._check_even_split(shards)

    def test_stream_exists_waiter(self):
        self.kinesis.create_stream(StreamName="w", ShardCount=1)
        self.kinesis.get_waiter("stream_exists").wait(
            StreamName="w", WaiterConfig={"Delay": 1, "MaxAttempts": 10})

    def test_create_existing_stream(self):
        self.create_stream("dup", 1)
        self.assertAwsError("ResourceInUseException", self.kinesis.create_stream,
                            StreamName="dup", ShardCount=1)

    def test_delete_stream(self):
        self.create_stream("gone", 2)
        self.create_stream("stays", 1)
        self.kinesis.delete_stream(StreamName="gone")
        self.kinesis.get_waiter("stream_not_exists").wait(
            StreamName="gone", WaiterConfig={"Delay": 1, "MaxAttempts": 20})
        self.assertAwsError("ResourceNotFoundException", self.kinesis.describe_stream,
                            StreamName="gone")
        self.assertAwsError("ResourceNotFoundException", self.kinesis.put_record,
                            StreamName="gone", Data=b"x", PartitionKey="k")
        self.assertEqual(self.kinesis.list_streams()["StreamNames"], ["stays"])
        # The name can be reused, and the new stream starts empty.
        self.create_stream("gone", 1)
        self.assertEqual(self.read_shard("gone", "shardId-000000000000"), [])

    def test_delete_unknown_stream(self):
        self.assertAwsError("ResourceNotFoundException", self.kinesis.delete_stream,
                            StreamName="never-was")

    def test_list_streams_and_pagination(self):
        self.assertEqual(self.kinesis.list_streams()["StreamNames"], [])
        self.assertIs(self.kinesis.list_streams()["HasMoreStreams"], False)
        names = ["stream-%02d" % i for i in range(7)]
        for n in reversed(names):
            self.kinesis.create_stream(StreamName=n, ShardCount=1)
        resp = self.kinesis.list_streams()
        self.assertEqual(sorted(resp["StreamNames"]), names)
        self.assertIs(resp["HasMoreStreams"], False)

        # Limit + ExclusiveStartStreamName (the classic paging every SDK version has).
        got, start = [], None
        for _ in range(20):
            kw = {"Limit": 3}
            if start:
                kw["ExclusiveStartStreamName"] = start
            resp = self.kinesis.list_streams(**kw)
            self.assertLessEqual(len(resp["StreamNames"]), 3)
            got += resp["StreamNames"]
            if not resp["HasMoreStreams"]:
                break
            start = resp["StreamNames"][-1]
        self.assertEqual(sorted(got), names)
        self.assertEqual(len(got), len(names), "no stream listed twice")
        self.assertIs(self.kinesis.list_streams(Limit=3)["HasMoreStreams"], True)

        # The SDK's own paginator (NextToken on newer models, ExclusiveStartStreamName on older).
        pages = self.kinesis.get_paginator("list_streams").paginate(
            PaginationConfig={"PageSize": 2})
        got = []
        for i, page in enumerate(pages):
            self.assertLess(i, 20, "paginator did not end")
            got += page["StreamNames"]
        self.assertEqual(sorted(got), names)
        self.assertEqual(len(got), len(names), "no stream listed twice")

    def test_list_streams_name_order(self):
        # AWS lists stream names in lexicographic order (what ExclusiveStartStreamName relies on),
        # whatever the creation order.
        for n in ["b", "c", "a", "ab"]:
            self.kinesis.create_stream(StreamName=n, ShardCount=1)
        self.assertEqual(self.kinesis.list_streams()["StreamNames"], ["a", "ab", "b", "c"])

    def test_list_streams_next_token(self):
        model = self.kinesis.meta.service_model.operation_model("ListStreams")
        if "NextToken" not in model.input_shape.members:
            self.skipTest("this botocore's Kinesis model has no ListStreams NextToken")
        names = ["n%d" % i for i in range(5)]
        for n in names:
            self.kinesis.create_stream(StreamName=n, ShardCount=1)
        resp = self.kinesis.list_streams(Limit=2)
        got = list(resp["StreamNames"])
        self.assertIn("NextToken", resp)
        if "StreamSummaries" in resp:
            self.assertEqual([s["StreamName"] for s in resp["StreamSummaries"]], resp["StreamNames"])
        for _ in range(10):
            if not resp.get("NextToken"):
                break
            resp = self.kinesis.list_streams(NextToken=resp["NextToken"], Limit=2)
            got += resp["StreamNames"]
        self.assertEqual(sorted(got), names)
        self.assertEqual(len(got), len(names))

    def test_list_shards_pagination(self):
        self.create_stream("ls", 5)
        ids = ["shardId-%012d" % i for i in range(5)]
        resp = self.kinesis.list_shards(StreamName="ls")
        self.assertEqual([s["ShardId"] for s in resp["Shards"]], ids)
        self.assertNotIn("NextToken", resp)

        resp = self.kinesis.list_shards(StreamName="ls", MaxResults=2)
        self.assertEqual([s["ShardId"] for s in resp["Shards"]], ids[:2])
        self.assertIn("NextToken", resp)
        got = [s["ShardId"] for s in resp["Shards"]]
        for _ in range(10):
            token = resp.get("NextToken")
            if not token:
                break
            resp = self.kinesis.list_shards(NextToken=token, MaxResults=2)
            self.assertLessEqual(len(resp["Shards"]), 2)
            got += [s["ShardId"] for s in resp["Shards"]]
        self.assertEqual(got, ids)

        got = []
        for page in self.kinesis.get_paginator("list_shards").paginate(
                StreamName="ls", PaginationConfig={"PageSize": 2}):
            got += [s["ShardId"] for s in page["Shards"]]
        self.assertEqual(got, ids)

        # botocore's paginator repeats StreamName beside NextToken, so muonpipe accepts the pair
        # when both name the same stream; a token for another stream is refused.
        self.create_stream("ls2", 1)
        self.assertAwsError("InvalidArgumentException", self.kinesis.list_shards,
                            StreamName="ls2", NextToken=self.kinesis.list_shards(
                                StreamName="ls", MaxResults=1)["NextToken"])

    def test_describe_stream_shard_paging(self):
        self.create_stream("dp", 4)
        d = self.kinesis.describe_stream(StreamName="dp", Limit=2)["StreamDescription"]
        self.assertEqual([s["ShardId"] for s in d["Shards"]],
                         ["shardId-000000000000", "shardId-000000000001"])
        self.assertIs(d["HasMoreShards"], True)
        d = self.kinesis.describe_stream(StreamName="dp", ExclusiveStartShardId="shardId-000000000001")
        d = d["StreamDescription"]
        self.assertEqual([s["ShardId"] for s in d["Shards"]],
                         ["shardId-000000000002", "shardId-000000000003"])
        self.assertIs(d["HasMoreShards"], False)

    def test_unknown_stream_everywhere(self):
        k = self.kinesis
        for fn, kw in [
            (k.describe_stream, {}),
            (k.describe_stream_summary, {}),
            (k.list_shards, {}),
            (k.put_record, {"Data": b"x", "PartitionKey": "p"}),
            (k.put_records, {"Records": [{"Data": b"x", "PartitionKey": "p"}]}),
            (k.get_shard_iterator, {"ShardId": "shardId-000000000000",
                                    "ShardIteratorType": "TRIM_HORIZON"}),
            (k.add_tags_to_stream, {"Tags": {"a": "b"}}),
            (k.list_tags_for_stream, {}),
            (k.increase_stream_retention_period, {"RetentionPeriodHours": 48}),
            (k.decrease_stream_retention_period, {"RetentionPeriodHours": 24}),
            (k.delete_stream, {}),
        ]:
            with self.subTest(op=fn.__name__):
                e = self.assertAwsError("ResourceNotFoundException", fn, StreamName="nope", **kw)
                self.assertEqual(e.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_unknown_shard(self):
        self.create_stream("us", 2)
        self.assertAwsError("ResourceNotFoundException", self.kinesis.get_shard_iterator,
                            StreamName="us", ShardId="shardId-000000000007",
                            ShardIteratorType="TRIM_HORIZON")


class TagsAndRetentionTest(ServerTestCase):

    def test_tags(self):
        self.create_stream("t", 1)
        self.assertEqual(self.kinesis.list_tags_for_stream(StreamName="t")["Tags"], [])
        self.kinesis.add_tags_to_stream(StreamName="t", Tags={"site": "mine-a", "detector": "d7"})
        resp = self.kinesis.list_tags_for_stream(StreamName="t")
        self.assertEqual(sorted((t["Key"], t["Value"]) for t in resp["Tags"]),
                         [("detector", "d7"), ("site", "mine-a")])
        self.assertIs(resp["HasMoreTags"], False)
        # Overwrite one value, add another.
        self.kinesis.add_tags_to_stream(StreamName="t", Tags={"site": "tunnel-b", "owner": "ops"})
        tags = {t["Key"]: t["Value"] for t in self.kinesis.list_tags_for_stream(StreamName="t")["Tags"]}
        self.assertEqual(tags, {"site": "tunnel-b", "detector": "d7", "owner": "ops"})

    def test_retention(self):
        self.create_stream("r", 1)
        self.kinesis.increase_stream_retention_period(StreamName="r", RetentionPeriodHours=48)
        self.assertEqual(self.kinesis.describe_stream_summary(StreamName="r")
                         ["StreamDescriptionSummary"]["RetentionPeriodHours"], 48)
        self.kinesis.increase_stream_retention_period(StreamName="r", RetentionPeriodHours=8760)
        self.assertEqual(self.kinesis.describe_stream(StreamName="r")
                         ["StreamDescription"]["RetentionPeriodHours"], 8760)
        self.kinesis.decrease_stream_retention_period(StreamName="r", RetentionPeriodHours=24)
        self.assertEqual(self.kinesis.describe_stream_summary(StreamName="r")
                         ["StreamDescriptionSummary"]["RetentionPeriodHours"], 24)

    def test_retention_out_of_range(self):
        self.create_stream("r", 1)
        self.assertAwsError("InvalidArgumentException", self.kinesis.increase_stream_retention_period,
                            StreamName="r", RetentionPeriodHours=8761)
        self.assertAwsError("InvalidArgumentException", self.kinesis.decrease_stream_retention_period,
                            StreamName="r", RetentionPeriodHours=23)
        self.assertEqual(self.kinesis.describe_stream_summary(StreamName="r")
                         ["StreamDescriptionSummary"]["RetentionPeriodHours"], 24, "unchanged")

    def test_retention_wrong_direction(self):
        # AWS: Increase below the current value / Decrease above it -> InvalidArgumentException.
        self.create_stream("r", 1)
        self.kinesis.increase_stream_retention_period(StreamName="r", RetentionPeriodHours=72)
        self.assertAwsError("InvalidArgumentException", self.kinesis.increase_stream_retention_period,
                            StreamName="r", RetentionPeriodHours=48)
        self.assertAwsError("InvalidArgumentException", self.kinesis.decrease_stream_retention_period,
                            StreamName="r", RetentionPeriodHours=96)
        self.assertEqual(self.kinesis.describe_stream_summary(StreamName="r")
                         ["StreamDescriptionSummary"]["RetentionPeriodHours"], 72)


class RecordsTest(ServerTestCase):

    def test_put_get_round_trip_binary(self):
        self.create_stream("rt", 1)
        payloads = [bytes(range(256)), b"\x00", b"hello muon\n", bytes(random.Random(1).randbytes(5000))]
        seqs = []
        for p in payloads:
            r = self.kinesis.put_record(StreamName="rt", Data=p, PartitionKey="det-1")
            self.assertEqual(r["ShardId"], "shardId-000000000000")
            self.assertRegex(r["SequenceNumber"], SEQ_RE)
            seqs.append(r["SequenceNumber"])
        recs = self.read_shard("rt", "shardId-000000000000")
        self.assertEqual([r["Data"] for r in recs], payloads)
        self.assertEqual([r["SequenceNumber"] for r in recs], seqs)
        self.assertEqual({r["PartitionKey"] for r in recs}, {"det-1"})

    def test_record_metadata(self):
        self.create_stream("md", 1)
        before = datetime.datetime.now(datetime.timezone.utc)
        self.kinesis.put_record(StreamName="md", Data=b"a", PartitionKey="pk")
        after = datetime.datetime.now(datetime.timezone.utc)
        it = self.kinesis.get_shard_iterator(StreamName="md", ShardId="shardId-000000000000",
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        resp = self.kinesis.get_records(ShardIterator=it)
        self.assertIn("MillisBehindLatest", resp)
        self.assertIsInstance(resp["MillisBehindLatest"], int)
        self.assertGreaterEqual(resp["MillisBehindLatest"], 0)
        self.assertIn("NextShardIterator", resp)
        self.assertEqual(len(resp["Records"]), 1)
        rec = resp["Records"][0]
        self.assertIn("ApproximateArrivalTimestamp", rec)
        ts = rec["ApproximateArrivalTimestamp"]
        self.assertIsInstance(ts, datetime.datetime)
        slack = datetime.timedelta(seconds=2)
        self.assertTrue(before - slack <= ts <= after + slack,
                        "ApproximateArrivalTimestamp %s not within [%s, %s]" % (ts, before, after))
        self.assertEqual(rec["PartitionKey"], "pk")
        self.assertEqual(rec["Data"], b"a")
        # Caught up: an empty read says 0 ms behind.
        resp = self.kinesis.get_records(ShardIterator=resp["NextShardIterator"])
        self.assertEqual(resp["Records"], [])
        self.assertEqual(resp["MillisBehindLatest"], 0)
        self.assertTrue(resp.get("NextShardIterator"), "open shard always has a next iterator")

    def test_empty_shard(self):
        self.create_stream("e", 2)
        for sid in ("shardId-000000000000", "shardId-000000000001"):
            it = self.kinesis.get_shard_iterator(StreamName="e", ShardId=sid,
                                                 ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            resp = self.kinesis.get_records(ShardIterator=it)
            self.assertEqual(resp["Records"], [])
            self.assertEqual(resp["MillisBehindLatest"], 0)
            self.assertTrue(resp["NextShardIterator"])

    def test_routing_explicit_hash_key(self):
        self.create_stream("eh", 4)
        shards = self.list_all_shards("eh")
        keys = []
        for s in shards:
            lo, hi = int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])
            keys += [lo, hi, (lo + hi) // 2]
        keys += [0, HASH_SPACE - 1]
        for h in keys:
            with self.subTest(hash_key=h):
                r = self.kinesis.put_record(StreamName="eh", Data=b"%d" % h, PartitionKey="ignored",
                                            ExplicitHashKey=str(h))
                self.assertEqual(r["ShardId"], shard_for_hash(shards, h))
        # PutRecords with ExplicitHashKey too.
        recs = [{"Data": b"b%d" % h, "PartitionKey": "same", "ExplicitHashKey": str(h)} for h in keys]
        resp = self.kinesis.put_records(StreamName="eh", Records=recs)
        self.assertEqual([r["ShardId"] for r in resp["Records"]],
                         [shard_for_hash(shards, h) for h in keys])
        # And the data is really on that shard.
        for s in shards:
            data = {r["Data"] for r in self.read_shard("eh", s["ShardId"])}
            want = {b"%d" % h for h in keys if shard_for_hash(shards, h) == s["ShardId"]}
            want |= {b"b%d" % h for h in keys if shard_for_hash(shards, h) == s["ShardId"]}
            self.assertEqual(data, want, s["ShardId"])

    def test_routing_partition_key_md5(self):
        self.create_stream("pk", 5)
        shards = self.list_all_shards("pk")
        rnd = random.Random(7)
        keys = ["det-%d" % i for i in range(60)] + ["ü-é-µ-%d" % i for i in range(10)] + \
               ["".join(rnd.choice("abcxyz0123") for _ in range(rnd.randint(1, 256))) for _ in range(30)]
        for k in keys:
            r = self.kinesis.put_record(StreamName="pk", Data=k.encode(), PartitionKey=k)
            self.assertEqual(r["ShardId"], shard_for_hash(shards, md5_hash(k)), "partition key %r" % k)
        self.assertGreater(len({shard_for_hash(shards, md5_hash(k)) for k in keys}), 3)
        for s in shards:
            got = sorted(r["PartitionKey"] for r in self.read_shard("pk", s["ShardId"]))
            want = sorted(k for k in keys if shard_for_hash(shards, md5_hash(k)) == s["ShardId"])
            self.assertEqual(got, want, s["ShardId"])

    def test_put_records_order_and_results(self):
        self.create_stream("pr", 3)
        shards = self.list_all_shards("pr")
        recs = [{"Data": b"rec-%03d" % i, "PartitionKey": "key-%d" % (i % 17)} for i in range(200)]
        resp = self.kinesis.put_records(StreamName="pr", Records=recs)
        self.assertIn(resp.get("FailedRecordCount", 0), (0,))
        self.assertEqual(len(resp["Records"]), len(recs))
        per_shard = {}
        for req, res in zip(recs, resp["Records"]):
            self.assertNotIn("ErrorCode", res)
            self.assertEqual(res["ShardId"], shard_for_hash(shards, md5_hash(req["PartitionKey"])))
            self.assertRegex(res["SequenceNumber"], SEQ_RE)
            per_shard.setdefault(res["ShardId"], []).append((req["Data"], res["SequenceNumber"]))
        for sid, want in per_shard.items():
            seqs = [int(s) for _, s in want]
            self.assertEqual(seqs, sorted(seqs), "request order = sequence order within a shard")
            self.assertEqual(len(set(seqs)), len(seqs))
            got = [(r["Data"], r["SequenceNumber"]) for r in self.read_shard("pr", sid)]
            self.assertEqual(got, want, sid)

    def test_sequence_numbers_increase_per_shard(self):
        self.create_stream("sq", 2)
        last = {}
        for i in range(60):
            if i % 3 == 0:
                r = self.kinesis.put_records(StreamName="sq", Records=[
                    {"Data": b"x", "PartitionKey": "a%d" % i}, {"Data": b"y", "PartitionKey": "b%d" % i}])
                results = r["Records"]
            else:
                results = [self.kinesis.put_record(StreamName="sq", Data=b"z", PartitionKey="c%d" % i)]
            for res in results:
                seq = int(res["SequenceNumber"])
                if res["ShardId"] in last:
                    self.assertGreater(seq, last[res["ShardId"]])
                last[res["ShardId"]] = seq
        # StartingSequenceNumber of each shard is <= its first record's.
        for s in self.list_all_shards("sq"):
            recs = self.read_shard("sq", s["ShardId"])
            if recs:
                self.assertLessEqual(int(s["SequenceNumberRange"]["StartingSequenceNumber"]),
                                     int(recs[0]["SequenceNumber"]))

    def test_sequence_number_for_ordering(self):
        self.create_stream("so", 1)
        a = self.kinesis.put_record(StreamName="so", Data=b"1", PartitionKey="k")["SequenceNumber"]
        b = self.kinesis.put_record(StreamName="so", Data=b"2", PartitionKey="k",
                                    SequenceNumberForOrdering=a)["SequenceNumber"]
        self.assertGreater(int(b), int(a))

    def test_iterator_types(self):
        self.create_stream("it", 1)
        sid = "shardId-000000000000"
        seqs = [self.kinesis.put_record(StreamName="it", Data=b"r%d" % i, PartitionKey="k")
                ["SequenceNumber"] for i in range(10)]

        def data(recs):
            return [r["Data"] for r in recs]

        all_data = [b"r%d" % i for i in range(10)]
        self.assertEqual(data(self.read_shard("it", sid, iterator_type="TRIM_HORIZON")), all_data)
        self.assertEqual(data(self.read_shard("it", sid, iterator_type="AT_SEQUENCE_NUMBER",
                                              StartingSequenceNumber=seqs[4])), all_data[4:])
        self.assertEqual(data(self.read_shard("it", sid, iterator_type="AFTER_SEQUENCE_NUMBER",
                                              StartingSequenceNumber=seqs[4])), all_data[5:])
        self.assertEqual(data(self.read_shard("it", sid, iterator_type="AT_SEQUENCE_NUMBER",
                                              StartingSequenceNumber=seqs[0])), all_data)
        self.assertEqual(data(self.read_shard("it", sid, iterator_type="AFTER_SEQUENCE_NUMBER",
                                              StartingSequenceNumber=seqs[-1])), [])

        latest = self.kinesis.get_shard_iterator(StreamName="it", ShardId=sid,
                                                 ShardIteratorType="LATEST")["ShardIterator"]
        resp = self.kinesis.get_records(ShardIterator=latest)
        self.assertEqual(resp["Records"], [], "LATEST starts after the last record")
        self.kinesis.put_record(StreamName="it", Data=b"new", PartitionKey="k")
        # Both the original LATEST iterator and the one GetRecords handed back see the new record.
        self.assertEqual(data(self.kinesis.get_records(ShardIterator=latest)["Records"]), [b"new"])
        self.assertEqual(data(self.kinesis.get_records(
            ShardIterator=resp["NextShardIterator"])["Records"]), [b"new"])

    def test_at_timestamp(self):
        self.create_stream("ts", 1)
        sid = "shardId-000000000000"
        for i in range(3):
            self.kinesis.put_record(StreamName="ts", Data=b"old%d" % i, PartitionKey="k")
        time.sleep(1.2)
        cut = datetime.datetime.now(datetime.timezone.utc)
        time.sleep(1.2)
        for i in range(3):
            self.kinesis.put_record(StreamName="ts", Data=b"new%d" % i, PartitionKey="k")

        def read_at(ts):
            return [r["Data"] for r in self.read_shard("ts", sid, iterator_type="AT_TIMESTAMP",
                                                       Timestamp=ts)]

        self.assertEqual(read_at(cut), [b"new0", b"new1", b"new2"])
        self.assertEqual(read_at(datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)),
                         [b"old0", b"old1", b"old2", b"new0", b"new1", b"new2"])
        # A timestamp in the future is refused, as AWS does ("The timestampInMillis parameter
        # cannot be greater than the currentTimestampInMillis").
        with self.assertRaises(self.kinesis.exceptions.InvalidArgumentException):
            read_at(cut + datetime.timedelta(hours=1))
        # AT_TIMESTAMP with a record's own arrival time includes that record.
        # (records put within the same millisecond share an arrival time, so compare with the
        # records' own timestamps rather than assume they differ).
        # botocore sends JSON timestamps as whole epoch seconds, so compare against the second.
        recs = self.read_shard("ts", sid)
        at = recs[4]["ApproximateArrivalTimestamp"].replace(microsecond=0)
        self.assertEqual(read_at(at), [r["Data"] for r in recs if r["ApproximateArrivalTimestamp"] >= at])
        # Timestamps as epoch seconds (what the SDK sends anyway) also work.
        self.assertEqual(read_at(cut.timestamp()), [b"new0", b"new1", b"new2"])

    def test_get_records_limit(self):
        self.create_stream("lim", 1)
        for i in range(7):
            self.kinesis.put_record(StreamName="lim", Data=b"%d" % i, PartitionKey="k")
        it = self.kinesis.get_shard_iterator(StreamName="lim", ShardId="shardId-000000000000",
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got = []
        for _ in range(10):
            resp = self.kinesis.get_records(ShardIterator=it, Limit=3)
            self.assertLessEqual(len(resp["Records"]), 3)
            got += [r["Data"] for r in resp["Records"]]
            it = resp["NextShardIterator"]
            if not resp["Records"]:
                break
        self.assertEqual(got, [b"%d" % i for i in range(7)])
        # Re-using an iterator is allowed and reads the same records again.
        it = self.kinesis.get_shard_iterator(StreamName="lim", ShardId="shardId-000000000000",
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        a = self.kinesis.get_records(ShardIterator=it, Limit=2)["Records"]
        b = self.kinesis.get_records(ShardIterator=it, Limit=2)["Records"]
        self.assertEqual([r["SequenceNumber"] for r in a], [r["SequenceNumber"] for r in b])

    def test_large_records(self):
        self.create_stream("big", 1)
        big = random.Random(3).randbytes(MIB - 300)   # data + partition key <= 1 MiB
        self.kinesis.put_record(StreamName="big", Data=big, PartitionKey="k")
        batch = [{"Data": random.Random(i).randbytes(256 * 1024), "PartitionKey": "k%d" % i}
                 for i in range(4)]
        resp = self.kinesis.put_records(StreamName="big", Records=batch)
        self.assertEqual(resp.get("FailedRecordCount", 0), 0)
        recs = self.read_shard("big", "shardId-000000000000")
        self.assertEqual([r["Data"] for r in recs], [big] + [b["Data"] for b in batch])

    def test_limits_accepted_at_boundary(self):
        self.create_stream("b", 1)
        self.kinesis.put_record(StreamName="b", Data=b"x", PartitionKey="p" * 256)
        resp = self.kinesis.put_records(StreamName="b", Records=[
            {"Data": b"%d" % i, "PartitionKey": "k"} for i in range(500)])
        self.assertEqual(resp.get("FailedRecordCount", 0), 0)
        self.assertEqual(len(resp["Records"]), 500)
        # An empty Data blob is a valid record.
        self.kinesis.put_record(StreamName="b", Data=b"", PartitionKey="empty")
        recs = self.read_shard("b", "shardId-000000000000")
        self.assertEqual(len(recs), 502)
        self.assertEqual(recs[0]["PartitionKey"], "p" * 256)
        self.assertEqual(recs[-1]["Data"], b"")


class ErrorsTest(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.create_stream("err", 2)

    def test_oversize_record(self):
        self.assertAwsError("ValidationException", self.kinesis.put_record,
                            StreamName="err", Data=b"x" * (MIB + 1), PartitionKey="k")
        self.assertAwsError("ValidationException", self.kinesis.put_records, StreamName="err",
                            Records=[{"Data": b"x" * (MIB + 1), "PartitionKey": "k"}])

    def test_partition_key_too_long(self):
        self.assertAwsError("ValidationException", self.kinesis.put_record,
                            StreamName="err", Data=b"x", PartitionKey="k" * 257)
        self.assertAwsError("ValidationException", self.kinesis.put_records, StreamName="err",
                            Records=[{"Data": b"x", "PartitionKey": "k" * 257}])

    def test_too_many_records(self):
        self.assertAwsError("ValidationException", self.kinesis.put_records, StreamName="err",
                            Records=[{"Data": b"x", "PartitionKey": "k"}] * 501)

    def test_nothing_written_by_rejected_requests(self):
        for fn, kw in [
            (self.kinesis.put_record, {"Data": b"x" * (MIB + 1), "PartitionKey": "k"}),
            (self.kinesis.put_records, {"Records": [{"Data": b"x", "PartitionKey": "k"}] * 501}),
            (self.kinesis.put_records, {"Records": [{"Data": b"ok", "PartitionKey": "k"},
                                                    {"Data": b"x", "PartitionKey": "k" * 257}]}),
        ]:
            with self.assertRaises(botocore.exceptions.ClientError):
                fn(StreamName="err", **kw)
        for sid in ("shardId-000000000000", "shardId-000000000001"):
            self.assertEqual(self.read_shard("err", sid), [], "rejected request wrote records")

    def test_bad_explicit_hash_key(self):
        for bad in ["not-a-number", str(HASH_SPACE), "-1", "1.5"]:
            with self.subTest(explicit_hash_key=bad):
                self.assertAwsError("InvalidArgumentException", self.kinesis.put_record,
                                    StreamName="err", Data=b"x", PartitionKey="k", ExplicitHashKey=bad)

    def test_garbage_iterator(self):
        for bad in ["garbage", "AAAAAAAAAAGarbageIterator" + "x" * 100]:
            with self.subTest(iterator=bad):
                self.assertAwsError("InvalidArgumentException", self.kinesis.get_records,
                                    ShardIterator=bad)

    def test_tampered_iterator(self):
        it = self.kinesis.get_shard_iterator(StreamName="err", ShardId="shardId-000000000000",
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        mid = len(it) // 2
        flipped = it[:mid] + ("A" if it[mid] != "A" else "B") + it[mid + 1:]
        try:
            self.kinesis.get_records(ShardIterator=flipped)
        except botocore.exceptions.ClientError as e:
            self.assertIn(error_code(e), ("InvalidArgumentException", "ExpiredIteratorException"))
        else:
            self.fail("a tampered shard iterator was accepted")

    def test_bad_starting_sequence_number(self):
        self.assertAwsError("InvalidArgumentException", self.kinesis.get_shard_iterator,
                            StreamName="err", ShardId="shardId-000000000000",
                            ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber="banana")
        self.assertAwsError("InvalidArgumentException", self.kinesis.get_shard_iterator,
                            StreamName="err", ShardId="shardId-000000000000",
                            ShardIteratorType="AT_SEQUENCE_NUMBER")

    def test_wrong_secret(self):
        ak, sk = self.server.credentials()
        bad = self.server.client(access_key=ak, secret_key=sk[:-1] + ("A" if sk[-1] != "A" else "B"))
        self.assertAwsError("InvalidSignatureException", bad.list_streams)
        self.assertAwsError("InvalidSignatureException", bad.put_record,
                            StreamName="err", Data=b"x", PartitionKey="k")
        for sid in ("shardId-000000000000", "shardId-000000000001"):
            self.assertEqual(self.read_shard("err", sid), [])

    def test_unknown_access_key(self):
        bad = self.server.client(access_key="AKIAIOSFODNN7EXAMPLE",
                                 secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        self.assertAwsError("UnrecognizedClientException", bad.list_streams)
        self.assertAwsError("UnrecognizedClientException", bad.describe_stream, StreamName="err")

    def test_unsigned_request(self):
        status, body, raw = self.server.raw_post("Kinesis_20131202.ListStreams", {})
        self.assertEqual(status, 400, raw)
        self.assertIsInstance(body, dict, raw)
        self.assertEqual(aws_type(body.get("__type")), "MissingAuthenticationTokenException", raw)
        status, body, raw = self.server.raw_post(
            "Kinesis_20131202.PutRecord",
            {"StreamName": "err", "Data": "eA==", "PartitionKey": "k"})
        self.assertEqual(status, 400, raw)
        self.assertEqual(aws_type((body or {}).get("__type")), "MissingAuthenticationTokenException", raw)
        for sid in ("shardId-000000000000", "shardId-000000000001"):
            self.assertEqual(self.read_shard("err", sid), [])

    def test_error_shape(self):
        """Errors are JSON {__type, message} with HTTP 400, as botocore expects."""
        try:
            self.kinesis.describe_stream(StreamName="missing")
        except botocore.exceptions.ClientError as e:
            self.assertEqual(e.response["ResponseMetadata"]["HTTPStatusCode"], 400)
            self.assertEqual(error_code(e), "ResourceNotFoundException")
            self.assertTrue(e.response["Error"].get("Message"), "error message is empty")
            # botocore maps the code to the modelled exception class.
            self.assertIsInstance(e, self.kinesis.exceptions.ResourceNotFoundException)
        else:
            self.fail("DescribeStream of a missing stream succeeded")

    def test_unknown_operation(self):
        ak, sk = self.server.credentials()
        # A signed request for an operation Kinesis does not have.
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        body = b"{}"
        req = botocore.awsrequest.AWSRequest(
            method="POST", url=self.server.endpoint + "/", data=body,
            headers={"Content-Type": "application/x-amz-json-1.1",
                     "X-Amz-Target": "Kinesis_20131202.FlyToTheMoon"})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(ak, sk), "kinesis", REGION).add_auth(req)
        status, parsed, raw = self.server.raw_post("Kinesis_20131202.FlyToTheMoon", body,
                                                   headers=dict(req.headers.items()))
        self.assertEqual(status, 400, raw)
        self.assertIn(aws_type((parsed or {}).get("__type")),
                      ("UnknownOperationException", "InvalidAction"), raw)

    @unittest.skip("ExpiredIteratorException needs an iterator older than 5 minutes; "
                   "not testable in real time (unit tests with a fake Clock cover it)")
    def test_expired_iterator(self):
        pass

    @unittest.skip("LimitExceededException is not triggerable through the contract "
                   "(shard limits are off by default)")
    def test_limit_exceeded(self):
        pass


if __name__ == "__main__":
    unittest.main()
