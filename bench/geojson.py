"""Benchmark: bbox GeoJSON of the small layers — the endpoint, an in-database aggregate, DRF-gis.

    .venv/bin/python -m bench.geojson                      # 200,000 devices in Jiangsu (32)
    .venv/bin/python -m bench.geojson --reuse              # measure the loaded database again

Creates (or empties) the database `segis_bench_geojson`, loads the boundaries under the prefix and
generates the registry with `registry.synthetic.generate` (timed). The generator draws accidents
at the national rate (about 5 per million devices a year: a few dozen here) and a handful of
emergency resources per county, so the benchmark adds --accidents accidents at random devices and
--resources resources at random units (timed too) for those layers to fill a city-sized box.

For each layer (units, accidents, resources, overdue) it picks --boxes boxes, one around the
densest spot of each of the busiest cities, grown until it holds about --features features, and
measures on them, side by side and interleaved in one process, as a province supervisor:
  * endpoint — GET /api/geojson/<layer>?bbox=… through Django's test Client (signed in);
  * direct   — the same rows (the ORM's scoped queryset, `&&` the box) wrapped in the textbook
    in-database aggregate, json_agg(ST_AsGeoJSON(t.*)::json), on a cursor: the limit;
  * sql      — the endpoint's own statement (maps.geojson.collection_sql) on a cursor: what the
    endpoint costs without HTTP and Django;
  * drf-gis  — rest_framework_gis's GeoFeatureModelSerializer over the same queryset, rendered
    with DRF's JSONRenderer (no HTTP: the serializer and the renderer only).
It prints p50/p95 per layer and method, the features and the largest answer, the ratios against
the targets (endpoint ≤ 1.5× direct, ≥ 5× faster than drf-gis) and the machine. Results go to
stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.tiles import percentile

LAYERS = ("units", "accidents", "resources", "overdue")
METHODS = ("endpoint", "direct", "sql", "drf-gis")
# The serializer's fields: the properties the endpoint carries, as model fields.
DRF_FIELDS = {
    "units": ["id", "name", "roles"],
    "accidents": ["id", "severity", "deaths", "occurred_at"],
    "resources": ["id", "name", "resource_type"],
    "overdue": ["id", "kind", "variety", "status", "device_code", "next_inspection_due"],
}
TABLES = {
    "units": "registry_unit",
    "accidents": "registry_accident",
    "resources": "registry_emergencyresource",
    "overdue": "registry_equipment",
}
KM_PER_DEGREE = 111.32


@dataclass(frozen=True)
class Box:
    west: float
    south: float
    east: float
    north: float
    rows: int

    @property
    def text(self) -> str:
        return f"{self.west!r},{self.south!r},{self.east!r},{self.north!r}"

    @property
    def km(self) -> str:
        mid = math.radians((self.south + self.north) / 2)
        width = (self.east - self.west) * KM_PER_DEGREE * math.cos(mid)
        return f"{width:.0f}×{(self.north - self.south) * KM_PER_DEGREE:.0f} km"


def top_up(accidents: int, resources: int) -> None:
    """Accidents at random located devices, resources at random located units (seeded)."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.2026)")
        cursor.execute(
            """
            INSERT INTO registry_accident (occurred_at, location, address, region_id, equipment_id,
                unit_id, kind, severity, deaths, injuries, direct_loss, cause_class,
                investigation_status, description)
            SELECT now() - random() * interval '3650 days', e.location, e.address, e.region_id,
                   e.id, e.use_unit_id,
                   (ARRAY['困人受伤', '坠落', '挤压', '碰撞', '倾覆'])[1 + floor(random() * 5)::int],
                   (ARRAY['ordinary', 'ordinary', 'ordinary', 'large', 'major'])
                       [1 + floor(random() * 5)::int],
                   floor(random() * 2)::int, floor(random() * 3)::int, 0, 'use_management',
                   'closed', ''
            FROM (SELECT * FROM registry_equipment WHERE location IS NOT NULL
                  ORDER BY random() LIMIT %s) AS e
            """,
            [accidents],
        )
        cursor.execute(
            """
            INSERT INTO registry_emergencyresource (name, resource_type, capability, contact_name,
                contact_phone, duty_hours, location, address, region_id, unit_id)
            SELECT u.name || '应急点', (ARRAY['rescue_team', 'maintenance_station', 'fire_station',
                   'hospital', 'hazmat_team', 'lifting_depot'])[1 + floor(random() * 6)::int],
                   '', '', '', '24h', u.location, u.address, u.region_id, u.id
            FROM (SELECT * FROM registry_unit WHERE location IS NOT NULL
                  ORDER BY random() LIMIT %s) AS u
            """,
            [resources],
        )
        cursor.execute("ANALYZE registry_accident; ANALYZE registry_emergencyresource")
    print(
        f"top-up: {accidents:,} accidents at random devices, {resources:,} resources at random "
        f"units in {time.perf_counter() - started:.1f} s"
    )


