"""Benchmark: map tiles served by gunicorn to concurrent map users, against the same SQL direct.

    .venv/bin/python bench/tiles.py --devices 2000000 --prefix 32   # loads segis_bench_tiles
    .venv/bin/python bench/tiles_load.py [--views 40] [--users 1 4 16] [--workers 5]

N map users (1, 4, 16) pan and zoom from z5 to z16 around devices, seeded: the same sessions on
every run. A view asks for the `equipment` tiles covering a 1280×800 px viewport (512 px tiles, as
MapLibre) that nobody has asked for yet in the run (a browser keeps its tiles, and no server cache
answers for PostgreSQL), then for the count in view. Each user is one connection sending its
requests back to back, to:
  * direct  — the statements the code under test sends for them (captured from its render_tile
    and count_features, bound before the clock) on N psycopg connections: the limit;
  * pass    — gunicorn on config.wsgi:application with config.settings.prod, started for the run
    alone; X-Map-Pass and the session cookie, as the map page sends them (if /tiles/pass gives one);
  * session — the same with the session cookie alone.
Prints requests/s, p50/p95 latency (and p50 per kind), served÷direct throughput, the client's CPU
and the load average around each run, with the machine, and any served answer (a count, a tile's
rows) that differs from direct's. Issue 16's bar: served ≥ 0.6× direct at N = 16 with p95 ≤ 100 ms.
Progress and gunicorn's log path go to stderr.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VIEWPORT = (1280, 800)  # px
TILE_PX = 512  # MapLibre's vector tile size
MIN_ZOOM, MAX_ZOOM = 5, 16
KINDS = ("cells", "rows", "count")  # a tile from the pre-counted cells, a tile of rows, a count


def project(name: str):
    """maps.<name> after the restructure, layers.<name> before; only from this checkout."""
    for package in ("maps", "layers"):
        try:
            module = importlib.import_module(f"{package}.{name}")
        except ImportError:
            continue
        if Path(module.__file__).resolve().is_relative_to(ROOT):
            return module
    raise ImportError(f"neither maps.{name} nor layers.{name} under {ROOT}")


def world(lon: float, lat: float) -> tuple[float, float]:
    """Web Mercator world coordinates u, v in [0, 1), v southwards as tiles are numbered."""
    return (lon + 180) / 360, (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2


def lonlat(u: float, v: float) -> tuple[float, float]:
    return u * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * v))))


def view(z: int, u: float, v: float) -> tuple[list[tuple[int, int, int]], str]:
    """The tiles covering the viewport centred on (u, v) at zoom z, and its bbox."""
    side = 1 << z
    half_w, half_h = (px / 2 / TILE_PX / side for px in VIEWPORT)  # in world units
    xs = range(max(0, math.floor((u - half_w) * side)), min(side, math.ceil((u + half_w) * side)))
    ys = range(max(0, math.floor((v - half_h) * side)), min(side, math.ceil((v + half_h) * side)))
    (west, north), (east, south) = lonlat(u - half_w, v - half_h), lonlat(u + half_w, v + half_h)
    return [(z, x, y) for y in ys for x in xs], f"{west:.6f},{south:.6f},{east:.6f},{north:.6f}"


def walk(points: list[tuple[float, float]], views: int, rng: random.Random) -> list[tuple]:
    """One user's views (z, u, v): zooming in on a device in view, out, panning, now and then
    jumping elsewhere (a search)."""
    (u, v), z = rng.choice(points), rng.randint(MIN_ZOOM, 8)
    steps = []
    for _ in range(views):
        steps.append((z, u, v))
        span_u, span_v = (px / TILE_PX / (1 << z) for px in VIEWPORT)
        step = rng.random()
        if step < 0.05 or (z == MAX_ZOOM and step < 0.3):
            (u, v), z = rng.choice(points), rng.randint(10, 14)
        elif step < 0.45 and z < MAX_ZOOM:
            near = [p for p in points if abs(p[0] - u) < span_u / 2 and abs(p[1] - v) < span_v / 2]
            u, v = rng.choice(near) if near else (u, v)
            z += 1
        elif step < 0.6 and z > MIN_ZOOM:
            z -= 1
        else:
            u, v = u + rng.uniform(-0.5, 0.5) * span_u, v + rng.uniform(-0.5, 0.5) * span_v
    return steps


@dataclass
class Request:
    path: str
    kind: str  # one of KINDS
    args: tuple  # (z, x, y) or (bbox,)
    sql: str = ""


def request_lists(points, users: int, views: int, seed: int, rows_from: int) -> list[list]:
    """Each user's requests; a tile only for the first user (in step order) whose view has it."""
    walks = [walk(points, views, random.Random(f"{seed}/{user}")) for user in range(users)]
    lists: list[list[Request]] = [[] for _ in walks]
    seen = set()
    for step in range(views):
        for user, steps in enumerate(walks):
            tiles, bbox = view(*steps[step])
            for z, x, y in (tile for tile in tiles if tile not in seen):
                seen.add((z, x, y))
                kind = "rows" if z >= rows_from else "cells"
                lists[user].append(Request(f"/tiles/equipment/{z}/{x}/{y}.pbf", kind, (z, x, y)))
            lists[user].append(Request(f"/tiles/equipment/count?bbox={bbox}", "count", (bbox,)))
    return lists


