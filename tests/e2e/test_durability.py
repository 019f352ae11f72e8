"""Durability of the Kinesis stream log across SIGKILL / SIGTERM restarts of `muonpipe serve`.

Contract: a put is acknowledged only once its records are on stable storage, so after kill -9 and
a restart on the same data dir every acknowledged record is readable exactly once with its data
intact and the same shard/sequence number; puts in flight at the kill may or may not be there
(but at most once, intact); new sequence numbers are larger than every old one.
"""

import hashlib
import os
import random
import stat
import threading
import time
import unittest

import botocore.exceptions

from harness import ServerTestCase, read_credentials

STREAM = "durable"
SHARDS = 4


def payload(tag, size):
    """Self-describing record: 'tag|sha256(body)|body'; body is deterministic from the tag."""
    body = random.Random(tag).randbytes(size)
    return b"%s|%s|%s" % (tag.encode(), hashlib.sha256(body).hexdigest().encode(), body)


def parse(data):
    tag, digest, body = data.split(b"|", 2)
    return tag.decode(), digest.decode() == hashlib.sha256(body).hexdigest()


class Writer(threading.Thread):
    """Puts records until told to stop or a request fails (the server died)."""

    def __init__(self, server, n, stop, prefix="w"):
        super().__init__(name="writer-%d" % n, daemon=True)
        self.prefix = prefix
        self.client = server.client(read_timeout=15)
        self.n = n
        self.stop = stop
        self.sent = {}        # tag -> bytes, every record ever sent (acked or not)
        self.acked = {}       # tag -> (shard id, sequence number)
        self.in_flight = []   # tags of the request that failed
        self.error = None
        self.requests = 0

    def run(self):
        rnd = random.Random(self.n)
        i = 0
        while not self.stop.is_set():
            i += 1
            batch = i % 3 == 0
            count = rnd.randint(2, 20) if batch else 1
            tags = ["%s-w%d-r%d-%d" % (self.prefix, self.n, i, j) for j in range(count)]
            records = []
            for t in tags:
                data = payload(t, rnd.choice((10, 100, 1000, 5000)))
                self.sent[t] = data
                records.append({"Data": data, "PartitionKey": t})
            try:
                if batch:
                    resp = self.client.put_records(StreamName=STREAM, Records=records)
                    results = resp["Records"]
                    if len(results) != len(records):
                        self.error = "PutRecords returned %d results for %d records" % (
                            len(results), len(records))
                        return
                else:
                    resp = self.client.put_record(StreamName=STREAM, **records[0])
                    results = [resp]
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError,
                    OSError) as e:
                self.in_flight = tags
                self.error = e
                return
            self.requests += 1
            for t, res in zip(tags, results):
                if "ErrorCode" in res:
                    continue   # a failed record in a batch is not acknowledged
                self.acked[t] = (res["ShardId"], res["SequenceNumber"])


