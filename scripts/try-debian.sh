#!/usr/bin/env bash
# The README's promise, tried for real: scripts/try-debian.sh 12|13
#
# Builds a minimal Debian chroot with debootstrap (12 bookworm or 13 trixie; the bare base is
# cached in $SEGIS_TRY_CACHE, /var/cache/segis-try, and copied afresh for every run), puts a clean
# clone of this repository's HEAD in /root/segis inside it (committed work only: not the working
# tree), and runs the README's commands there with the release's own Python, PostgreSQL and GDAL:
#   1. ./segis setup (apt: PostgreSQL, PostGIS, GDAL; the locked virtualenv; a local cluster),
#      checks the release's Python, PostgreSQL and the GDAL Django loads, `manage.py check` with
#      warnings as errors, and a second ./segis setup (idempotent),
#   2. ./segis demo --devices 2000 in the background, then, over HTTP: the login page answers,
#      a user signs in, a vector tile holds devices, a direct CSV export and a background
#      GeoPackage export (run by the demo's worker) come back,
#   3. a subset of the suite (TESTS below; the browser tests need Chromium and are left out).
# The chroot shares the host's network: its cluster listens on 127.0.0.1:$SEGIS_TRY_DB_PORT
# (5400 + release) through scripts/setup.sh's SEGIS_LOCAL_DB_PORT, the demo on $SEGIS_TRY_PORT
# (8700 + release), so a host PostgreSQL on 5432 is never used. Services the packages would start
# are refused (policy-rc.d), as in any chroot. On exit, success or not, the demo and the cluster
# are stopped, every process left inside the chroot is ended and /proc, /sys, /dev are unmounted.
# Needs root (debootstrap, chroot, mounts) and Debian's mirror; apt's and pip's downloads are
# cached beside the base, so a second run downloads nothing but is otherwise a fresh install.
# SEGIS_TRY_KEEP=1 keeps the run's root ($SEGIS_TRY_CACHE/<suite>.run) for a look afterwards.
# SEGIS_TRY_CA_BUNDLE (default: the host's PIP_CERT) is a CA bundle pip trusts inside the chroot
# too, for a network whose HTTPS proxy re-signs PyPI's certificates; unset, pip trusts its own.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

release=${1:-}
case "$release" in
  12) suite=bookworm python=3.11 pg=15 gdal=3.6 ;;
  13) suite=trixie python=3.13 pg=17 gdal=3.10 ;;
  *) echo "usage: scripts/try-debian.sh 12|13" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then exec sudo -- "$0" "$@"; fi

