"""Export one map layer for one user: the scoped rows, the map's filters, an area, a format, a CRS.

The rows are the map's own: `sources.SOURCES[layer].rows(user, today)` (scoped by `visible_to`),
narrowed by the same `LayerQuery` the tiles apply, then by the area, and kept to those the map
draws and counts (a geometry on the map; in a box, a point the count finds in it): the export
holds exactly the map's count for the filters and the box. The `regions` layer is the map's region
choropleth instead, one row per region (exports/regions.py).

Files are written in a temporary directory of their own, removed when the export ends however it
ends (success, error, KeyboardInterrupt); only the finished file is moved to the destination.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone

from exports.naming import ascii_filename, export_filename, region_label
from exports.options import (
    REGIONS,
    Area,
    ExportError,
    Format,
    Query,
    Target,
    check_region,
    jurisdiction,
    parse_crs,
    parse_format,
    parse_layer,
    region_filter,
)
from exports.plan import Part, Plan, Progress
from exports.regions import region_table
from layers.fields import Lookups, read_chunks
from layers.filters import LayerQuery
from layers.sources import geometry_parts
from maps.choropleth import ChoroplethQuery, parse_choropleth_query
from maps.tiles import SOURCES

CHUNK_ROWS = 10_000
TEMP_PREFIX = "segis-export-"
# Format → (module, writer). The writers' libraries (pyarrow, pyogrio, openpyxl) load with the
# first export, not when Django starts.
WRITERS = {
    "gpkg": ("exports.vector", "write_gpkg"),
    "shp": ("exports.vector", "write_shapefile"),
    "geojson": ("exports.vector", "write_geojson"),
    "kml": ("exports.vector", "write_kml"),
    "csv": ("exports.tables", "write_csv"),
    "xlsx": ("exports.tables", "write_xlsx"),
}
XLSX_MAX_ROWS = 1_048_576  # including the header row


def writer(fmt: Format) -> Callable[[Plan, Path], Path]:
    """The function that writes a file of this format."""
    module, name = WRITERS[fmt.name]
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    filename: str  # the name to offer for download (Chinese allowed)
    ascii_filename: str
    features: int
    seconds: float
    format: Format
    target: Target

    @property
    def rows_per_second(self) -> float:
        return self.features / self.seconds if self.seconds > 0 else float("inf")


def _check_query(layer: str, query: Query | None) -> None:
    """A caller's mistake, not a user's: filters parsed for another layer."""
    if query is None:
        return
    if layer == REGIONS:
        fits = isinstance(query, ChoroplethQuery)
    else:
        fits = isinstance(query, LayerQuery) and query.layer == layer
    if not fits:
        raise ValueError(f"a query {query!r} given for layer {layer}")


def layer_rows(user, layer: str, query: LayerQuery | None, area: Area, today: dt.date) -> QuerySet:
    """The rows of a map layer's export: scoped, filtered like the map, in the area, on the map."""
    layer = parse_layer(layer)
    if layer not in SOURCES:
        raise ExportError(
            {"layer": f"{layer} 是统计表，不是地图图层 / {layer} is a table of figures, not rows "
             "of a map layer"}
        )  # fmt: skip
    _check_query(layer, query)
    jurisdiction(user)  # refuses a user without one
    queryset = SOURCES[layer].rows(user, today)
    if query is not None:
        queryset = query.apply(queryset)
    return area.apply(layer, queryset)


def count_rows(user, layer: str, query: Query | None, area: Area | None = None) -> int:
    """How many features an export would hold (for an estimate before it starts)."""
    today, area = timezone.localdate(), area or Area()
    if parse_layer(layer) == REGIONS:
        _check_query(layer, query)
        jurisdiction(user)
        return len(region_table(user, query, area, today))
    return layer_rows(user, layer, query, area, today).count()


def _parts(layer: str, fmt: Format, rows: QuerySet) -> list[Part]:
    """One part per geometry type (layers.sources.geometry_parts: the OGC API's collections are
    the same split), or one of mixed geometry where the format holds both; no empty lines part."""

    def part(name: str, geometry_type: str, queryset: QuerySet) -> Part:
        return Part(name, geometry_type, functools.partial(read_chunks, layer, queryset))

    found = geometry_parts(layer)
    if len(found) > 1 and fmt.mixed_geometry:
        return [part(layer, "Unknown", rows)]
    return [
        part(p.name, p.geometry_type, p.rows(rows))
        for p in found
        if not p.lines or p.rows(rows).exists()
    ]