class _Held(Exception):
    pass


def capture(requests: list[Request], user) -> None:
    """Each request's statement: the first the code under test sends for it, bound as sent and
    held back. A tile and a count run for real first, to fill the process's lazy caches."""
    from django.db import connection
    from django.http import QueryDict

    tiles, counts, filters = project("tiles"), project("counts"), project("filters")
    plain = filters.parse_query("equipment", QueryDict(""))

    def count(bbox: str) -> int:
        query = filters.parse_query("equipment", QueryDict(f"bbox={bbox}"), allow_bbox=True)
        return counts.count_features("equipment", user, query)

    tiles.render_tile("equipment", user, plain, 4, 13, 6)
    count("118,31,119,32")
    sent = []

    def hold(execute, sql, params, many, context):
        sent.append(context["cursor"].cursor.mogrify(sql, params))
        raise _Held

    with connection.execute_wrapper(hold):
        for r in requests:
            try:
                if r.kind == "count":
                    count(*r.args)
                else:
                    tiles.render_tile("equipment", user, plain, *r.args)
            except _Held:
                r.sql = sent.pop()
            if not r.sql:
                raise RuntimeError(f"{r.path}: no statement was sent")


class Direct:
    """A psycopg connection sending the captured statements as Django does: one simple query."""

    def __init__(self, conninfo: dict):
        import psycopg

        self.connection = psycopg.connect(**conninfo, autocommit=True, prepare_threshold=None)
        self.cursor = self.connection.cursor()

    def __call__(self, request: Request) -> int:
        self.cursor.execute(request.sql)
        while self.cursor.description is None and self.cursor.nextset():
            pass
        answer = self.cursor.fetchone()
        if request.kind == "count":
            return int(answer[0])
        if not isinstance(answer[0], bytes | None):
            raise RuntimeError(f"not a tile's statement: {request.sql[:300]}")
        return int(answer[1])  # the rows in the tile, as X-Tile-Rows says

    def close(self) -> None:
        self.connection.close()


class Served:
    """One keep-alive HTTP connection (opened again when the server closes it)."""

    def __init__(self, port: int, headers: dict[str, str]):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = headers

    def __call__(self, request: Request) -> int:
        self.connection.request("GET", request.path, headers=self.headers)
        answer = self.connection.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{request.path}: {answer.status} {body[:300]!r}")
        if request.kind == "count":
            return json.loads(body)["count"]
        return int(answer.getheader("X-Tile-Rows", -1))

    def close(self) -> None:
        self.connection.close()


