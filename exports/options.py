"""What an export can be asked for: layer, format, coordinate system and area, each allow-listed.

Every parser answers an `ExportError` naming the parameter (bilingual, like FilterError), and
`parse_request` reads them all from one mapping (a command line, later a form) and reports every
problem at once. No user string ever reaches GDAL: formats become driver names fixed here and
coordinate systems EPSG integers fixed in geo.crs's registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.contrib.gis.geos import GEOSGeometry, Polygon
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import QueryDict

from geo import crs, geojson
from geo.geojson import GeometryError, parse_geometry
from geo.mercator import world
from geo.models import Region
from geo.scoping import Scope
from layers.catalogue import LAYERS
from layers.filters import LAYER_FILTERS, BBox, FilterError, LayerQuery, RegionFilter, parse_bbox
from layers.filters import REGION_PATTERN as PREFIX_PATTERN
from layers.filters import parse_query as parse_filters
from layers.sources import (
    SOURCES,
    NothingVisible,
    Sql,
    box_corners,
    box_envelope,
    overlaps,
    queryset_sql,
)
from maps.choropleth import ChoroplethQuery, on_map, parse_choropleth_query


class ExportError(ValueError):
    """An export that cannot be made as asked, each problem under the parameter it concerns."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def _squash(value: str) -> str:
    return "".join(value.strip().lower().split()).replace("-", "").replace("_", "")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --------------------------------------------------------------------------- layers


REGIONS = "regions"
# (Chinese, English) title of every layer an export can hold: the map's point and line layers, and
# the statistics of its region choropleth (one row per region, exports/regions.py).
LAYER_TITLES: dict[str, tuple[str, str]] = {
    **{name: (layer.title_zh, layer.title_en) for name, layer in LAYERS.items() if name in SOURCES},
    REGIONS: ("区划统计", "Region statistics"),
}

# The map's filters as an export reads them: the layer's own, or the choropleth's for regions.
Query = LayerQuery | ChoroplethQuery


def parse_layer(name: str) -> str:
    if name not in LAYER_TITLES:
        raise ExportError(
            {"layer": f"未知图层 / unknown layer {_short(name)}; one of {', '.join(LAYER_TITLES)}"}
        )
    return name


# --------------------------------------------------------------------------- formats


@dataclass(frozen=True)
class Format:
    """An output format: GDAL writes the vector ones, our own writers the tables."""

    name: str
    title: str
    extension: str
    content_type: str
    driver: str | None = None  # GDAL driver; None: a table written by exports.tables
    wgs84_only: bool = False  # the format's specification fixes WGS84 lon/lat
    mixed_geometry: bool = True  # points and lines in one layer (else one layer per type)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("gpkg", "GeoPackage", ".gpkg", "application/geopackage+sqlite3", "GPKG",
               mixed_geometry=False),
        Format("shp", "Shapefile (zip)", ".zip", "application/zip", "ESRI Shapefile",
               mixed_geometry=False),
        Format("geojson", "GeoJSON (RFC 7946)", ".geojson", "application/geo+json", "GeoJSON",
               wgs84_only=True),
        Format("kml", "KML", ".kml", "application/vnd.google-earth.kml+xml", "KML",
               wgs84_only=True),
        # Not "for Excel": Excel turns the 19–20-digit codes of a CSV into numbers (the page says
        # so and points Excel users to XLSX, whose cells stay text).
        Format("csv", "CSV (UTF-8)", ".csv", "text/csv; charset=utf-8"),
        Format("xlsx", "Excel (XLSX)", ".xlsx",
               "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    )
}  # fmt: skip
_FORMAT_ALIASES = {
    **{name: name for name in FORMATS},
    "geopackage": "gpkg",
    "shapefile": "shp",
    "zip": "shp",
    "json": "geojson",
    "excel": "xlsx",
}


