"""Benchmark: vector tiles — the endpoint, the same SQL issued directly (the limit), a naive peer.

    .venv/bin/python bench/tiles.py --devices 2000000 --prefix 32
    .venv/bin/python bench/tiles.py --reuse            # measure again on the loaded database

Creates (or empties) the database `segis_bench_tiles`, loads the boundaries under the prefix and
generates the registry with `registry.synthetic.generate` (timed), then measures on the same tiles,
side by side in one process:
  * endpoint — GET /tiles/equipment/z/x/y.pbf as a national user, with the map pass in its header
    as the map page sends it, handed to the served WSGI application (config.wsgi.application) as a
    server would, with the database connection handled as when served (the test Client keeps one
    open and would hide that). The in-process tile cache is cleared before each request: every
    figure is a cold tile;
  * session  — the same request authenticated by the session cookie instead of the pass;
  * direct   — the endpoint's own SQL (maps.tiles.tile_sql, built before the clock starts) on
    a cursor of an open connection: the limit; below zoom 12 that reads the pre-counted grid
    cells (maps.cells). The connections are handled as production serves them
    (config.settings.prod: the worker keeps its connection between requests; the WSGI iterable
    is closed after each request, as servers do);
  * live     — the cluster SQL over the equipment table itself (what the cells replace), direct;
  * peer     — django-vectortiles' PostGIS VectorLayer when installed (one feature per device, no
    aggregation), else a naive view selecting every point of the tile into ST_AsMVT.
The first request for each tile (the endpoint, cold pages) is timed apart as `first`; the light
methods (endpoint, session, direct, cached) then run interleaved on warm pages, each
repeat led by another, and the heavy ones (live, peer) after them, so that their hundreds of
milliseconds of work do not leave the CPU caches cold for one light method more than another.
It prints p50/p95 per zoom band (3–8 aggregated, 12–16 detailed), the largest tile and the ratios,
with the machine. Results go to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AGGREGATED_ZOOMS = range(3, 9)
DETAILED_ZOOMS = range(12, 17)


def national_user():
    from accounts.models import Agency, Role, User
    from geo.models import Level

    agency, _ = Agency.objects.get_or_create(name="bench national", level=Level.NATIONAL)
    user, _ = User.objects.get_or_create(
        username="bench-national", defaults={"agency": agency, "role": Role.SYSTEM_ADMIN}
    )
    return user


def sample_tiles(zooms, per_zoom: int) -> dict[int, list[tuple[int, int]]]:
    """Tiles holding devices, drawn by device (dense tiles come up more often), the same for all."""
    from django.db import connection

    from maps import tiles

    u, v = tiles.world("location")
    chosen: dict[int, list[tuple[int, int]]] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.2026)")
        cursor.execute(
            f"SELECT {u}, {v} FROM registry_equipment TABLESAMPLE BERNOULLI (1) REPEATABLE (2026) "
            "WHERE location IS NOT NULL ORDER BY random() LIMIT 5000"
        )
        points = cursor.fetchall()
    for z in zooms:
        seen: list[tuple[int, int]] = []
        for pu, pv in points:
            tile = (int(pu * (1 << z)), int(pv * (1 << z)))
            if tile not in seen:
                seen.append(tile)
            if len(seen) == per_zoom:
                break
        chosen[z] = seen
    return chosen


def peer_layer(user):
    """django-vectortiles' PostGIS layer over the same rows, or a naive view doing what it does."""
    from registry.models import Equipment

    fields = ("id", "kind", "variety_id", "status", "device_code")
    try:
        from vectortiles import VectorLayer
    except ImportError:
        VectorLayer = None
    if VectorLayer is not None:

        class EquipmentLayer(VectorLayer):
            id = "equipment"
            geom_field = "location"
            tile_fields = fields
            tile_buffer = 64

            def get_queryset(self):
                return Equipment.objects.visible_to(user).order_by()

        layer = EquipmentLayer()
        return "django-vectortiles " + _version("django-vectortiles"), layer.get_tile

    from django.db import connection

    def naive(x, y, z):
        sql = (
            "SELECT ST_AsMVT(t.*, 'equipment', 4096, 'geom') FROM ("
            " SELECT ST_AsMVTGeom(ST_Transform(location, 3857), ST_TileEnvelope(%s, %s, %s), 4096, 64, true)"
            " AS geom, id, kind, variety_id, status, device_code FROM registry_equipment"
            " WHERE location && ST_Transform(ST_TileEnvelope(%s, %s, %s), 4326)) AS t"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [z, x, y, z, x, y])
            return bytes(cursor.fetchone()[0] or b"")

    return "naive view (every point, no aggregation)", naive


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def timed(run: Callable[[], bytes]) -> tuple[float, int]:
    started = time.perf_counter()
    size = len(run())
    return (time.perf_counter() - started) * 1000, size


