#!/usr/bin/env bash
# Installs everything muonpipe needs to build, run and test, from Debian 12
# packages only. Idempotent: installs only what is missing; safe to re-run.
#   scripts/install-deps.sh          build + run dependencies
#   scripts/install-deps.sh --test   also the test peers (AWS CLI, boto3, openssl, PostgreSQL,
#                                    libfaketime)
#   scripts/install-deps.sh --bench  also the benchmark tools (fio for bench/run_s3.sh)
set -euo pipefail

want=(
  build-essential cmake ninja-build pkg-config git
  libboost1.81-dev libssl-dev libsimdjson-dev nlohmann-json3-dev libpugixml-dev
  libsoci-dev libsoci-sqlite3-4.0 libsoci-postgresql4.0 libsqlite3-dev libpq-dev
  libzstd-dev zlib1g-dev liboath-dev libsodium-dev
  libqrencode-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev libxxhash-dev
  libdeflate-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 curl
)
if [[ "${1:-}" == "--test" ]]; then
  want+=(openssl postgresql)  # postgresql: the registry tests' second backend (start-postgres.sh)
  # faketime (libfaketime): tests/e2e/test_expiry.py runs the server on a clock it moves, to see
  # 900-second credentials and 15-minute console sessions end without waiting for them.
  want+=(faketime)
  # The AWS CLI and boto3 are real peers in the end-to-end tests. A machine that
  # already has them (e.g. a newer pip-installed boto3) keeps its own.
  command -v aws >/dev/null 2>&1 || want+=(awscli)
  python3 -c 'import boto3' >/dev/null 2>&1 || want+=(python3-boto3)
fi
if [[ "${1:-}" == "--bench" ]]; then
  # bench/run_s3.sh compares PutObject with fio's sequential write + fdatasync on the same disk.
  want+=(fio)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "install-deps: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: everything is installed"
fi
