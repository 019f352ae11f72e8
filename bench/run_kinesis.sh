#!/usr/bin/env bash
# The Kinesis benchmark in one go: muonpipe (durable: acknowledged after
# fdatasync) against kinesalite 3.3.3 on this machine, same load, same run.
# Prints a table; raw JSON lines stay in $OUT/results.jsonl.
#
# Settings (environment): BUILD_DIR, JOBS, SHARDS, BATCH_CONNECTIONS,
# BATCH_SECONDS, DETECTORS, DETECTOR_SECONDS, KINESALITE_DIR,
# KINESALITE_MODES ("memory disk"), KINESALITE_DETECTORS (1: also run
# detectors mode against kinesalite), PROFILE (1: perf record the server
# during the first batch run; report in $OUT/perf.txt), OUT, SKIP_BUILD=1 with
# MUONPIPE_BIN and LOAD_BIN (binaries built elsewhere).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build-bench}
JOBS=${JOBS:-1}
SHARDS=${SHARDS:-4}
BATCH_CONNECTIONS=${BATCH_CONNECTIONS:-"8 16"}
BATCH_SECONDS=${BATCH_SECONDS:-20}
DETECTORS=${DETECTORS:-5000}
DETECTOR_SECONDS=${DETECTOR_SECONDS:-30}
KINESALITE_DIR=${KINESALITE_DIR:-/tmp/kinesalite}
KINESALITE_MODES=${KINESALITE_MODES:-"memory disk"}
KINESALITE_DETECTORS=${KINESALITE_DETECTORS:-0}
PROFILE=${PROFILE:-0}
OUT=${OUT:-$(mktemp -d /tmp/kinesis-bench.XXXXXX)}
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

# 5000 detector connections need 5000+ descriptors on each side.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((DETECTORS + 100)) ]; then
  echo "run_kinesis: open-file limit $(ulimit -n) is below $((DETECTORS + 100));" \
    "raise the hard limit (e.g. /etc/security/limits.conf) or set DETECTORS lower" >&2
  exit 2
fi

. "$REPO/bench/lib.sh"
cleanup() {
  bench_stop_server
  if [ -n "${DATA:-}" ]; then rm -rf "$DATA"; fi
  if [ -n "${KDATA:-}" ]; then rm -rf "$KDATA"; fi
}
trap cleanup EXIT

MUONPIPE=${MUONPIPE_BIN:-$BUILD_DIR/muonpipe}
LOAD=${LOAD_BIN:-$BUILD_DIR/bench/kinesis_load}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building muonpipe and kinesis_load in $BUILD_DIR (RelWithDebInfo, -j$JOBS)"
  cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  ninja -C "$BUILD_DIR" -j"$JOBS" muonpipe kinesis_load
fi

echo "== machine"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "memory: $(grep MemTotal /proc/meminfo | awk '{printf "%.1f GiB", $2/1048576}')"
  echo "disk: $(df -h "$REPO" | tail -1 | awk '{print $1" ("$2", mounted on "$6")"}')"
  echo "kernel: $(uname -r)"
  echo "muonpipe: $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet -- src || echo ' +uncommitted src changes')"
  echo "node: $(node --version 2>/dev/null || echo missing)"
} | tee "$OUT/machine.txt"

# run_load LABEL ENDPOINT CREDENTIALS ARGS...: one kinesis_load run, JSON to $RESULTS.
run_load() {
  local label=$1 endpoint=$2 creds=$3
  shift 3
  echo "-- $label" >&2
  "$LOAD" --endpoint "$endpoint" --credentials "$creds" --server-pid "$SERVER_PID" \
    --label "$label" --json "$@" | tee -a "$RESULTS" >/dev/null || true
  tail -1 "$RESULTS" | jq -r '"   \(.records_per_s|floor) records/s, p99 \(.latency_ms.p99) ms, \(.records_accepted)/\(.records_sent) accepted, errors \(.errors), RSS \(.max_server_rss_mib) MiB"' >&2
}

echo "== muonpipe serve (durability sync)"
DATA=$(mktemp -d /tmp/muonpipe-bench-data.XXXXXX)
PORT=$(bench_free_port)
bench_start_muonpipe "$MUONPIPE" "$DATA" "$PORT" "$OUT/muonpipe.log"
MUON=http://127.0.0.1:$PORT
for c in $BATCH_CONNECTIONS; do
  run_load "muonpipe batch c=$c" "$MUON" "$DATA/admin-credentials" --mode batch \
    --connections "$c" --duration "$BATCH_SECONDS" --batch 500 --size 1024 --shards "$SHARDS" \
    --stream "batch-$c" --create-stream
