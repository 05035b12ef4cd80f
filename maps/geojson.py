"""Bbox-limited GeoJSON of the small map layers, built in PostGIS (served at /api/geojson/<layer>).

The ORM builds the rows exactly as for the tiles (`SOURCES[layer].rows(user, today)`, then the
layer's filters) and one statement wraps their SQL: each row becomes a Feature (`ST_AsGeoJSON` for
the geometry, `row_to_json` for the properties) and `string_agg` gathers them into a
FeatureCollection that leaves the database as text, so Python never touches a feature.

* Which rows: those whose representative point (the tiles' `point`: a pipeline's is halfway along
  its route) lies in the bbox by the `count` endpoint's very test — half-open, west and north
  edges in, east and south out, on world coordinates put through the same formulas — so a bbox's
  GeoJSON holds exactly the `count` of /tiles/<layer>/count for the same query string. Rows with
  no geometry (or an empty one) fail the index test and are left out.
* What each feature carries: `id`, the geometry (a pipeline's route when it has one, else its
  point) in WGS84 lon/lat with COORDINATE_DIGITS decimals (RFC 7946), and the tile features'
  properties (catalogue LAYERS) plus `url`, the record's detail page; a property the tiles leave
  out for want of a value (`code`, `days_overdue`) is null here.
* How many: at most MAX_FEATURES. A box holding more is refused (a FilterError naming `bbox`:
  zoom in, or use the tiles, which aggregate) rather than cut short: a partial layer would be
  drawn as if it were complete. The statement stops after MAX_FEATURES + 1 matching rows: a box
  over the whole country is refused without building its features.

The equipment layer is too big for GeoJSON (millions of rows): it is served as vector tiles only.
"""

from __future__ import annotations

import datetime as dt

from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from geo.mercator import world
from layers import sources
from layers.filters import FilterError, LayerQuery, parse_query
from layers.sources import SOURCES, Sql

GEOJSON_LAYERS = ("units", "accidents", "resources", "overdue", "licences", "unlicensed")
MAX_FEATURES = 5_000
# 1e-7° is about 1 cm: more digits only lengthen the text (RFC 7946 §11.2).
COORDINATE_DIGITS = 7
CONTENT_TYPE = "application/geo+json"
# The tiles' properties (layers.sources.SOURCES), except where JSON needs no conversion: a
# timestamp is already ISO 8601 text in row_to_json (the tiles go through to_json for MVT).
PROPERTIES = {
    "accidents": (
        "r.id AS id, r.severity AS severity, r.deaths AS deaths, r.occurred_at AS occurred_at"
    ),
}
DETAIL_PAGES = {
    "units": "unit-page",
    "accidents": "accident-page",
    "resources": "resource-page",
    "overdue": "equipment-page",
    "licences": "licensing:licence",
    "unlicensed": "equipment-page",
}
EMPTY_COLLECTION = '{"type":"FeatureCollection","features":[]}'

# Features are spliced as text: ST_AsGeoJSON and row_to_json write valid JSON, the rest are
# constants and integers. Going through json_build_object / json_agg instead parses every
# geometry back into json and costs three times as much.
_COLLECTION = """
SELECT count(*),
       '{"type":"FeatureCollection","features":['
       || COALESCE(string_agg(f.feature, ',' ORDER BY f.id), '') || ']}'
FROM (
  SELECT r.id,
         '{"type":"Feature","id":' || r.id
         || ',"geometry":' || COALESCE(ST_AsGeoJSON({shape}, %s), 'null')
         || ',"properties":' || row_to_json(p)::text || '}' AS feature
  FROM (
    SELECT r.*, {u} AS u, {v} AS v FROM ({rows}) AS r WHERE {overlaps} OFFSET 0
  ) AS r
  CROSS JOIN LATERAL (SELECT {properties}, %s || r.id || %s AS url) AS p
  WHERE r.u >= {west} AND r.u < {east} AND r.v >= {north} AND r.v < {south}
  LIMIT %s
) AS f
"""


def layer_errors(layer: str) -> dict[str, str]:
    """Why the layer has no GeoJSON (empty when it has)."""
    if layer in GEOJSON_LAYERS:
        return {}
    if layer in SOURCES:
        return {
            "layer": f"图层 {layer} 数据量太大，不提供 GeoJSON，请用矢量瓦片 / the {layer} layer is "
            f"too big for GeoJSON: use its vector tiles, /tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf"
        }
    return {
        "layer": f"未知图层 / unknown layer; GeoJSON serves {', '.join(GEOJSON_LAYERS)}",
    }


def parse(layer: str, params: QueryDict) -> LayerQuery:
    """The layer's filters and the required bbox; every problem at once in a FilterError."""
    if errors := layer_errors(layer):
        raise FilterError(errors)
    query = None
    try:
        query = parse_query(layer, params, allow_bbox=True)
    except FilterError as error:
        errors = error.errors
    if "bbox" not in errors and (query is None or query.bbox is None):
        errors["bbox"] = "必填 / required: minlon,minlat,maxlon,maxlat in WGS84 degrees"
    if errors:
        raise FilterError(errors)
    return query


def _shape(layer: str) -> str:
    """The feature's 4326 geometry: the line when there is one, else the point."""
    source = SOURCES[layer]
    if source.line is None:
        return source.point
    line, point = source.line, source.point
    return f"CASE WHEN {line} IS NULL OR ST_IsEmpty({line}) THEN {point} ELSE {line} END"


def collection_sql(layer: str, user, query: LayerQuery, today: dt.date) -> Sql:
    """The statement: it returns (rows found, at most MAX_FEATURES + 1; the collection text)."""
    source = SOURCES[layer]
    page = reverse(DETAIL_PAGES[layer], kwargs={"pk": 0})
    before, after = page.rsplit("0", 1)
    u, v = world(source.point)
    box = query.bbox.clamped()
    properties = Sql(
        PROPERTIES.get(layer, source.properties), (today,) if source.today_in_properties else ()
    )
    return Sql(_COLLECTION, (COORDINATE_DIGITS, before, after, MAX_FEATURES + 1)).format(
        shape=_shape(layer),
        u=u,
        v=v,
        rows=sources.rows_sql(layer, user, query, today),
        overlaps=sources.overlaps(layer, sources.box_envelope(box)),
        properties=properties,
        **sources.box_corners(box),
    )


def feature_collection(layer: str, user, query: LayerQuery) -> str:
    """The layer's features in the query's bbox as the user may see them: GeoJSON text."""
    if errors := layer_errors(layer):
        raise FilterError(errors)
    try:
        found, text = sources.execute(
            collection_sql(layer, user, query, timezone.localdate()), parallel=False
        )
    except sources.NothingVisible:
        return EMPTY_COLLECTION
    if found > MAX_FEATURES:
        raise FilterError(
            {
                "bbox": f"范围内要素超过 {MAX_FEATURES} 个，请缩小范围或使用矢量瓦片 / more than "
                f"{MAX_FEATURES} features in this box: zoom in, or use the vector tiles"
            }
        )
    return text
