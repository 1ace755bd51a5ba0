#!/usr/bin/env bash
# The whole test suite on the real PostgreSQL and Redis: Jest (unit, integration and end-to-end),
# then the ops console's browser tests (Playwright on Chromium). Extra arguments go to Jest alone,
# e.g. `bash scripts/test.sh test/e2e`; `npm run test:browser` runs the browser tests alone.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_ready
# The tests make their own database (TEST_DATABASE_URL, default tokex_test on the same server).
if [[ -z "${TEST_DATABASE_URL:-}" ]]; then
  base="${DATABASE_URL%/*}"
  export TEST_DATABASE_URL="$base/tokex_test"
fi
export TEST_REDIS_URL="${TEST_REDIS_URL:-$REDIS_URL}"
if [[ $# -gt 0 ]]; then
  npm test -- "$@"
  exit
fi
ensure_chromium
npm test
npm run test:browser