done
if [ "$PROFILE" = 1 ]; then
  # A separate run, so the profiler's overhead stays out of the comparison.
  perf record -F 499 -g -p "$SERVER_PID" -o "$OUT/perf.data" -- sleep 10 >/dev/null 2>&1 &
  PERF_PID=$!
  run_load "profiled: muonpipe batch c=8" "$MUON" "$DATA/admin-credentials" --mode batch \
    --connections 8 --duration 10 --batch 500 --size 1024 --shards "$SHARDS" \
    --stream profiled --create-stream
  wait "$PERF_PID" || true
  perf report -i "$OUT/perf.data" --no-children --percent-limit 0.7 --stdio 2>/dev/null |
    grep -v '^$' | head -200 >"$OUT/perf.txt" || true
  perf report -i "$OUT/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
    grep -v '^#' | grep -v '^$' | head -40 >"$OUT/perf-flat.txt" || true
fi
run_load "muonpipe detectors c=$DETECTORS" "$MUON" "$DATA/admin-credentials" --mode detectors \
  --connections "$DETECTORS" --rate 1 --size 1024 --duration "$DETECTOR_SECONDS" \
  --shards "$SHARDS" --stream detectors --create-stream --threads 1
du -sh "$DATA" | awk '{print "muonpipe data dir after the run: "$1}' | tee -a "$OUT/machine.txt"
bench_stop_server
rm -rf "$DATA"
DATA=

if [ ! -f "$KINESALITE_DIR/node_modules/kinesalite/cli.js" ]; then
  echo "== installing kinesalite@3.3.3 into $KINESALITE_DIR"
  npm install --prefix "$KINESALITE_DIR" --no-audit --no-fund kinesalite@3.3.3 >&2
fi
KVERSION=$(node -p "require('$KINESALITE_DIR/node_modules/kinesalite/package.json').version")
echo "kinesalite: $KVERSION" | tee -a "$OUT/machine.txt"

for kmode in $KINESALITE_MODES; do
  echo "== kinesalite $KVERSION ($kmode)"
  KPORT=$(bench_free_port)
  args=(--port "$KPORT")
  if [ "$kmode" = disk ]; then
    KDATA=$(mktemp -d /tmp/kinesalite-bench-data.XXXXXX)
    args+=(--path "$KDATA")
  fi
  node "$KINESALITE_DIR/node_modules/kinesalite/cli.js" "${args[@]}" >"$OUT/kinesalite-$kmode.log" 2>&1 &
  SERVER_PID=$!
  bench_wait_port "$KPORT" "$OUT/kinesalite-$kmode.log"
  for c in $BATCH_CONNECTIONS; do
    # kinesalite ignores signatures; any credentials file will do.
    run_load "kinesalite-$kmode batch c=$c" "http://127.0.0.1:$KPORT" "$REPO/bench/testdata/dummy-credentials" \
      --mode batch --connections "$c" --duration "$BATCH_SECONDS" --batch 500 --size 1024 \
      --shards "$SHARDS" --stream "batch-$c" --create-stream
  done
  if [ "$KINESALITE_DETECTORS" = 1 ]; then
    run_load "kinesalite-$kmode detectors c=$DETECTORS" "http://127.0.0.1:$KPORT" \
      "$REPO/bench/testdata/dummy-credentials" --mode detectors --connections "$DETECTORS" \
      --rate 1 --size 1024 --duration "$DETECTOR_SECONDS" --shards "$SHARDS" \
      --stream detectors --create-stream
  fi
  bench_stop_server
  if [ -n "${KDATA:-}" ]; then
    rm -rf "$KDATA"
    KDATA=
  fi
done

echo
echo "== results ($OUT/results.jsonl)"
jq -r -s '
  def r(x): (x * 10 | round) / 10;
  (["run", "records/s", "MB/s", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
    "accepted/sent records", "errors", "max RSS MiB"] | @tsv),
  (.[] | [.label, (.records_per_s | floor), r(.mb_per_s), r(.requests_per_s),
          r(.latency_ms.p50), r(.latency_ms.p90), r(.latency_ms.p99), r(.latency_ms.max),
          "\(.records_accepted)/\(.records_sent)", (.errors | tostring), r(.max_server_rss_mib)]
   | @tsv)' "$RESULTS" | column -t -s $'\t'
echo
echo "== muonpipe / kinesalite (batch records/s, same run)"
jq -r -s '
  [.[] | select(.mode == "batch")] as $b
  | ($b | map(select(.label | startswith("muonpipe"))) ) as $m
  | $m[] | . as $x
  | ($x.label | sub("^muonpipe "; "")) as $case
  | $b[] | select((.label | startswith("kinesalite")) and (.label | endswith($case)))
  | "\($case): muonpipe \($x.records_per_s | floor) vs \(.label | split(" ")[0]) \(.records_per_s | floor) = \(($x.records_per_s / .records_per_s * 10 | round) / 10)x"
' "$RESULTS"
