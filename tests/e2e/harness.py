"""End-to-end harness: runs the real `muonpipe serve` and talks to it with real AWS clients.

Only 127.0.0.1 is ever contacted. Every wait is bounded.

Environment:
  MUONPIPE_BIN        path of the muonpipe binary (default <repo>/build/muonpipe)
  MUONPIPE_E2E_KEEP   if set to 1, keep each test's temp dir (data dir + server log)
  MUONPIPE_E2E_VERBOSE if set to 1, print the server log of every test, not only failing ones
"""

import base64
import configparser
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

# The AWS CLI and boto3 are required test peers (scripts/install-deps.sh --test):
# a missing one must fail the suite loudly, never skip it.
try:
    import boto3
    import botocore
    import botocore.auth
    import botocore.awsrequest
    import botocore.config
    import botocore.credentials
    import botocore.exceptions
except ImportError as e:  # pragma: no cover
    raise ImportError(
        "boto3/botocore are required for the muonpipe end-to-end tests "
        "(install them with scripts/install-deps.sh --test): %s" % e) from e

AWS_CLI = shutil.which("aws")
if AWS_CLI is None:  # pragma: no cover
    raise RuntimeError(
        "the AWS CLI ('aws') is required for the muonpipe end-to-end tests "
        "(install it with scripts/install-deps.sh --test); it is not on PATH")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MUONPIPE_BIN = os.environ.get("MUONPIPE_BIN") or os.path.join(REPO, "build", "muonpipe")
REGION = "ap-southeast-2"
HOST = "127.0.0.1"

START_TIMEOUT = 30.0     # seconds until /_muonpipe/health must answer 200
STOP_TIMEOUT = 30.0      # seconds a SIGTERM'd server may take to exit
CLI_TIMEOUT = 90.0       # seconds per AWS CLI invocation
HTTP_TIMEOUT = 30.0      # seconds per boto3 / urllib request

# Keep the clients away from the developer's own AWS setup and from any proxy.
for _k in list(os.environ):
    if _k.startswith("AWS_"):
        del os.environ[_k]
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _k in ("NO_PROXY", "no_proxy"):
    os.environ[_k] = ",".join(x for x in (os.environ.get(_k, ""), "127.0.0.1", "localhost") if x)

_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _aws_cli_major_version():
    out = subprocess.run([AWS_CLI, "--version"], capture_output=True, text=True,
                         timeout=CLI_TIMEOUT, env=_cli_base_env())
    text = (out.stdout + out.stderr).strip()
    # "aws-cli/2.9.19 Python/3.11.2 ..." or "aws-cli/1.27.x Python/..."
    if not text.startswith("aws-cli/"):
        raise RuntimeError("cannot tell the AWS CLI version from %r" % text)
    return int(text.split("/", 1)[1].split(".", 1)[0]), text


def _cli_base_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
        "AWS_CLI_AUTO_PROMPT": "off",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
    })
    return env


