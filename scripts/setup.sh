#!/usr/bin/env bash
# Installs what is missing and prepares the database named by DATABASE_URL.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

DATABASE_URL_GIVEN=${DATABASE_URL_GIVEN-${DATABASE_URL:-}}
: "${DATABASE_URL:=postgresql://postgres@127.0.0.1:5432/vung}"
export DATABASE_URL
STAMPS=.stamps
mkdir -p "$STAMPS"
APT_UPDATED=""

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt: installing ${missing[*]}"
  if [ -z "$APT_UPDATED" ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Re-runs a step only when the files it depends on changed.
changed() {
  local name=$1; shift
  local sum
  sum=$(cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1)
  [ "$(cat "$STAMPS/$name" 2>/dev/null)" != "$sum" ]
}
stamp() {
  local name=$1; shift
  cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1 >"$STAMPS/$name"
}

install_system_packages() {
  local pkgs=(postgresql-15-postgis-3 postgresql-client-15 gdal-bin chromium ca-certificates)
  command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
  python3 -c "import venv, ensurepip" 2>/dev/null || pkgs+=(python3-venv)
  # QGIS, for the tests that connect it to the app as a planner would (make test).
  [ -n "${WITH_TEST_CLIENTS:-}" ] && pkgs+=(python3-qgis)
  apt_install "${pkgs[@]}"
}

# Where DATABASE_URL is not given, the default local server must answer
# postgres@127.0.0.1 without a password: start Debian's cluster if none runs,
# and let local TCP connections in (a development machine only).
ensure_local_server() {
  [ -n "$DATABASE_URL_GIVEN" ] && return 0
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "starting a local PostgreSQL 15 cluster"
    apt_install postgresql-15
    [ -d /etc/postgresql/15/main ] || pg_createcluster 15 main >/dev/null
    trust_local_connections
    pg_ctlcluster --skip-systemctl-redirect 15 main start
    wait_for_server
  elif ! psql -q "postgresql://postgres@127.0.0.1:5432/postgres" -tAc "SELECT 1" >/dev/null 2>&1; then
    [ -d /etc/postgresql/15/main ] || { echo "cannot log in to postgres@127.0.0.1: set DATABASE_URL" >&2; exit 1; }
    log "letting local connections into PostgreSQL 15 without a password"
    trust_local_connections
    pg_ctlcluster --skip-systemctl-redirect 15 main reload
    sleep 1
  fi
}

trust_local_connections() {
  local hba=/etc/postgresql/15/main/pg_hba.conf
  grep -q "vung: local trust" "$hba" ||
    sed -i '1i host all all 127.0.0.1/32 trust # vung: local trust\nhost all all ::1/128 trust # vung: local trust' "$hba"
}

wait_for_server() {
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 1; done
  echo "PostgreSQL did not start" >&2
  exit 1
}

install_python() {
  [ -x .venv/bin/python ] || { log "creating .venv"; python3 -m venv .venv; }
  if changed pip requirements.txt; then
    log "pip: installing requirements"
    .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
    stamp pip requirements.txt
  fi
}

install_frontend() {
  if changed npm package.json package-lock.json || [ ! -d node_modules ]; then
    log "npm: installing front-end packages"
    npm ci --no-audit --no-fund --loglevel=error
    stamp npm package.json package-lock.json
  fi
  bash scripts/vendor.sh
}

compile_translations() {
  if [ -d translations ]; then .venv/bin/pybabel compile -d translations; fi
}

prepare_database() {
  log "database: ${DATABASE_URL%%\?*}"
  .venv/bin/flask --app app db create
  .venv/bin/flask --app app db upgrade
  .venv/bin/flask --app app sample load --if-empty
}

install_system_packages
ensure_local_server
install_python
install_frontend
compile_translations
prepare_database
