"""Benchmark: what PostgreSQL row-level security on `registry_equipment` would cost the map's reads.

    .venv/bin/python bench/row_security.py                              # the demo database
    .venv/bin/python bench/row_security.py --database segis_bench_tiles # 2M devices (bench/tiles.py)

Issue 17 asks for RLS as a second wall behind `visible_to`. This measures the three ways it could
run, each inside one transaction that is rolled back (the database is left as it was; needs a
superuser, as the benchmark databases have):
  * owner        — today: the query as the app issues it, no policy applies;
  * rls          — the table under a policy reading the jurisdiction from `segis.scope`, the query
                   run by a role subject to it (`SET LOCAL ROLE` to a temporary NOBYPASSRLS role);
  * rls+leakproof — the same with `&&` (geometry_overlaps) and `LIKE` (textlike) marked LEAKPROOF.
PostgreSQL evaluates a policy before any qual whose operator is not LEAKPROOF and will not use such
a qual as an index condition, so under `rls` the GiST and the region index go unused: the plan
column says which scan each variant got. Queries: a county's and the nation's devices in a
z14-sized box (tiles, GeoJSON), the five nearest to a point (KNN), a county's count, and a county's
people by the two prefix tests (`LIKE` is not LEAKPROOF, `^@` is: geo.scoping.Prefixed).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POLICY = (
    "coalesce(current_setting('segis.scope', true), '') LIKE 'p:%' "
    "AND starts_with(region_id, substr(current_setting('segis.scope', true), 3))"
)
LEAKPROOF = ("geometry_overlaps(geometry, geometry)", "textlike(text, text)")


def queries(county: str, x: float, y: float) -> list[tuple[str, str, str]]:
    """(name, scope, SQL): the reads the map and the response desk make most."""
    box = f"ST_MakeEnvelope({x - 0.011}, {y - 0.011}, {x + 0.011}, {y + 0.011}, 4326)"
    point = f"ST_SetSRID(ST_MakePoint({x}, {y}), 4326)"
    return [
        ("county box (tile)", county, "SELECT count(*) FROM registry_equipment "
         f"WHERE location && {box} AND region_id LIKE '{county}%'"),
        ("national box (tile)", "", f"SELECT count(*) FROM registry_equipment WHERE location && {box}"),
        ("county nearest 5", county, "SELECT id FROM registry_equipment "
         f"WHERE region_id LIKE '{county}%' ORDER BY location <-> {point} LIMIT 5"),
        ("national nearest 5", "", f"SELECT id FROM registry_equipment ORDER BY location <-> {point} LIMIT 5"),
        ("county count", county, f"SELECT count(*) FROM registry_equipment WHERE region_id LIKE '{county}%'"),
        # The personnel register is under its own policies (registry migration 0010) already.
        ("county persons, LIKE", county, f"SELECT count(*) FROM registry_person WHERE region_id LIKE '{county}%'"),
        ("county persons, ^@", county, f"SELECT count(*) FROM registry_person WHERE region_id ^@ '{county}'"),
    ]  # fmt: skip


def timed(cursor, sql: str, repeats: int) -> tuple[float, str]:
    """Median milliseconds over `repeats`, and the scan the plan chose."""
    cursor.execute(f"EXPLAIN {sql}")
    plan = " ".join(row[0] for row in cursor.fetchall())
    scan = next(
        (
            s
            for s in ("Index Only Scan", "Bitmap Index Scan", "Index Scan", "Seq Scan")
            if s in plan
        ),
        "?",
    )
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        cursor.execute(sql)
        cursor.fetchall()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), scan


def measure(repeats: int) -> list[tuple[str, str, float, str]]:
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        # The busiest county, at one of its devices.
        cursor.execute(
            "WITH busiest AS (SELECT region_id FROM registry_equipment GROUP BY 1 "
            "ORDER BY count(*) DESC LIMIT 1) "
            "SELECT e.region_id, ST_X(e.location), ST_Y(e.location) FROM registry_equipment e "
            "JOIN busiest USING (region_id) WHERE e.location IS NOT NULL LIMIT 1"
        )
        found = cursor.fetchone()
        if found is None:
            raise SystemExit("no located devices here: load the demo or bench/tiles.py first")
    county, x, y = found
    results = []
    for variant in ("owner", "rls", "rls+leakproof"):
        with transaction.atomic(), connection.cursor() as cursor:
            if variant != "owner":
                cursor.execute("CREATE ROLE segis_bench_reader NOLOGIN NOBYPASSRLS")
                cursor.execute(
                    "GRANT SELECT ON registry_equipment, registry_person, registry_unit, "
                    "registry_inspection TO segis_bench_reader"
                )
                cursor.execute("ALTER TABLE registry_equipment ENABLE ROW LEVEL SECURITY")
                cursor.execute(f"CREATE POLICY segis_bench ON registry_equipment USING ({POLICY})")
            if variant == "rls+leakproof":
                for function in LEAKPROOF:
                    cursor.execute(f"ALTER FUNCTION {function} LEAKPROOF")
            for name, scope, sql in queries(county, x, y):
                cursor.execute("SELECT set_config('segis.scope', %s, true)", [f"p:{scope}"])
                if variant != "owner":
                    cursor.execute("SET LOCAL ROLE segis_bench_reader")
                ms, scan = timed(cursor, sql, repeats)
                cursor.execute("RESET ROLE")
                results.append((variant, name, ms, scan))
            transaction.set_rollback(True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", help="a benchmark database (default: the configured one)")
    parser.add_argument("--repeats", type=int, default=20)
    options = parser.parse_args()
    import os

    if options.database:
        from bench.database import use_database

        use_database(options.database, recreate=False)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM registry_equipment")
        devices = cursor.fetchone()[0]
    print(f"{devices:,} devices; median of {options.repeats} runs each")
    print(f"{'variant':<15}{'query':<22}{'ms':>9}  plan")
    for variant, name, ms, scan in measure(options.repeats):
        print(f"{variant:<15}{name:<22}{ms:>9.2f}  {scan}")


if __name__ == "__main__":
    main()
