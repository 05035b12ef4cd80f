"""Benchmark: what is around an incident — nearest-k emergency resources and devices within a
radius — the endpoint, its own SQL on a cursor, and the textbook query issued directly.

    .venv/bin/python bench/response.py --database segis_bench_tiles --reuse   # the tile bench's
    .venv/bin/python bench/response.py --devices 200000 --prefix 32          # a database of its own

With --reuse it measures a loaded registry as it is (e.g. the 2 million devices of bench/tiles.py);
without, it creates `segis_bench_response` and generates the registry (bench.database). Either way
it tops the emergency resources up to --resources (50,000) if fewer are present, in one
transaction: at random located units, so they spread as the generator spreads units (dense in
city districts), with a mix of types led by maintenance stations.

Incident points are random located devices (seeded), so they fall where devices are: mostly in
cities. For each point it times the endpoint's first request there on its own (`first`: the pages
come from disk), then, interleaved on the same warm pages (each repeat led by another method), as a
national user and as a county responder (the county with the most devices):
  * endpoint — GET /response/api/around/resources/ (or around/equipment/) with the map pass, handed
    to the served WSGI application (config.wsgi.application) as a server would, the connection
    handled as production serves it. The server time of the answer: pass, county lookup,
    statement, JSON;
  * session  — the same request signed in by the session cookie (what a browser's console sends):
    session, user, DRF, then the same work;
  * sql      — what the endpoint runs, without HTTP: for the nearest, the county of the point and
    the search's first step in one statement (nearby.CountyAndCandidates) and the second step when
    the first does not settle the answer (nearby.nearest_resources); for radii, the county
    (Region.locate) and the radius statement on a cursor;
  * direct   — the textbook query issued directly: `ORDER BY location <-> point LIMIT k` with the
    geodesic distances of the k rows it returns, a statement per type joined by UNION ALL; for
    radii, the same box and ST_DWithin test returning plain rows.
Textbook KNN orders by planar degrees: the benchmark counts how often its k rows are not the k
geodesically nearest, which the endpoint's re-ranking corrects. It checks the endpoint and its
statement answer the same rows, prints p50/p95 per case and method, and the targets: endpoint p95
≤ 20 ms, and endpoint p95 ≤ 2× its own query issued directly (sql); endpoint/direct (the textbook
query) and sql/direct are printed beside them.
Results go to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from django.contrib.gis.geos import Point  # noqa: E402

from bench.tiles import percentile  # noqa: E402

# A 96333 desk's resources: maintenance stations outnumber every other kind (verify locally).
RESOURCE_MIX = (
    ("maintenance_station", 0.50),
    ("rescue_team", 0.15),
    ("fire_station", 0.15),
    ("hospital", 0.10),
    ("hazmat_team", 0.05),
    ("lifting_depot", 0.05),
)
TARGET_P95_MS = 20.0
# As the endpoint runs its statements (layers.sources.execute), so the comparison is like for like.
NO_JIT_NO_WORKERS = "SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0; "
TARGET_RATIO = 2.0


def top_up_resources(target: int) -> None:
    """Resources at random located units until there are `target`, in one transaction. (The type
    is drawn apart from the sort: `ORDER BY random()` beside a `random()` column sorts by that
    column, and every draw would come out below the first share.)"""
    from django.db import connection, transaction

    from registry.models import EmergencyResource

    have = EmergencyResource.objects.count()
    if have >= target:
        print(f"resources: {have:,} present, none added")
        return
    bounds, total = [], 0.0
    for resource_type, share in RESOURCE_MIX:
        total += share
        bounds.append(f"WHEN r.draw < {total!r} THEN '{resource_type}'")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.4333)")
        cursor.execute(
            f"""
            INSERT INTO registry_emergencyresource (name, resource_type, capability, contact_name,
                contact_phone, duty_hours, location, address, region_id, unit_id)
            SELECT r.name || '应急点', CASE {" ".join(bounds)} ELSE 'rescue_team' END, '', '', '',
                   '24h', r.location, r.address, r.region_id, r.id
            FROM (SELECT picked.*, random() AS draw FROM (
                      SELECT u.* FROM registry_unit AS u WHERE u.location IS NOT NULL
                      ORDER BY random() LIMIT %s
                  ) AS picked) AS r
            """,
            [target - have],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE registry_emergencyresource")
    print(
        f"resources: {have:,} present, {target - have:,} added at random units in "
        f"{time.perf_counter() - started:.1f} s"
    )


def bench_users():
    """A national user, and a responder of the county holding the most devices."""
    from django.db.models import Count

    from accounts.models import Agency, Role, User
    from bench.tiles import national_user
    from geo.models import Level
    from registry.models import Equipment

    county = (
        Equipment.objects.values("region_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("region_id", flat=True)
        .first()
    )
    agency, _ = Agency.objects.get_or_create(
        name=f"bench county {county}", level=Level.COUNTY, region_id=county
    )
    responder, _ = User.objects.get_or_create(
        username=f"bench-responder-{county}", defaults={"agency": agency, "role": Role.RESPONDER}
    )
    return {"national": national_user(), f"county {county}": responder}


def incident_points(count: int, prefix: str = "") -> list[tuple[float, float]]:
    """Random located devices (seeded): incidents happen where devices are."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.2027)")
        cursor.execute(
            "SELECT ST_X(location), ST_Y(location) FROM registry_equipment "
            "TABLESAMPLE BERNOULLI (2) REPEATABLE (2027) WHERE location IS NOT NULL AND region_id LIKE %s "
            "ORDER BY random() LIMIT %s",
            [prefix + "%", count],
        )
        return cursor.fetchall()


