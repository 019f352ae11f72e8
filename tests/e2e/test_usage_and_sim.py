"""The detector simulator against the real server, the measured ingest figures that the cost
planner reads (signed GET /_muonpipe/usage while serving, DIR/metrics/usage.json after a stop), and
the unauthenticated metrics listener for Prometheus (serve --metrics-listen)."""

import json
import os
import subprocess
import unittest
import urllib.error
import urllib.request

from harness import HOST, ServerTestCase, _NO_PROXY_OPENER, free_port

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


class MetricsListenerTest(ServerTestCase):
    """`serve --metrics-listen`: Prometheus's unauthenticated listener, /metrics and nothing else."""

    def setUp(self):
        self.metrics_port = free_port()
        self.server_args = ("--metrics-listen", "%s:%d" % (HOST, self.metrics_port))
        super().setUp()

    def get(self, port, path):
        url = "http://%s:%d%s" % (HOST, port, path)
        try:
            with _NO_PROXY_OPENER.open(urllib.request.Request(url), timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def test_metrics_listener_serves_metrics_unauthenticated_and_nothing_else(self):
        self.create_stream("muonpipe-live")
        self.kinesis.put_record(StreamName="muonpipe-live", Data=b"{}\n", PartitionKey="det-1")
        status, body = self.get(self.metrics_port, "/metrics")
        self.assertEqual(status, 200, body)
        self.assertIn(b"# TYPE muonpipe_kinesis_records_in_total counter", body)
        self.assertIn(b"\nmuonpipe_kinesis_records_in_total", body)
        # The same figures as the signed endpoint on the main listener.
        status, signed = self.server.admin_get("/_muonpipe/metrics")
        self.assertEqual(status, 200, signed)
        self.assertIn(b"# TYPE muonpipe_kinesis_records_in_total counter", signed)
        # Nothing else is served there: not usage, not the APIs.
        for path in ("/_muonpipe/usage", "/_muonpipe/metrics", "/_muonpipe/health", "/"):
            status, _ = self.get(self.metrics_port, path)
            self.assertEqual(status, 404, path)
        # The main listener still refuses unsigned metrics.
        status, _ = self.server.admin_get("/_muonpipe/metrics", sign=False)
        self.assertEqual(status, 403)
        with open(self.server.log_path, encoding="utf-8") as f:
            self.assertIn("http://%s:%d/metrics" % (HOST, self.metrics_port), f.read())


if __name__ == "__main__":
    unittest.main()
