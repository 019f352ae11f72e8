#!/usr/bin/env bash
# Builds the unit tests under AddressSanitizer + UndefinedBehaviorSanitizer
# (preset asan, into build-asan/) and the concurrent components' tests under
# ThreadSanitizer (preset tsan, into build-tsan/), and runs them. Any report
# fails the run. Usage: scripts/test-sanitizers.sh [asan|tsan]...
set -euo pipefail
cd "$(dirname "$0")/.."

# Components whose tests exercise threads: the server, the log's committer,
# the services that answer from committer callbacks, delivery workers, the
# registry (concurrent writers over one connection and over two), the identity
# store's snapshot reloader, the audit log's writer, S3's worker pool, the
# usage source's HTTP fetches, Env and SigV4 used from many threads.
TSAN_TARGETS=(http_test streamlog_test kinesis_test registry_test identity_test audit_test
              s3api_test plan_test base_test auth_test)
for t in objectstore_test delivery_test; do
  if [ -d "src/${t%_test}" ] && ls "src/${t%_test}"/*_test.cc >/dev/null 2>&1; then
    TSAN_TARGETS+=("$t")
  fi
done

# The registry tests run every case on PostgreSQL too (src/registry/test_util.h).
export MUON_REGISTRY_TEST_POSTGRES_URL="${MUON_REGISTRY_TEST_POSTGRES_URL:-$(scripts/start-postgres.sh)}"

run_asan() {
  echo "== ASan + UBSan: every unit test"
  cmake --preset asan >/dev/null
  # Unit tests only: the end-to-end tests drive the release binary.
  mapfile -t targets < <(cmake --build build-asan --target help | sed -n 's/^\([a-z0-9_]*_test\):.*/\1/p')
  cmake --build build-asan -j"$(nproc)" --target "${targets[@]}"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -LE e2e -E cfn_lint
}

run_tsan() {
  echo "== TSan: ${TSAN_TARGETS[*]}"
  cmake --preset tsan >/dev/null
  cmake --build build-tsan -j"$(nproc)" --target "${TSAN_TARGETS[@]}"
  local regex
  regex="^($(IFS='|'; echo "${TSAN_TARGETS[*]}"))\$"
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir build-tsan --output-on-failure -j"$(nproc)" -R "$regex"
}

modes=("$@")
[ ${#modes[@]} -eq 0 ] && modes=(asan tsan)
for m in "${modes[@]}"; do
  case "$m" in
    asan) run_asan ;;
    tsan) run_tsan ;;
    *) echo "test-sanitizers: unknown mode '$m' (asan or tsan)" >&2; exit 2 ;;
  esac
done
