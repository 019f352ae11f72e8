#!/usr/bin/env bash
# Installs what is missing, builds, and runs muonpipe's main job on its embedded
# defaults: the server on 127.0.0.1:4566 with data in ./muonpipe-data, and a
# simulated fleet of detectors streaming into the stream "muonpipe-live".
#   DETECTORS=50 scripts/run.sh    (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
DATA=${MUONPIPE_DATA:-./muonpipe-data}
# The server runs in its own session so that Ctrl-C reaches the simulator first:
# it flushes what it holds, then the script stops the server (SIGTERM).
setsid build/muonpipe serve --data-dir "$DATA" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server' EXIT
trap ':' INT
for _ in $(seq 100); do
  curl -fsS http://127.0.0.1:4566/_muonpipe/health >/dev/null 2>&1 && break
  sleep 0.1
done
cat <<MSG

muonpipe is running. Look at the data with the AWS CLI in another terminal:
  export AWS_SHARED_CREDENTIALS_FILE=$(realpath "$DATA")/admin-credentials AWS_DEFAULT_REGION=ap-southeast-2
  aws --endpoint-url http://127.0.0.1:4566 kinesis describe-stream-summary --stream-name muonpipe-live
  IT=\$(aws --endpoint-url http://127.0.0.1:4566 kinesis get-shard-iterator --stream-name muonpipe-live \\
        --shard-id shardId-000000000000 --shard-iterator-type TRIM_HORIZON --query ShardIterator --output text)
  aws --endpoint-url http://127.0.0.1:4566 kinesis get-records --shard-iterator "\$IT" --limit 5
Press Ctrl-C to stop.

MSG
build/muonpipe sim --detectors "${DETECTORS:-10}" --create-stream --stream muonpipe-live \
  --credentials "$DATA/admin-credentials" || true
