#!/usr/bin/env bash
# The S3 benchmark in one go: PutObject (durable: answered after fdatasync)
# and GetObject of 64 KiB and 1 MiB objects over 16 connections against
# muonpipe and against s3rver 3.7.1 (which does not sync) in the same run,
# plus fio's sequential write with fdatasync on the same disk.
# Prints a table; raw JSON lines stay in $OUT/results.jsonl.
#
# Settings (environment): BUILD_DIR, JOBS, CONNECTIONS (16), SECONDS_PER_RUN
# (15), SIZES ("65536 1048576"), S3RVER_DIR (/tmp/s3rver: `npm install
# s3rver@3.7.1` there, never in the repository), DATA_ROOT (a directory on the
# disk under test; default /tmp), OUT, SKIP_BUILD=1 with MUONPIPE_BIN and
# LOAD_BIN (binaries built elsewhere).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build-bench}
JOBS=${JOBS:-1}
CONNECTIONS=${CONNECTIONS:-16}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-15}
SIZES=${SIZES:-"65536 1048576"}
S3RVER_DIR=${S3RVER_DIR:-/tmp/s3rver}
DATA_ROOT=${DATA_ROOT:-/tmp}
OUT=${OUT:-$(mktemp -d /tmp/s3-bench.XXXXXX)}
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMUON_BUILD_TESTS=OFF >/dev/null
  nice cmake --build "$BUILD_DIR" --target muonpipe s3_load -j"$JOBS"
  MUONPIPE_BIN=$BUILD_DIR/muonpipe
  LOAD_BIN=$BUILD_DIR/bench/s3_load
fi
if [ ! -x "$S3RVER_DIR/node_modules/.bin/s3rver" ]; then
  echo "run_s3: s3rver not found; install it with:" \
    "mkdir -p $S3RVER_DIR && (cd $S3RVER_DIR && npm install s3rver@3.7.1)" >&2
  exit 2
fi
command -v fio >/dev/null || { echo "run_s3: fio is missing (scripts/install-deps.sh --bench)" >&2; exit 2; }

SERVER_PID=
WORK=$(mktemp -d "$DATA_ROOT/s3-bench-data.XXXXXX")
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "run_s3: nothing listening on port $1" >&2
  exit 1
}

# run_load NAME PORT REGION AK SK: prepare, then put and get at every size.
run_load() {
  local name=$1 port=$2 region=$3 ak=$4 sk=$5
  local common=(--port "$port" --region "$region" --access-key "$ak" --secret-key "$sk"
                --connections "$CONNECTIONS")
  for size in $SIZES; do
    local bucket="bench-$size"
    "$LOAD_BIN" "${common[@]}" --bucket "$bucket" --mode prepare --keys 200 --size "$size"
    "$LOAD_BIN" "${common[@]}" --bucket "$bucket" --mode put --size "$size" \
      --seconds "$SECONDS_PER_RUN" --label "$name" | tee -a "$RESULTS"
    "$LOAD_BIN" "${common[@]}" --bucket "$bucket" --mode get --size "$size" --keys 200 \
      --seconds "$SECONDS_PER_RUN" --label "$name" | tee -a "$RESULTS"
  done
}

echo "== muonpipe ($MUONPIPE_BIN)"
PORT=4591
"$MUONPIPE_BIN" serve --data-dir "$WORK/muonpipe" --listen "127.0.0.1:$PORT" --log-level warn \
  >"$OUT/muonpipe.log" 2>&1 &
SERVER_PID=$!
wait_port $PORT
AK=$(awk '/aws_access_key_id/ {print $3}' "$WORK/muonpipe/admin-credentials")
SK=$(awk '/aws_secret_access_key/ {print $3}' "$WORK/muonpipe/admin-credentials")
run_load muonpipe $PORT ap-southeast-2 "$AK" "$SK"
stop_server

echo "== s3rver 3.7.1 ($(node --version))"
PORT=4592
mkdir -p "$WORK/s3rver"
"$S3RVER_DIR/node_modules/.bin/s3rver" -d "$WORK/s3rver" -p $PORT --silent >"$OUT/s3rver.log" 2>&1 &
SERVER_PID=$!
wait_port $PORT
run_load s3rver $PORT us-east-1 S3RVER S3RVER
stop_server

echo "== fio sequential write, 1 MiB blocks, fdatasync after each"
fio --name=seqwrite --directory="$WORK" --rw=write --bs=1M --size=1G --fdatasync=1 \
  --ioengine=sync --output-format=json >"$OUT/fio.json"
python3 - "$OUT/fio.json" "$RESULTS" <<'EOF'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]["write"]
line = {"label": "fio", "mode": "seqwrite+fdatasync", "size": 1048576,
        "mb_per_s": round(job["bw_bytes"] / 1e6, 1), "ops_per_s": round(job["iops"], 1)}
print(json.dumps(line))
open(sys.argv[2], "a").write(json.dumps(line) + "\n")
EOF

python3 - "$RESULTS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("\n| run | size | ops/s | MB/s | p50 ms | p99 ms | errors |")
print("|---|---:|---:|---:|---:|---:|---:|")
for r in rows:
    size = "%d KiB" % (r["size"] // 1024) if r["size"] < 1048576 else "%d MiB" % (r["size"] // 1048576)
    print("| %s %s | %s | %s | %s | %s | %s | %s |" % (
        r["label"], r["mode"], size, format(r["ops_per_s"], ",.0f"), r["mb_per_s"],
        r.get("p50_ms", "-"), r.get("p99_ms", "-"), r.get("errors", "-")))
EOF
echo "raw results: $RESULTS"
