#!/usr/bin/env bash
# Quick start: PostgreSQL and Redis (running ones, else Docker, else Debian's packages), install,
# build, migrate, then the API and the worker in the foreground. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_ready
log "building"
npm run -s build
ensure_database
log "migrating"
npm run -s migration:run

# Someone must be able to call the admin routes: make a bootstrap admin key once and keep it in .env.
if [[ -z "${BOOTSTRAP_ADMIN_KEY:-}" ]]; then
  BOOTSTRAP_ADMIN_KEY="tkx_$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("base64url"))')"
  echo "BOOTSTRAP_ADMIN_KEY=$BOOTSTRAP_ADMIN_KEY" >> .env
  export BOOTSTRAP_ADMIN_KEY
  log "created a bootstrap admin key and saved it in .env"
fi
# The ops console's cookies are signed with this; kept in .env so sessions outlive a restart.
if [[ -z "${OPS_SESSION_SECRET:-}" ]]; then
  OPS_SESSION_SECRET="$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("base64url"))')"
  echo "OPS_SESSION_SECRET=$OPS_SESSION_SECRET" >> .env
  export OPS_SESSION_SECRET
fi
# Delivery-key signing keys are encrypted at rest with this (docs/operations.md, "Secrets"); kept in .env.
if [[ -z "${SIGNING_KEYS_ENCRYPTION_KEY:-}" ]]; then
  SIGNING_KEYS_ENCRYPTION_KEY="$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("base64"))')"
  echo "SIGNING_KEYS_ENCRYPTION_KEY=$SIGNING_KEYS_ENCRYPTION_KEY" >> .env
  export SIGNING_KEYS_ENCRYPTION_KEY
fi
export PORT="${PORT:-3000}"
# Local nodes listen on 127.0.0.1, which production refuses (docs/operations.md): allowed here unless .env says otherwise.
export NODE_URLS_ALLOW_PRIVATE="${NODE_URLS_ALLOW_PRIVATE:-true}"

pids=()
stop() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait; }
trap stop INT TERM EXIT
node dist/src/main.js api & pids+=($!)
node dist/src/main.js worker & pids+=($!)

for _ in $(seq 1 60); do
  if curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 || node -e "fetch('http://127.0.0.1:$PORT/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then
    cat <<MSG

  tokex is running (api and worker; Ctrl-C stops both)
    API      http://127.0.0.1:$PORT/v1
    Docs     http://127.0.0.1:$PORT/docs   (OpenAPI JSON at /docs-json)
    Health   http://127.0.0.1:$PORT/health
    Metrics  http://127.0.0.1:$PORT/metrics
    Console  http://127.0.0.1:$PORT/ops   (sign in with BOOTSTRAP_ADMIN_KEY from .env)
    Admin    curl -H "Authorization: Bearer \$BOOTSTRAP_ADMIN_KEY" http://127.0.0.1:$PORT/v1/me   (key in .env)

MSG
    if ! node -e "fetch('http://127.0.0.1:$PORT/v1/me',{headers:{authorization:'Bearer $BOOTSTRAP_ADMIN_KEY'}}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then
      log "note: this database already had an admin, so BOOTSTRAP_ADMIN_KEY (in .env) was not used; use that admin's key"
    fi
    wait -n "${pids[@]}"
    exit $?
  fi
  sleep 1
done
die "the API did not become healthy within 60 s"