def province_user(prefix: str):
    from accounts.models import Agency, Role, User
    from geo.models import Level

    code = prefix[:2] + "0000"
    agency, _ = Agency.objects.get_or_create(
        name=f"bench province {code}", level=Level.PROVINCE, region_id=code
    )
    user, _ = User.objects.get_or_create(
        username=f"bench-province-{code}", defaults={"agency": agency, "role": Role.SUPERVISOR}
    )
    return user


def _geometry_filter(layer: str, west: float, south: float, east: float, north: float):
    from django.contrib.gis.geos import Polygon
    from django.db.models import Q

    box = Polygon.from_bbox((west, south, east, north))
    box.srid = 4326
    found = Q(location__bboverlaps=box)
    return found | Q(route__bboverlaps=box) if layer == "overdue" else found


def queryset(layer: str, user, today, west: float, south: float, east: float, north: float):
    """The layer's scoped rows overlapping the box, by the ORM (what direct and drf-gis read)."""
    from layers.sources import SOURCES

    rows = SOURCES[layer].rows(user, today)
    return rows.filter(_geometry_filter(layer, west, south, east, north)).order_by()


def pick_boxes(layer: str, user, today, count: int, features: int) -> list[Box]:
    """Around the densest 0.05° cell of each of the busiest cities: the square that holds about
    `features` of the layer's rows (found by bisection on its half side)."""
    from django.db import connection

    from maps import geojson

    rows = queryset(layer, user, today, -180, -90, 180, 90)
    sql, params = rows.values("region_id", "location").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT DISTINCT ON (city) city, x, y, n FROM (
              SELECT left(r.region_id, 4) AS city, round(ST_X(r.location) * 20) / 20 AS x,
                     round(ST_Y(r.location) * 20) / 20 AS y, count(*) AS n
              FROM ({sql}) AS r WHERE r.location IS NOT NULL GROUP BY 1, 2, 3
            ) AS cells ORDER BY city, n DESC
            """,
            params,
        )
        cores = sorted(cursor.fetchall(), key=lambda row: -row[3])

    def rows_in(x: float, y: float, half: float) -> int:
        return rows.filter(_geometry_filter(layer, x - half, y - half, x + half, y + half)).count()

    boxes = []
    for _, x, y, _ in cores:
        low, high = 0.001, 3.0
        for _ in range(18):
            half = (low + high) / 2
            if rows_in(x, y, half) < features:
                low = half
            else:
                high = half
        n = rows_in(x, y, high)
        if features / 2 <= n <= geojson.MAX_FEATURES:
            boxes.append(Box(x - high, y - high, x + high, y + high, n))
        if len(boxes) == count:
            break
    return boxes


def drf_serializer(layer: str):
    from rest_framework_gis.serializers import GeoFeatureModelSerializer

    from layers.sources import SOURCES

    model = SOURCES[layer].rows(None, None).model
    # A copy: the serializer appends its geo_field to Meta.fields in place.
    fields = list(DRF_FIELDS[layer])
    meta = type("Meta", (), {"model": model, "geo_field": "location", "fields": fields})
    return type(f"{model.__name__}Features", (GeoFeatureModelSerializer,), {"Meta": meta})


def measure(args) -> None:
    from django.db import connection
    from django.http import QueryDict
    from django.test import Client
    from django.utils import timezone
    from rest_framework.renderers import JSONRenderer

    from bench.machine import describe
    from layers.filters import parse_query
    from maps import geojson

    user = province_user(args.prefix)
    client = Client()
    client.force_login(user)
    today = timezone.localdate()

    print(f"machine: {describe()}")
    sizes = {layer: queryset(layer, user, today, -180, -90, 180, 90).count() for layer in LAYERS}
    print("rows: " + ", ".join(f"{layer} {n:,}" for layer, n in sizes.items()) + f" (as {user})")
    print(
        f"boxes per layer: {args.boxes}, about {args.features:,} features each; "
        f"repeats per box and method: {args.repeat} (drf-gis: {args.drf_repeat or args.repeat})"
    )

    def endpoint(layer: str, box: Box) -> Callable[[], int]:
        path = f"/api/geojson/{layer}?bbox={box.text}"

        def run() -> int:
            response = client.get(path)
            assert response.status_code == 200, response.content[:300]
            return len(response.content)

        return run

    def on_cursor(sql: str, params) -> Callable[[], int]:
        # As the endpoint runs its statement: JIT and parallel workers off, in one round trip.
        def run() -> int:
            with connection.cursor() as cursor:
                cursor.execute(geojson.SETTINGS + sql, params)
                while cursor.description is None and cursor.nextset():
                    pass
                return len(cursor.fetchone()[-1].encode())

        return run

    def direct(layer: str, box: Box) -> Callable[[], int]:
        rows = queryset(layer, user, today, box.west, box.south, box.east, box.north)
        columns = [
            "id" if name == "id" else rows.model._meta.get_field(name).column
            for name in DRF_FIELDS[layer]
        ]
        geometry = "COALESCE(t.route, t.location)" if layer == "overdue" else "t.location"
        fields = ["location", "route"] if layer == "overdue" else ["location"]
        sql, params = rows.values(*columns, *fields).query.sql_with_params()
        # ST_AsGeoJSON(record) makes the first geometry column the feature's geometry: put the
        # chosen one first under its own name.
        wrapped = (
            "SELECT json_build_object('type', 'FeatureCollection', 'features', "
            f"COALESCE(json_agg(ST_AsGeoJSON(f.*, 'geom', {geojson.COORDINATE_DIGITS})::json), "
            "'[]'))::text FROM ("
            f"SELECT {geometry} AS geom, {', '.join(f't.{c}' for c in columns)} "
            f"FROM ({sql}) AS t) AS f"
        )
        return on_cursor(wrapped, params)

    def own_sql(layer: str, box: Box) -> Callable[[], int]:
        query = parse_query(layer, QueryDict(f"bbox={box.text}"), allow_bbox=True)
        statement = geojson.collection_sql(layer, user, query, today)
        return on_cursor(statement.text, statement.params)

    def drf(layer: str, box: Box) -> Callable[[], int]:
        serializer = drf_serializer(layer)
        renderer = JSONRenderer()

        def run() -> int:
            rows = queryset(layer, user, today, box.west, box.south, box.east, box.north)
            return len(renderer.render(serializer(rows, many=True).data))

        return run

    def features(layer: str, boxes: list[Box]) -> str:
        """Features the endpoint returns and rows the others read, over all the boxes."""
        returned = sum(
            len(json.loads(client.get(f"/api/geojson/{layer}?bbox={b.text}").content)["features"])
            for b in boxes
        )
        read = sum(
            queryset(layer, user, today, b.west, b.south, b.east, b.north).count() for b in boxes
        )
        return f"endpoint features {returned:,}, rows the others read {read:,}"

    header = (
        f"{'layer':10} {'method':9} {'boxes':>5} {'features':>13} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'max KB':>8}"
    )
    verdicts = []
    for layer in LAYERS:
        boxes = pick_boxes(layer, user, today, args.boxes, args.features)
        if not boxes:
            print(f"{layer}: no box holds {args.features // 2:,}+ features; skipped")
            continue
        print()
        print(f"{layer}: boxes " + "; ".join(f"{b.km} ({b.rows:,} rows)" for b in boxes))
        print(f"{layer}: {features(layer, boxes)}")
        makers = {"endpoint": endpoint, "direct": direct, "sql": own_sql, "drf-gis": drf}
        results: dict[str, tuple[list[float], list[int]]] = {m: ([], []) for m in METHODS}
        for warm in makers.values():  # one untimed run of each: caches, PROJ, imports
            warm(layer, boxes[0])()
        for box in boxes:
            runs = {name: make(layer, box) for name, make in makers.items()}
            for repeat in range(args.repeat):
                for name, run in runs.items():  # interleaved: no method gets a warmer cache
                    if name == "drf-gis" and args.drf_repeat and repeat >= args.drf_repeat:
                        continue
                    started = time.perf_counter()
                    size = run()
                    results[name][0].append((time.perf_counter() - started) * 1000)
                    results[name][1].append(size)
            print(f"  {layer} {box.text} done", file=sys.stderr)
        print(header)
        print("-" * len(header))
        counts = f"{min(b.rows for b in boxes):,}–{max(b.rows for b in boxes):,}"
        for name, (times, sizes_) in results.items():
            print(
                f"{layer:10} {name:9} {len(boxes):>5} {counts:>13} {percentile(times, 0.5):>8.1f} "
                f"{percentile(times, 0.95):>8.1f} {max(sizes_) / 1024:>8.0f}"
            )
        p50 = {name: percentile(times, 0.5) for name, (times, _) in results.items()}
        p95 = {name: percentile(times, 0.95) for name, (times, _) in results.items()}
        to_direct = p50["endpoint"] / p50["direct"]
        faster = p50["drf-gis"] / p50["endpoint"]
        print(
            f"{layer:10} ratios: endpoint/direct p50 {to_direct:.2f}x, p95 "
            f"{p95['endpoint'] / p95['direct']:.2f}x; endpoint/sql p50 "
            f"{p50['endpoint'] / p50['sql']:.2f}x; drf-gis/endpoint p50 {faster:.1f}x, p95 "
            f"{p95['drf-gis'] / p95['endpoint']:.1f}x"
        )
        verdicts.append(
            f"{layer}: endpoint ≤ 1.5× direct {'met' if to_direct <= 1.5 else 'MISSED'} "
            f"({to_direct:.2f}x); ≥ 5× faster than drf-gis {'met' if faster >= 5 else 'MISSED'} "
            f"({faster:.1f}x)"
        )
    print()
    print("targets (p50):")
    for verdict in verdicts:
        print(f"  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.geojson",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--devices", type=int, default=200_000)
    parser.add_argument("--prefix", default="32", help="division-code prefix to fill (32: Jiangsu)")
    parser.add_argument("--accidents", type=int, default=30_000, help="accidents to add")
    parser.add_argument("--resources", type=int, default=20_000, help="resources to add")
    parser.add_argument("--database", default="segis_bench_geojson")
    parser.add_argument("--reuse", action="store_true", help="measure the loaded database again")
    parser.add_argument("--boxes", type=int, default=6, help="boxes per layer (default 6)")
    parser.add_argument(
        "--features", type=int, default=2500, help="features per box, about (default 2500)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per box and method (default 5)")
    parser.add_argument(
        "--drf-repeat", type=int, default=2, help="runs per box of drf-gis (slow; 0 = --repeat)"
    )
    args = parser.parse_args()
    from bench.database import load_registry, use_database

    use_database(args.database, recreate=not args.reuse)
    if not args.reuse:
        load_registry(args.prefix, args.devices)
        top_up(args.accidents, args.resources)
    measure(args)


if __name__ == "__main__":
    main()
