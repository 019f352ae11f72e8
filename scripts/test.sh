#!/usr/bin/env bash
# Installs what the tests need, builds, starts the servers the tests use and
# runs every test (unit tests and end-to-end tests with the AWS CLI and boto3).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh
# The registry tests run every case on PostgreSQL too (src/registry/test_util.h).
export MUON_REGISTRY_TEST_POSTGRES_URL="${MUON_REGISTRY_TEST_POSTGRES_URL:-$(scripts/start-postgres.sh)}"
ctest --test-dir build --output-on-failure -j2 "$@"
