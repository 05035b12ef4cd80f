#!/usr/bin/env bash
# Installs SEGIS's system packages, its virtualenv and its PostGIS database on Debian 12 or 13.
# Idempotent: every step checks before it acts. The chosen database is written to var/env.
# SEGIS_LOCAL_DB_PORT=PORT skips a server on 127.0.0.1:5432 and uses the project-local cluster on
# that port instead of 5433, unless var/env names another database (scripts/try-debian.sh: a chroot
# sharing the network of a host that runs PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VAR=$ROOT/var
mkdir -p "$VAR"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
log() { echo "segis-setup: $*" >&2; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
apt_updated=""
apt_install() {
  local missing=()
  for pkg in "$@"; do installed "$pkg" || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ -z "$apt_updated" ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

pg_major() { ls /usr/lib/postgresql 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -1; }

# --- system packages -------------------------------------------------------
# The server packages come from the distribution; its PostgreSQL major decides the PostGIS package.
if [ -z "$(pg_major)" ] || [ ! -x "/usr/lib/postgresql/$(pg_major)/bin/postgres" ]; then
  apt_install postgresql
fi
PG_MAJOR=$(pg_major)
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
packages=(postgresql-client "postgresql-$PG_MAJOR-postgis-3" gdal-bin gettext python3-venv)
# For the tests: the browser, a CJK font, and QGIS as a desktop client of /ogcapi.
[ "${SEGIS_WITH_BROWSER:-}" = 1 ] && packages+=(chromium fonts-noto-cjk python3-qgis)
apt_install "${packages[@]}"

# --- virtualenv --------------------------------------------------------------
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PYTHON" -m venv .venv
fi
# Exactly the locked releases, checked against their hashes (scripts/lock.sh): development's lock
# (tests, the demo's boundaries), or with SEGIS_PRODUCTION=1 the runtime's alone. The project itself
# goes in after, without its dependencies: they are the lock's.
lock=requirements/dev.txt
[ "${SEGIS_PRODUCTION:-}" = 1 ] && lock=requirements/runtime.txt
stamp=$(cat pyproject.toml "$lock" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VAR/pip.stamp" 2>/dev/null)" != "$stamp" ]; then
  log "installing Python packages from $lock"
  # The lock's own pip first, hash-checked (pip-audit brings pip into the dev lock): Debian 12's
  # pip 23.2 refuses a hashed lock once a dependency asks for an extra (pip-audit's
  # CacheControl[filecache]) and PyPI has a newer release than the pin; later pips do not.
  pin=$(awk '/^pip==/ {on=1} on {print} on && !/\\$/ {exit}' "$lock")
  if [ -n "$pin" ]; then
    printf '%s\n' "$pin" >"$VAR/pip-pin.txt"
    .venv/bin/pip install -q --require-hashes -r "$VAR/pip-pin.txt" >&2
  fi
  .venv/bin/pip install -q --require-hashes -r "$lock" >&2
  .venv/bin/pip install -q --no-deps -e . >&2
  echo "$stamp" >"$VAR/pip.stamp"
fi

# --- translations --------------------------------------------------------------
# The English catalogues (docs/i18n.md) compiled to the .mo files Django reads; not kept in git.
for po in locale/*/LC_MESSAGES/*.po; do
  mo=${po%.po}.mo
  if [ ! -e "$mo" ] || [ "$po" -nt "$mo" ]; then msgfmt --check-format -o "$mo" "$po"; fi
done

# --- database ----------------------------------------------------------------
psql_url() { echo "$1" | sed -E 's#^(postgis|postgres)://#postgresql://#'; }
answers() { "$PG_BIN/psql" "$(psql_url "$1")" -Atqc 'select 1' >/dev/null 2>&1; }
saved_url=$(sed -n 's/^DATABASE_URL=//p' "$VAR/env" 2>/dev/null || true)
local_port=${SEGIS_LOCAL_DB_PORT:-5433}
local_url="postgis://postgres@127.0.0.1:$local_port/segis"

start_local_cluster() {
  # A project-local cluster under var/, for a machine with no PostgreSQL running. The server refuses
  # to run as root, so root hands the folder to the postgres system user; where that user cannot
  # reach var/ (a checkout under /root), the cluster lives under its home, named after this checkout.
  local data=$VAR/pgdata run_as=()
  if [ "$(id -u)" -eq 0 ]; then
    run_as=(runuser -u postgres --)
    if ! runuser -u postgres -- test -x "$VAR"; then
      data=/var/lib/postgresql/segis-$(echo "$ROOT" | sha1sum | cut -c1-12)/pgdata
      mkdir -p "$(dirname "$data")" && chown postgres:postgres "$(dirname "$data")"
      ln -sfn "$data" "$VAR/pgdata"
    fi
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    log "creating a local PostgreSQL $PG_MAJOR cluster in var/pgdata"
    mkdir -p "$data" "$(dirname "$data")/run"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data" "$(dirname "$data")/run"
    "${run_as[@]}" "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$local_port"; then
    log "starting the local cluster on 127.0.0.1:$local_port"
    "${run_as[@]}" "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w \
      -o "-p $local_port -k $(dirname "$data")/run -c listen_addresses=127.0.0.1" start >/dev/null
  fi
}

if [ -n "${DATABASE_URL:-}" ]; then
  url=$DATABASE_URL
elif [ -n "$saved_url" ] && { [ "$saved_url" != "$local_url" ] || [ -f "$VAR/pgdata/PG_VERSION" ]; }; then
  url=$saved_url
  [ "$url" = "$local_url" ] && start_local_cluster
elif [ -z "${SEGIS_LOCAL_DB_PORT:-}" ] && answers "postgresql://postgres@127.0.0.1:5432/postgres"; then
  url="postgis://postgres@127.0.0.1:5432/segis"
else
  start_local_cluster
  url=$local_url
fi

# Create the database itself if missing; the postgis extension is created by Django's migrate.
db_name=$(echo "$url" | sed -E 's#.*/([^/?]+)(\?.*)?$#\1#')
admin_url=$(psql_url "$url" | sed -E "s#/[^/?]+(\?.*)?\$#/postgres#")
if ! "$PG_BIN/psql" "$admin_url" -Atqc "select 1 from pg_database where datname = '$db_name'" | grep -q 1; then
  log "creating database $db_name"
  "$PG_BIN/psql" "$admin_url" -qc "create database \"$db_name\"" >&2
fi
# The application's own role (config/settings/base.py): the server and the worker read and write
# rows as it; it owns nothing and cannot change the audit trail (grants: common/db.py, after each
# migrate). Made when the owner may create roles; otherwise the owner serves, as before.
app_user=${DATABASE_APP_USER:-}
app_password=${DATABASE_APP_PASSWORD:-}
if [ -z "$app_user" ]; then
  app_password=$(sed -n 's/^DATABASE_APP_PASSWORD=//p' "$VAR/env" 2>/dev/null || true)
  [ -n "$app_password" ] || app_password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  db_url=$(psql_url "$url")
  if "$PG_BIN/psql" "$db_url" -Atqc "select rolsuper or rolcreaterole from pg_roles where rolname = current_user" | grep -q t; then
    app_user="${db_name//[^A-Za-z0-9_]/_}_app"
    verb=create
    "$PG_BIN/psql" "$db_url" -Atqc "select 1 from pg_roles where rolname = '$app_user'" | grep -q 1 && verb=alter
    "$PG_BIN/psql" "$db_url" -qc "$verb role \"$app_user\" login nosuperuser nocreatedb nocreaterole nobypassrls password '$app_password'" >&2
    # The role's own bounds, under the ones each connection sets (config/settings/base.py): any
    # other client of this role (psql, a report tool) is bounded too.
    "$PG_BIN/psql" "$db_url" -qc "alter role \"$app_user\" set statement_timeout = '30s'" \
      -c "alter role \"$app_user\" set idle_in_transaction_session_timeout = '60s'" >&2
  else
    log "the database user may not create roles: the application connects as the owner (docs/deployment.md)"
    app_password=""
  fi
fi
env_file="DATABASE_URL=$url"
if [ -n "$app_user" ]; then
  env_file+=$'\n'"DATABASE_APP_USER=$app_user"$'\n'"DATABASE_APP_PASSWORD=$app_password"
fi
if [ "$env_file" != "$(cat "$VAR/env" 2>/dev/null)" ]; then
  echo "$env_file" >"$VAR/env"
fi
log "ready: PostgreSQL $PG_MAJOR, database $url${app_user:+ (served as $app_user)}"