def _area_prefix(user, query: Query | None, area: Area) -> str:
    """The narrowest division the export covers: jurisdiction, area region, region filter."""
    scope = jurisdiction(user)
    for region in (area.region, region_filter(query) if query else None):
        if region is not None:
            scope = scope.narrowed(region) or scope
    return scope.prefix


def download_names(
    user, layer: str, query: Query | None, area: Area | None, fmt: Format, target: Target
) -> tuple[str, str]:
    """(name, ASCII fallback) to offer the file under: region, layer, today's date, CRS."""
    today = timezone.localdate()
    name, code = region_label(_area_prefix(user, query, area or Area()))
    return (
        export_filename(name, layer, today, target, fmt),
        ascii_filename(code, layer, today, target, fmt),
    )


def check_size(fmt: Format, total: int) -> None:
    """Refuse an XLSX longer than Excel can open, before any work."""
    if fmt.name == "xlsx" and total >= XLSX_MAX_ROWS:
        most = XLSX_MAX_ROWS - 1
        raise ExportError(
            {
                "format": f"XLSX 最多 {most:,} 行，本次 {total:,} 行，请用 CSV 或 GeoPackage / XLSX "
                f"holds at most {most:,} rows, this export has {total:,}: use CSV or GeoPackage"
            }
        )


def _deliver(source: Path, destination: Path) -> None:
    """Move the finished file into place; a reader of `destination` never sees half a file."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.part")
    try:
        shutil.copyfile(source, partial)
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)


def export_layer(
    user,
    layer: str,
    query: Query | None,
    area: Area | None,
    fmt: str | Format,
    crs: str | int | Target,
    destination: Path | str,
    *,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ExportResult:
    """Write the layer as the user may see it to `destination`; progress(done, total) per chunk."""
    started = time.perf_counter()
    today = timezone.localdate()
    layer, fmt, target, area = parse_layer(layer), parse_format(fmt), parse_crs(crs), area or Area()
    _check_query(layer, query)
    if fmt.wgs84_only and target.name != "wgs84":
        raise ExportError(
            {"crs": f"{fmt.title} 只能是 WGS84 / {fmt.title} is always WGS84 lon/lat"}
        )
    for region in (area.region, region_filter(query) if query else None):
        if region is not None:
            check_region(user, region)
    prefix = _area_prefix(user, query, area)
    region_name, region_code = region_label(prefix)
    outermost = not connection.in_atomic_block
    with transaction.atomic():  # the server-side cursor lives in a transaction
        with connection.cursor() as cursor:
            if outermost:  # one snapshot for the count, the parts and the rows
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SET LOCAL jit = off")  # JIT compiles for longer than a scan runs
        notes: list[tuple[str, str]] = []
        if layer == REGIONS:
            table = region_table(user, query, area, today)
            total, notes = len(table), table.notes
            parts = [Part(layer, "MultiPolygon", table.read)]
            query = query or parse_choropleth_query(QueryDict())
        else:
            rows = layer_rows(user, layer, query, area, today)
            total = rows.count()
            check_size(fmt, total)
            parts = _parts(layer, fmt, rows)
            query = query or LayerQuery(layer, ())
        plan = Plan(
            layer=layer,
            query=query,
            area=area,
            format=fmt,
            target=target,
            parts=parts,
            lookups=Lookups.for_prefix(prefix, today),
            region_name=region_name,
            region_code=region_code,
            total=total,
            chunk_rows=chunk_rows,
            progress=progress,
            notes=notes,
        )
        if progress is not None:
            progress(0, total)
        with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as directory:
            written = writer(fmt)(plan, Path(directory))
            _deliver(written, Path(destination))
    return ExportResult(
        path=Path(destination),
        filename=export_filename(region_name, layer, today, target, fmt),
        ascii_filename=ascii_filename(region_code, layer, today, target, fmt),
        features=plan.done,
        seconds=time.perf_counter() - started,
        format=fmt,
        target=target,
    )
