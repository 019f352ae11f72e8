"""The detector simulator against the real server, and the measured ingest figures that the cost
planner reads (GET /_muonpipe/usage while serving, DIR/metrics/usage.json after a stop)."""

import json
import os
import subprocess
import unittest

from harness import ServerTestCase

BIN = os.environ.get("MUONPIPE_BIN")


class SimAndUsageTest(ServerTestCase):
    def run_bin(self, *args, timeout=120):
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)

    def test_simulated_fleet_lands_as_canonical_records_and_drives_the_plan(self):
        r = self.run_bin("sim", "--detectors", "5", "--duration", "4", "--create-stream",
                         "--stream", "muonpipe-live", "--endpoint", self.server.endpoint,
                         "--credentials", self.server.credentials_path, "--seed", "7")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        lines = []
        for shard in self.list_all_shards("muonpipe-live"):
            for rec in self.read_shard("muonpipe-live", shard["ShardId"]):
                text = rec["Data"].decode()
                self.assertTrue(text.endswith("\n"))
                for line in text.splitlines():
                    doc = json.loads(line)
                    self.assertEqual(doc["det"], rec["PartitionKey"])
                    lines.append(doc)
        dets = {d["det"] for d in lines}
        self.assertEqual(len(dets), 5)
        for det in dets:
            seqs = [d["seq"] for d in lines if d["det"] == det]
            self.assertEqual(sorted(seqs), list(range(min(seqs), min(seqs) + len(seqs))),
                             "per-detector sequence numbers have a gap or a repeat")
            self.assertTrue(all(d["kind"] in ("muon", "housekeeping") for d in lines))

        status, raw = self.server.admin_get("/_muonpipe/usage")
        self.assertEqual(status, 200, raw)
        usage = json.loads(raw)
        self.assertEqual(usage["schema"], "muonpipe.usage.v1")
        self.assertEqual(sorted(d["id"] for d in usage["detectors"]), sorted(dets))
        self.assertTrue(all(d["bytes_per_second"] > 0 for d in usage["detectors"]))

        # The planner signs with DATA_DIR/admin-credentials when given --data-dir ...
        plan = self.run_bin("plan", "--from-url", self.server.endpoint, "--data-dir",
                            self.server.data_dir, "--json")
        self.assertEqual(plan.returncode, 0, plan.stdout + plan.stderr)
        self.assertIn("\"design\"", plan.stdout)
        # ... and is refused, with the reason and the fix, when it has no credentials the
        # server knows.
        stranger = self.server.credentials_file("stranger", "AKIASTRANGER00000001",
                                                "strangersecretstrangersecretstranger01")
        plan = self.run_bin("plan", "--from-url", self.server.endpoint, "--credentials", stranger)
        self.assertNotEqual(plan.returncode, 0, plan.stdout)
        self.assertIn("UnrecognizedClient", plan.stderr)
        self.assertIn("admin:GetUsage", plan.stderr)

        self.assertEqual(self.server.terminate(), 0)
        path = os.path.join(self.server.data_dir, "metrics", "usage.json")
        with open(path) as f:
            self.assertEqual(len(json.load(f)["detectors"]), 5)
        plan = self.run_bin("plan", "--from-data-dir", self.server.data_dir)
        self.assertEqual(plan.returncode, 0, plan.stdout + plan.stderr)
        self.assertIn("5 detectors", plan.stdout)
        self.server.start()


if __name__ == "__main__":
    unittest.main()