CACHE=${SEGIS_TRY_CACHE:-/var/cache/segis-try}
MIRROR=${SEGIS_TRY_MIRROR:-http://deb.debian.org/debian}
DB_PORT=${SEGIS_TRY_DB_PORT:-$((5400 + release))}
PORT=${SEGIS_TRY_PORT:-$((8700 + release))}
DEVICES=${SEGIS_TRY_DEVICES:-2000}
TESTS=(tests/geo tests/registry/test_validators.py tests/test_deploy.py tests/maps/test_tiles.py
  tests/exports/test_export.py)
base=$CACHE/$suite.base
root=$CACHE/$suite.run
app=/root/segis
started=$(date +%s)
log() { echo "try-debian $release: [$(($(date +%s) - started))s] $*" >&2; }
chroot_env=(HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
ca_bundle=${SEGIS_TRY_CA_BUNDLE:-${PIP_CERT:-}}
[ -n "$ca_bundle" ] && chroot_env+=(PIP_CERT=/root/host-ca.crt)
in_root() { chroot "$root" /usr/bin/env -i "${chroot_env[@]}" "$@"; }

# --- the base: debootstrap once, then reused ----------------------------------------------------
command -v debootstrap >/dev/null || { apt-get update -qq; apt-get install -y -qq debootstrap >&2; }
mkdir -p "$CACHE/apt-$suite" "$CACHE/pip"
if [ ! -f "$base/.segis-base" ]; then
  log "debootstrap --variant=minbase $suite (once; cached in $base)"
  rm -rf "$base.building"
  debootstrap --variant=minbase "$suite" "$base.building" "$MIRROR" >"$CACHE/$suite.debootstrap.log" 2>&1 ||
    { tail -20 "$CACHE/$suite.debootstrap.log" >&2; exit 1; }
  touch "$base.building/.segis-base"
  mv "$base.building" "$base"
fi

# --- a fresh root for this run, cleaned up whatever happens -------------------------------------
demo_pid=""
cleanup() {
  local status=$?
  set +e
  if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
    log "stopping the demo"
    kill -TERM -- "-$demo_pid" 2>/dev/null
    for _ in $(seq 40); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$demo_pid" 2>/dev/null
  fi
  if [ -d "$root/proc/1" ]; then
    local data
    data=$(in_root readlink -f "$app/var/pgdata" 2>/dev/null)
    if [ -n "$data" ] && [ -f "$root$data/postmaster.pid" ]; then
      log "stopping the chroot's PostgreSQL"
      in_root runuser -u postgres -- "/usr/lib/postgresql/$pg/bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    fi
  fi
  # Anything still running with this chroot as its root was started by this run.
  local pid left=()
  for pid in /proc/[0-9]*; do
    [ "$(readlink "$pid/root" 2>/dev/null)" = "$root" ] && left+=("${pid#/proc/}")
  done
  if [ ${#left[@]} -gt 0 ]; then
    log "ending processes left in the chroot: ${left[*]}"
    kill -KILL "${left[@]}" 2>/dev/null
    sleep 1
  fi
  for mount in "$root/root/.cache/pip" "$root/var/cache/apt/archives" "$root/dev/pts" "$root/dev" \
    "$root/sys" "$root/proc"; do
    mountpoint -q "$mount" && { umount "$mount" || umount -l "$mount"; }
  done
  if [ "$status" -eq 0 ]; then log "PASSED in $(($(date +%s) - started)) s"; else log "FAILED (exit $status)"; fi
  [ "${SEGIS_TRY_KEEP:-}" = 1 ] || [ "$status" -ne 0 ] || rm -rf --one-file-system "$root"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

for mount in "$root/proc" "$root/sys" "$root/dev/pts" "$root/dev"; do
  if mountpoint -q "$mount"; then echo "$mount is mounted: another run of $suite is going on?" >&2; exit 1; fi
done
rm -rf --one-file-system "$root"
cp -a "$base" "$root"
log "fresh $suite root in $root"
cp /etc/resolv.conf "$root/etc/resolv.conf"
[ -n "$ca_bundle" ] && cp "$ca_bundle" "$root/root/host-ca.crt"
# No daemon from a package's postinst: the chroot shares the host's network and ports.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
# Keep apt's downloads across runs (Debian's images delete them by default; a minbase does not).
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount --bind "$CACHE/apt-$suite" "$root/var/cache/apt/archives"
mkdir -p "$root/root/.cache/pip"
mount --bind "$CACHE/pip" "$root/root/.cache/pip"

# The clean clone: HEAD as committed, no .venv, var/ or uncommitted change.
git clone -q --no-hardlinks "$REPO" "$root$app"
log "cloned $(git -C "$root$app" log -1 --format='%h %s' | cut -c1-70)"

# --- 1. set-up ----------------------------------------------------------------------------------
log "./segis setup (SEGIS_LOCAL_DB_PORT=$DB_PORT)"
in_root bash -c "cd $app && SEGIS_LOCAL_DB_PORT=$DB_PORT ./segis setup"
have_python=$(in_root "$app/.venv/bin/python" -c 'import platform; print(platform.python_version())')
have_pg=$(in_root "/usr/lib/postgresql/$pg/bin/psql" -h 127.0.0.1 -p "$DB_PORT" -U postgres -Atc 'show server_version' segis)
log "Python $have_python, PostgreSQL $have_pg"
[[ $have_python == "$python".* ]] || { log "expected Python $python"; exit 1; }
[[ $have_pg == "$pg".* ]] || { log "expected PostgreSQL $pg"; exit 1; }
in_root bash -c "cd $app && .venv/bin/python manage.py check --fail-level WARNING"
gdal_seen=$(in_root bash -c "cd $app && DJANGO_SETTINGS_MODULE=config.settings.dev .venv/bin/python -c '
import django; django.setup()
from django.contrib.gis.gdal import gdal_version; print(gdal_version().decode())'")
[[ $gdal_seen == "$gdal".* ]] || { log "expected GDAL $gdal, Django loads $gdal_seen"; exit 1; }
log "GDAL seen by Django: $gdal_seen"
again=$(date +%s)
in_root bash -c "cd $app && SEGIS_LOCAL_DB_PORT=$DB_PORT ./segis setup"
log "./segis setup again (nothing to do): $(($(date +%s) - again)) s"

# --- 2. the demo, in the background ---------------------------------------------------------------
log "./segis demo --devices $DEVICES on 127.0.0.1:$PORT"
setsid chroot "$root" /usr/bin/env -i "${chroot_env[@]}" SEGIS_LOCAL_DB_PORT="$DB_PORT" SEGIS_PORT="$PORT" \
  bash -c "cd $app && exec ./segis demo --devices $DEVICES" >"$root/root/demo.log" 2>&1 &
demo_pid=$!
for _ in $(seq 600); do
  grep -q "SEGIS is serving" "$root/root/demo.log" && break
  kill -0 "$demo_pid" 2>/dev/null || { tail -30 "$root/root/demo.log" >&2; log "the demo ended"; exit 1; }
  sleep 1
done
grep -q "SEGIS is serving" "$root/root/demo.log" || { tail -30 "$root/root/demo.log" >&2; exit 1; }
# The line comes before runserver listens: wait for the port (the chroot shares the host's network).
for _ in $(seq 120); do (: <"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.5; done
cat >"$root/root/probe.py" <<'PROBE'
"""Over HTTP, as a browser would: sign in, a vector tile, a direct export, a background export."""
import http.cookiejar, json, math, re, sys, time, urllib.parse, urllib.request

base = sys.argv[1]
jar = http.cookiejar.CookieJar()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def fetch(path, data=None, accept="text/html"):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(base + path, data=body, headers={"Accept": accept})
    try:
        with opener.open(request, timeout=120) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def cookie(name):
    return next(c.value for c in jar if c.name == name)


def sign_in(user):
    jar.clear()
    status, _, page = fetch("/accounts/login/")
    assert status == 200, f"login page: {status}"
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    status, headers, _ = fetch("/accounts/login/", {"username": user, "password": "segis-demo-2026",
                                                   "csrfmiddlewaretoken": token})
    assert status == 302 and any(c.name == "sessionid" for c in jar), f"sign-in as {user}: {status}"
    status, _, _ = fetch("/")
    assert status == 200, f"home page as {user}: {status}"
    print(f"signed in as {user}; the home page answers")


def tile_of(lon, lat, z):
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


sign_in("province")
x, y = tile_of(106.2, 37.5, 6)  # 宁夏
status, headers, mvt = fetch(f"/tiles/equipment/6/{x}/{y}.pbf", accept="*/*")
rows = int(headers.get("X-Tile-Rows", "0"))
assert status == 200 and "mapbox-vector-tile" in headers["Content-Type"] and mvt and rows > 0, \
    f"tile: {status} {headers.get('Content-Type')} {len(mvt)} bytes, rows {rows}"
print(f"vector tile 6/{x}/{y}: {len(mvt)} bytes standing for {rows} devices")

sign_in("county")
form = {"layer": "equipment", "format": "csv", "crs": "wgs84", "csrfmiddlewaretoken": cookie("csrftoken")}
status, headers, csv = fetch("/export/", form, accept="*/*")
lines = csv.decode("utf-8-sig").splitlines()
assert status == 200 and "attachment" in headers.get("Content-Disposition", "") and len(lines) > 1, \
    f"direct export: {status} {headers.get('Content-Type')} {csv[:300]!r}"
print(f"direct CSV export: {len(lines) - 1} devices")

form.update(format="gpkg", crs="cgcs2000", background="1", csrfmiddlewaretoken=cookie("csrftoken"))
status, headers, body = fetch("/export/", form, accept="*/*")
assert status == 302 and "#job-" in headers.get("Location", ""), f"background export: {status} {body[:300]!r}"
job = int(headers["Location"].rsplit("#job-", 1)[1])
for _ in range(120):
    status, _, body = fetch(f"/export/jobs/{job}/", accept="application/json")
    state = json.loads(body)
    if state["state"] in ("done", "failed", "cancelled", "expired"):
        break
    time.sleep(1)
assert state["state"] == "done" and state["download_url"], f"background export job: {state}"
status, headers, gpkg = fetch(state["download_url"], accept="*/*")
assert status == 200 and gpkg.startswith(b"SQLite format 3\x00"), f"download: {status} {gpkg[:60]!r}"
print(f"background GeoPackage export by the worker: job {job}, {len(gpkg)} bytes")
PROBE
log "the demo serves; probing it over HTTP"
in_root bash -c "cd $app && .venv/bin/python /root/probe.py http://127.0.0.1:$PORT"
log "stopping the demo"
kill -TERM -- "-$demo_pid"
for _ in $(seq 60); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$demo_pid" 2>/dev/null; then log "the demo did not stop within 30 s"; exit 1; fi
wait "$demo_pid" || true
demo_pid=""

# --- 3. the suite, in part ----------------------------------------------------------------------
log "pytest ${TESTS[*]}"
in_root bash -c "cd $app && .venv/bin/python -m pytest -q -p no:cacheprovider ${TESTS[*]}" 2>&1 | tail -25
