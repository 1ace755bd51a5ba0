#!/usr/bin/env bash
# The whole test suite (unit, integration and end-to-end) on the real PostgreSQL and Redis.
# Extra arguments go to Jest, e.g. `bash scripts/test.sh test/e2e`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

load_env
ensure_node
ensure_services
ensure_installed
# The tests make their own database (TEST_DATABASE_URL, default tokex_test on the same server).
if [[ -z "${TEST_DATABASE_URL:-}" ]]; then
  base="${DATABASE_URL%/*}"
  export TEST_DATABASE_URL="$base/tokex_test"
fi
export TEST_REDIS_URL="${TEST_REDIS_URL:-$REDIS_URL}"
npm test -- "$@"
