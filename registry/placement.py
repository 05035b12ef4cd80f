"""Where a record is: coordinates checked and converted to storage, and the county found by point-in-polygon."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.gis.geos import GEOSGeometry, Point

from geo import crs
from geo.models import Region

from .validators import Finding, check_division_code


@dataclass
class Placement:
    geometry: GEOSGeometry | None
    region: Region | None
    region_mismatch: bool = False
    findings: list[Finding] = field(default_factory=list)


def check_coordinates(lon: float, lat: float, field_name: str = "location") -> list[Finding]:
    """Out-of-range, outside-China and swapped coordinates, each with what to do about it."""
    if crs.in_china_bbox(lon, lat):
        return []
    # Before the range check: swapped Chinese coordinates put the longitude (73–135) in the latitude.
    if crs.in_china_bbox(lat, lon):
        return [
            Finding(
                field_name,
                "location.swapped",
                f"经纬度可能颠倒 / longitude and latitude look swapped: ({lon}, {lat}) is outside China, ({lat}, {lon}) is inside",
                "error",
                suggestion=f"lon={lat}, lat={lon}",
            )
        ]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return [
            Finding(
                field_name,
                "location.range",
                f"经纬度超出范围 / coordinates out of range: lon={lon}, lat={lat}",
                "error",
            )
        ]
    return [
        Finding(
            field_name,
            "location.outside_china",
            f"位置不在中国境内 / point ({lon}, {lat}) is outside China",
            "error",
        )
    ]


def place(
    geometry: GEOSGeometry | tuple[float, float] | None,
    *,
    source_crs: crs.CRS = crs.CRS.WGS84,
    declared_region_code: str = "",
    field_name: str = "location",
    county_of: Callable[[Point], Region | None] = Region.locate,
) -> Placement:
    """Convert to storage SRID, validate, and find the county; declared code is the fallback for no geometry.
    `county_of` finds the county of the stored point (a caller may look it up inside a statement
    of its own, sparing a round trip)."""
    findings: list[Finding] = []
    if declared_region_code:
        findings += [
            Finding("declared_region_code", f.rule, f.message, f.severity, f.suggestion)
            for f in check_division_code(declared_region_code)
        ]
    if isinstance(geometry, tuple):
        geometry = Point(float(geometry[0]), float(geometry[1]), srid=crs.srid_for(source_crs))
    if geometry is not None and geometry.empty:
        geometry = None
    stored = None
    if geometry is not None:
        if not geometry.valid:
            findings.append(
                Finding(
                    field_name,
                    "geometry.invalid",
                    f"几何无效 / invalid geometry: {geometry.valid_reason}",
                    "error",
                )
            )
            return Placement(None, None, findings=findings)
        lon, lat = geometry.centroid.x, geometry.centroid.y
        if source_crs in (crs.CRS.WGS84, crs.CRS.CGCS2000, crs.CRS.GCJ02, crs.CRS.BD09):
            findings += check_coordinates(lon, lat, field_name)
        if any(f.severity == "error" for f in findings):
            return Placement(None, None, findings=findings)
        stored = crs.to_storage(geometry, source_crs)
    region = None
    mismatch = False
    if stored is not None:
        probe = stored if stored.geom_type == "Point" else stored.point_on_surface
        region = county_of(probe)
        if region is None:
            findings.append(
                Finding(
                    field_name,
                    "location.no_region",
                    "位置不在任何已登记的县级区划内 / the point lies in no loaded county",
                    "error",
                )
            )
        elif declared_region_code and declared_region_code != region.code:
            mismatch = True
            findings.append(
                Finding(
                    "declared_region_code",
                    "region.mismatch",
                    f"申报区划 {declared_region_code} 与位置所在区划 {region.code} 不一致 / declared division differs from the located one",
                    "warning",
                    suggestion=region.code,
                )
            )
    elif declared_region_code and not any(f.severity == "error" for f in findings):
        region = Region.objects.filter(code=declared_region_code).first()
        if region is None:
            findings.append(
                Finding(
                    "declared_region_code",
                    "region.unknown",
                    f"未知的行政区划代码 / unknown division code {declared_region_code}",
                    "error",
                )
            )
    return Placement(stored, region, mismatch, findings)
