"""Benchmark: search as people type (GET /api/search/, registry/search.py) on a loaded registry.

    .venv/bin/python bench/search.py                       # the tile bench's 2 million devices
    .venv/bin/python bench/search.py --database segis --repeat 3

Measures the endpoint through Django's test client signed in (middleware, DRF, the statements,
JSON), as a national user and as a supervisor of the county holding the most devices, for texts
drawn (seeded) from the rows themselves, by what people type:
  * exact    — a whole device code;
  * prefix   — the first 8 characters of a device code (variety + maker: many devices);
  * short    — the first 4 characters of a device code (a variety: a large share of all devices);
  * part     — 4 characters from inside a registration code (a division code: no code starts so);
  * address  — 3–4 characters from inside an address;
  * unit     — 3 characters from inside a unit's name;
  * none     — a text nothing holds (every tier runs and finds nothing).
Each text is asked once cold (`first`, timed apart) and --repeat times warm. p50/p95 per case and
user, with the target: p95 ≤ 50 ms. Results to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MS = 50


def texts(per_case: int, seed: int = 2026) -> dict[str, list[str]]:
    from django.db import connection

    rng = random.Random(seed)

    def sample(sql: str) -> list[str]:
        with connection.cursor() as cursor:
            # TABLESAMPLE: a few pages at random, not a scan of millions of rows to pick a handful;
            # REPEATABLE: the same pages each run, so that runs before and after a change (and
            # their p95, which one slow text decides) ask the same texts.
            cursor.execute(sql)
            rows = [r[0] for r in cursor.fetchall() if r[0]]
        rng.shuffle(rows)
        return rows[:per_case]

    devices = sample(
        "SELECT device_code FROM registry_equipment TABLESAMPLE SYSTEM (0.1) REPEATABLE (2026) WHERE device_code <> ''"
    )
    registrations = sample(
        "SELECT registration_code FROM registry_equipment TABLESAMPLE SYSTEM (0.1) REPEATABLE (2026) "
        "WHERE registration_code <> ''"
    )
    addresses = sample(
        "SELECT address FROM registry_equipment TABLESAMPLE SYSTEM (0.1) REPEATABLE (2026) WHERE length(address) >= 8"
    )
    names = sample(
        "SELECT name FROM registry_unit TABLESAMPLE SYSTEM (1) REPEATABLE (2026) WHERE length(name) >= 6"
    )

    def inside(value: str, width: int) -> str:
        start = rng.randrange(1, max(2, len(value) - width))
        return value[start : start + width]

    return {
        "exact": devices,
        "prefix": [d[:8] for d in devices],
        "short": [d[:4] for d in devices],
        "part": [r[4:8] for r in registrations],
        "address": [inside(a, rng.choice((3, 4))) for a in addresses],
        "unit": [inside(n, 3) for n in names],
        "none": [f"无此{i}ZQX" for i in range(per_case)],
    }


def bench_users():
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
    supervisor, _ = User.objects.get_or_create(
        username=f"bench-supervisor-{county}", defaults={"agency": agency, "role": Role.SUPERVISOR}
    )
    return {"national": national_user(), f"county {county}": supervisor}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="segis_bench_tiles")
    parser.add_argument("--texts", type=int, default=20, help="texts per case (default 20)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from bench.database import use_database

    use_database(args.database, recreate=False)
    from django.core.management import call_command
    from django.test import Client

    from bench.machine import describe
    from registry.models import Equipment

    call_command("migrate", verbosity=0)  # the search's indexes, on a database loaded before them
    from django.db import connection

    with connection.cursor() as cursor:
        # The visibility map, as autovacuum keeps it in service (it is off on the reference server,
        # and a freshly loaded table has none): the search's scan is index-only only with it.
        cursor.execute("VACUUM registry_equipment, registry_unit")
    print(f"machine: {describe()}")
    print(f"database {args.database}: {Equipment.objects.count():,} devices")
    cases = texts(args.texts)
    print(f"{'user':<16} {'case':<8} {'n':>3} {'first p95':>9} {'p50':>7} {'p95':>7}  found  more")
    worst = 0.0
    for label, user in bench_users().items():
        client = Client()
        client.force_login(user)
        for case, values in cases.items():
            first, warm, found, more = [], [], 0, 0
            for text in values:
                url = "/api/search/?" + urlencode({"q": text, "limit": 10})
                for attempt in range(args.repeat + 1):
                    started = time.perf_counter()
                    response = client.get(url)
                    elapsed = (time.perf_counter() - started) * 1000
                    assert response.status_code == 200, (url, response.content[:300])
                    (first if attempt == 0 else warm).append(elapsed)
                body = response.json()
                found += bool(body["equipment"]["features"] or body["units"]["features"])
                more += body["more"]
            p95 = percentile(warm, 0.95)
            worst = max(worst, p95)
            print(
                f"{label:<16} {case:<8} {len(values):>3} {percentile(first, 0.95):>9.1f} "
                f"{percentile(warm, 0.5):>7.1f} {p95:>7.1f}  {found:>5} {more:>5}",
                flush=True,
            )
    print(
        f"worst warm p95 {worst:.1f} ms: target ≤ {TARGET_MS} ms {'met' if worst <= TARGET_MS else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