def run_users(make_client, lists: list[list[Request]]):
    """Every list by a client of its own in a thread of its own, all at once: (seconds, client CPU
    seconds, latencies in ms, answers), the last two in the order of the lists' requests."""
    clients = [make_client() for _ in lists]
    times: list[list[float]] = [[] for _ in lists]
    answers: list[list[int]] = [[] for _ in lists]
    failures: list[BaseException] = []

    def user(client, requests, times, answers) -> None:
        try:
            for request in requests:
                started = time.perf_counter()
                answers.append(client(request))
                times.append((time.perf_counter() - started) * 1000)
        except BaseException as error:
            failures.append(error)

    jobs = zip(clients, lists, times, answers, strict=True)
    threads = [threading.Thread(target=user, args=job) for job in jobs]
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    for client in clients:
        client.close()
    if failures:
        raise failures[0]
    return seconds, cpu, [t for ts in times for t in ts], [a for ans in answers for a in ans]


def run_served(args, log: Path, mode: str, cookie: str, points, lists):
    """(load before, *run_users(...), load after) on a gunicorn of its own (stopped after), or
    None when the code issues no map pass."""
    from django.db import connection

    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)  # bound before gunicorn runs
    name = f"tiles_load-{listener.getsockname()[1]}"
    env = {**os.environ, "DATABASE_URL": f"{os.environ['DATABASE_URL']}?application_name={name}"}
    with log.open("ab") as output, listener:  # a file: nobody drains a pipe
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(args.workers),
             "--worker-class", args.worker_class, "--threads", str(args.threads),
             # A worker's first request imports the URL conf (folium, OR-Tools): on a busy
             # machine longer than the default 30 s timeout allows.
             "--timeout", "300", "--bind", f"fd://{listener.fileno()}", "--chdir", str(ROOT),
             "config.wsgi:application"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
            pass_fds=[listener.fileno()],
        )  # fmt: skip
        port = listener.getsockname()[1]
    try:
        headers = {"Cookie": cookie}
        if mode == "pass":
            ask = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            ask.request("GET", "/tiles/pass", headers=headers)
            answer = ask.getresponse()
            status, body = answer.status, answer.read()
            ask.close()
            if status == 404:
                return None
            if status != 200:
                raise RuntimeError(f"/tiles/pass: {status}; see {log}")
            headers["X-Map-Pass"] = json.loads(body)["token"]
        # Until every worker has answered (so imported everything and kept its connection): a
        # tile and counts that no measured request asks for.
        warm = [
            [Request(f"/tiles/equipment/4/{int(u * 16)}/{int(v * 16)}.pbf", "cells", ()),
             Request(f"/tiles/equipment/count?bbox={view(7, u, v)[1]}", "count", ())]
            for u, v in points[: 2 * args.workers * args.threads]
        ]  # fmt: skip
        for _ in range(20):
            run_users(lambda: Served(port, headers), warm)
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name])  # fmt: skip
                if cursor.fetchone()[0] >= args.workers:
                    break
        before = load()
        return before, *run_users(lambda: Served(port, headers), lists), load()
    finally:
        server.terminate()
        server.wait(30)


def load(minutes: int = 1) -> str:
    return ", ".join(f"{m:.2f}" for m in os.getloadavg()[:minutes])


