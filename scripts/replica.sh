#!/usr/bin/env bash
# A hot standby (streaming replica) of a PostgreSQL cluster on this machine (docs/backup.md):
#   scripts/replica.sh start [DATA] [PORT]   pg_basebackup -R of the primary into DATA (once), then
#                                            start it read-only on PORT, streaming from the primary
#   scripts/replica.sh stop [DATA]
# The primary is the project-local cluster (127.0.0.1:5433) unless PGHOST/PGPORT say otherwise;
# DATA defaults to var/replica, PORT to 5434. Serve reads from it with
# DATABASE_REPLICA_URLS=postgis://…@127.0.0.1:5434/segis (config/settings/base.py).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { echo "segis-replica: $*" >&2; }
die() { log "$*"; exit 1; }

pg_major() { ls /usr/lib/postgresql 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -1; }
PG_BIN=${PG_BIN:-/usr/lib/postgresql/$(pg_major)/bin}
[ -x "$PG_BIN/pg_ctl" ] || die "no PostgreSQL server binaries in $PG_BIN (./segis setup installs them)"
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5433}
export PGHOST PGPORT

# The server refuses to run as root: root runs it as the postgres system user.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

command=${1:-}
[ $# -gt 0 ] && shift
data=${1:-$ROOT/var/replica}
port=${2:-5434}
case "$command" in
  start)
    if [ ! -f "$data/PG_VERSION" ]; then
      log "copying the primary at $PGHOST:$PGPORT into $data"
      mkdir -p "$data"
      [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data"
      chmod 700 "$data"
      # -R: standby.signal and primary_conninfo, so it starts as a standby of that primary.
      as_pg "$PG_BIN/pg_basebackup" -U postgres -D "$data" -R --wal-method=stream --checkpoint=fast
    fi
    if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; then
      as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $data -c hot_standby=on -c archive_mode=off" start >/dev/null
    fi
    log "standby of $PGHOST:$PGPORT serving reads on 127.0.0.1:$port"
    ;;
  stop)
    [ -f "$data/postmaster.pid" ] || { log "not running"; exit 0; }
    as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    log "stopped the standby in $data"
    ;;
  *)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