class WsgiClient:
    """GET through a WSGI application, as gunicorn or runserver hand it a request."""

    def __init__(self, application, headers: dict[str, str]):
        self.application = application
        self.headers = headers

    def get(self, path: str) -> tuple[int, bytes]:
        path, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SCRIPT_NAME": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "HTTP_HOST": "testserver",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(),
            "wsgi.url_scheme": "http",
            **self.headers,
        }
        statuses = []
        answer = self.application(environ, lambda status, headers: statuses.append(status))
        body = b"".join(answer)
        if hasattr(answer, "close"):
            # As a server must (PEP 3333): Django's request_finished, which closes an unusable
            # database connection (or gives a pooled one back), comes with it.
            answer.close()
        return int(statuses[0].split()[0]), body


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(args) -> None:
    from django.db import connection
    from django.http import QueryDict
    from django.test import Client
    from django.utils import timezone

    from accounts import map_pass
    from bench.machine import describe
    from config.wsgi import application as served
    from layers import sources
    from layers.filters import parse_query
    from maps import counts, tiles
    from registry.models import Equipment

    user = national_user()
    logged_in = Client()
    logged_in.force_login(user)
    pass_header = {"HTTP_X_MAP_PASS": map_pass.issue(user)["token"]}  # as the map page asks
    client = WsgiClient(served, pass_header)
    with_session = WsgiClient(
        served, {"HTTP_COOKIE": f"sessionid={logged_in.cookies['sessionid'].value}"}
    )
    peer_name, peer = peer_layer(user)
    query = parse_query("equipment", QueryDict(""))
    today = timezone.localdate()
    devices = Equipment.objects.count()
    bands = {"aggregated z3-8": AGGREGATED_ZOOMS, "detailed z12-16": DETAILED_ZOOMS}
    chosen = sample_tiles([z for zooms in bands.values() for z in zooms], args.tiles)

    def endpoint(z, x, y, through=client):
        def run():
            tiles.CACHE.clear()  # a cold tile every time
            status, body = through.get(f"/tiles/equipment/{z}/{x}/{y}.pbf")
            assert status == 200, body
            return body

        return run

    def direct(z, x, y, precounted=True):
        statement = tiles.tile_sql("equipment", user, query, z, x, y, today, precounted=precounted)

        def run():
            return bytes(sources.execute(statement)[0] or b"")

        return run

    def cached(z, x, y):
        def run():
            return client.get(f"/tiles/equipment/{z}/{x}/{y}.pbf")[1]

        return run

    print(f"machine: {describe()}")
    print(f"devices: {devices:,}; peer: {peer_name}; repeats per tile: {args.repeat}")
    # Warm the caches of the server (pages, PROJ, catalogue) once per method before timing.
    z0 = min(chosen)
    x0, y0 = chosen[z0][0]
    for warm in (endpoint, direct):
        warm(z0, x0, y0)()
    endpoint(z0, x0, y0, through=with_session)()
    peer(x0, y0, z0)

    header = f"{'band':18} {'method':10} {'tiles':>5} {'p50 ms':>9} {'p95 ms':>9} {'max KB':>9}"
    print(header)
    print("-" * len(header))
    for band, zooms in bands.items():
        results: dict[str, tuple[list[float], list[int]]] = {
            m: ([], [])
            for m in ("first", "endpoint", "session", "direct", "live", "peer", "cached")
        }
        count = 0
        for z in zooms:
            for x, y in chosen[z]:
                count += 1
                # The first request for a tile reads its pages from disk: timed on its own, and
                # the light methods then compare on the same warm pages.
                results["first"][0].append(timed(endpoint(z, x, y))[0])
                light = {
                    "endpoint": endpoint(z, x, y),
                    "session": endpoint(z, x, y, through=with_session),
                    "direct": direct(z, x, y),
                    "cached": cached(z, x, y),
                }
                # What replaces a scan of the table, after every run of the light ones: a query
                # of hundreds of milliseconds leaves the CPU caches cold for whatever is measured
                # next (a cached tile took 0.7 ms after one, 0.3 ms elsewhere), and that is now
                # the next tile's first request, timed apart.
                heavy = {
                    "live": direct(z, x, y, precounted=False),
                    "peer": lambda x=x, y=y, z=z: peer(x, y, z),
                }
                methods = list(light.items())
                for repeat in range(args.repeat):
                    # Interleaved, each repeat led by another method.
                    turn = repeat % len(methods)
                    for name, run in methods[turn:] + methods[:turn]:
                        if name == "direct":
                            # The limit runs on an open connection (with a pool, the requests
                            # before it gave theirs back).
                            connection.ensure_connection()
                        ms, size = timed(run)
                        results[name][0].append(ms)
                        results[name][1].append(size)
                for name, run in heavy.items():
                    runs = args.peer_repeat if name == "peer" and args.peer_repeat else args.repeat
                    for _ in range(runs):
                        connection.ensure_connection()
                        ms, size = timed(run)
                        results[name][0].append(ms)
                        results[name][1].append(size)
                print(f"  z{z} {x}/{y} done", file=sys.stderr)
        for name, (times, sizes) in results.items():
            print(
                f"{band:18} {name:10} {count:>5} {percentile(times, 0.5):>9.1f} "
                f"{percentile(times, 0.95):>9.1f} {max(sizes, default=0) / 1024:>9.1f}"
            )
        p50 = {name: percentile(times, 0.5) for name, (times, _) in results.items()}
        p95 = {name: percentile(times, 0.95) for name, (times, _) in results.items()}
        print(
            f"{band:18} ratios: endpoint/direct p50 {p50['endpoint'] / p50['direct']:.2f}x, "
            f"p95 {p95['endpoint'] / p95['direct']:.2f}x; session/direct p50 "
            f"{p50['session'] / p50['direct']:.2f}x; peer/endpoint p50 "
            f"{p50['peer'] / p50['endpoint']:.1f}x, p95 {p95['peer'] / p95['endpoint']:.1f}x; "
            f"live/endpoint p50 {p50['live'] / p50['endpoint']:.1f}x"
        )
    # Counts in view (the map's status line): cells + edge strips vs the live count of every row.
    print(f"{'count in view':18} {'bbox':28} {'devices':>10} {'endpoint ms':>12} {'live ms':>9}")
    for name, bbox in COUNT_BOXES.items():
        live_query = parse_query("equipment", QueryDict(f"bbox={bbox}"), allow_bbox=True)
        path = f"/tiles/equipment/count?bbox={bbox}"
        endpoint_ms = [timed(lambda path=path: client.get(path)[1])[0] for _ in range(3)]
        live_ms = []
        for _ in range(3):
            started = time.perf_counter()
            live = counts.count_features("equipment", user, live_query, precounted=False)
            live_ms.append((time.perf_counter() - started) * 1000)
        body = json.loads(client.get(path)[1])
        assert body["count"] == live, (body, live)
        print(
            f"{name:18} {bbox:28} {live:>10,} {percentile(endpoint_ms, 0.5):>12.1f} "
            f"{percentile(live_ms, 0.5):>9.1f}"
        )


