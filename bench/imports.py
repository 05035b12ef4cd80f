"""Benchmark: validated equipment import end to end, against a bulk_create loader doing the same writes.

    .venv/bin/python bench/imports.py                     # 200,000 rows, 3 runs each
    .venv/bin/python bench/imports.py --rows 50000 --runs 1 --reuse

Makes its own database (Ningxia's boundaries), then writes a CSV of --rows devices: points drawn
inside the counties (ST_GeneratePoints), one use unit per five devices with valid credit codes,
valid device codes, a mix of registrable varieties, commissioning dates. Then, interleaved:

  * import  — `store_upload` + `run_import(commit=True)`: read, every row check, placement by
              point-in-polygon, matching, units registered, equipment, registration events, audit
              rows and the change log written; all new rows;
  * reimport — the same file again once it is in: "0 new, 0 changed, N unchanged" (each run
              after an import that is kept, then rolled back with it);
  * peer    — the same file through the same reader, with the county taken from the file's
              division column (no point-in-polygon, no checks), units, equipment, events and audit
              rows written by Django's `bulk_create` (batches of 2,000).

Each run sits in a transaction rolled back at the end, so every run starts from the same state;
the final COMMIT's flush is therefore not timed for either. Prints rows/s per method (median), the
ratio import ÷ peer (target ≥ 3×), the 50,000 rows/s target, and the machine.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PREFIX = "64"
TARGET_ROWS_PER_SECOND = 50_000
TARGET_RATIO = 3.0
VARIETIES = ("3110", "3110", "3110", "3120", "3310", "2150", "2170", "4110", "4170", "5110", "1200")
HEADER = (
    "设备代码",
    "设备品种代码",
    "经度",
    "纬度",
    "行政区划代码",
    "设备使用地点",
    "使用单位名称",
    "使用单位统一社会信用代码",
    "投入使用日期",
)
MAPPING = {
    "device_code": "设备代码",
    "variety": "设备品种代码",
    "lon": "经度",
    "lat": "纬度",
    "division_code": "行政区划代码",
    "address": "设备使用地点",
    "use_unit_name": "使用单位名称",
    "use_unit_credit_code": "使用单位统一社会信用代码",
    "commissioned_on": "投入使用日期",
}


def write_file(path: Path, rows: int) -> None:
    """A clean equipment CSV of `rows` devices in Ningxia's counties (UTF-8, as most exports are)."""
    from django.db import connection

    from registry.synthetic.codes import credit_code, device_code

    with connection.cursor() as cursor:
        cursor.execute(
            """WITH counties AS (
                   SELECT code, boundary, ST_Area(boundary) AS area,
                          sum(ST_Area(boundary)) OVER () AS total
                   FROM geo_region WHERE level = 'county')
               SELECT code, ST_X(point), ST_Y(point) FROM (
                   SELECT code, (ST_Dump(ST_GeneratePoints(boundary,
                                  greatest(1, ceil(%s * area / total)::int), 2026))).geom AS point
                   FROM counties) drawn""",
            [rows],
        )
        points = cursor.fetchall()[:rows]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for number, (county, lon, lat) in enumerate(points):
            unit = number // 5
            writer.writerow(
                (
                    device_code(
                        VARIETIES[number % len(VARIETIES)],
                        f"T{number // 100_000:04d}",
                        2015 + number % 10,
                        number,
                    ),
                    VARIETIES[number % len(VARIETIES)],
                    f"{lon:.7f}",
                    f"{lat:.7f}",
                    county,
                    f"测试路{number % 997}号{number // 997}栋",
                    f"宁夏测试使用单位{unit}",
                    credit_code(county, 1_000_000 + unit),
                    (dt.date(2010, 1, 1) + dt.timedelta(days=number % 5000)).isoformat(),
                )
            )