def textbook_knn(user, lon: float, lat: float, types: list[str], k: int) -> Callable[[], dict]:
    """The KNN a developer would write: k rows by `<->` and their geodesic distances, a statement
    per type with the type as a constant (as the endpoint has it), joined by UNION ALL."""
    from django.db import connection

    from layers.sources import Sql, queryset_sql
    from registry.models import EmergencyResource
    from response.nearby import RESOURCE_COLUMNS, point_sql

    p = point_sql(Point(lon, lat, srid=4326))
    parts = []
    for resource_type in types:
        rows = queryset_sql(
            EmergencyResource.objects.visible_to(user)
            .filter(resource_type=resource_type)
            .order_by()
            .values(*RESOURCE_COLUMNS)
        )
        parts.append(
            Sql(
                "(SELECT r.resource_type, r.id, ST_Distance(r.location::geography, {p}::geography)"
                " FROM ({rows}) AS r ORDER BY r.location <-> {p} LIMIT %s)",
                (k,),
            ).format(p=p, rows=rows)
        )
    text = " UNION ALL ".join(part.text for part in parts)
    params = [value for part in parts for value in part.params]

    def run() -> dict:
        with connection.cursor() as cursor:
            cursor.execute(NO_JIT_NO_WORKERS + text, params)
            while cursor.description is None and cursor.nextset():
                pass
            found: dict[str, list[int]] = {}
            for kind, pk, _ in cursor.fetchall():
                found.setdefault(kind, []).append(pk)
            return found

    return run


def plain_within(user, lon: float, lat: float, radii: dict[str, float], limit: int):
    """The radius search issued directly: the same box, kinds and ST_DWithin test, plain rows
    (no JSON, no count, no filling stations)."""
    from django.db import connection

    from layers.sources import Sql, queryset_sql
    from registry.models import Equipment
    from response.nearby import EQUIPMENT_COLUMNS, circle_box

    rows = queryset_sql(Equipment.objects.visible_to(user).order_by().values(*EQUIPMENT_COLUMNS))
    cases = " ".join("WHEN %s THEN %s::float8" for _ in radii)
    radius = Sql(f"(CASE r.kind {cases} END)", [v for item in sorted(radii.items()) for v in item])
    p = Sql("ST_SetSRID(ST_MakePoint(%s, %s), 4326)", (lon, lat))
    statement = Sql(
        "SELECT r.id, ST_Distance(coalesce(r.location, r.route)::geography, {p}::geography) AS d"
        " FROM ({rows}) AS r WHERE (r.location && {box} OR r.route && {box})"
        " AND {radius} IS NOT NULL"
        " AND ST_DWithin(coalesce(r.location, r.route)::geography, {p}::geography, {radius})"
        " ORDER BY d, r.id LIMIT %s",
        (limit,),
    ).format(
        p=p,
        rows=rows,
        box=circle_box(Point(lon, lat, srid=4326), max(radii.values())),
        radius=radius,
    )

    def run() -> int:
        with connection.cursor() as cursor:
            cursor.execute(NO_JIT_NO_WORKERS + statement.text, statement.params)
            while cursor.description is None and cursor.nextset():
                pass
            return len(cursor.fetchall())

    return run


