"""Benchmark: gas cylinders at province size (issue 21).

    .venv/bin/python bench/cylinders.py                                  # 5 M cylinders, 50 M fillings
    .venv/bin/python bench/cylinders.py --cylinders 500000 --fillings 5000000
    .venv/bin/python bench/cylinders.py --reuse --skip-load              # latencies again

In a database of its own (segis_bench_cylinders): the demo province's boundaries and a small
registry for the stations (one filling station per 2,500 cylinders, one in ten on a lapsed
licence), the cylinders written in one SQL statement, then a year of fillings twice over, in the
same batches of 5,000 rows a station would post:
  * bare COPY — each batch COPYed straight into the partitioned filling table (its indexes and
    partition routing, nothing else), then the table emptied;
  * ingest    — each batch through cylinders.services.record_fillings: parsed and checked row by
    row, COPYed into a batch table, the rules applied and the rows appended with their violations
    in one statement, the audit row written: what the station endpoint does after JSON parsing.
Only the time inside the database calls (and the ingest's own parsing) is counted, not making the
rows. Then p50/p95 through the Django test client (the served request path, session included):
the public page and the lookup by tag (target p95 ≤ 10 ms), a cylinder's chain and a station's
day (≤ 50 ms); and the batch re-check of one month. Prints the machine, each load phase's seconds a
million rows and the tables' bytes a row (indexes included): what a larger size is projected from.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tiles import percentile  # noqa: E402

BATCH = 5_000
CYLINDERS_PER_STATION = 2_500
SAMPLES = 300
TARGETS_MS = {"public page": 10, "lookup by tag": 10, "chain": 50, "station day": 50}

CYLINDERS_SQL = """
INSERT INTO cylinders_cylinder (tag, maker_name, maker_code, serial_number, made_on, kind, volume_l,
    working_pressure_mpa, design_life_years, scrap_on, last_inspected_on, next_inspection_due,
    owner_id, region_id, status, registered_at)
SELECT 'B' || lpad(i::text, 10, '0'), '宁夏华瑞气瓶有限公司', 'TS2264', 'S' || i, made, 'lpg',
       35.5, 2.10, 8, made + interval '8 years', NULL,
       -- about 2 in 100 a little overdue, the others due within four years
       %(today)s::date + ((i * 7919) %% 1460)::int - 29, s.id, s.region_id,
       CASE WHEN i %% 997 = 0 THEN 'lost' ELSE 'in_service' END, now()
