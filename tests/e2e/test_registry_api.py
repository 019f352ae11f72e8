"""The sensor registry API of the real server, driven with requests signed by botocore's SigV4Auth
(credential-scope service "muonpipe"), and its live status driven by real Kinesis puts."""

import json
import os
import sqlite3
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials

from harness import MUONPIPE_BIN, REGION, ServerTestCase, _NO_PROXY_OPENER, free_port

PREFIX = "/_muonpipe/registry/v1/"
WAIT = 30.0  # seconds any bounded wait may take


class RegistryApiTest(ServerTestCase):
    server_args = ("--registry-sweep-seconds", "1")

    def call(self, method, path, body=None, if_match=None, signed=True, service="muonpipe"):
        """One request; returns (status, parsed JSON body or None, headers)."""
        # botocore signs the query as it appears in the URL: encode it the SigV4 way first.
        path, _, query = path.partition("?")
        if query:
            query = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"),
                                        urllib.parse.quote(v, safe="-_.~"))
                             for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True))
        url = self.server.endpoint + PREFIX + path + ("?" + query if query else "")
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if if_match:
            headers["If-Match"] = if_match
        req = botocore.awsrequest.AWSRequest(method=method, url=url, data=data, headers=headers)
        if signed:
            key, secret = self.server.credentials()
            botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), service,
                                    REGION).add_auth(req)
        prepared = req.prepare()
        r = urllib.request.Request(prepared.url, data=prepared.body or None, method=method,
                                   headers=dict(prepared.headers.items()))
        try:
            with _NO_PROXY_OPENER.open(r, timeout=30) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None), resp.headers
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, (json.loads(raw) if raw else None), e.headers

    def seed(self):
        st, body, _ = self.call("POST", "sites", {
            "id": "dam-north", "name": "Tailings dam north", "kind": "underground",
            "latitude": -31.95, "longitude": 115.86, "depth_m": 40})
        self.assertEqual(st, 201, body)
        st, body, _ = self.call("POST", "detectors", {"id": "MD-0001", "model": "MT-4",
                                                      "channels": 64, "active_area_m2": 1.0})
        self.assertEqual(st, 201, body)

    def test_unsigned_and_wrongly_scoped_requests_are_refused(self):
        st, body, _ = self.call("GET", "sites", signed=False)
        self.assertEqual(st, 403)
        self.assertEqual(body["error"]["code"], "MissingAuthenticationToken")
        st, body, _ = self.call("GET", "sites", service="kinesis")
        self.assertEqual(st, 403, body)

    def test_sites_detectors_deployments_round_trip_with_history(self):
        self.seed()
        st, dep, headers = self.call("POST", "deployments", {
            "detector_id": "MD-0001", "site_id": "dam-north", "from_time": "2026-01-10T00:00:00Z",
            "zenith_deg": 30, "azimuth_deg": 270, "purpose": "dam monitoring"})
        self.assertEqual(st, 201, dep)
        self.assertEqual(headers["ETag"], '"1"')
        self.assertTrue(headers["Location"].endswith("/deployments/%d" % dep["id"]))
        st, page, _ = self.call("GET", "detectors?site=dam-north")
        self.assertEqual([d["id"] for d in page["items"]], ["MD-0001"])
        st, page, _ = self.call("GET", "deployments?active_at=2026-02-01T00:00:00Z")
        self.assertEqual(st, 200, page)
        self.assertEqual(len(page["items"]), 1)
        st, det, _ = self.call("POST", "detectors/MD-0001/status",
                               {"status": "deployed", "reason": "installed in drive 3"})
        self.assertEqual(st, 200, det)
        self.assertEqual(det["status"], "deployed")
        st, hist, _ = self.call("GET", "detectors/MD-0001/history")
        self.assertEqual([e["status"] for e in hist["status"]], ["planned", "deployed"])
        self.assertEqual([c["action"] for c in hist["changes"]], ["create", "status"])
        self.assertTrue(hist["changes"][1]["actor"].endswith(":user/admin"))

        # Everything survives a restart.
        self.server.restart()
        st, det, _ = self.call("GET", "detectors/MD-0001")
        self.assertEqual((st, det["status"]), (200, "deployed"))

    def test_constraint_violations_are_clear_4xx_and_change_nothing(self):
        self.seed()
        st, body, _ = self.call("POST", "sites", {"id": "x", "name": "X", "kind": "moon",
                                                  "latitude": 0, "longitude": 0})
        self.assertEqual(st, 400)
        self.assertEqual((body["error"]["field"], body["error"]["rule"]), ("kind", "one_of"))
        dep = {"detector_id": "MD-0001", "site_id": "dam-north", "from_time": "2026-01-10T00:00:00Z"}
        self.assertEqual(self.call("POST", "deployments", dep)[0], 201)
        st, body, _ = self.call("POST", "deployments", dict(dep, from_time="2026-03-01T00:00:00Z"))
        self.assertEqual(st, 409)
        self.assertEqual(body["error"]["rule"], "one_open_deployment")
        st, body, _ = self.call("POST", "detectors/MD-0001/status", {"status": "lost-in-space"})
        self.assertEqual((st, body["error"]["field"]), (400, "status"))
        st, body, _ = self.call("DELETE", "sites/dam-north")
        self.assertEqual((st, body["error"]["rule"]), (409, "in_use"))
        self.assertEqual(len(self.call("GET", "deployments")[1]["items"]), 1)
        self.assertEqual(len(self.call("GET", "sites")[1]["items"]), 1)

    def test_two_concurrent_writers_one_wins_the_other_gets_412(self):
        self.seed()
        _, _, headers = self.call("GET", "detectors/MD-0001")
        etag = headers["ETag"]
        results = {}
        barrier = threading.Barrier(2)

        def writer(name):
            barrier.wait()
            results[name] = self.call("PUT", "detectors/MD-0001",
                                      {"firmware": name, "notes": "written by " + name}, etag)

        threads = [threading.Thread(target=writer, args=(n,)) for n in ("A", "B")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
        codes = sorted(r[0] for r in results.values())
        self.assertEqual(codes, [200, 412], results)
        winner = next(n for n, r in results.items() if r[0] == 200)
        loser = next(n for n, r in results.items() if r[0] == 412)
        self.assertEqual(results[loser][1]["error"]["code"], "PreconditionFailed")
        _, det, headers = self.call("GET", "detectors/MD-0001")
        self.assertEqual((det["firmware"], det["notes"]), (winner, "written by " + winner))
        self.assertEqual(headers["ETag"], '"2"')

    def test_live_status_follows_the_data(self):
        self.seed()
        self.assertEqual(self.call("PUT", "detectors/MD-0001", {"silence_threshold_s": 3})[0], 200)
        self.assertEqual(self.call("POST", "detectors/MD-0001/status", {"status": "deployed"})[0], 200)
        self.create_stream("muonpipe-live")
        self.wait_active("muonpipe-live")
        line = json.dumps({"v": 1, "det": "MD-0001", "seq": 1, "t_ns": time.time_ns(),
                           "kind": "housekeeping"}) + "\n"
        self.kinesis.put_record(StreamName="muonpipe-live", PartitionKey="MD-0001", Data=line.encode())

        def wait_status(want):
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                st, body, _ = self.call("GET", "detectors/MD-0001/status")
                if body["status"] == want:
                    return body
                time.sleep(0.2)
            self.fail("detector never became %s; last: %s" % (want, body))

        active = wait_status("active")
        self.assertEqual(active["by"], "muonpipe:live-status")
        self.assertEqual(active["records_seen"], 1)
        self.assertEqual(active["live"]["records_since_start"], 1)
        offline = wait_status("offline")
        self.assertEqual(offline["reason"], "no data since " + active["last_seen"])
        self.kinesis.put_record(StreamName="muonpipe-live", PartitionKey="MD-0001", Data=line.encode())
        wait_status("active")
        st, hist, _ = self.call("GET", "detectors/MD-0001/history")
        self.assertEqual([e["status"] for e in hist["status"]],
                         ["planned", "deployed", "active", "offline", "active"])


class RegistrySchemaTest(unittest.TestCase):
    def test_a_binary_older_than_the_database_refuses_to_start(self):
        import tempfile
        with tempfile.TemporaryDirectory(prefix="muonpipe-e2e-") as d:
            db = os.path.join(d, "registry.db")
            # A first start creates the schema; then a newer muonpipe is simulated.
            port = free_port()
            p = subprocess.Popen([MUONPIPE_BIN, "serve", "--data-dir", d, "--listen",
                                  "127.0.0.1:%d" % port], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
            try:
                deadline = time.monotonic() + WAIT
                while time.monotonic() < deadline:
                    try:
                        with _NO_PROXY_OPENER.open("http://127.0.0.1:%d/_muonpipe/health" % port,
                                                   timeout=2):
                            break
                    except OSError:
                        time.sleep(0.1)
            finally:
                p.terminate()
                p.communicate(timeout=WAIT)
            with sqlite3.connect(db) as c:
                c.execute("UPDATE schema_version SET version = 99")
            r = subprocess.run([MUONPIPE_BIN, "serve", "--data-dir", d, "--listen",
                                "127.0.0.1:%d" % free_port()], capture_output=True, text=True,
                               timeout=WAIT)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("schema version 99, newer than this muonpipe knows", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()


class RegistryCliTest(ServerTestCase):
    """`muonpipe registry ...` against the running server: SigV4-signed HTTP with the data dir's
    administrator credentials."""

    def cli(self, *args, expect=0):
        r = subprocess.run([MUONPIPE_BIN, "registry", "--endpoint", self.server.endpoint,
                            "--data-dir", self.server.data_dir, *args],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, expect, r.stdout + r.stderr)
        return r

    def test_cli_manages_the_registry_and_csv_round_trips(self):
        self.cli("sites", "add", "--id", "dam-north", "--name", "Dam, north wall", "--kind",
                 "underground", "--latitude", "-31.95", "--longitude", "115.86")
        self.cli("detectors", "add", "--id", "MD-0001", "--model", "MT-4", "--channels", "64")
        self.cli("deployments", "add", "--detector-id", "MD-0001", "--site-id", "dam-north",
                 "--from-time", "2026-01-01T00:00:00+08:00", "--azimuth-deg", "270")
        self.cli("detectors", "update", "MD-0001", "--status", "deployed", "--reason", "installed")
        dets = json.loads(self.cli("--json", "detectors", "list", "--site", "dam-north").stdout)
        self.assertEqual([(d["id"], d["status"]) for d in dets], [("MD-0001", "deployed")])
        table = self.cli("deployments", "list").stdout
        self.assertIn("2025-12-31T16:00:00Z", table)
        bad = self.cli("sites", "add", "--id", "x", "--name", "X", "--kind", "surface",
                       "--latitude", "91", "--longitude", "0", expect=1)
        self.assertIn("field latitude, rule range", bad.stderr)
        self.cli("deployments", "retire", "1", "--at", "2026-02-01T00:00:00Z")

        out = os.path.join(self.workdir, "export")
        self.cli("export", out)
        names = sorted(os.listdir(out))
        self.assertEqual(names, ["changes.csv", "deployments.csv", "detector_configs.csv",
                                 "detectors.csv", "sites.csv", "status_history.csv"])
        # Into a fresh registry (a SQLite file used directly), and out again: the same bytes.
        db = os.path.join(self.workdir, "copy.db")
        r = subprocess.run([MUONPIPE_BIN, "registry", "--registry", db, "import", out],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        again = os.path.join(self.workdir, "again")
        r = subprocess.run([MUONPIPE_BIN, "registry", "--registry", db, "export", again],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for name in names:
            with open(os.path.join(out, name), "rb") as a, open(os.path.join(again, name), "rb") as b:
                self.assertEqual(a.read(), b.read(), name)

        # A bad file: the error names file, line and field, and nothing is imported.
        with open(os.path.join(out, "detectors.csv"), encoding="utf-8", newline="") as f:
            text = f.read()
        with open(os.path.join(out, "detectors.csv"), "w", encoding="utf-8", newline="") as f:
            f.write(text.replace(",64,", ",sixty-four,"))
        empty = os.path.join(self.workdir, "empty.db")
        r = subprocess.run([MUONPIPE_BIN, "registry", "--registry", empty, "import", out],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("detectors.csv line 2, field 'channels'", r.stderr)
        r = subprocess.run([MUONPIPE_BIN, "registry", "--registry", empty, "--json", "sites",
                            "list"], capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(json.loads(r.stdout), [])