def parse_format(value: str | Format) -> Format:
    if isinstance(value, Format):
        return value
    name = _FORMAT_ALIASES.get(_squash(value)) if isinstance(value, str) else None
    if name is None:
        raise ExportError(
            {"format": f"未知格式 / unknown format {_short(value)}; one of {', '.join(FORMATS)}"}
        )
    return FORMATS[name]


# --------------------------------------------------------------------------- coordinate systems


# The coordinate systems geo.crs offers for export, by name (wgs84 … gk45).
Target = crs.Offered
TARGETS: dict[str, Target] = crs.offered_on(crs.Surface.EXPORT)
_ZONES = [t for t in TARGETS.values() if t.zone is not None]
_CHOICES = (
    ", ".join(name for name, t in TARGETS.items() if t.zone is None)
    + f", {_ZONES[0].name} … {_ZONES[-1].name} (CGCS2000 Gauss-Krüger, "
    f"EPSG:{_ZONES[0].srid}–{_ZONES[-1].srid})"
)


def parse_crs(value: str | int | Target) -> Target:
    """An allow-listed system by name or EPSG code; anything else is an ExportError."""
    try:
        return crs.parse(value, crs.Surface.EXPORT)
    except crs.UnknownCRS as error:
        raise ExportError(
            {
                "crs": f"不支持的坐标系 / unsupported coordinate system {_short(value)}{error.hint}; "
                f"one of {_CHOICES}"
            }
        ) from None


# --------------------------------------------------------------------------- area


# The count endpoint's box test (maps/counts.py), on the same world coordinates of the same
# representative point: west and north edges in, east and south out.
_IN_BOX = """
SELECT r.id FROM (
  SELECT r.id, {u} AS u, {v} AS v FROM ({rows}) AS r WHERE {overlaps} OFFSET 0
) AS r
WHERE r.u >= {west} AND r.u < {east} AND r.v >= {north} AND r.v < {south}
"""


def in_box(layer: str, queryset: QuerySet, bbox: BBox) -> QuerySet:
    """The rows of the queryset the map counts in the box: those whose point (a pipeline's:
    halfway along its first line) lies in it, half-open like tiles and counts, so that an export of a
    box holds exactly the `/tiles/<layer>/count` of that box and those filters."""
    source, box = SOURCES[layer], bbox.clamped()  # as counts.query_box clamps it
    try:
        rows = queryset_sql(queryset.order_by().values(*source.columns))
    except NothingVisible:
        return queryset.none()
    u, v = world(source.point)
    ids = Sql(_IN_BOX).format(
        u=u,
        v=v,
        rows=rows,
        overlaps=overlaps(layer, box_envelope(box)),
        **box_corners(box),
    )
    return queryset.filter(pk__in=RawSQL(ids.text, ids.params))


@dataclass(frozen=True)
class Area:
    """Where to export: a division-code prefix, a lon/lat box, a polygon (WGS84) — all that are
    given apply. A feature is in the box when the map counts it there (its point, half-open: west
    and north edges in, east and south out); in the polygon when its geometry intersects it."""

    region: str | None = None
    bbox: BBox | None = None
    polygon: GEOSGeometry | None = None

    def apply(self, layer: str, queryset: QuerySet) -> QuerySet:
        """The rows of the area that the map draws and counts."""
        if self.region:
            queryset = queryset.within_prefix(self.region)
        if self.polygon is not None:
            q = Q()
            for column in SOURCES[layer].geometry_columns:
                q |= Q(**{f"{column}__intersects": self.polygon})
            queryset = queryset.filter(q)
        if self.bbox is None:
            return on_map(layer, queryset)
        return in_box(layer, queryset, self.bbox)

    @property
    def box_polygon(self) -> GEOSGeometry | None:
        if self.bbox is None:
            return None
        box = self.bbox
        polygon = Polygon.from_bbox((box.west, box.south, box.east, box.north))
        polygon.srid = crs.STORAGE_SRID
        return polygon


def jurisdiction(user) -> Scope:
    """The user's jurisdiction; an ExportError when the user has none."""
    scope = Scope.of(user)
    if scope.prefix is None:
        raise ExportError(
            {"user": "用户没有辖区，无可导出 / the user has no jurisdiction to export"}
        )
    return scope