def peer_loader(upload, user) -> int:
    """What a Django developer would write: the same reader, then bulk_create the same rows."""
    from django.contrib.gis.geos import Point

    from accounts.models import AuditEntry
    from registry.importers.readers import open_rows
    from registry.models import Equipment, LifecycleEvent, Unit

    with open_rows(upload) as rows:
        records = [row.values for row in rows]
    units = {}
    for values in records:
        units.setdefault(
            values["使用单位统一社会信用代码"], (values["使用单位名称"], values["行政区划代码"])
        )
    known = dict(Unit.objects.filter(credit_code__in=list(units)).values_list("credit_code", "pk"))
    created = Unit.objects.bulk_create(
        [
            Unit(credit_code=code, name=name, roles=["use"], region_id=region)
            for code, (name, region) in units.items()
            if code not in known
        ],
        batch_size=2000,
    )
    known.update({unit.credit_code: unit.pk for unit in created})
    devices = Equipment.objects.bulk_create(
        [
            Equipment(
                device_code=values["设备代码"],
                variety_id=values["设备品种代码"],
                kind=values["设备品种代码"][0] + "000",
                location=Point(float(values["经度"]), float(values["纬度"]), srid=4326),
                address=values["设备使用地点"],
                region_id=values["行政区划代码"],
                declared_region_code=values["行政区划代码"],
                use_unit_id=known[values["使用单位统一社会信用代码"]],
                commissioned_on=dt.date.fromisoformat(values["投入使用日期"]),
            )
            for values in records
        ],
        batch_size=2000,
    )
    LifecycleEvent.objects.bulk_create(
        [
            LifecycleEvent(
                equipment_id=device.pk,
                kind="registration",
                occurred_on=device.commissioned_on,
                unit_id=device.use_unit_id,
            )
            for device in devices
        ],
        batch_size=2000,
    )
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                actor=user,
                action="equipment.imported",
                model="registry.Equipment",
                object_pk=str(device.pk),
                region_code=device.region_id,
                after={"device_code": device.device_code},
            )
            for device in devices
        ],
        batch_size=2000,
    )
    return len(devices)


class Rollback(Exception):
    pass


def timed_in_rollback(run, before=None) -> float:
    """Seconds `run` takes inside a transaction that is rolled back afterwards."""
    from django.db import transaction

    elapsed = 0.0
    try:
        with transaction.atomic():
            if before is not None:
                before()
            started = time.perf_counter()
            run()
            elapsed = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", default="segis_bench_import")
    parser.add_argument("--reuse", action="store_true", help="use the database as left")
    args = parser.parse_args()

    from bench.database import use_database

    use_database(args.database, recreate=not args.reuse)
    from django.conf import settings
    from django.core.management import call_command

    if not args.reuse:
        call_command("migrate", verbosity=0)
        call_command("load_boundaries", cnmaps=[PREFIX], verbosity=0)
    from accounts.models import User
    from bench.machine import describe
    from geo import crs
    from registry.importers.intake import store_upload
    from registry.importers.pipeline import ImportRequest, run_import

    user = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        "bench-import", password="bench-import-2026"
    )
    scratch = Path(tempfile.mkdtemp(prefix="segis-bench-import-"))
    settings.IMPORT_ROOT = scratch / "imports"
    path = scratch / "equipment.csv"
    write_file(path, args.rows)
    data = path.read_bytes()
    print(f"file: {args.rows:,} rows, {len(data) / 1e6:.1f} MB CSV", file=sys.stderr)
    request = ImportRequest("equipment", MAPPING, crs.CRS.WGS84)
    outcomes = {}

    def ours():
        upload = store_upload(data, "equipment.csv")
        outcomes["import"] = run_import(upload, request, acting_user=user, commit=True)

    def again():
        upload = store_upload(data, "equipment.csv")
        outcomes["reimport"] = run_import(upload, request, acting_user=user, commit=True)

    def peer():
        outcomes["peer"] = peer_loader(store_upload(data, "equipment.csv"), user)

    times: dict[str, list[float]] = {"import": [], "reimport": [], "peer": []}
    for run in range(args.runs):
        for name, work, before in (
            ("import", ours, None),
            ("peer", peer, None),
            ("reimport", again, ours),
        ):
            seconds = timed_in_rollback(work, before)
            times[name].append(seconds)
            print(f"run {run + 1} {name}: {seconds:.2f} s", file=sys.stderr)
    first = outcomes["import"]
    assert first.committed and first.new == args.rows, first.summary()
    assert outcomes["reimport"].headline() == f"0 new, 0 changed, {args.rows} unchanged"
    assert outcomes["peer"] == args.rows

    rate = {name: args.rows / statistics.median(values) for name, values in times.items()}
    print(f"machine: {describe()}")
    print(f"equipment import of {args.rows:,} rows, median of {args.runs} runs:")
    for name, values in times.items():
        print(
            f"  {name:9s} {statistics.median(values):6.2f} s  {rate[name]:9,.0f} rows/s  "
            f"(runs: {', '.join(f'{value:.2f}' for value in values)})"
        )
    print(f"  import new rows: {first.headline()}, units new {first.units_new:,}")
    ratio = rate["import"] / rate["peer"]
    print(
        f"  import ÷ peer throughput: {ratio:.1f}×  (target ≥ {TARGET_RATIO:.0f}×: "
        f"{'met' if ratio >= TARGET_RATIO else 'NOT met'})"
    )
    print(
        f"  import rows/s: {rate['import']:,.0f}  (target ≥ {TARGET_ROWS_PER_SECOND:,}: "
        f"{'met' if rate['import'] >= TARGET_ROWS_PER_SECOND else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