AWS_CLI_MAJOR, AWS_CLI_VERSION = _aws_cli_major_version()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def self_signed_cert(workdir):
    """A throwaway certificate for 127.0.0.1 in workdir: returns (cert path, key path)."""
    cert = os.path.join(workdir, "cert.pem")
    key = os.path.join(workdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def read_credentials(path, profile="default"):
    cp = configparser.ConfigParser()
    with open(path, encoding="utf-8") as f:
        cp.read_file(f)
    sec = cp[profile]
    return sec["aws_access_key_id"].strip(), sec["aws_secret_access_key"].strip()


class CliResult:
    """Outcome of one AWS CLI run: exit code, raw stdout/stderr and stdout parsed as JSON."""

    def __init__(self, argv, rc, stdout, stderr):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.json = None
        if stdout.strip():
            try:
                self.json = json.loads(stdout)
            except ValueError:
                self.json = None

    def __repr__(self):
        return "CliResult(argv=%r, rc=%r, stdout=%r, stderr=%r)" % (
            self.argv, self.rc, self.stdout[:2000], self.stderr[:2000])


class Server:
    """One `muonpipe serve` process on a data dir; restartable on the same dir and port."""

    def __init__(self, workdir, data_dir=None, port=None, extra_args=(), tls=None, env=None):
        """tls: (cert_path, key_path) to serve HTTPS; clients then trust cert_path.
        env: variables added to the server's environment (e.g. LD_PRELOAD of a fake clock)."""
        self.workdir = workdir
        self.tls = tls
        self.data_dir = data_dir or os.path.join(workdir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.proc = None
        self.starts = 0
        self.log_path = os.path.join(workdir, "server.log")
        self._log = None

    @property
    def endpoint(self):
        return "%s://%s:%d" % ("https" if self.tls else "http", HOST, self.port)

    @property
    def credentials_path(self):
        return os.path.join(self.data_dir, "admin-credentials")

    @property
    def region(self):
        return REGION

    def credentials(self):
        return read_credentials(self.credentials_path)

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self):
        if not os.path.exists(MUONPIPE_BIN):
            raise RuntimeError("muonpipe binary not found at %s (set MUONPIPE_BIN)" % MUONPIPE_BIN)
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        self.starts += 1
        self._log = open(self.log_path, "ab")
        self._log.write(("\n==== start #%d: port %d ====\n" % (self.starts, self.port)).encode())
        self._log.flush()
        argv = [MUONPIPE_BIN, "serve", "--data-dir", self.data_dir,
                "--listen", "%s:%d" % (HOST, self.port)] + self.extra_args
        if self.tls:
            argv += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(self.env)
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, cwd=self.workdir)
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise RuntimeError("muonpipe serve exited with %s before becoming healthy; log:\n%s"
                                   % (rc, self.log_tail()))
            try:
                opener = _NO_PROXY_OPENER
                if self.tls:
                    ctx = ssl.create_default_context(cafile=self.tls[0])
                    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                         urllib.request.HTTPSHandler(context=ctx))
                with opener.open(self.endpoint + "/_muonpipe/health", timeout=2) as r:
                    if r.status == 200:
                        return
                    last = "HTTP %d" % r.status
            except urllib.error.HTTPError as e:
                last = "HTTP %d" % e.code
            except (urllib.error.URLError, OSError) as e:
                last = repr(e)
            time.sleep(0.05)
        self.kill9()
        raise RuntimeError("muonpipe serve not healthy within %.0fs (last: %s); log:\n%s"
                           % (timeout, last, self.log_tail()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        """SIGKILL the server and reap it. Returns the exit status (-9)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT)
        finally:
            self._close_log()
        return rc

    def terminate(self, timeout=STOP_TIMEOUT):
        """SIGTERM the server; returns its exit code, or None if it had to be SIGKILLed."""
        if self.proc is None:
            return 0
        if self.proc.poll() is not None:
            self._close_log()
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=timeout)
            return None
        finally:
            self._close_log()

    def restart(self, hard=False):
        """Stop (SIGKILL if hard else SIGTERM) and start again on the same data dir and port."""
        rc = self.kill9() if hard else self.terminate()
        self.start()
        return rc

    def _close_log(self):
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, n=20000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
            return data[-n:].decode("utf-8", "replace")
        except OSError:
            return "(no server log)"

    # ---- clients ---------------------------------------------------------------------------

    def client(self, service="kinesis", access_key=None, secret_key=None, retries=0,
               read_timeout=HTTP_TIMEOUT, max_pool_connections=10, signature_version=None,
               session_token=None):
        """A boto3 client for this server. Retries are off by default so every request is sent once.
        Without keys it signs with the administrator's; session_token goes with temporary keys."""
        if access_key is None or secret_key is None:
            ak, sk = self.credentials()
            access_key = ak if access_key is None else access_key
            secret_key = sk if secret_key is None else secret_key
        session = boto3.session.Session(aws_access_key_id=access_key,
                                        aws_secret_access_key=secret_key,
                                        aws_session_token=session_token,
                                        region_name=REGION)
        cfg = botocore.config.Config(connect_timeout=5, read_timeout=read_timeout,
                                     retries={"max_attempts": retries},
                                     max_pool_connections=max_pool_connections,
                                     signature_version=signature_version)
        return session.client(service, endpoint_url=self.endpoint, region_name=REGION, config=cfg,
                              verify=self.tls[0] if self.tls else None)

    def aws(self, *args, binary_raw=True, timeout=CLI_TIMEOUT, credentials_file=None,
            config_file=None, env=None):
        """Run `aws --endpoint-url ... ARGS` and return a CliResult (rc, stdout, stderr, json).

        With CLI v2, --cli-binary-format raw-in-base64-out is passed so blob arguments (--data,
        Data in --records) are raw bytes as with CLI v1. env: variables added to the CLI's
        environment (e.g. the server's fake clock, so that both sign and verify at one time).
        """
        env = dict(_cli_base_env(), **(env or {}))
        env["AWS_SHARED_CREDENTIALS_FILE"] = credentials_file or self.credentials_path
        if config_file:
            env["AWS_CONFIG_FILE"] = config_file
        argv = [AWS_CLI, "--endpoint-url", self.endpoint, "--region", REGION, "--output", "json"]
        if AWS_CLI_MAJOR >= 2 and binary_raw:
            argv += ["--cli-binary-format", "raw-in-base64-out"]
        argv += [str(a) for a in args]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                           cwd=self.workdir, stdin=subprocess.DEVNULL)
        return CliResult(argv, p.returncode, p.stdout, p.stderr)

    def credentials_file(self, name, access_key, secret_key, session_token=None):
        """A shared-credentials file in the workdir for `aws ... credentials_file=`."""
        path = os.path.join(self.workdir, "credentials-%s" % name)
        with open(path, "w", encoding="utf-8") as f:
            f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    % (access_key, secret_key))
            if session_token:
                f.write("aws_session_token = %s\n" % session_token)
        os.chmod(path, 0o600)
        return path

    def admin_get(self, path, creds=None, sign=True, timeout=HTTP_TIMEOUT):
        """GET one of muonpipe's own endpoints (/_muonpipe/...), signed with SigV4 (service
        "muonpipe") by creds = (key, secret[, token]) (default: the administrator's), or unsigned
        when sign is False. Returns (status, raw bytes)."""
        url = self.endpoint + path
        headers = {}
        if sign:
            creds = creds or self.credentials()
            req = botocore.awsrequest.AWSRequest(method="GET", url=url)
            botocore.auth.SigV4Auth(
                botocore.credentials.Credentials(creds[0], creds[1],
                                                 creds[2] if len(creds) > 2 else None),
                "muonpipe", REGION).add_auth(req)
            headers = dict(req.prepare().headers.items())
        r = urllib.request.Request(url, method="GET", headers=headers)
        try:
            with _NO_PROXY_OPENER.open(r, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def raw_post(self, target, body, headers=None, timeout=HTTP_TIMEOUT):
        """An unsigned JSON 1.1 POST. Returns (status, parsed-json-or-None, raw-bytes)."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
        h.update(headers or {})
        req = urllib.request.Request(self.endpoint + "/", data=data, headers=h, method="POST")
        try:
            with _NO_PROXY_OPENER.open(req, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return status, parsed, raw


def error_code(exc):
    return exc.response.get("Error", {}).get("Code")


def aws_type(t):
    """'com.amazonaws.kinesis.v20131202#ResourceNotFoundException' -> 'ResourceNotFoundException'."""
    return (t or "").rsplit("#", 1)[-1].split(":", 1)[0]


class ServerTestCase(unittest.TestCase):
    """Starts a fresh server (fresh data dir, free port) for every test; stops it with SIGTERM
    afterwards and fails the test unless it exits 0."""

    server_args = ()

    def server_env(self):
        """Variables added to the server's environment; self.workdir exists when this is called."""
        return {}

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="muonpipe-e2e-")
        self.addCleanup(self._remove_workdir)
        self.server = Server(self.workdir, extra_args=self.server_args, env=self.server_env())
        self.addCleanup(self._stop_server)
        self.server.start()
        self.kinesis = self.server.client()

    def _stop_server(self):
        rc = self.server.terminate()
        if os.environ.get("MUONPIPE_E2E_VERBOSE") == "1" or not self._passed():
            sys.stderr.write("\n---- server log (%s) ----\n%s\n---- end of server log ----\n"
                             % (self.id(), self.server.log_tail()))
        self.assertEqual(rc, 0, "muonpipe serve did not exit 0 on SIGTERM (rc=%r); log:\n%s"
                         % (rc, self.server.log_tail()))

    def _passed(self):
        outcome = getattr(self, "_outcome", None)
        return True if outcome is None else bool(getattr(outcome, "success", True))

    def _remove_workdir(self):
        if os.environ.get("MUONPIPE_E2E_KEEP") == "1":
            sys.stderr.write("\nkept %s\n" % self.workdir)
            return
        shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- helpers shared by the modules ---------------------------------------------------

    def assertAwsError(self, code, fn, *args, **kwargs):
        """Call a boto3 method; assert it raises ClientError with exactly this AWS error code."""
        try:
            resp = fn(*args, **kwargs)
        except botocore.exceptions.ClientError as e:
            self.assertEqual(error_code(e), code,
                             "expected %s, got %s (HTTP %s): %s" % (
                                 code, error_code(e),
                                 e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
                                 e.response.get("Error")))
            return e
        self.fail("expected %s, but the call succeeded: %r" % (code, _short(resp)))

    def create_stream(self, name, shards=1, client=None):
        c = client or self.kinesis
        c.create_stream(StreamName=name, ShardCount=shards)
        self.wait_active(name, client=c)

    def wait_active(self, name, client=None, timeout=30):
        c = client or self.kinesis
        deadline = time.monotonic() + timeout
        while True:
            s = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
            if s["StreamStatus"] == "ACTIVE":
                return s
            if time.monotonic() > deadline:
                self.fail("stream %s not ACTIVE after %ss: %r" % (name, timeout, s))
            time.sleep(0.2)

    def list_all_shards(self, name, client=None):
        c = client or self.kinesis
        shards, token = [], None
        for _ in range(1000):
            resp = c.list_shards(NextToken=token) if token else c.list_shards(StreamName=name)
            shards += resp["Shards"]
            token = resp.get("NextToken")
            if not token:
                return shards
        self.fail("ListShards pagination did not end")

    def read_shard(self, name, shard_id, client=None, iterator_type="TRIM_HORIZON", limit=None,
                   max_calls=10000, **it_kwargs):
        """Read a shard from the iterator until it is caught up (empty + MillisBehindLatest 0)."""
        c = client or self.kinesis
        it = c.get_shard_iterator(StreamName=name, ShardId=shard_id,
                                  ShardIteratorType=iterator_type, **it_kwargs)["ShardIterator"]
        records = []
        for _ in range(max_calls):
            kw = {"ShardIterator": it}
            if limit:
                kw["Limit"] = limit
            resp = c.get_records(**kw)
            records += resp["Records"]
            it = resp.get("NextShardIterator")
            if it is None:
                return records
            if not resp["Records"] and resp.get("MillisBehindLatest", 0) == 0:
                return records
        self.fail("shard %s not drained in %d GetRecords calls" % (shard_id, max_calls))


def _short(x, n=500):
    s = repr(x)
    return s if len(s) <= n else s[:n] + "..."


HASH_SPACE = 1 << 128


def shard_for_hash(shards, h):
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= h <= int(r["EndingHashKey"]):
            return s["ShardId"]
    raise AssertionError("hash %d in no shard's range" % h)


def totp(seed_base32, at):
    """RFC 6238 (HMAC-SHA1, 6 digits, 30 s) at Unix time `at`, for the Base32 seed IAM hands out
    (str or bytes), as authenticator apps compute it."""
    seed = (seed_base32 if isinstance(seed_base32, str) else seed_base32.decode()).strip()
    key = base64.b32decode(seed + "=" * (-len(seed) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%06d" % (value % 1000000)


def b64(data):
    return base64.b64encode(data).decode()