def check_region(user, region: str, param: str = "region") -> str:
    """A division-code prefix that exists and overlaps the user's jurisdiction."""
    region = region.strip()
    if not PREFIX_PATTERN.fullmatch(region):
        raise ExportError(
            {param: "应为 2–6 位行政区划代码前缀 / expected a 2–6 digit division-code prefix"}
        )
    scope = jurisdiction(user)
    if scope.narrowed(region) is None:
        raise ExportError(
            {
                param: f"{region} 不在您的辖区内 / outside your jurisdiction "
                f"({scope.prefix or 'national'})"
            }
        )
    if not Region.objects.filter(code__startswith=region).exists():
        raise ExportError(
            {param: f"没有代码以 {region} 开头的区划 / no division code starts {region}"}
        )
    return region


def parse_area_bbox(value: str) -> BBox:
    try:
        return parse_bbox(value)
    except FilterError as error:
        raise ExportError(error.errors) from None


# The largest drawn area a request or a file may carry: the GeoJSON reader's own bound.
MAX_POLYGON_BYTES = geojson.MAX_BYTES


def parse_polygon(text: str | bytes) -> GEOSGeometry:
    """A GeoJSON Polygon or MultiPolygon (a geometry, or a Feature holding one) in WGS84 lon/lat,
    read by the one GeoJSON reader (geo.geojson)."""
    try:
        return parse_geometry(text, "polygon", kinds=("Polygon", "MultiPolygon"))
    except GeometryError as error:
        raise ExportError({"polygon": error.message}) from None


# --------------------------------------------------------------------------- one request


@dataclass(frozen=True)
class ExportRequest:
    """Everything an export needs besides the user, parsed and checked."""

    layer: str
    query: Query
    area: Area
    format: Format
    target: Target


def region_filter(query: Query) -> str | None:
    """The value of the map's region filter in a query, if it has one."""
    if isinstance(query, ChoroplethQuery):
        query = query.equipment  # the accidents' region filter is the same parameter
    filters = LAYER_FILTERS[query.layer]
    return next((v for i, v in query.values if isinstance(filters[i], RegionFilter)), None)


def parse_request(
    user,
    *,
    layer: str,
    format: str,
    crs: str | int = "wgs84",
    filters: QueryDict | None = None,
    region: str | None = None,
    bbox: str | None = None,
    polygon: str | bytes | None = None,
) -> ExportRequest:
    """Every parameter read and checked; all problems at once in one ExportError."""
    errors: dict[str, str] = {}

    def attempt(parse, *args):
        try:
            return parse(*args)
        except ExportError as error:
            errors.update(error.errors)
        except FilterError as error:
            errors.update(error.errors)
        return None

    jurisdiction(user)
    layer = attempt(parse_layer, layer)
    fmt = attempt(parse_format, format)
    target = attempt(parse_crs, crs)
    if fmt is not None and target is not None and fmt.wgs84_only and target.name != "wgs84":
        errors["crs"] = (
            f"{fmt.title} 规定使用 WGS84 经纬度 / {fmt.title} is always WGS84 lon/lat: use crs=wgs84, "
            "or GeoPackage/Shapefile/CSV/XLSX for other systems"
        )
    if layer == REGIONS:
        query = attempt(parse_choropleth_query, filters or QueryDict())
    else:
        query = attempt(parse_filters, layer, filters or QueryDict()) if layer else None
    if query is not None and (value := region_filter(query)) is not None:
        attempt(check_region, user, value)
    area = Area(
        region=attempt(check_region, user, region) if region is not None else None,
        bbox=attempt(parse_area_bbox, bbox) if bbox is not None else None,
        polygon=attempt(parse_polygon, polygon) if polygon is not None else None,
    )
    if errors:
        raise ExportError(errors)
    return ExportRequest(layer, query, area, fmt, target)
