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

. "$REPO/bench/lib.sh"
WORK=$(mktemp -d "$DATA_ROOT/s3-bench-data.XXXXXX")
cleanup() {
  bench_stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT

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
PORT=$(bench_free_port)
bench_start_muonpipe "$MUONPIPE_BIN" "$WORK/muonpipe" "$PORT" "$OUT/muonpipe.log"
AK=$(bench_admin_key "$WORK/muonpipe" aws_access_key_id)
SK=$(bench_admin_key "$WORK/muonpipe" aws_secret_access_key)
run_load muonpipe "$PORT" ap-southeast-2 "$AK" "$SK"
bench_stop_server

echo "== s3rver 3.7.1 ($(node --version))"
PORT=$(bench_free_port)
mkdir -p "$WORK/s3rver"
"$S3RVER_DIR/node_modules/.bin/s3rver" -d "$WORK/s3rver" -p "$PORT" --silent >"$OUT/s3rver.log" 2>&1 &
SERVER_PID=$!
bench_wait_port "$PORT" "$OUT/s3rver.log"
run_load s3rver "$PORT" us-east-1 S3RVER S3RVER
bench_stop_server

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