COUNT_BOXES = {
    "province view": "116.3,30.7,121.9,35.2",
    "city view": "118.4,31.7,119.3,32.4",
    "district view": "118.70,32.00,118.85,32.10",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=2_000_000)
    parser.add_argument("--prefix", default="32", help="division-code prefix to fill (32: Jiangsu)")
    parser.add_argument("--database", default="segis_bench_tiles")
    parser.add_argument("--reuse", action="store_true", help="measure the loaded database again")
    parser.add_argument("--tiles", type=int, default=6, help="tiles per zoom (default 6)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per tile and method (default 3)"
    )
    parser.add_argument(
        "--peer-repeat",
        type=int,
        default=1,
        help="runs per tile of the peer (it is slow at low zoom; 0 = --repeat)",
    )
    parser.add_argument(
        "--no-recount", action="store_true", help="skip checking and recounting the grid cells"
    )
    args = parser.parse_args()
    from bench.database import load_registry, use_database

    use_database(args.database, recreate=not args.reuse)
    if not args.reuse:
        load_registry(args.prefix, args.devices)  # the cells are counted as the rows arrive
    if not args.no_recount:
        recount_cells()
    measure(args)


def recount_cells() -> None:
    """Time a full recount of the grid cells, and check they were in step before it."""
    from maps import cells

    started = time.perf_counter()
    wrong = cells.differences()
    checked = time.perf_counter() - started
    started = time.perf_counter()
    count = cells.rebuild()
    rebuilt = time.perf_counter() - started
    print(
        f"grid cells: {'in step' if not wrong else f'{len(wrong)}+ DIFFER'} (checked in "
        f"{checked:.1f} s); full recount: {count:,} cells in {rebuilt:.1f} s"
    )


if __name__ == "__main__":
    main()