def measure(args) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from bench.machine import describe
    from bench.tiles import national_user, percentile

    started = time.perf_counter()
    user = national_user()
    user = type(user).objects.select_related("agency").get(pk=user.pk)  # no lazy query later
    browser = Client()
    browser.force_login(user)  # a session in the database, as signing in leaves it
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM registry_equipment")
        devices = cursor.fetchone()[0]
        # Places as often as they hold devices: a fixed pseudo-random sample of the devices.
        cursor.execute(
            "SELECT ST_X(location), ST_Y(location) FROM registry_equipment "
            "WHERE location IS NOT NULL ORDER BY md5(id::text) LIMIT %s",
            [args.points],
        )
        points = [world(lon, lat) for lon, lat in cursor.fetchall()]
    db = connection.settings_dict
    conninfo = {"host": db["HOST"] or "127.0.0.1", "port": db["PORT"] or 5432, "user": db["USER"]}
    conninfo.update(password=db["PASSWORD"] or None, dbname=db["NAME"])
    rows_from = project("tiles").CLUSTER_BELOW_ZOOM
    print(f"machine: {describe()}")
    print(
        f"devices: {devices:,}; {args.views} views per user, seed {args.seed}; gunicorn: "
        f"{args.workers} {args.worker_class} workers x {args.threads} threads; code: {ROOT}"
    )
    print(f"load average before: {load(3)}")
    header = (
        f"{'N':>3} {'method':8} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p50 cells/rows/count':>21} {'client CPU':>10} {'load 1 min':>11} {'÷direct':>8}"
    )
    print(header + "\n" + "-" * len(header), flush=True)
    modes = ["direct", "pass", "session"]
    log = Path(tempfile.mkstemp(prefix="tiles_load-gunicorn-", suffix=".log")[1])
    print(f"gunicorn log: {log}", file=sys.stderr)
    for turn, n in enumerate(args.users):
        lists = request_lists(points, n, args.views, args.seed, rows_from)
        every = [r for requests in lists for r in requests]
        capture(every, user)
        mix = ", ".join(f"{sum(r.kind == k for r in every)} {k}" for k in KINDS)
        print(f"N={n}: {len(every)} requests ({mix}); warming up", file=sys.stderr)
        run_users(lambda: Direct(conninfo), lists)  # the pages every method reads, read once
        results = {}
        for mode in modes[turn % 3 :] + modes[: turn % 3]:  # each N led by another method
            if mode == "direct":
                before = load()
                results[mode] = (before, *run_users(lambda: Direct(conninfo), lists), load())
            elif (result := run_served(args, log, mode, cookie, points, lists)) is not None:
                results[mode] = result
            print(f"N={n}: {mode} {'done' if mode in results else 'skipped'}", file=sys.stderr)
        direct_rate, direct_answers = len(every) / results["direct"][1], results["direct"][4]
        for mode in (m for m in modes if m in results):
            before, seconds, cpu, times, answers, after = results[mode]
            per_kind: dict[str, list[float]] = {k: [] for k in KINDS}
            for r, t in zip(every, times, strict=True):
                per_kind[r.kind].append(t)
            by_kind = "/".join(
                f"{percentile(ts, 0.5):.1f}" if ts else "-" for ts in per_kind.values()
            )
            print(
                f"{n:>3} {mode:8} {len(times):>8} {len(times) / seconds:>7.0f} "
                f"{percentile(times, 0.5):>7.1f} {percentile(times, 0.95):>7.1f} {by_kind:>21} "
                f"{cpu / seconds:>10.0%} {before + '→' + after:>11} "
                f"{len(times) / seconds / direct_rate:>7.2f}x",
                flush=True,
            )
            if differ := sum(a != b for a, b in zip(answers, direct_answers, strict=True)):
                print(f"    {mode}: {differ} answers differ from direct's (counts, tiles' rows)")
        print(f"{n:>3} requests: {mix}")
    print(f"load average after: {load(3)}")
    print(f"run took {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="segis_bench_tiles", help="as bench/tiles.py left it")
    parser.add_argument("--users", type=int, nargs="+", default=[1, 4, 16], help="N (1 4 16)")
    parser.add_argument("--views", type=int, default=40, help="views per user and run (40)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--points", type=int, default=5000, help="device places to visit")
    # gunicorn's rule of thumb, 2 x cores + 1: a worker spends most of a tile waiting for
    # PostgreSQL, so more workers than cores keep the cores busy. Sync workers: the production
    # settings keep one database connection per worker for them.
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--worker-class", default="sync", help="sync (default) or gthread")
    parser.add_argument("--threads", type=int, default=1, help="per worker (gthread)")
    args = parser.parse_args()
    from cryptography.fernet import Fernet

    with tempfile.TemporaryDirectory(prefix="tiles_load-static-") as static:
        # The production settings here too: the session and the pass made here are honoured there.
        os.environ.update(
            DJANGO_SETTINGS_MODULE="config.settings.prod",
            SECRET_KEY=os.environ.get("SECRET_KEY") or Fernet.generate_key().decode(),
            PERSONAL_DATA_KEY=os.environ.get("PERSONAL_DATA_KEY") or Fernet.generate_key().decode(),
            ALLOWED_HOSTS="127.0.0.1",
            SECURE_COOKIES="false",
            STATIC_ROOT=static,
        )
        from bench.database import use_database

        use_database(args.database, recreate=False)
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)  # the manifest URLs read
        measure(args)


if __name__ == "__main__":
    main()
