"""Benchmark: the analysis desk for a province user, every API call the desk makes, warm, against
the naive GROUP BY over the same registry tables.

    .venv/bin/python bench/analysis.py                      # the demo database (segis), user province
    .venv/bin/python bench/analysis.py --database segis_bench_measures --user-prefix 32
    .venv/bin/python bench/analysis.py --only overview,regions --repeat 50

Each call is a GET through the test client (the whole Django and DRF path, session signed in), run
--warmup times, then --repeat times interleaved with the others; p50 and p95 of the server time.
The baseline is what a hand-written report would run: one GROUP BY per table the desk reads
(devices by city and status, life-cycle events by city, year and kind, inspections by city and
year, accidents by city and year), on a cursor, timed the same way. It counts the same rows but
works out no due date, no register at a year's end and no status on a day: the ratio says what
the desk's definitions cost over plain counting. Results to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tiles import percentile  # noqa: E402

BASELINE = [
    "SELECT left(region_id, 4), status, count(*) FROM registry_equipment"
    " WHERE region_id LIKE %(like)s GROUP BY 1, 2",
    "SELECT left(e.region_id, 4), extract(year FROM ev.occurred_on), ev.kind, count(*)"
    " FROM registry_lifecycleevent ev JOIN registry_equipment e ON e.id = ev.equipment_id"
    " WHERE e.region_id LIKE %(like)s GROUP BY 1, 2, 3",
    "SELECT left(e.region_id, 4), extract(year FROM i.inspected_on), count(*), sum(i.defects)"
    " FROM registry_inspection i JOIN registry_equipment e ON e.id = i.equipment_id"
    " WHERE e.region_id LIKE %(like)s GROUP BY 1, 2",
    "SELECT left(region_id, 4), extract(year FROM occurred_at), count(*), sum(deaths)"
    " FROM registry_accident WHERE region_id LIKE %(like)s GROUP BY 1, 2",
]


def timed(run, warmup: int, repeat: int) -> list[float]:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return times


def bench_user(prefix: str):
    """A supervisor of the province's agency (the generator makes one per region)."""
    from accounts.models import Agency, Role, User

    agency = Agency.objects.filter(region_id=prefix.ljust(6, "0")).order_by("id").first()
    user, _ = User.objects.get_or_create(
        username=f"bench-analysis-{prefix}", defaults={"agency": agency, "role": Role.SUPERVISOR}
    )
    return user


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="segis")
    parser.add_argument("--user", default="province", help="an existing province user")
    parser.add_argument(
        "--user-prefix",
        help="sign in as a supervisor of this province's agency instead (made if missing)",
    )
    parser.add_argument(
        "--only", help="comma-separated words: run only the calls whose name holds one of them"
    )
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="migrate, then recount every county's precomputed measures first (timed)",
    )
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    from bench.database import use_database

    use_database(args.database, recreate=False)
    from django.db import connection, transaction
    from django.test import Client

    from accounts.models import User
    from bench.machine import describe

    user = (
        bench_user(args.user_prefix) if args.user_prefix else User.objects.get(username=args.user)
    )
    prefix = user.jurisdiction_prefix
    year = dt.date.today().year
    client = Client()
    client.force_login(user)
    calls = {
        "overview (10-year trends, parent, nation)": "/api/analysis/overview",
        "regions (child regions, one year)": f"/api/analysis/regions?year={year}",
        "devices by kind and status": "/api/analysis/devices",
        "map (choropleth, devices)": "/api/analysis/map?indicator=devices",
        "map (choropleth, inspection rate)": "/api/analysis/map?indicator=inspection_rate",
        "indicators (definitions)": "/api/analysis/indicators",
        "page /analysis/ (overview+regions+devices)": "/analysis/",
        "evaluation (league, API)": f"/api/analysis/evaluation?year={year}",
        "page /analysis/evaluation/": "/analysis/evaluation/",
        "accidents (summary, API)": "/api/analysis/accidents",
        "hot spots (overdue share, API)": "/api/analysis/accidents/hotspots?measure=overdue",
        "annual report page /analysis/report": "/analysis/report",
        "annual report /analysis/report.xlsx": "/analysis/report.xlsx",
    }
    if args.only:
        words = args.only.split(",")
        calls = {name: url for name, url in calls.items() if any(w in name for w in words)}

    def get(url: str):
        def run():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return run

    def baseline():
        # Under the desk's own settings (JIT off), so the ratio compares statements, not JIT.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            for sql in BASELINE:
                cursor.execute(sql, {"like": f"{prefix}%"})
                cursor.fetchall()

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM registry_equipment WHERE region_id LIKE %s", [f"{prefix}%"]
        )
        (devices,) = cursor.fetchone()
    print(f"machine: {describe()}")
    print(f"database {args.database}: {devices:,} devices under {prefix!r}; user {user.username}")
    if args.refresh:
        from django.core.management import call_command

        from analysis import precomputed

        call_command("migrate", verbosity=0)
        done = precomputed.refresh(None)
        print(
            f"refresh_measures --all: {done.counties:,} counties, {done.rows:,} county-year rows "
            f"in {done.seconds:.1f} s"
        )
    print(f"{'call':46} {'p50 ms':>8} {'p95 ms':>8}")
    results = {}
    runs = {name: get(url) for name, url in calls.items()}
    runs["baseline: naive GROUP BY (4 statements)"] = baseline
    for name in runs:  # warm every path first
        print(f"warming {name}", file=sys.stderr)
        timed(runs[name], args.warmup, 0)
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeat):  # interleaved: a slow moment of the machine hits all alike
        for name, run in runs.items():
            samples[name] += timed(run, 0, 1)
    for name, times in samples.items():
        results[name] = (percentile(times, 0.5), percentile(times, 0.95))
        print(f"{name:46} {results[name][0]:8.1f} {results[name][1]:8.1f}")
    base = results["baseline: naive GROUP BY (4 statements)"][1]
    print()
    print("p95 ratio to the baseline's p95:")
    for name, (_, p95) in results.items():
        if not name.startswith("baseline"):
            print(f"  {name:44} {p95 / base:8.4f}×")


if __name__ == "__main__":
    main()
