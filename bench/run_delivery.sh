#!/usr/bin/env bash
# Ingest and delivery together: `muonpipe serve` takes Kinesis PutRecords from
# bench/kinesis_load (1 KiB records, durable) while a Kinesis-sourced delivery
# stream turns the stream into compressed objects in the local object store.
# Reports, per compression: ingest records/s (kinesis_load), records delivered
# during the load window, and how long delivery needs after the load stops to
# hold every acknowledged record. COMPRESSIONS may include NONE: ingest alone,
# no delivery stream, for comparison. PAYLOADS: random (incompressible bytes)
# and/or json (the canonical muon-event JSON records, compressible like real
# detector data; bench/canonical_record.h). FIREHOSE_MEMORY_MIB, if set, is
# passed to serve --firehose-memory-mib. Results go to bench/RESULTS.md.
#
#   MUONPIPE_BIN=build/muonpipe LOAD_BIN=build/bench/kinesis_load bench/run_delivery.sh
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
MUONPIPE=${MUONPIPE_BIN:-$REPO/build/muonpipe}
LOAD=${LOAD_BIN:-$REPO/build/bench/kinesis_load}
SHARDS=${SHARDS:-4}
CONNECTIONS=${CONNECTIONS:-8}
SECONDS_LOAD=${SECONDS_LOAD:-20}
COMPRESSIONS=${COMPRESSIONS:-"GZIP ZSTD"}
BUFFER_MIB=${BUFFER_MIB:-64}
INTERVAL_S=${INTERVAL_S:-1}
PAYLOADS=${PAYLOADS:-random}
FIREHOSE_MEMORY_MIB=${FIREHOSE_MEMORY_MIB:-}
MEMORY_FLAG=()
if [ -n "$FIREHOSE_MEMORY_MIB" ]; then MEMORY_FLAG=(--firehose-memory-mib "$FIREHOSE_MEMORY_MIB"); fi
OUT=${OUT:-$(mktemp -d /tmp/delivery-bench.XXXXXX)}
mkdir -p "$OUT"

. "$REPO/bench/lib.sh"
DATA=
cleanup() {
  bench_stop_server
  if [ -n "$DATA" ]; then rm -rf "$DATA"; fi
}
trap cleanup EXIT

delivered() {  # delivered() NAME: the delivery stream's delivered-records counter
  # /_muonpipe/metrics needs a SigV4 signature (service muonpipe): the bootstrap key signs.
  curl -s --aws-sigv4 "aws:amz:ap-southeast-2:muonpipe" \
       --user "$(bench_admin_key "$DATA" aws_access_key_id):$(bench_admin_key "$DATA" aws_secret_access_key)" \
       "$ENDPOINT/_muonpipe/metrics" |
    awk -v n="$1" '$1 == "muonpipe_firehose_delivered_records_total{delivery_stream=\"" n "\"}" {print $2}'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/machine.txt"
echo "muonpipe: $(git -C "$REPO" rev-parse --short HEAD)" | tee -a "$OUT/machine.txt"

for PAYLOAD in $PAYLOADS; do
for COMP in $COMPRESSIONS; do
  DATA=$(mktemp -d /tmp/muonpipe-delivery-bench.XXXXXX)
  PORT=$(bench_free_port)
  ENDPOINT=http://127.0.0.1:$PORT
  bench_start_muonpipe "$MUONPIPE" "$DATA" "$PORT" "$OUT/muonpipe-$PAYLOAD-$COMP.log" "${MEMORY_FLAG[@]}"
  NAME=pipe-$(echo "$COMP" | tr 'A-Z' 'a-z')
  python3 - "$ENDPOINT" "$DATA/admin-credentials" "$SHARDS" "$COMP" "$NAME" "$BUFFER_MIB" "$INTERVAL_S" <<'PY'
import configparser, sys, time, boto3
endpoint, creds, shards, comp, name, buf, interval = sys.argv[1:]
c = configparser.ConfigParser(); c.read(creds)
kw = dict(endpoint_url=endpoint, region_name="ap-southeast-2",
          aws_access_key_id=c["default"]["aws_access_key_id"],
          aws_secret_access_key=c["default"]["aws_secret_access_key"])
k, s3, fh = boto3.client("kinesis", **kw), boto3.client("s3", **kw), boto3.client("firehose", **kw)
k.create_stream(StreamName="pipe", ShardCount=int(shards))
k.get_waiter("stream_exists").wait(StreamName="pipe")
s3.create_bucket(Bucket="bench", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"})
arn = k.describe_stream_summary(StreamName="pipe")["StreamDescriptionSummary"]["StreamARN"]
if comp != "NONE": fh.create_delivery_stream(
    DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
    KinesisStreamSourceConfiguration={"KinesisStreamARN": arn, "RoleARN": "arn:aws:iam::000000000000:role/r"},
    ExtendedS3DestinationConfiguration={
        "RoleARN": "arn:aws:iam::000000000000:role/r", "BucketARN": "arn:aws:s3:::bench",
        "BufferingHints": {"SizeInMBs": int(buf), "IntervalInSeconds": int(interval)}, "CompressionFormat": comp})
PY
  START=$(date +%s.%N)
  "$LOAD" --endpoint "$ENDPOINT" --credentials "$DATA/admin-credentials" --server-pid "$SERVER_PID" \
    --label "ingest with $COMP delivery, $PAYLOAD payload" --json --mode batch \
    --connections "$CONNECTIONS" --duration "$SECONDS_LOAD" --warmup 0 --batch 500 --size 1024 \
    --payload "$PAYLOAD" --stream pipe >"$OUT/load-$PAYLOAD-$COMP.json"
  LOAD_END=$(date +%s.%N)
  ACCEPTED=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records_accepted"])' "$OUT/load-$PAYLOAD-$COMP.json")
  if [ "$COMP" = NONE ]; then
    AT_LOAD_END=0
  else
    AT_LOAD_END=$(delivered "$NAME")
    while [ "$(delivered "$NAME")" -lt "$ACCEPTED" ]; do sleep 0.05; done
  fi
  DONE=$(date +%s.%N)
  python3 - "$OUT/load-$PAYLOAD-$COMP.json" "$START" "$LOAD_END" "$DONE" "$AT_LOAD_END" "$ACCEPTED" "$COMP" "$PAYLOAD" "$BUFFER_MIB" "$FIREHOSE_MEMORY_MIB" "$SHARDS" "$INTERVAL_S" <<'PY' | tee -a "$OUT/results.jsonl"
import json, sys
load = json.load(open(sys.argv[1]))
start, load_end, done = map(float, sys.argv[2:5])
at_end, accepted, comp = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
print(json.dumps({
    "compression": comp, "payload": sys.argv[8], "buffer_mib": int(sys.argv[9]),
    "firehose_memory_mib": sys.argv[10] or "default", "shards": int(sys.argv[11]),
    "interval_s": int(sys.argv[12]),
    "load_avg_at_end": open("/proc/loadavg").read().split()[0],
    "ingest_records_per_s": round(load["records_per_s"]),
    "records_accepted": accepted, "load_seconds": round(load_end - start, 2),
    "delivered_during_load": at_end,
    "delivered_per_s_during_load": round(at_end / (load_end - start)),
    "catch_up_seconds_after_load": round(done - load_end, 2),
    "end_to_end_records_per_s": round(accepted / (done - start)),
    "max_server_rss_mib": load.get("max_server_rss_mib")}))
PY
  bench_stop_server
  rm -rf "$DATA"; DATA=
done
done
