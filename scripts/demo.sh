#!/usr/bin/env bash
# npm run demo: the live market in one command (docs/demo.md). PostgreSQL and Redis as dev-up.sh
# finds or starts them, then the built demo on a database of its own (tokex_demo, recreated each
# run; never tokex). Arguments go to the demo: --duration N, --exit, --port N, --database NAME.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_ready
log "building"
npm run -s build
exec node dist/src/demo/main.js "$@"
