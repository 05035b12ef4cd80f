"""Benchmark: regional export (exports) against ogr2ogr reading the same rows from PostGIS.

    .venv/bin/python -m bench.export                       # 100,000 devices in Jiangsu (32)
    .venv/bin/python -m bench.export --reuse               # measure the loaded database again
    .venv/bin/python -m bench.export --reuse --profile gpkg   # where one export spends its time

Creates (or empties) the database `segis_bench_export`, loads the boundaries under the prefix and
generates the registry with `registry.synthetic.generate` (timed). A province supervisor then
exports the equipment layer of the province (every device: the region of --devices devices), and
side by side, interleaved, each repeat led by the other method:
  * export  — `export_layer(user, "equipment", …, "gpkg", "wgs84", file)` in this process;
  * ogr2ogr — `ogr2ogr -f GPKG out.gpkg PG:… -sql "SELECT …"` as a subprocess: the same rows
    (the scope's region prefix, a geometry) and the same columns under the same Chinese names,
    the names of codes joined in SQL, the geometry a device's point or a pipeline's route.
It prints p50 per method and the ratio against the target (export ≤ 1.3× ogr2ogr), then every
format of the export with ogr2ogr writing the same rows to the same driver for reference (what it
writes otherwise is printed with the figures), and the machine. Results go to stdout, progress to
stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.tiles import percentile

FORMATS = ("gpkg", "shp", "geojson", "kml", "csv", "xlsx")
TARGET_RATIO = 1.3
SHAPE = "COALESCE(e.route, e.location)"  # what the vector formats draw
POINT = "COALESCE(e.location, ST_LineInterpolatePoint(ST_GeometryN(e.route, 1), 0.5))"  # tables
# Per format: ogr2ogr's driver, file name, options, and its runs (geometry, extra condition,
# layer name): a Shapefile holds one geometry type, so points and pipelines go in two runs.
OGR_OUTPUTS = {
    "gpkg": ("GPKG", "out.gpkg", [], [(SHAPE, "", "equipment")]),
    "shp": (
        "ESRI Shapefile",
        ".",
        ["-lco", "ENCODING=UTF-8"],
        [
            ("e.location", "AND e.location IS NOT NULL", "equipment"),
            ("e.route", "AND e.route IS NOT NULL", "equipment_lines"),
        ],
    ),
    "geojson": ("GeoJSON", "out.geojson", ["-lco", "RFC7946=YES"], [(SHAPE, "", "equipment")]),
    "kml": ("KML", "out.kml", [], [(SHAPE, "", "equipment")]),
    "csv": ("CSV", "out.csv", ["-lco", "GEOMETRY=AS_XY"], [(POINT, "", "equipment")]),
    "xlsx": ("XLSX", "out.xlsx", [], [(POINT, "", "equipment")]),
}
# What ogr2ogr's output lacks or does otherwise, next to the export's.
DIFFERENCES = {
    "gpkg": "one layer of mixed geometry (the export: points and pipelines as two layers), no "
    "field dictionary or summary tables",
    "shp": "two ogr2ogr runs (points, pipelines); field names cut to 10 bytes of Chinese instead "
    "of ASCII aliases; no zip, fields.csv or README.txt",
    "geojson": "the same RFC 7946 option",
    "kml": "placemarks not named after the device code",
    "csv": "X, Y without 坐标系, no BOM, no formula neutralising",
    "xlsx": "no coordinates (the driver writes none), no dictionary sheet, no neutralising",
}


def ogr2ogr_sql(prefix: str, geometry: str = SHAPE, condition: str = "") -> str:
    """The export's rows and columns (layers.fields.COLUMNS["equipment"]) as one SELECT,
    as a GDAL user would write it: codes named by joins, the status label by CASE."""
    from layers.fields import COLUMNS
    from registry.models import EquipmentStatus

    status = " ".join(
        f"WHEN '{s.value}' THEN '{str(s.label).split(' / ')[0]}'" for s in EquipmentStatus
    )
    columns = {
        "编号": "e.id",
        "设备代码": "e.device_code",
        "注册代码": "e.registration_code",
        "使用登记证编号": "e.certificate_number",
        "96333救援识别码": "e.rescue_id",
        "设备种类代码": "e.kind",
        "设备种类": "k.name_zh",
        "设备品种代码": "e.variety_id",
        "设备品种": "v.name_zh",
        "设备状态": f"CASE e.status {status} ELSE e.status END",
        "设备使用地点": "e.address",
        "使用单位": "u.name",
        "使用单位信用代码": "u.credit_code",
        "维保单位": "m.name",
        "区划代码": "e.region_id",
        "所在区划": "g.name",
        "制造日期": "e.manufactured_on",
        "投入使用日期": "e.commissioned_on",
        "下次检验日期": "e.next_inspection_due",
    }
    assert list(columns) == [c.name_zh for c in COLUMNS["equipment"]], "columns out of step"
    select = ", ".join(f'{sql} AS "{name}"' for name, sql in columns.items())
    return (
        f"SELECT {select}, {geometry} AS geom "
        "FROM registry_equipment e "
        "LEFT JOIN registry_variety k ON k.code = e.kind "
        "LEFT JOIN registry_variety v ON v.code = e.variety_id "
        "LEFT JOIN registry_unit u ON u.id = e.use_unit_id "
        "LEFT JOIN registry_unit m ON m.id = e.maintenance_unit_id "
        "LEFT JOIN geo_region g ON g.code = e.region_id "
        f"WHERE e.region_id LIKE '{prefix}%' AND (e.location IS NOT NULL OR e.route IS NOT NULL) "
        f"{condition} ORDER BY e.id"
    )


def connection_string() -> str:
    from django.db import connection

    settings = connection.settings_dict
    parts = {
        "host": settings["HOST"] or "127.0.0.1",
        "port": settings["PORT"] or 5432,
        "user": settings["USER"],
        "password": settings["PASSWORD"],
        "dbname": settings["NAME"],
    }
    return "PG:" + " ".join(f"{k}={v}" for k, v in parts.items() if v)


def measure(args) -> None:
    with tempfile.TemporaryDirectory(prefix="segis-bench-export-") as work:
        _measure(args, Path(work))


def _measure(args, work: Path) -> None:
    from django.db import connection

    from bench.geojson import province_user
    from bench.machine import describe
    from exports.core import count_rows, export_layer

    user = province_user(args.prefix)
    rows = count_rows(user, "equipment", None)
    sql = ogr2ogr_sql(args.prefix)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS q")
        (ogr_rows,) = cursor.fetchone()
    print(f"machine: {describe()}")
    # Other work on the machine shows here: the figures are only as quiet as this.
    print(
        "load average (1, 5, 15 min) at the start: "
        + ", ".join(f"{v:.2f}" for v in os.getloadavg())
    )
    print(
        f"rows: export {rows:,}, ogr2ogr's SELECT {ogr_rows:,} (as {user}); repeats {args.repeat}"
    )

    def export(fmt: str):
        def run() -> int:
            destination = work / f"export.{fmt}"
            export_layer(user, "equipment", None, None, fmt, "wgs84", destination)
            return destination.stat().st_size

        return run

    def ogr2ogr(fmt: str):
        driver, name, options, runs = OGR_OUTPUTS[fmt]

        def run() -> int:
            folder = work / f"ogr-{fmt}"
            folder.mkdir(exist_ok=True)
            for old in folder.iterdir():
                old.unlink()
            for geometry, condition, layer in runs:
                command = [
                    "ogr2ogr", "-f", driver, str(folder / name), connection_string(),
                    "-sql", ogr2ogr_sql(args.prefix, geometry, condition), "-nln", layer, *options,
                ]  # fmt: skip
                subprocess.run(command, check=True, capture_output=True)
            return sum(p.stat().st_size for p in folder.iterdir())

        return run

    if args.profile:
        export(args.profile)()  # warm: imports, PROJ, catalogue
        profiler = cProfile.Profile()
        profiler.runcall(export(args.profile))
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(35)
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)
        return

    header = (
        f"{'format':8} {'method':8} {'runs':>4} {'p50 s':>7} {'min s':>7} {'rows/s':>9} "
        f"{'MB':>7} {'export/ogr2ogr':>15}"
    )
    print(header)
    print("-" * len(header))
    verdict = ""
    for fmt in args.formats:
        runs = {"export": export(fmt), "ogr2ogr": ogr2ogr(fmt)}
        for run in runs.values():  # one untimed run of each: caches, imports, the file system
            run()
        repeat = args.repeat if fmt != "xlsx" else max(1, args.repeat // 2)
        times: dict[str, list[float]] = {name: [] for name in runs}
        sizes: dict[str, int] = {}
        methods = list(runs.items())
        for r in range(repeat):
            for name, run in methods[r % 2 :] + methods[: r % 2]:  # each repeat led by the other
                started = time.perf_counter()
                sizes[name] = run()
                times[name].append(time.perf_counter() - started)
            print(f"  {fmt} repeat {r + 1}/{repeat} done", file=sys.stderr)
        p50 = {name: percentile(values, 0.5) for name, values in times.items()}
        ratio = p50["export"] / p50["ogr2ogr"]
        for name, values in times.items():
            print(
                f"{fmt:8} {name:8} {len(values):>4} {p50[name]:>7.2f} {min(values):>7.2f} "
                f"{rows / p50[name]:>9,.0f} {sizes[name] / 1e6:>7.1f} "
                f"{f'{ratio:.2f}x' if name == 'export' else '':>15}"
            )
        if fmt == "gpkg":
            verdict = (
                f"GeoPackage: export ≤ {TARGET_RATIO}× ogr2ogr "
                f"{'met' if ratio <= TARGET_RATIO else 'MISSED'} ({ratio:.2f}x, p50 "
                f"{p50['export']:.2f} s vs {p50['ogr2ogr']:.2f} s)"
            )
    print()
    print("what ogr2ogr writes otherwise (its figures are for reference beyond GeoPackage):")
    for fmt in args.formats:
        print(f"  {fmt:8} {DIFFERENCES[fmt]}")
    if verdict:
        print(f"target (p50): {verdict}")
    print(
        "load average (1, 5, 15 min) at the end: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--prefix", default="32", help="division-code prefix to fill (32: Jiangsu)")
    parser.add_argument("--database", default="segis_bench_export")
    parser.add_argument("--reuse", action="store_true", help="measure the loaded database again")
    parser.add_argument("--repeat", type=int, default=5, help="runs per format and method")
    parser.add_argument(
        "--formats", nargs="+", choices=FORMATS, default=list(FORMATS), help="formats to time"
    )
    parser.add_argument(
        "--profile", choices=FORMATS, help="profile one export of this format instead of timing"
    )
    args = parser.parse_args()
    from bench.database import load_registry, use_database

    use_database(args.database, recreate=not args.reuse)
    if not args.reuse:
        load_registry(args.prefix, args.devices)
    measure(args)


if __name__ == "__main__":
    main()
