#!/usr/bin/env bash
# Point-in-time recovery for a PostgreSQL cluster this machine runs (docs/backup.md):
#   scripts/pitr.sh enable              archive every WAL segment into the archive, restart the server
#   scripts/pitr.sh base [DIR]          a base backup (pg_basebackup) to replay the archive onto
#   scripts/pitr.sh recover BASE TIME NEWDATA PORT
#                                       a new cluster in NEWDATA from BASE, replayed to TIME
#                                       (e.g. '2026-12-07 18:00:00+00'), promoted and started on PORT
# The cluster is the project-local one (var/pgdata, port 5433) unless PGDATA and PGPORT say
# otherwise; the archive is var/wal-archive unless SEGIS_WAL_ARCHIVE says otherwise. A managed
# PostgreSQL archives and restores on its provider's side: see docs/backup.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { echo "segis-pitr: $*" >&2; }
die() { log "$*"; exit 1; }

pg_major() { ls /usr/lib/postgresql 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -1; }
PG_BIN=${PG_BIN:-/usr/lib/postgresql/$(pg_major)/bin}
[ -x "$PG_BIN/pg_ctl" ] || die "no PostgreSQL server binaries in $PG_BIN (./segis setup installs them)"
PGDATA=${PGDATA:-$ROOT/var/pgdata}
PGPORT=${PGPORT:-5433}
PGHOST=${PGHOST:-127.0.0.1}
ARCHIVE=${SEGIS_WAL_ARCHIVE:-$ROOT/var/wal-archive}
export PGPORT PGHOST

# The server refuses to run as root: root acts as the owner of the data directory.
as_owner() {
  local owner
  owner=$(stat -c %U "$1")
  shift
  if [ "$(id -u)" -eq 0 ] && [ "$owner" != root ]; then
    runuser -u "$owner" -- "$@"
  else
    "$@"
  fi
}
sql() { as_owner "$PGDATA" "$PG_BIN/psql" -X -v ON_ERROR_STOP=1 -U postgres -d postgres -Atqc "$1"; }

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  enable)
    [ -f "$PGDATA/PG_VERSION" ] || die "no cluster in $PGDATA"
    mkdir -p "$ARCHIVE"
    chown "$(stat -c %U:%G "$PGDATA")" "$ARCHIVE"
    # test ! -f: a segment already archived is never overwritten (the server retries on failure).
    sql "ALTER SYSTEM SET wal_level = 'replica'"
    sql "ALTER SYSTEM SET archive_mode = 'on'"
    sql "ALTER SYSTEM SET archive_command = 'test ! -f $ARCHIVE/%f && cp %p $ARCHIVE/%f'"
    # A quiet server still closes a segment this often, so the archive is never far behind.
    sql "ALTER SYSTEM SET archive_timeout = '${SEGIS_ARCHIVE_TIMEOUT:-300}'"
    log "restarting the server in $PGDATA (archive_mode needs it)"
    as_owner "$PGDATA" "$PG_BIN/pg_ctl" -D "$PGDATA" -w -m fast restart >/dev/null
    log "archiving WAL into $ARCHIVE"
    ;;
  base)
    dest=${1:-$ROOT/var/basebackups/$(date -u +%Y%m%dT%H%M%SZ)}
    mkdir -p "$(dirname "$dest")"
    [ ! -e "$dest" ] || die "$dest exists already"
    mkdir -p "$dest" && chown "$(stat -c %U:%G "$PGDATA")" "$dest" && chmod 700 "$dest"
    as_owner "$dest" "$PG_BIN/pg_basebackup" -U postgres -D "$dest" --checkpoint=fast --wal-method=stream
    log "base backup in $dest"
    echo "$dest"
    ;;
  recover)
    [ $# -eq 4 ] || die "usage: scripts/pitr.sh recover BASE TIME NEWDATA PORT"
    base=$1 target=$2 data=$3 port=$4
    [ -f "$base/PG_VERSION" ] || die "$base is no base backup"
    [ ! -e "$data" ] || die "$data exists already: recover into a new directory"
    cp -a "$base" "$data"
    chmod 700 "$data"
    rm -f "$data/postmaster.pid"
    # Replay the archive up to the moment, then become a primary of its own (a new timeline):
    # the damaged cluster is left as it was, to compare or to retire.
    cat >>"$data/postgresql.auto.conf" <<CONF
restore_command = 'cp $ARCHIVE/%f %p'
recovery_target_time = '$target'
recovery_target_action = 'promote'
archive_mode = 'off'
CONF
    touch "$data/recovery.signal"
    PGDATA=$data
    as_owner "$data" "$PG_BIN/pg_ctl" -D "$data" -l "$data/recovery.log" -w \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $data" start >/dev/null
    for _ in $(seq 600); do
      [ "$(PGPORT=$port sql 'select pg_is_in_recovery()')" = f ] && break
      sleep 0.1
    done
    [ "$(PGPORT=$port sql 'select pg_is_in_recovery()')" = f ] || die "still recovering: see $data/recovery.log"
    log "recovered to $target: a cluster in $data on port $port"
    ;;
  *)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
