"""The one reader of GeoJSON geometry input (RFC 7946): API fields, drawn areas and admin map
widgets. Everything a client sends is checked before GEOS or PostGIS sees it, so a bad value is a
400 naming its field, never a 500 or a stored empty, open or non-finite shape.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import shapely
from django.contrib.gis.geos import GEOSGeometry

from common.errors import DomainError, Problem

from .crs import CRS, STORAGE_SRID, srid_for
from .mercator import WORLD_HALF

# A drawn county outline has a few thousand vertices; a million would stall GEOS and the database.
MAX_VERTICES = 10_000
MAX_BYTES = 1 << 20
# RFC 7946 §3.1.8 asks producers not to nest collections at all; one level is kept for tolerance.
MAX_COLLECTION_DEPTH = 2
# How deep each type's coordinates nest: a position is 0, a list of positions 1, and so on.
COORDINATE_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}
TYPES = (*COORDINATE_DEPTH, "GeometryCollection")
WEB_MERCATOR_SRID = srid_for(CRS.WEB_MERCATOR)
# Where coordinates may lie, per SRID: WGS84 lon/lat, or Web Mercator metres (the admin's maps).
BOUNDS = {
    STORAGE_SRID: (-180.0, -90.0, 180.0, 90.0),
    WEB_MERCATOR_SRID: (-WORLD_HALF, -WORLD_HALF, WORLD_HALF, WORLD_HALF),
}


class GeometryError(DomainError):
    """A geometry input that cannot be used, naming its field and the rule it breaks."""

    def __init__(self, field: str, rule: str, message: str):
        self.field, self.rule, self.message = field, rule, message
        super().__init__([Problem(field, rule, message)])


def parse_geometry(
    value: Any,
    field: str,
    *,
    kinds: Iterable[str] | None = None,
    srid: int = STORAGE_SRID,
    max_vertices: int = MAX_VERTICES,
) -> GEOSGeometry:
    """A GeoJSON geometry (a dict, or its JSON text; a Feature's geometry too) as a valid,
    non-empty 2D GEOS geometry in `srid`, or a GeometryError naming `field`."""
    if isinstance(value, str | bytes):
        value = _loads(value, field)
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    allowed = tuple(kinds or TYPES)
    if not isinstance(value, dict) or value.get("type") not in allowed:
        raise GeometryError(
            field,
            "geometry.type",
            f"应为 GeoJSON 几何（{'、'.join(allowed)}）/ expected a GeoJSON geometry: "
            f"{', '.join(allowed)}",
        )
    _Walk(field, BOUNDS.get(srid), max_vertices).geometry(value, 0)
    shape = shapely.force_2d(shapely.geometry.shape(value))
    if not shape.is_valid:
        reason = shapely.is_valid_reason(shape)
        raise GeometryError(
            field, "geometry.invalid", f"几何无效 / invalid geometry: {reason[:120]}"
        )
    return GEOSGeometry(memoryview(shapely.to_wkb(shape)), srid=srid)


def _loads(text: str | bytes, field: str) -> Any:
    if len(text) > MAX_BYTES:
        raise GeometryError(
            field, "geometry.size", f"超过 {MAX_BYTES >> 10} KB / larger than {MAX_BYTES} bytes"
        )
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise GeometryError(field, "geometry.json", "不是 JSON / not valid JSON") from None


class _Walk:
    """Checks the structure before shapely reads it: shapely and GEOS accept NaN, open rings and
    empty parts, and recurse without a limit."""

    def __init__(self, field: str, bounds: tuple[float, float, float, float] | None, most: int):
        self.field, self.bounds, self.most, self.vertices = field, bounds, most, 0

    def refuse(self, rule: str, message: str) -> None:
        raise GeometryError(self.field, rule, message)

    def geometry(self, value: Any, depth: int) -> None:
        kind = value.get("type") if isinstance(value, dict) else None
        if kind not in TYPES:
            self.refuse("geometry.type", f"未知几何类型 / unknown geometry type: {str(kind)[:40]}")
        if kind == "GeometryCollection":
            if depth >= MAX_COLLECTION_DEPTH:
                self.refuse(
                    "geometry.depth",
                    f"几何集合嵌套超过 {MAX_COLLECTION_DEPTH} 层 / geometry collections nested "
                    f"more than {MAX_COLLECTION_DEPTH} deep",
                )
            parts = value.get("geometries")
            self.nonempty_list(parts, "geometries")
            for part in parts:
                self.geometry(part, depth + 1)
            return
        self.coordinates(value.get("coordinates"), COORDINATE_DEPTH[kind], kind)

    def coordinates(self, value: Any, depth: int, kind: str) -> None:
        if depth == 0:
            self.position(value)
            return
        self.nonempty_list(value, "coordinates")
        for item in value:
            self.coordinates(item, depth - 1, kind)
        if depth == 1 and kind in ("LineString", "MultiLineString"):
            self.at_least(value, 2, "geometry.line", "线至少需 2 个点 / a line needs 2 positions")
        if depth == 1 and kind in ("Polygon", "MultiPolygon"):
            self.ring(value)

    def ring(self, ring: list) -> None:
        self.at_least(ring, 4, "geometry.ring", "环至少需 4 个点 / a ring needs 4 positions")
        if ring[0][:2] != ring[-1][:2]:
            self.refuse(
                "geometry.ring_unclosed",
                "多边形的环未闭合（首尾点应相同）/ a polygon ring is not closed: its last "
                "position must repeat the first",
            )

    def at_least(self, value: list, count: int, rule: str, message: str) -> None:
        if len(value) < count:
            self.refuse(rule, message)

    def nonempty_list(self, value: Any, key: str) -> None:
        if not isinstance(value, list):
            self.refuse("geometry.shape", f"{key} 应为数组 / {key} must be an array")
        if not value:
            self.refuse("geometry.empty", f"{key} 为空 / {key} is empty: no empty geometries")

    def position(self, value: Any) -> None:
        if value == []:
            self.refuse("geometry.empty", "坐标为空 / the coordinates are empty: no empty points")
        if (
            not isinstance(value, list)
            or len(value) not in (2, 3)
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            self.refuse(
                "geometry.position",
                "坐标应为 [经度, 纬度] 数字数组 / a position is [x, y] numbers",
            )
        if not all(math.isfinite(v) for v in value):
            self.refuse("geometry.finite", "坐标须为有限数 / coordinates must be finite numbers")
        if self.bounds is not None:
            west, south, east, north = self.bounds
            if not (west <= value[0] <= east and south <= value[1] <= north):
                self.refuse(
                    "geometry.range",
                    f"坐标超出范围 / a position is out of range: {value[0]}, {value[1]}",
                )
        self.vertices += 1
        if self.vertices > self.most:
            self.refuse(
                "geometry.vertices",
                f"顶点超过 {self.most} 个 / more than {self.most} positions",
            )
