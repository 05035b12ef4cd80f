"""The nation in synthetic data: each province's share of the devices (`province_shares`, for
`generate_national`), and a light national accident history — accidents only (no device, no unit),
in the loaded counties of every other province, at the national rates of DESIGN.md §3, so the
national and provincial accident analysis has something real to read. Seeded and COPY-loaded."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from django.db import connection, transaction

from geo.models import Region

from . import names, profiles
from .columns import ACCIDENT_COLUMNS
from .copy import copy_rows
from .devices import accident_row
from .draw import Draw

YEARS = 10
# Resident population and urban share by province, 2020 census (第七次全国人口普查公报): docs/operations.md.
PROVINCES_CSV = Path(__file__).resolve().parents[1] / "data" / "provinces.csv"


def province_shares(prefixes: Iterable[str] | None = None) -> dict[str, float]:
    """Each province's share of the devices: its urban population over theirs together (lifts, half
    of all devices, stand in towns; no per-province equipment figures are published in one table).
    `prefixes` narrows to some provinces, whose shares then sum to 1."""
    with PROVINCES_CSV.open(encoding="utf-8") as file:
        urban = {
            row["code"]: float(row["population_10k"]) * float(row["urban_percent"])
            for row in csv.DictReader(file)
        }
    if prefixes is not None:
        wanted = set(prefixes)
        if unknown := wanted - set(urban):
            raise ValueError(f"not a province code of the 31: {', '.join(sorted(unknown))}")
        urban = {code: value for code, value in urban.items() if code in wanted}
    total = sum(urban.values())
    return {code: value / total for code, value in urban.items()}


def generate_national_accidents(
    *, exclude: str, seed: int, today: dt.date, years: int = YEARS
) -> int:
    """Accidents of the last `years` years (this year to today) in the loaded counties outside the
    prefix `exclude` (whose accidents come from its own devices); the number of rows written."""
    counties = list(
        Region.objects.counties()
        .exclude(code__startswith=exclude)
        .order_by("code")
        .values_list("code", "name")
    )
    if not counties:
        return 0
    rng = Draw(seed + 18)
    # City districts hold most devices (elevators, cranes on sites): three times a rural county.
    weights = [3.0 if name.endswith("区") else 1.0 for _, name in counties]
    kinds = profiles.NATIONAL_ACCIDENT_KINDS
    low, high = profiles.NATIONAL_ACCIDENTS_PER_YEAR
    drawn = []  # (county index, day, equipment kind, point seed)
    for year in range(today.year - years + 1, today.year + 1):
        first, last = dt.date(year, 1, 1), min(dt.date(year, 12, 31), today)
        share = ((last - first).days + 1) / ((dt.date(year, 12, 31) - first).days + 1)
        count = round(rng.integers(low, high + 1) * share)
        for index in rng.choice(range(len(counties)), p=weights, size=count):
            day = first + dt.timedelta(days=rng.integers(0, (last - first).days + 1))
            kind = str(rng.choice(list(kinds), p=list(kinds.values())))
            drawn.append((index, day, kind, rng.integers(1, 2**31 - 1)))
    with connection.cursor() as cursor:
        # A seeded random point inside each county's boundary, drawn by PostGIS in one statement.
        cursor.execute(
            """
            SELECT encode(ST_AsEWKB(ST_GeometryN(ST_GeneratePoints(r.boundary, 1, t.seed), 1)), 'hex')
              FROM unnest(%s::text[], %s::int[]) WITH ORDINALITY AS t(code, seed, ord)
              JOIN geo_region r ON r.code = t.code
             ORDER BY t.ord
            """,
            [[counties[i][0] for i, *_ in drawn], [s for *_, s in drawn]],
        )
        points = [row[0] for row in cursor.fetchall()]
    rows = [
        accident_row(
            rng,
            kind,
            day,
            point,
            names.address(rng, counties[index][1]),
            counties[index][0],
            None,
            None,
            today,
        )  # fmt: skip
        for (index, day, kind, _), point in zip(drawn, points, strict=True)
    ]
    with transaction.atomic():
        written = copy_rows("registry_accident", ACCIDENT_COLUMNS, rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE registry_accident")
    return written
