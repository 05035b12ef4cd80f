"""OGC API - Features over the map's layers, as the user may see them (served at /ogcapi/).

Why not pygeoapi: its providers open their own database connections and know nothing of our users,
so they cannot apply `visible_to`. The endpoint is written here instead, thinly, on the rows the
export writes (`exports.layer_rows`: scoped by `visible_to` first, then the map's filters,
then the area, and only rows the map can draw). Core logic takes parameters, not HTTP requests;
ogcapi/views.py answers HTTP.

* Collections are the map layers (catalogue.LAYERS), split by geometry type as the export splits
  its files (layers.sources.geometry_parts): `equipment` and `overdue` hold the points, and
  `equipment_lines` and `overdue_lines` the pipelines' routes — a desktop GIS layer has one
  geometry type. Their items carry the export's columns
  (layers.fields.COLUMNS) under the same Chinese names and with the same values: what a
  GIS user sees through the API is what a downloaded GeoPackage holds. The export decodes a row in
  Python; here each decoder has its SQL twin (`_decoded`), so a page is decoded in the database and
  leaves it as GeoJSON text: one statement per page (the count and the page together), no Python
  per feature. The twins are compared with the export on every layer in the tests. Each
  collection's `describedby` is a JSON Schema of those columns, so clients type their fields.
* Query parameters: the map's filters (layers.filters.LAYER_FILTERS) plus the OGC ones: `limit`
  (DEFAULT_LIMIT; more than MAX_LIMIT is answered with MAX_LIMIT, as the standard says: see
  parse_limit), `offset`, `bbox` (4 numbers, or 6 with heights, which are ignored) with
  `bbox-crs`, `crs`, and `f=json`. Anything else is a 400 naming it. Pages are ordered by id.
* `bbox` keeps the features whose geometry intersects the box, edges included, as OGC API
  Features requires (a pipeline crossing the box is in) — not the map's half-open test on a
  representative point, which the GeoJSON API and the tiles share. A box given in another CRS is
  moved to lon/lat along densified edges (geo.crs does the moving), never the rows.
* Coordinate systems (Part 2, CRS by reference): OFFERED, the systems geo.crs's registry offers
  on OGC API, each by its URI and with an EPSG code, answered in that CRS's own axis order —
  EPSG:4326 and 4490 are lat, lon; the CGCS2000 Gauss-Krüger zones EPSG:4513–4533 are northing,
  easting; CRS84 and EPSG:3857 are east first. Only these integers reach PostGIS's ST_Transform.
  GCJ-02 is left out: it has no EPSG code, and a client told "EPSG:4326" would draw it hundreds of
  metres off.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import numpy as np
from django.conf import settings
from django.contrib.gis.db.models import Extent
from django.contrib.gis.geos import Polygon
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import F, QuerySet
from django.http import QueryDict
from django.utils import timezone

from exports.core import layer_rows
from exports.options import Area
from geo import crs
from geo.crs import CRS84
from geo.models import Region
from layers import catalogue, sources
from layers import fields as layer_fields
from layers.fields import COLUMNS, Column, Lookups
from layers.filters import (
    MAX_VALUE_LENGTH,
    BBox,
    FilterError,
    LayerQuery,
    accepted_params,
    parse_bbox,
    parse_query,
)
from layers.sources import SOURCES, GeometryPart, Sql, geometry_parts
from maps.geojson import COORDINATE_DIGITS
from registry import catalogue as codes

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
# Metres to the millimetre; degrees keep the GeoJSON API's 7 decimals (about a centimetre).
PROJECTED_DIGITS = 3
# Points per edge when a projected bbox is moved to lon/lat: its edges are curves there.
BBOX_EDGE_POINTS = 32
# Within PostgreSQL's bigint: ids are bigint, and an offset this large is past any table's end.
MAX_OFFSET = MAX_ID = 2**63 - 1 - MAX_LIMIT

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA = "application/schema+json"
FORMATS = ("json", "geojson")  # `f`: both name the one encoding offered
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
COLLECTION_ID = "collectionId"  # the path parameter, as errors and the OpenAPI document name it
ITEMS_PARAMS = ("f", "limit", "offset", "bbox", "bbox-crs", "crs")
ITEM_PARAMS = ("f", "crs")


# --------------------------------------------------------------------------- coordinate systems


@dataclass(frozen=True)
class OfferedCRS:
    """A `crs` / `bbox-crs` value: a system of geo.crs's registry that OGC API offers, by its URI."""

    target: crs.Offered  # the EPSG code, axis order, degrees or metres

    @property
    def uri(self) -> str:
        return self.target.uri

    @property
    def northing_first(self) -> bool:
        return self.target.northing_first

    @property
    def digits(self) -> int:
        return COORDINATE_DIGITS if self.target.geographic else PROJECTED_DIGITS

    def to_wgs84(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x (east), y (north) arrays of this CRS → lon, lat: for a bbox given in it."""
        return self.target.to_wgs84(x, y)


OFFERED: dict[str, OfferedCRS] = {
    offered.uri: OfferedCRS(offered) for offered in crs.offered_on(crs.Surface.OGC).values()
}
STORAGE_CRS = OFFERED[CRS84]
_ZONES = [o.target for o in OFFERED.values() if o.target.zone is not None]
_CHOICES = (
    ", ".join(uri for uri, o in OFFERED.items() if o.target.zone is None)
    + f", {_ZONES[0].uri} … {_ZONES[-1].uri} (CGCS2000 Gauss-Krüger zones "
    f"{_ZONES[0].zone}–{_ZONES[-1].zone})"
)


def parse_crs(value: str | None, param: str = "crs") -> OfferedCRS:
    """One of the advertised URIs, exactly; anything else is a FilterError naming `param`."""
    if value is None:
        return STORAGE_CRS
    try:
        return OFFERED[crs.parse(value, crs.Surface.OGC).uri]
    except crs.UnknownCRS:
        raise FilterError(
            {param: f"不支持的坐标系 / unsupported coordinate system; one of {_CHOICES}"}
        ) from None


def _in_crs(shape: str, system: OfferedCRS) -> Sql:
    """SQL moving a stored 4326 geometry expression into `system`, in that CRS's axis order."""
    moved = Sql(shape)
    if not system.target.unchanged:
        moved = Sql("ST_Transform({shape}, %s)", (system.target.srid,)).format(shape=shape)
    if system.northing_first:
        moved = Sql("ST_FlipCoordinates({moved})").format(moved=moved)
    return moved


# --------------------------------------------------------------------------- the area


def _axis_order(system: OfferedCRS) -> str:
    if system.target.geographic:
        return (
            "minlat,minlon,maxlat,maxlon"
            if system.northing_first
            else "minlon,minlat,maxlon,maxlat"
        )
    if system.northing_first:
        return "minnorthing,mineasting,maxnorthing,maxeasting"
    return "minx,miny,maxx,maxy"


def _edges(west: float, south: float, east: float, north: float) -> tuple[np.ndarray, np.ndarray]:
    """The box's outline, BBOX_EDGE_POINTS per edge, counter-clockwise from the south-west corner."""
    steps = np.linspace(0.0, 1.0, BBOX_EDGE_POINTS, endpoint=False)
    rising, falling = steps, 1.0 - steps
    width, height = east - west, north - south
    xs = [west + width * rising, np.full_like(steps, east), west + width * falling,
          np.full_like(steps, west)]  # fmt: skip
    ys = [np.full_like(steps, south), south + height * rising, np.full_like(steps, north),
          south + height * falling]  # fmt: skip
    return np.concatenate(xs), np.concatenate(ys)


def _rectangle(box: BBox) -> Area:
    # A polygon, not the Area's bbox: an export box holds what the map counts in it (points,
    # half-open), an OGC box what intersects it.
    outline = Polygon.from_bbox((box.west, box.south, box.east, box.north))
    outline.srid = crs.STORAGE_SRID
    return Area(polygon=outline)


def _without_heights(raw: str, order: str) -> str:
    """A 6-number bbox (min x, y, z, max x, y, z: OGC API - Features Part 1, `bbox`) as the 4 of
    its horizontal box: the features have no heights, so the vertical range selects nothing."""
    parts = raw.split(",")
    if len(parts) != 6:
        return raw
    try:
        low, high = float(parts[2]), float(parts[5])
    except ValueError:
        low = high = math.nan
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise FilterError(
            {"bbox": f"高度应为有限数且 min ≤ max / the heights must be finite, min ≤ max: {order}"}
        )
    return ",".join([parts[0], parts[1], parts[3], parts[4]])


def parse_area(raw: str, system: OfferedCRS) -> Area:
    """`bbox` given in `system`, in its axis order, as an export Area in lon/lat: the features
    whose geometry intersects it, edges included. Six numbers are a box with heights."""
    raw = _without_heights(raw, _axis_order(system))
    if system.uri == CRS84:
        return _rectangle(parse_bbox(raw))
    order = _axis_order(system)
    try:
        numbers = [float(part) for part in raw.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or not np.isfinite(numbers).all():
        raise FilterError({"bbox": f"应为四个有限数 / expected four finite numbers: {order}"})
    if system.northing_first:
        numbers = [numbers[1], numbers[0], numbers[3], numbers[2]]
    west, south, east, north = numbers
    if west >= east or south >= north:
        raise FilterError({"bbox": f"范围颠倒或为空 / inverted or empty box: {order}, min < max"})
    if system.target.geographic:
        return _rectangle(parse_bbox(",".join(repr(v) for v in numbers)))
    lon, lat = (np.asarray(v, dtype=float) for v in system.to_wgs84(*_edges(*numbers)))
    inside = np.isfinite(lon).all() and np.isfinite(lat).all()
    if not inside or (np.abs(lon) > 180).any() or (np.abs(lat) > 90).any():
        raise FilterError(
            {"bbox": f"超出坐标系的有效范围 / outside what bbox-crs can place: {order}"}
        )
    ring = list(zip(lon.tolist(), lat.tolist(), strict=True))
    return Area(polygon=Polygon([*ring, ring[0]], srid=crs.STORAGE_SRID))


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class ItemsQuery:
    """One items request, parsed and checked."""

    part: GeometryPart  # the collection
    filters: LayerQuery
    area: Area
    limit: int
    offset: int
    crs: OfferedCRS

    @property
    def layer(self) -> str:
        return self.part.layer


# The collections: each map layer's geometry parts, in the catalogue's order. The old ids
# `equipment` and `overdue` stay, as their points (docs/ogcapi.md).
COLLECTIONS: dict[str, GeometryPart] = {
    part.name: part for layer in catalogue.LAYERS for part in geometry_parts(layer)
}


def check_collection(collection_id: str) -> GeometryPart:
    try:
        return COLLECTIONS[collection_id]
    except KeyError:
        raise FilterError(
            {COLLECTION_ID: f"未知集合 / unknown collection; one of {', '.join(COLLECTIONS)}"}
        ) from None


def _single_values(params: QueryDict, names, errors: dict[str, str]) -> dict[str, str]:
    """The given OGC parameters by name; an empty value means not given, like the map's filters."""
    found = {}
    for name in names:
        values = params.getlist(name)
        if len(values) > 1:
            errors[name] = "参数重复 / given more than once"
        elif values and len(values[0]) > MAX_VALUE_LENGTH:
            errors[name] = f"过长 / longer than {MAX_VALUE_LENGTH} characters"
        elif values and values[0].strip():
            found[name] = values[0].strip()
    return found


def _whole(value: str, high: int) -> bool:
    # ASCII digits only: str.isdigit() accepts '²', which int() refuses. The length is checked
    # first, so a value of thousands of digits is never converted.
    return (
        value.isascii() and value.isdigit() and len(value) <= len(str(high)) and int(value) <= high
    )


def parse_limit(value: str | None) -> int:
    """1 to MAX_LIMIT; a larger whole number is answered with MAX_LIMIT features a page.

    The one clamp in SEGIS, and the standard's rule, not a silent cut: OGC API - Features Part 1
    (§7.15.3, the `limit` parameter) lets a client ask for more than the advertised maximum and
    the server answer at most its maximum, the `next` link carrying on (ogcapi-features#640).
    GDAL's OAPIF driver relies on it: with PAGE_SIZE=20000 a 400 left it with nothing."""
    if value is None:
        return DEFAULT_LIMIT
    digits = value.lstrip("0") if value.isascii() and value.isdigit() else ""
    if not digits:
        raise FilterError(
            {
                "limit": f"应为正整数（每页最多 {MAX_LIMIT} 个要素）/ a whole number, 1 or more "
                f"(at most {MAX_LIMIT} features a page: page on with the next links)"
            }
        )
    # The length first: a value of thousands of digits is never converted.
    return MAX_LIMIT if len(digits) > len(str(MAX_LIMIT)) else min(int(digits), MAX_LIMIT)


def parse_offset(value: str | None) -> int:
    if value is None:
        return 0
    if not _whole(value, MAX_OFFSET):
        raise FilterError({"offset": f"应为 0–{MAX_OFFSET} 的整数 / a whole number, 0 or more"})
    return int(value)


def _attempt(errors: dict[str, str], parse, *args):
    try:
        return parse(*args)
    except FilterError as error:
        errors.update(error.errors)
        return None


def _unknown_params(params: QueryDict, accepted: list[str], errors: dict[str, str]) -> None:
    for name in params:
        if name not in accepted:
            errors[name] = f"未知参数 / unknown parameter; accepted: {', '.join(accepted)}"


def _check_format(given: dict[str, str], errors: dict[str, str]) -> None:
    if "f" in given and given["f"] not in FORMATS:
        errors["f"] = "只提供 JSON / only JSON is offered: f=json (GeoJSON for features)"


def check_document_params(params: QueryDict) -> None:
    """A document (landing page, conformance, collections) takes no parameter but `f`."""
    errors: dict[str, str] = {}
    _unknown_params(params, ["f"], errors)
    _check_format(_single_values(params, ["f"], errors), errors)
    if errors:
        raise FilterError(errors)


def parse_items(collection_id: str, params: QueryDict) -> ItemsQuery:
    """Every parameter of an items request; all problems at once in a FilterError."""
    part = check_collection(collection_id)
    layer = part.layer
    errors: dict[str, str] = {}
    accepted = [*ITEMS_PARAMS, *accepted_params(layer)]
    _unknown_params(params, accepted, errors)
    given = _single_values(params, ITEMS_PARAMS, errors)
    _check_format(given, errors)
    limit = _attempt(errors, parse_limit, given.get("limit"))
    offset = _attempt(errors, parse_offset, given.get("offset"))
    output = _attempt(errors, parse_crs, given.get("crs"), "crs")
    box_system = _attempt(errors, parse_crs, given.get("bbox-crs"), "bbox-crs")
    area = Area()
    if "bbox" in given and box_system is not None:
        area = _attempt(errors, parse_area, given["bbox"], box_system) or area
    filters = QueryDict(mutable=True)
    for name, values in params.lists():
        if name not in ITEMS_PARAMS and name not in errors:
            filters.setlist(name, values)
    query = _attempt(errors, parse_query, layer, filters)
    if errors:
        raise FilterError(errors)
    return ItemsQuery(part, query, area, limit, offset, output)


def parse_item(collection_id: str, params: QueryDict) -> OfferedCRS:
    """The parameters of a single-item request: only `crs` and `f`."""
    check_collection(collection_id)
    errors: dict[str, str] = {}
    _unknown_params(params, list(ITEM_PARAMS), errors)
    given = _single_values(params, ITEM_PARAMS, errors)
    _check_format(given, errors)
    output = _attempt(errors, parse_crs, given.get("crs"), "crs")
    if errors:
        raise FilterError(errors)
    return output


def feature_id(text: str) -> int | None:
    """A feature id from the path; None for anything that cannot be one (answered as not found)."""
    return int(text) if _whole(text, MAX_ID) else None


# --------------------------------------------------------------------------- properties in SQL


def _field(model, lookup: str):
    *relations, name = lookup.split("__")
    for relation in relations:
        model = model._meta.get_field(relation).related_model
    return model._meta.get_field(name)


def _json(mapping: dict) -> str:
    return json.dumps(mapping, ensure_ascii=False)


# Each export decoder's SQL twin, over `v` (the raw column) with what it needs: the export's own
# decoder applied to every value of a finite domain (choices, catalogue codes, roles) becomes a
# lookup table; the rest is written out. Only non-null values are decoded, as in the export.
def _days_overdue(column: Column, v: str, lookups: Lookups, field) -> Sql:
    return Sql(f"(%s::date - {v})", (lookups.today,))


def _local_iso(column: Column, v: str, lookups: Lookups, field) -> Sql:
    # timezone.localtime(...).isoformat(timespec="seconds"): local wall time and its UTC offset.
    offset = f"(({v} AT TIME ZONE %s) - ({v} AT TIME ZONE 'UTC'))"
    return Sql(
        f"to_char({v} AT TIME ZONE %s, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN {offset} < "
        f"interval '0' THEN '-' || to_char(-{offset}, 'HH24:MI') ELSE '+' || "
        f"to_char({offset}, 'HH24:MI') END",
        (settings.TIME_ZONE,) * 4,
    )


def _number(column: Column, v: str, lookups: Lookups, field) -> Sql:
    return Sql(f"{v}::float8")


def _region_name(column: Column, v: str, lookups: Lookups, field) -> Sql:
    quote, meta = connection.ops.quote_name, Region._meta
    name, code = meta.get_field("name").column, meta.get_field("code").column
    return Sql(
        f"COALESCE((SELECT {quote(name)} FROM {quote(meta.db_table)} WHERE {quote(code)} = {v}), '')"
    )


def _catalogue_name(column: Column, v: str, lookups: Lookups, field) -> Sql:
    names = {code: column.decode(code, lookups) for code in codes.entries()}
    return Sql(f"COALESCE(%s::jsonb ->> {v}, '')", (_json(names),))


def _roles(column: Column, v: str, lookups: Lookups, field) -> Sql:
    labels = {role: column.decode([role], lookups) for role, _ in field.base_field.choices}
    return Sql(
        f"array_to_string(ARRAY(SELECT COALESCE(%s::jsonb ->> u.role, u.role) FROM unnest({v}) "
        "WITH ORDINALITY AS u(role, n) ORDER BY u.n), %s)",
        (_json(labels), "、"),
    )


def _choice(column: Column, v: str, lookups: Lookups, field) -> Sql:
    labels = {value: column.decode(value, lookups) for value, _ in field.choices}
    return Sql(f"COALESCE(%s::jsonb ->> {v}, {v})", (_json(labels),))


DECODERS = {
    layer_fields._days_overdue: _days_overdue,
    layer_fields._local_iso: _local_iso,
    layer_fields._number: _number,
    layer_fields._region_name: _region_name,
    layer_fields._catalogue_name: _catalogue_name,
    layer_fields._roles: _roles,
}


def _decoded(column: Column, v: str, lookups: Lookups, field) -> Sql:
    """The column's value as the export writes it."""
    if column.decode is None:
        return Sql(v)
    twin = DECODERS.get(column.decode)
    if twin is None and field.choices and not isinstance(field, ArrayField):
        twin = _choice
    if twin is None:
        raise ImproperlyConfigured(
            f"export column {column.name_en!r} has a decoder with no SQL twin in ogcapi.features"
        )
    decoded = twin(column, v, lookups, field)
    return Sql(f"CASE WHEN {v} IS NULL THEN NULL ELSE ({decoded.text}) END", decoded.params)


def _sources(layer: str) -> list[str]:
    return list(dict.fromkeys(column.source for column in COLUMNS[layer]))


def _properties(layer: str, model, today: dt.date) -> Sql:
    """json_build_object of the export's columns, by their Chinese names, over the row `r`."""
    alias = {source: f"s{i}" for i, source in enumerate(_sources(layer))}
    lookups = Lookups(today, {})
    texts, params = [], []
    for column in COLUMNS[layer]:
        # A column without a decoder may be an annotation (a station's counts): no model field.
        field = _field(model, column.source) if column.decode is not None else None
        value = _decoded(column, f"r.{alias[column.source]}", lookups, field)
        texts.append(f"%s, {value.text}")
        params.extend([column.name_zh, *value.params])
    return Sql(f"json_build_object({', '.join(texts)})", params)


# --------------------------------------------------------------------------- the statement

_PAGE = """
SELECT ({matched}),
       count(f.id),
       COALESCE(string_agg(f.feature, ',' ORDER BY f.id), '')
FROM (
  SELECT r.id,
         '{"type":"Feature","id":' || r.id
         || ',"geometry":' || COALESCE(ST_AsGeoJSON({geometry}, %s, 0), 'null')
         || ',"properties":' || {properties}::text || '}' AS feature
  FROM ({page}) AS r
) AS f
"""


@dataclass(frozen=True)
class Page:
    matched: int  # every row the query selects
    returned: int
    features: str  # the page's features as GeoJSON text, comma-separated, ordered by id


def page_sql(
    layer: str, rows: QuerySet, offset: int, limit: int, system: OfferedCRS, today: dt.date
) -> Sql:
    """The statement: (rows matched, rows returned, the page's features as GeoJSON text)."""
    source = SOURCES[layer]
    # A pipeline is its route, anything else its point (the export's geometry, too).
    shape = f"COALESCE({', '.join(f'r.{c}' for c in reversed(source.geometry_columns))})"
    columns = {f"s{i}": F(name) for i, name in enumerate(_sources(layer))}
    page = rows.values("id", *source.geometry_columns, **columns).order_by("id")
    return Sql(_PAGE, (system.digits,)).format(
        matched=Sql("SELECT count(*) FROM ({rows}) AS m").format(
            rows=sources.queryset_sql(rows.order_by().values("id"))
        ),
        geometry=_in_crs(shape, system),
        properties=_properties(layer, rows.model, today),
        page=sources.queryset_sql(page[offset : offset + limit]),
    )


def _page(statement: Callable[[], Sql]) -> Page:
    try:
        return Page(*sources.execute(statement()))
    except sources.NothingVisible:
        return Page(0, 0, "")


def items_sql(user, request: ItemsQuery, today: dt.date) -> Sql:
    rows = request.part.rows(layer_rows(user, request.layer, request.filters, request.area, today))
    return page_sql(request.layer, rows, request.offset, request.limit, request.crs, today)


def items_page(user, request: ItemsQuery) -> Page:
    """The page of the collection the request asks for, as the user may see it."""
    return _page(lambda: items_sql(user, request, timezone.localdate()))


def item_feature(user, collection_id: str, pk: int, system: OfferedCRS) -> str | None:
    """One feature as GeoJSON text; None when the user's rows of the collection do not hold it."""
    part, today = COLLECTIONS[collection_id], timezone.localdate()
    rows = part.rows(layer_rows(user, part.layer, None, Area(), today)).filter(pk=pk)
    return _page(lambda: page_sql(part.layer, rows, 0, 1, system, today)).features or None


def not_found_message(collection_id: str) -> str:
    """The 404 of a feature: the same for a missing one and another jurisdiction's; where the
    layer is split, it says where pipelines went (the collection held them before the split)."""
    message = "没有这个要素 / no such feature in this collection"
    part = COLLECTIONS[collection_id]
    if part.split and not part.lines:
        message += (
            f"；管道在集合 {part.layer}_lines 中 / pipelines are in the collection "
            f"{part.layer}_lines"
        )
    return message


# --------------------------------------------------------------------------- documents


def _link(href: str, rel: str, kind: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": kind, "title": title}


def landing(base: str) -> dict:
    """`base`: the absolute URL of the landing page, ending in a slash."""
    return {
        "title": "SEGIS OGC API - Features",
        "description": "特种设备安全监察地理信息系统的地图图层，按您的辖区提供 / the map layers of "
        "the special-equipment safety supervision GIS, as your jurisdiction holds them",
        "links": [
            _link(base, "self", JSON, "本页 / this document"),
            _link(f"{base}api", "service-desc", OPENAPI, "API 定义 / the API definition"),
            _link(f"{base}conformance", "conformance", JSON, "符合的标准 / conformance"),
            _link(f"{base}collections", "data", JSON, "图层 / the collections"),
        ],
    }


def conformance() -> dict:
    return {"conformsTo": CONFORMANCE}


def jurisdiction_extent(user) -> list[float] | None:
    """[west, south, east, north] of the user's jurisdiction; None without boundaries."""
    found = Region.objects.visible_to(user).aggregate(extent=Extent("boundary"))["extent"]
    return list(found) if found else None


def title(collection_id: str) -> str:
    """The layer's title; a split layer's parts say which geometry they hold."""
    part = COLLECTIONS[collection_id]
    entry = catalogue.LAYERS[part.layer]
    if not part.split:
        return f"{entry.title_zh} / {entry.title_en}"
    if part.lines:
        return f"{entry.title_zh}（管道）/ {entry.title_en} (pipelines)"
    return f"{entry.title_zh}（点）/ {entry.title_en} (points)"


def _split_note(part: GeometryPart) -> str:
    if not part.split:
        return ""
    if part.lines:
        return f"。仅管道（线），其余设备在 {part.layer} / Only pipelines (lines); points: {part.layer}"
    return (
        f"。仅点，管道（线）在 {part.layer}_lines / Only points; pipelines (lines): "
        f"{part.layer}_lines"
    )


def collection(collection_id: str, base: str, extent: list[float] | None) -> dict:
    part = COLLECTIONS[collection_id]
    layer, entry = part.layer, catalogue.LAYERS[part.layer]
    url = f"{base}collections/{collection_id}"
    filters = ", ".join(accepted_params(layer))
    described = {
        "id": collection_id,
        "title": title(collection_id),
        "description": f"{entry.title_zh}：您辖区内的数据，与地图和导出相同；地图的筛选条件可作查询参数"
        f"（{filters}） / {entry.title_en} of your jurisdiction, as the map and the export show "
        f"them; the map's filters are query parameters ({filters})" + _split_note(part),
        "itemType": "feature",
        "crs": list(OFFERED),
        "storageCrs": STORAGE_CRS.uri,
        "links": [
            _link(url, "self", JSON, "本集合 / this collection"),
            _link(f"{url}/items", "items", GEOJSON, "要素 / the features"),
            _link(f"{url}/schema", "describedby", SCHEMA, "属性定义 / the properties' schema"),
        ],
    }
    if extent is not None:
        described["extent"] = {"spatial": {"bbox": [extent], "crs": CRS84}}
    return described


JSON_TYPES = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "str": {"type": "string"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
}


def schema(collection_id: str, base: str) -> dict:
    """A feature of the collection as a JSON Schema (its `describedby`): clients type their fields
    from it rather than guess from a first page where a date may be all nulls. GeoJSON-shaped, the
    columns under `properties.properties`: the form GDAL reads."""
    layer = COLLECTIONS[collection_id].layer
    columns = {
        column.name_zh: {
            **JSON_TYPES[column.type],
            "title": f"{column.name_zh} / {column.name_en}",
            "description": f"Shapefile: {column.alias}"
            + (f"; {column.note}" if column.note else ""),
        }
        for column in COLUMNS[layer]
    }
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": f"{base}collections/{collection_id}/schema",
        "title": title(collection_id),
        "type": "object",
        "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "integer"},
            "geometry": {"description": "GeoJSON geometry, in the CRS asked for"},
            "properties": {"type": "object", "properties": columns},
        },
    }


def collections(base: str, extent: list[float] | None) -> dict:
    return {
        "links": [_link(f"{base}collections", "self", JSON, "图层 / the collections")],
        "crs": list(OFFERED),
        "collections": [collection(name, base, extent) for name in COLLECTIONS],
    }


def _url(base: str, params: QueryDict, **changes) -> str:
    query = {name: params.getlist(name) for name in params}
    query.update({name: [str(value)] for name, value in changes.items()})
    return f"{base}?{urlencode(query, doseq=True)}" if query else base


def items_document(
    request: ItemsQuery, page: Page, url: str, params: QueryDict, timestamp: dt.datetime
) -> str:
    """The FeatureCollection text; `url` is the absolute items URL without its query string."""
    links = [
        _link(_url(url, params), "self", GEOJSON, "本页 / this page"),
        _link(url.removesuffix("/items"), "collection", JSON, "集合 / the collection"),
    ]
    if request.offset + page.returned < page.matched:
        forward = request.offset + request.limit
        links.append(
            _link(_url(url, params, offset=forward, limit=request.limit), "next", GEOJSON,
                  "下一页 / next page")
        )  # fmt: skip
    if request.offset > 0:
        back = max(request.offset - request.limit, 0)
        links.append(
            _link(_url(url, params, offset=back, limit=request.limit), "prev", GEOJSON,
                  "上一页 / previous page")
        )  # fmt: skip
    head = {
        "type": "FeatureCollection",
        "numberMatched": page.matched,
        "numberReturned": page.returned,
        "timeStamp": timestamp.isoformat(timespec="seconds"),
        "links": links,
    }
    # The features arrive from PostGIS as text and go out untouched.
    return json.dumps(head, ensure_ascii=False)[:-1] + ',"features":[' + page.features + "]}"


def item_document(feature: str, url: str, params: QueryDict) -> str:
    links = [
        _link(_url(url, params), "self", GEOJSON, "本要素 / this feature"),
        _link(url.rsplit("/items/", 1)[0], "collection", JSON, "集合 / the collection"),
    ]
    return feature[:-1] + ',"links":' + json.dumps(links, ensure_ascii=False) + "}"