FROM generate_series(1::bigint, %(n)s) AS i
CROSS JOIN LATERAL (SELECT %(today)s::date - 60 - ((i * 104729) %% 2800)::int AS made) m
JOIN bench_stations s ON s.rn = i %% %(stations)s
"""


def load(cylinders: int, prefix: str) -> list[tuple[int, str]]:
    """Stations and cylinders; (station id, region) by station number."""
    from django.db import connection

    from bench.database import load_registry

    load_registry(prefix, devices=max(5_000, cylinders // CYLINDERS_PER_STATION * 10))
    stations = max(1, cylinders // CYLINDERS_PER_STATION)
    today = dt.date.today()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_stations AS SELECT (row_number() OVER (ORDER BY id) - 1) AS rn, id,"
            " region_id FROM registry_unit WHERE location IS NOT NULL ORDER BY id LIMIT %s",
            [stations],
        )
        cursor.execute("SELECT count(*) FROM bench_stations")
        if cursor.fetchone()[0] < stations:
            raise SystemExit("not enough located units for the stations: load more devices")
        cursor.execute(
            "UPDATE registry_unit u SET roles = array_append(u.roles, 'filling') "
            "FROM bench_stations s WHERE s.id = u.id"
        )
        # The stations' filling licences, in the licence register (one in ten lapsed a month ago).
        cursor.execute(
            "WITH l AS (INSERT INTO licensing_licence (unit_id, kind, number, authority, issued_on,"
            " expires_on, status, status_since, region_id) "
            "SELECT id, 'filling', 'BENCH' || id, '—', %s::date - 1460, CASE WHEN rn %% 10 = 0 "
            "THEN %s::date - 30 ELSE %s::date + 900 END, 'valid', %s::date - 1460, region_id "
            "FROM bench_stations RETURNING id) "
            "INSERT INTO licensing_licencescope (licence_id, code, grade) SELECT id, '2300', '' FROM l",
            [today, today, today, today],
        )
        cursor.execute(CYLINDERS_SQL, {"n": cylinders, "today": today, "stations": stations})
        # VACUUM too: the station page counts cylinders from the indexes alone, which needs the
        # visibility map a production table has (without it every row is fetched from the heap).
        cursor.execute("VACUUM ANALYZE cylinders_cylinder")
        cursor.execute("ANALYZE registry_unit")
        cursor.execute("SELECT id, region_id FROM bench_stations ORDER BY rn")
        found = cursor.fetchall()
    seconds = time.perf_counter() - started
    print(f"{stations:,} stations, {cylinders:,} cylinders in {seconds:.1f} s "
          f"({per_million('cylinders', seconds, cylinders)})")  # fmt: skip
    return found


def batches(stations: list[tuple[int, str]], cylinders: int, fillings: int, seed: int = 2026):
    """(station number, rows as a station posts them), BATCH rows at a time, over the last year."""
    rng = random.Random(seed)
    n = len(stations)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    per_station = max(1, cylinders // n)
    made = 0
    while made < fillings:
        k = rng.randrange(n)
        rows = []
        for _ in range(min(BATCH, fillings - made)):
            if rng.random() < 0.03:  # now and then a cylinder of another station
                i = rng.randrange(1, cylinders + 1)
            else:
                i = k + n * rng.randrange(per_station) or n
            moment = now - dt.timedelta(seconds=rng.randrange(60, 365 * 86_400))
            rows.append({
                "tag": f"B{i:010d}", "filled_at": moment.isoformat(), "medium": "液化石油气",
                "quantity_kg": "14.5", "check_result": "pass" if rng.random() > 0.002 else "fail",
                "operator_certificate": f"TSR{k:06d}",
            })  # fmt: skip
        made += len(rows)
        yield k, rows


def bare_copy(stations, cylinders: int, fillings: int) -> float:
    """Seconds inside COPY, batch by batch, into the partitioned table; then emptied."""
    from django.db import connection, transaction

    spent = 0.0
    for k, rows in batches(stations, cylinders, fillings):
        station, region = stations[k]
        tuples = [
            (station, r["tag"], r["filled_at"], r["medium"], Decimal(r["quantity_kg"]),
             r["check_result"] == "pass", r["operator_certificate"], region)
            for r in rows
        ]  # fmt: skip
        started = time.perf_counter()
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.copy(
                "COPY cylinders_filling (station_id, tag, filled_at, medium, quantity_kg, "
                "check_passed, operator_certificate, region_id) FROM STDIN"
            ) as copy,
        ):
            for row in tuples:
                copy.write_row(row)
        spent += time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM cylinders_filling")
        assert cursor.fetchone()[0] > 0.99 * fillings
        cursor.execute("TRUNCATE cylinders_filling")
    return spent


def ingest(stations, cylinders: int, fillings: int) -> tuple[float, int, int]:
    """Seconds inside record_fillings; rows recorded; violations."""
    from cylinders import services
    from registry.models import Unit

    units = Unit.objects.in_bulk([s for s, _ in stations])
    spent, recorded, violations = 0.0, 0, 0
    for k, rows in batches(stations, cylinders, fillings):
        started = time.perf_counter()
        report = services.record_fillings(units[stations[k][0]], rows, acting_user=None)
        spent += time.perf_counter() - started
        recorded += report.recorded
        violations += report.violations
    return spent, recorded, violations


def sizes() -> None:
    """Disk per row of the two big tables, indexes included (every partition of the fillings')."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("cylinders_cylinder", "cylinders_filling", "cylinders_violation"):
            # A partitioned table's own size is 0: its partitions' (a plain table is its own tree).
            cursor.execute(
                "SELECT coalesce(sum(pg_total_relation_size(relid)), "
                "pg_total_relation_size(%s::regclass))::bigint FROM pg_partition_tree(%s::regclass)",
                [table, table],
            )
            size = cursor.fetchone()[0]
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - a fixed name
            rows = cursor.fetchone()[0]
            per_row = size / rows if rows else 0
            print(f"{table}: {rows:,} rows, {size / 2**20:,.0f} MiB = {per_row:,.0f} bytes a row "
                  f"(indexes included) = {per_row * 1e6 / 2**30:.2f} GiB a million rows")  # fmt: skip


def per_million(label: str, seconds: float, rows: int) -> str:
    """A phase's time per million rows: what the full size is projected from."""
    return f"{label}: {seconds / rows * 1e6:,.1f} s a million rows"


def latencies(stations) -> None:
    from django.db import connection
    from django.test import Client

    from accounts.models import Agency, Role, User
    from geo.models import Level

    agency, _ = Agency.objects.get_or_create(
        name="bench province", level=Level.PROVINCE, region_id=stations[0][1][:2] + "0000"
    )
    user, _ = User.objects.get_or_create(
        username="bench-cylinders", defaults={"agency": agency, "role": Role.SUPERVISOR}
    )
    client, public = Client(), Client()
    client.force_login(user)
    rng = random.Random(7)
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM cylinders_cylinder")
        top = cursor.fetchone()[0]
        cursor.execute(
            "SELECT tag, id FROM cylinders_cylinder WHERE id = ANY(%s)",
            [[rng.randrange(1, top + 1) for _ in range(SAMPLES)]],
        )
        sample = cursor.fetchall()
    today = dt.date.today()
    cases = {
        # Each sample from its own address: the page counts lookups per client (public/ratelimit).
        "public page": lambda tag, pk, s: public.get(
            "/p/cylinder/", {"tag": tag}, REMOTE_ADDR=f"198.18.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        ),
        "lookup by tag": lambda tag, pk, s: client.get("/cylinders/api/lookup/", {"tag": tag}),
        "chain": lambda tag, pk, s: client.get(f"/cylinders/{pk}/"),
        "station day": lambda tag, pk, s: client.get(
            f"/cylinders/stations/{s}/", {"day": (today - dt.timedelta(days=rng.randrange(1, 300))).isoformat()}
        ),
    }  # fmt: skip
    print(f"\n{'case':16} {'p50 ms':>8} {'p95 ms':>8} {'target':>8}")
    for name, call in cases.items():
        times = []
        for _ in range(2):  # the first round warms the caches; the second is counted
            times = []
            for tag, pk in sample:
                station = stations[rng.randrange(len(stations))][0]
                started = time.perf_counter()
                answer = call(tag, pk, station)
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, (name, answer.status_code)
        p95 = percentile(times, 0.95)
        verdict = "ok" if p95 <= TARGETS_MS[name] else "MISSED"
        print(
            f"{name:16} {percentile(times, 0.5):8.2f} {p95:8.2f} {TARGETS_MS[name]:>6} ms {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cylinders", type=int, default=5_000_000)
    parser.add_argument("--fillings", type=int, default=50_000_000)
    parser.add_argument("--prefix", default="64")
    parser.add_argument("--database", default="segis_bench_cylinders")
    parser.add_argument("--reuse", action="store_true", help="keep the database as left")
    parser.add_argument("--skip-load", action="store_true", help="only the latencies")
    args = parser.parse_args()
    if args.cylinders <= 0 or args.fillings <= 0:
        parser.error("--cylinders and --fillings must be positive")

    from bench.database import use_database

    use_database(args.database, recreate=not args.reuse)
    from django.db import connection

    from bench.machine import describe

    if args.skip_load:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, region_id FROM bench_stations ORDER BY rn")
            stations = cursor.fetchall()
        print(describe())
    else:
        stations = load(args.cylinders, args.prefix)
        print(describe())
        copy_s = bare_copy(stations, args.cylinders, args.fillings)
        print(
            f"bare COPY: {args.fillings:,} rows in {copy_s:.1f} s = {args.fillings / copy_s:,.0f} rows/s"
            f" ({per_million('bare COPY', copy_s, args.fillings)})"
        )
        ingest_s, recorded, violations = ingest(stations, args.cylinders, args.fillings)
        print(
            f"ingest:    {recorded:,} rows in {ingest_s:.1f} s = {recorded / ingest_s:,.0f} rows/s "
            f"({violations:,} violations, {args.fillings - recorded:,} duplicates) = "
            f"{(recorded / ingest_s) / (args.fillings / copy_s):.0%} of bare COPY (target ≥ 50 %)"
            f" ({per_million('ingest', ingest_s, recorded)})"
        )
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE cylinders_filling")
            cursor.execute("VACUUM ANALYZE cylinders_violation")
        from cylinders.reads import day_bounds
        from cylinders.services import recheck_fillings

        month = dt.date.today().replace(day=1) - dt.timedelta(days=1)
        since, until = day_bounds(month.replace(day=1))[0], day_bounds(month)[1]
        started = time.perf_counter()
        added = recheck_fillings(since, until)["violations_added"]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM cylinders_filling WHERE filled_at >= %s AND filled_at < %s",
                [since, until],
            )
            checked = cursor.fetchone()[0]
        seconds = time.perf_counter() - started
        print(f"re-check of {month:%Y-%m}: {checked:,} fillings in {seconds:.1f} s "
              f"= {checked / seconds:,.0f} rows/s ({added:,} new violations; "
              f"{per_million('re-check', seconds, checked)})")  # fmt: skip
    sizes()
    latencies(stations)


if __name__ == "__main__":
    main()
