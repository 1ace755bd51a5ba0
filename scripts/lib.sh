# Shared by dev-up.sh and test.sh: make PostgreSQL and Redis answer, and install the project.
# Sourced, not run. Honors DATABASE_URL / REDIS_URL (and .env) for where the servers are.

log() { printf '\033[1mtokex\033[0m %s\n' "$*"; }
die() { printf '\033[1;31mtokex\033[0m %s\n' "$*" >&2; exit 1; }

# host and port of a postgres:// or redis:// URL
url_host() { local rest="${1#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"; echo "${rest%%:*}"; }
url_port() { local rest="${1#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"; [[ "$rest" == *:* ]] && echo "${rest##*:}" || echo "$2"; }

answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() { # host port name
  for _ in $(seq 1 60); do answers "$1" "$2" && return 0; sleep 1; done
  die "$3 did not start listening on $1:$2 within 60 s"
}

load_env() {
  if [[ -f .env ]]; then set -a; # shellcheck disable=SC1091
    source .env; set +a; fi
  export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tokex}"
  export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
}

# PostgreSQL and Redis: use them if they answer; else Docker Compose; else Debian's packages.
ensure_services() {
  local pg_host pg_port redis_host redis_port
  pg_host=$(url_host "$DATABASE_URL"); pg_port=$(url_port "$DATABASE_URL" 5432)
  redis_host=$(url_host "$REDIS_URL"); redis_port=$(url_port "$REDIS_URL" 6379)
  if answers "$pg_host" "$pg_port" && answers "$redis_host" "$redis_port"; then
    log "PostgreSQL ($pg_host:$pg_port) and Redis ($redis_host:$redis_port) answer; using them"
    return
  fi
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    log "starting PostgreSQL 16 and Redis 7 with docker compose"
    docker compose up -d --wait postgres redis
  elif command -v apt-get >/dev/null; then
    log "installing and starting PostgreSQL and Redis from Debian's packages"
    local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql redis-server >/dev/null
    if ! answers "$pg_host" "$pg_port"; then
      $sudo pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || $sudo service postgresql start
    fi
    answers "$redis_host" "$redis_port" || $sudo redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --maxmemory-policy noeviction
    wait_for "$pg_host" "$pg_port" PostgreSQL
    # A fresh Debian cluster only trusts the local socket: give the URL's user a password it can use over TCP.
    if [[ "$DATABASE_URL" == "postgres://postgres@127.0.0.1:5432/tokex" ]]; then
      $sudo -u postgres psql -qc "ALTER USER postgres PASSWORD 'tokex'" >/dev/null 2>&1 || su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'tokex'\"" >/dev/null
      export DATABASE_URL="postgres://postgres:tokex@127.0.0.1:5432/tokex"
      grep -q '^DATABASE_URL=' .env 2>/dev/null || echo "DATABASE_URL=$DATABASE_URL" >> .env
      log "PostgreSQL user postgres now has password 'tokex' (saved DATABASE_URL in .env)"
    fi
  else
    die "PostgreSQL and Redis are not running and this machine has neither Docker nor apt-get.
Install PostgreSQL 15 or newer and Redis 7 (maxmemory-policy noeviction), start them, and set
DATABASE_URL and REDIS_URL (see .env.example) if they are not at 127.0.0.1:5432 and :6379."
  fi
  wait_for "$pg_host" "$pg_port" PostgreSQL
  wait_for "$redis_host" "$redis_port" Redis
}

ensure_node() {
  command -v node >/dev/null || die "Node.js 20 or newer is required (https://nodejs.org, or: apt-get install nodejs npm)"
  local major; major=$(node -p 'process.versions.node.split(".")[0]')
  (( major >= 20 )) || die "Node.js 20 or newer is required; this is $(node --version)"
}

# npm ci when node_modules is missing or older than the lock file.
# The browser tests drive Debian's Chromium (Playwright's own download does not work everywhere):
# CHROMIUM_PATH, default /usr/bin/chromium, installed from Debian's packages when missing.
ensure_chromium() {
  export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
  [[ -x "$CHROMIUM_PATH" ]] && return
  command -v apt-get >/dev/null || die "the browser tests need Chromium at $CHROMIUM_PATH (set CHROMIUM_PATH to another Chromium or Chrome)"
  log "installing Chromium from Debian's packages for the browser tests (about 2 minutes)"
  local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  [[ -x "$CHROMIUM_PATH" ]] || die "Chromium did not install at $CHROMIUM_PATH"
}

# What every entry script needs first: .env, Node, PostgreSQL and Redis answering, dependencies.
ensure_ready() {
  load_env
  ensure_node
  ensure_services
  ensure_installed
}

ensure_installed() {
  if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
    log "installing dependencies (npm ci)"
    npm ci --no-audit --no-fund
  fi
}

# Creates the database named in DATABASE_URL if it does not exist.
ensure_database() {
  node --input-type=module -e '
    import pg from "pg";
    const url = new URL(process.env.DATABASE_URL);
    const name = decodeURIComponent(url.pathname.slice(1));
    url.pathname = "/postgres";
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount === 0) { await client.query(`CREATE DATABASE "${name.replaceAll("\"", "\"\"")}"`); console.log(`created database ${name}`); }
    await client.end();'
}