class DurabilityTest(ServerTestCase):

    def read_all(self, client=None):
        """{shard id: [records]} for every shard, from TRIM_HORIZON."""
        return {s["ShardId"]: self.read_shard(STREAM, s["ShardId"], client=client)
                for s in self.list_all_shards(STREAM, client=client)}

    def check_log(self, by_shard, sent, acked):
        """Every acked record once, in place, intact; nothing unknown; nothing twice."""
        seen = {}
        for sid, recs in by_shard.items():
            seqs = [int(r["SequenceNumber"]) for r in recs]
            self.assertEqual(seqs, sorted(set(seqs)),
                             "%s: sequence numbers not strictly increasing in read order" % sid)
            for r in recs:
                tag, intact = parse(r["Data"])
                self.assertTrue(intact, "%s %s: record %s corrupted" % (sid, r["SequenceNumber"], tag))
                self.assertIn(tag, sent, "%s: record %s was never sent" % (sid, tag))
                self.assertEqual(r["Data"], sent[tag], "record %s data differs" % tag)
                self.assertEqual(r["PartitionKey"], tag)
                self.assertNotIn(tag, seen, "record %s appears twice: %s and %s" % (
                    tag, seen.get(tag), (sid, r["SequenceNumber"])))
                seen[tag] = (sid, r["SequenceNumber"])
        lost = sorted(t for t in acked if t not in seen)
        self.assertEqual(lost, [], "%d acknowledged records lost (of %d), e.g. %s" % (
            len(lost), len(acked), lost[:10]))
        for t, where in acked.items():
            self.assertEqual(seen[t], where, "record %s moved" % t)
        return seen

    def put_after_restart(self, by_shard, client=None, prefix="after"):
        """One put per shard (ExplicitHashKey); each gets a sequence number above all old ones.
        Returns (sent, acked) for the new records."""
        c = client or self.kinesis
        shards = self.list_all_shards(STREAM, client=c)
        sent, acked = {}, {}
        for s in shards:
            old = [int(r["SequenceNumber"]) for r in by_shard.get(s["ShardId"], [])]
            tag = "%s-%s" % (prefix, s["ShardId"])
            sent[tag] = payload(tag, 50)
            r = c.put_record(StreamName=STREAM, Data=sent[tag], PartitionKey=tag,
                             ExplicitHashKey=s["HashKeyRange"]["StartingHashKey"])
            acked[tag] = (r["ShardId"], r["SequenceNumber"])
            self.assertEqual(r["ShardId"], s["ShardId"])
            if old:
                self.assertGreater(int(r["SequenceNumber"]), max(old),
                                   "%s: new sequence number not above the old ones" % s["ShardId"])
            recs = self.read_shard(STREAM, s["ShardId"], client=c)
            self.assertEqual(recs[-1]["SequenceNumber"], r["SequenceNumber"])
            self.assertEqual(recs[-1]["Data"], sent[tag])
        return sent, acked

    def run_writers_and_kill(self, writers_count=4, min_acked=300, timeout=60, prefix="w"):
        stop = threading.Event()
        writers = [Writer(self.server, n, stop, prefix) for n in range(writers_count)]
        for w in writers:
            w.start()
        deadline = time.monotonic() + timeout
        while sum(len(w.acked) for w in writers) < min_acked:
            if time.monotonic() > deadline:
                stop.set()
                self.fail("only %d records acknowledged in %ds; writer errors: %s" % (
                    sum(len(w.acked) for w in writers), timeout, [w.error for w in writers]))
            dead = [w for w in writers if not w.is_alive()]
            if dead:
                stop.set()
                self.fail("writer stopped before the kill: %r" % dead[0].error)
            time.sleep(0.02)
        alive = sum(w.is_alive() for w in writers)
        self.assertEqual(alive, writers_count, "all writers must be putting at the kill")
        self.server.kill9()
        for w in writers:
            w.join(timeout=60)
            self.assertFalse(w.is_alive(), "writer did not notice the dead server")
        stop.set()
        sent, acked = {}, {}
        in_flight = 0
        for w in writers:
            sent.update(w.sent)
            acked.update(w.acked)
            in_flight += len(w.in_flight)
        return sent, acked, in_flight

    def test_kill9_mid_stream(self):
        self.create_stream(STREAM, SHARDS)
        sent, acked, in_flight = self.run_writers_and_kill()
        self.server.start()
        self.kinesis = self.server.client()
        by_shard = self.read_all()
        seen = self.check_log(by_shard, sent, acked)
        unacked_present = len(set(seen) - set(acked))
        print("\nkill -9: %d acked, %d in flight at the kill, %d unacked present after restart"
              % (len(acked), in_flight, unacked_present))
        self.put_after_restart(by_shard)

    def test_repeated_kill9(self):
        """Three crash/recover cycles on one data dir: nothing acknowledged in any cycle is lost."""
        self.create_stream(STREAM, SHARDS)
        sent, acked = {}, {}
        for cycle in range(3):
            s, a, _ = self.run_writers_and_kill(writers_count=3, min_acked=100, prefix="c%d" % cycle)
            sent.update(s)
            acked.update(a)
            self.server.start()
            self.kinesis = self.server.client()
            by_shard = self.read_all()
            self.check_log(by_shard, sent, acked)
            s, a = self.put_after_restart(by_shard, prefix="after%d" % cycle)
            sent.update(s)
            acked.update(a)

    def test_sigterm_restart_keeps_everything(self):
        self.create_stream(STREAM, 2)
        self.kinesis.increase_stream_retention_period(StreamName=STREAM, RetentionPeriodHours=72)
        self.kinesis.add_tags_to_stream(StreamName=STREAM, Tags={"site": "dam-3"})
        sent, acked = {}, {}
        for i in range(50):
            t = "term-%d" % i
            sent[t] = payload(t, 300)
            r = self.kinesis.put_record(StreamName=STREAM, Data=sent[t], PartitionKey=t)
            acked[t] = (r["ShardId"], r["SequenceNumber"])
        batch = [{"Data": payload("tb-%d" % i, 2000), "PartitionKey": "tb-%d" % i} for i in range(100)]
        resp = self.kinesis.put_records(StreamName=STREAM, Records=batch)
        for req, res in zip(batch, resp["Records"]):
            sent[req["PartitionKey"]] = req["Data"]
            acked[req["PartitionKey"]] = (res["ShardId"], res["SequenceNumber"])
        before = self.read_all()

        rc = self.server.terminate()
        self.assertEqual(rc, 0, "SIGTERM must exit 0")
        self.server.start()
        self.kinesis = self.server.client()
        after = self.read_all()
        self.assertEqual(after, before, "the log differs after a clean restart")
        self.check_log(after, sent, acked)
        self.put_after_restart(after)

    def test_stream_metadata_survives_restart(self):
        self.create_stream("meta", 3)
        self.create_stream("doomed", 1)
        self.kinesis.increase_stream_retention_period(StreamName="meta", RetentionPeriodHours=168)
        self.kinesis.add_tags_to_stream(StreamName="meta", Tags={"site": "tunnel-9", "k": "v"})
        self.kinesis.delete_stream(StreamName="doomed")
        self.kinesis.get_waiter("stream_not_exists").wait(
            StreamName="doomed", WaiterConfig={"Delay": 1, "MaxAttempts": 20})
        desc = self.kinesis.describe_stream(StreamName="meta")["StreamDescription"]
        for hard in (False, True):
            with self.subTest(restart="kill -9" if hard else "SIGTERM"):
                self.server.restart(hard=hard)
                self.kinesis = self.server.client()
                self.assertEqual(self.kinesis.list_streams()["StreamNames"], ["meta"])
                d = self.kinesis.describe_stream(StreamName="meta")["StreamDescription"]
                self.assertEqual(d["RetentionPeriodHours"], 168)
                self.assertEqual(d["Shards"], desc["Shards"])
                self.assertEqual(d["StreamARN"], desc["StreamARN"])
                self.assertEqual(d["StreamCreationTimestamp"], desc["StreamCreationTimestamp"])
                tags = self.kinesis.list_tags_for_stream(StreamName="meta")["Tags"]
                self.assertEqual({t["Key"]: t["Value"] for t in tags}, {"site": "tunnel-9", "k": "v"})
                self.assertAwsError("ResourceNotFoundException", self.kinesis.describe_stream,
                                    StreamName="doomed")

    def test_admin_credentials(self):
        path = self.server.credentials_path
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, "admin-credentials must be mode 0600")
        ak, sk = read_credentials(path)
        self.assertTrue(ak and sk)
        with open(path, "rb") as f:
            content = f.read()
        old_client = self.kinesis
        old_client.create_stream(StreamName="c", ShardCount=1)
        for hard in (False, True):
            with self.subTest(restart="kill -9" if hard else "SIGTERM"):
                self.server.restart(hard=hard)
                with open(path, "rb") as f:
                    self.assertEqual(f.read(), content, "admin-credentials rewritten on restart")
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
                # A client built before the restart still authenticates.
                self.assertEqual(old_client.list_streams()["StreamNames"], ["c"])

    def test_iterator_survives_restart(self):
        # A shard iterator handed out before a restart is still accepted (within 5 minutes).
        self.create_stream(STREAM, 1)
        self.kinesis.put_record(StreamName=STREAM, Data=b"one", PartitionKey="k")
        it = self.kinesis.get_shard_iterator(StreamName=STREAM, ShardId="shardId-000000000000",
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.server.restart(hard=True)
        self.kinesis = self.server.client()
        try:
            recs = self.kinesis.get_records(ShardIterator=it)["Records"]
        except botocore.exceptions.ClientError as e:
            self.fail("iterator from before the restart rejected: %s" % e.response.get("Error"))
        self.assertEqual([r["Data"] for r in recs], [b"one"])


if __name__ == "__main__":
    unittest.main()
