"""Seats of government (驻地) from a CSV of code, longitude and latitude, checked against the boundaries."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.db import connection, transaction

from . import crs

# AMap's district centres (cpca, MIT) in GCJ-02: geo/data/NOTICE.md says where from and how checked.
BUNDLED = Path(__file__).resolve().parent / "data" / "seats.csv"
BUNDLED_CRS = crs.CRS.GCJ02
# A county's offices may sit in the city it surrounds (抚顺县 6 km, 安阳县 2 km outside); farther
# out, the point is a stale seat or another region's.
MAX_OUTSIDE_M = 10_000


class SeatError(ValueError):
    """A seat file that cannot be loaded as it is; the message names the row and column."""


@dataclass(frozen=True)
class Seat:
    code: str
    name: str
    lon: float
    lat: float


@dataclass
class SeatReport:
    set: int = 0
    # (code, name, metres outside its region's boundary)
    refused: list[tuple[str, str, float]] = field(default_factory=list)
    without_region: list[str] = field(default_factory=list)


def read_seats(path: Path) -> list[Seat]:
    """Rows of a UTF-8 CSV with columns code, name, longitude, latitude (an operator's file)."""
    if not path.is_file():
        raise SeatError(f"{path}: no such file")
    try:
        return _read(path)
    except UnicodeDecodeError as error:
        raise SeatError(
            f"{path.name}: not UTF-8 text near byte {error.start} (save it as CSV UTF-8)"
        ) from None


def _read(path: Path) -> list[Seat]:
    seats: dict[str, Seat] = {}
    with path.open(encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file)
        missing = {"code", "longitude", "latitude"} - set(reader.fieldnames or ())
        if missing:
            raise SeatError(f"{path.name}: no column {', '.join(sorted(missing))}")
        for row_number, row in enumerate(reader, start=2):
            where = f"{path.name} row {row_number}"
            code = (row["code"] or "").strip()
            if not (len(code) == 6 and code.isdigit()):
                raise SeatError(f"{where}: code={code!r} is not a 6-digit GB/T 2260 code")
            if code in seats:
                raise SeatError(f"{where}: code {code} already given on an earlier row")
            try:
                lon, lat = float(row["longitude"]), float(row["latitude"])
            except (TypeError, ValueError):
                raise SeatError(
                    f"{where}: longitude/latitude {row['longitude']!r}, {row['latitude']!r} are not numbers"
                ) from None
            if not crs.in_china_bbox(lon, lat):
                raise SeatError(f"{where}: {lon}, {lat} lies outside China (longitude first)")
            seats[code] = Seat(code, (row.get("name") or "").strip(), lon, lat)
    return list(seats.values())


def set_seats(
    seats: Sequence[Seat], *, source_crs: crs.CRS, prefixes: Iterable[str] = ("",)
) -> SeatReport:
    """Set the seat of every loaded region the file names, under the prefixes; all or nothing.

    A seat farther than MAX_OUTSIDE_M from its region's boundary is refused and reported, not moved.
    """
    prefixes = tuple(prefixes)
    chosen = [s for s in seats if s.code.startswith(prefixes)]
    report = SeatReport()
    if not chosen:
        return report
    lon, lat = crs.to_wgs84(
        np.array([s.lon for s in chosen]), np.array([s.lat for s in chosen]), source_crs
    )
    values = ([s.code for s in chosen], [float(x) for x in lon], [float(y) for y in lat])
    names = {s.code: s.name for s in chosen}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH given AS (
                SELECT code, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS point
                FROM unnest(%s::text[], %s::float8[], %s::float8[]) AS v(code, lon, lat)
            )
            SELECT given.code, region.code IS NOT NULL,
                   CASE WHEN region.code IS NULL OR ST_Intersects(region.boundary, given.point) THEN 0
                        ELSE ST_Distance(region.boundary::geography, given.point::geography) END
            FROM given LEFT JOIN geo_region region ON region.code = given.code
            """,
            values,
        )
        accepted = []
        for code, loaded, outside in cursor.fetchall():
            if not loaded:
                report.without_region.append(code)
            elif outside > MAX_OUTSIDE_M:
                report.refused.append((code, names[code], round(outside)))
            else:
                accepted.append(code)
        cursor.execute(
            """
            UPDATE geo_region SET seat = ST_SetSRID(ST_MakePoint(v.lon, v.lat), 4326)
            FROM unnest(%s::text[], %s::float8[], %s::float8[]) AS v(code, lon, lat)
            WHERE geo_region.code = v.code AND v.code = ANY(%s)
            """,
            [*values, accepted],
        )
        report.set = cursor.rowcount
    report.refused.sort()
    report.without_region.sort()
    return report
