"""The area a plan covers: the planner's jurisdiction, a division inside it, or a drawn polygon.

Polygons are checked by the one GeoJSON reader (geo.geojson: WGS84, validity, size); WKT is
turned into GeoJSON first so both forms meet the same rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import shapely
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.db.models import Q, QuerySet

from geo.geojson import GeometryError, parse_geometry
from geo.models import Region
from geo.scoping import Scope
from registry.models import Equipment

from .exceptions import refuse

JURISDICTION = "jurisdiction"
POLYGONS = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class Area:
    """Where to look: `region` scopes the plan, `polygon` (if drawn) narrows it further."""

    region: Region | None
    boundary: MultiPolygon
    polygon: MultiPolygon | None = None

    def equipment(self, queryset: QuerySet[Equipment]) -> QuerySet[Equipment]:
        if self.polygon is not None:
            # Pipelines are lines without a point: they count when their route crosses the area.
            return queryset.filter(
                Q(location__within=self.polygon) | Q(route__intersects=self.polygon)
            )
        if self.region is None:
            return queryset
        return queryset.within_prefix(self.region.code_prefix)

    def describe(self) -> dict[str, Any]:
        if self.polygon is not None:
            return {"type": "polygon"}
        return {"type": "region", "region": self.region.code if self.region else ""}


def _multi(geometry: GEOSGeometry) -> MultiPolygon:
    return geometry if isinstance(geometry, MultiPolygon) else MultiPolygon(geometry, srid=4326)


def _own_region(user: Any) -> Region | None:
    agency = getattr(user, "agency", None)
    return agency.region if agency is not None else None


def _polygon_text(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value)
    if not isinstance(value, str) or not value.strip():
        refuse(
            "area", "area.polygon", "应为 GeoJSON 或 WKT 多边形 / expected a GeoJSON or WKT polygon"
        )
    text = value.strip()
    if text.startswith("{"):
        return text
    try:
        return shapely.to_geojson(shapely.from_wkt(text))
    except shapely.errors.ShapelyError:
        refuse("area", "area.polygon", "不是 WKT 或 GeoJSON / neither WKT nor GeoJSON")


def _drawn(user: Any, value: Any) -> Area:
    try:
        polygon = _multi(parse_geometry(_polygon_text(value), "area", kinds=POLYGONS))
    except GeometryError as error:
        refuse("area", "area.polygon", error.message)
    region = _own_region(user)
    if (
        region is not None
        and not Region.objects.filter(code=region.code, boundary__covers=polygon).exists()
    ):
        refuse(
            "area",
            "area.outside_jurisdiction",
            f"多边形超出您的辖区（{region.name}）/ the polygon is not inside your jurisdiction "
            f"({region.code})",
        )
    return Area(region=region, boundary=polygon, polygon=polygon)


def _division(user: Any, code: Any) -> Area:
    code = str(code).strip()
    region = Region.objects.filter(code=code).first() if code.isdigit() else None
    if region is None:
        refuse("area", "area.region", f"没有区划代码 {code} / no division has the code {code!r}")
    if not Scope.of(user).contains(code):
        refuse(
            "area",
            "area.outside_jurisdiction",
            f"{code} 不在您的辖区内 / {code} is outside your jurisdiction",
        )
    return Area(region=region, boundary=_multi(region.boundary))


def parse_area(user: Any, raw: Any) -> Area:
    """`"jurisdiction"` (the default), `{"region": code}` or `{"polygon": GeoJSON or WKT}`."""
    if raw in (None, "", JURISDICTION, {"type": JURISDICTION}):
        region = _own_region(user)
        if region is None:
            refuse(
                "area",
                "area.required",
                "全国用户请选择区划或绘制范围 / a national user picks a division or draws a polygon",
            )
        return Area(region=region, boundary=_multi(region.boundary))
    if isinstance(raw, dict) and set(raw) == {"region"}:
        return _division(user, raw["region"])
    if isinstance(raw, dict) and set(raw) == {"polygon"}:
        return _drawn(user, raw["polygon"])
    refuse(
        "area",
        "area.shape",
        '应为 "jurisdiction"、{"region": 代码} 或 {"polygon": …} / expected "jurisdiction", '
        '{"region": code} or {"polygon": GeoJSON or WKT}',
    )