def measure(args) -> None:
    from urllib.parse import urlencode

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts import map_pass
    from bench.machine import describe
    from bench.tiles import WsgiClient
    from config.wsgi import application as served
    from geo.models import Region
    from layers.sources import execute
    from registry.models import EmergencyResource, Equipment
    from registry.models.events import ResourceType
    from response import conf, nearby

    users = bench_users()
    types = list(ResourceType.values)
    hazard = conf.hazard_radii()
    cases = {
        f"nearest k={args.k}, all 6 types": ("resources", {"k": args.k}),
        **{
            f"nearest k={args.k}, {t}": ("resources", {"k": args.k, "type": t})
            for t in ("maintenance_station", "fire_station", "hazmat_team")
        },
        "hazards, table radii": ("equipment", {}),
        "kinds 1000,2000,8000 r=1 km": ("equipment", {"radius": 1000, "kind": "1000,2000,8000"}),
        "all kinds r=300 m": (
            "equipment",
            {"radius": 300, "kind": ",".join(_kinds())},
        ),
    }
    print(f"machine: {describe()}")
    print(
        f"devices: {Equipment.objects.count():,}; resources: "
        f"{EmergencyResource.objects.count():,}; points per user: {args.points}; repeats: "
        f"{args.repeat}; hazard radii {hazard}"
    )
    header = f"{'user':16} {'case':34} {'method':8} {'p50 ms':>8} {'p95 ms':>8} {'rows':>7}"
    verdicts = []
    for label, user in users.items():
        signed_in = Client()
        signed_in.force_login(user)
        with_pass = WsgiClient(served, {"HTTP_X_MAP_PASS": map_pass.issue(user)["token"]})
        with_session = WsgiClient(
            served, {"HTTP_COOKIE": f"sessionid={signed_in.cookies['sessionid'].value}"}
        )
        prefix = user.jurisdiction_prefix
        points = incident_points(args.points, prefix)
        print(f"\n{label}: {len(points)} incident points")
        print(header)
        print("-" * len(header))
        for case, (what, params) in cases.items():
            results: dict[str, list[float]] = {
                m: [] for m in ("first", "endpoint", "session", "sql", "direct")
            }
            rows_seen: list[int] = []
            knn_wrong = second_steps = 0
            case_types = [params["type"]] if "type" in params else types
            for lon, lat in points:
                query = {"point": f"{lon},{lat}", **params}
                path = f"/response/api/around/{what}/"
                here = Point(lon, lat, srid=4326)
                if what == "resources":

                    def own_sql(here=here, types_=case_types, user=user) -> dict:
                        prefetched = nearby.CountyAndCandidates(user, types_, args.k)
                        prefetched.county_of(here)
                        first_step = prefetched.first_step_at(here)
                        return nearby.nearest_resources(user, here, types_, args.k, first_step)

                    direct = textbook_knn(user, lon, lat, case_types, args.k)
                else:
                    radii = {
                        kind: float(params.get("radius", hazard.get(kind, 0)))
                        for kind in (params["kind"].split(",") if "kind" in params else hazard)
                    }
                    statement = nearby.within_sql(
                        user, here, radii, int(conf.value("RESPONSE_MAX_NEARBY"))
                    )

                    def own_sql(statement=statement, here=here) -> tuple:
                        Region.locate(here)
                        return execute(statement, parallel=False)

                    direct = plain_within(
                        user, lon, lat, {k: r for k, r in radii.items() if k != "filling"},
                        int(conf.value("RESPONSE_MAX_NEARBY")),
                    )  # fmt: skip

                url = f"{path}?{urlencode(query)}"

                def endpoint(url=url, client=with_pass) -> bytes:
                    status, body = client.get(url)
                    assert status == 200, body[:300]
                    return body

                def session(url=url, client=with_session) -> bytes:
                    return endpoint(url, client)

                runs = {"endpoint": endpoint, "session": session, "sql": own_sql, "direct": direct}
                # The first request at a place reads its pages from disk: timed on its own, and
                # the methods then compare on the same warm pages.
                started = time.perf_counter()
                endpoint()
                results["first"].append((time.perf_counter() - started) * 1000)
                answers = {}
                methods = list(runs.items())
                for repeat in range(args.repeat):
                    turn = repeat % len(methods)
                    for name, run in methods[turn:] + methods[:turn]:
                        if name in ("sql", "direct"):
                            # On an open connection: the requests before gave theirs back.
                            connection.ensure_connection()
                        started = time.perf_counter()
                        answers[name] = run()
                        results[name].append((time.perf_counter() - started) * 1000)
                # The endpoint answers what its statement answers.
                assert answers["endpoint"] == answers["session"]
                body = json.loads(answers["endpoint"])
                if what == "resources":
                    ids = {t: [r["id"] for r in rs] for t, rs in body["resources"].items()}
                    assert ids == {t: [r["id"] for r in rs] for t, rs in answers["sql"].items()}
                    knn = answers["direct"]
                    knn_wrong += sum(ids[t] != knn.get(t, []) for t in case_types)
                    rows_seen.append(sum(len(v) for v in ids.values()))
                    with CaptureQueriesContext(connection) as statements:
                        own_sql()
                    second_steps += len(statements) - 1
                else:
                    text, total = answers["sql"]
                    assert [i["id"] for i in body["items"]] == [i["id"] for i in json.loads(text)]
                    assert body["total"] == total
                    rows_seen.append(body["total"])
            print(f"  {label} {case} done", file=sys.stderr)
            for name, times in results.items():
                print(
                    f"{label:16} {case:34} {name:8} {percentile(times, 0.5):>8.2f} "
                    f"{percentile(times, 0.95):>8.2f} {percentile(rows_seen, 0.5):>7}"
                )
            p95 = {name: percentile(times, 0.95) for name, times in results.items()}
            note = ""
            if what == "resources":
                lists = len(points) * len(case_types)
                note = (
                    f"; textbook KNN not the geodesic k nearest in {knn_wrong}/{lists} lists; "
                    f"second step needed at {second_steps}/{len(points)} points"
                )
            verdicts.append(
                f"{label:16} {case:34} endpoint p95 {p95['endpoint']:5.1f} ms "
                f"[{_verdict(p95['endpoint'] <= TARGET_P95_MS)}], first request p95 "
                f"{p95['first']:5.1f} ms; endpoint/sql {p95['endpoint'] / p95['sql']:4.2f}x "
                f"[{_verdict(p95['endpoint'] <= TARGET_RATIO * p95['sql'])}], endpoint/direct "
                f"{p95['endpoint'] / p95['direct']:4.2f}x, sql/direct "
                f"{p95['sql'] / p95['direct']:4.2f}x, session/sql "
                f"{p95['session'] / p95['sql']:4.2f}x{note}"
            )
    print()
    print("\n".join(verdicts))


def _verdict(met: bool) -> str:
    return "ok" if met else "OVER"


def _kinds() -> list[str]:
    from registry import catalogue

    return sorted(entry.code for entry in catalogue.kinds() if entry.registrable)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="segis_bench_response")
    parser.add_argument("--reuse", action="store_true", help="measure a loaded database as it is")
    parser.add_argument("--devices", type=int, default=2_000_000, help="when not --reuse")
    parser.add_argument("--prefix", default="32", help="when not --reuse (32: Jiangsu)")
    parser.add_argument("--resources", type=int, default=50_000, help="top resources up to this")
    parser.add_argument("--points", type=int, default=100, help="incident points per user")
    parser.add_argument("--repeat", type=int, default=2, help="runs per point and method")
    parser.add_argument("--k", type=int, default=3, help="resources per type")
    args = parser.parse_args()
    from bench.database import load_registry, use_database

    use_database(args.database, recreate=not args.reuse)
    if not args.reuse:
        load_registry(args.prefix, args.devices)
    top_up_resources(args.resources)
    measure(args)


if __name__ == "__main__":
    main()
