"""The map's endpoints in the OpenAPI schema (/api/schema/, docs at /api/docs/).

Tiles, counts, the layer catalogue and the GeoJSON API are plain Django views (nothing of DRF on
the hot path), which drf-spectacular does not see. `add_map_paths`, a postprocessing hook, writes
their operations from what the views themselves read — the layer catalogue, each layer's
allow-listed filters (`LAYER_FILTERS`), the tile and GeoJSON limits — so the docs cannot drift from
what the endpoints accept. Each layer gets its own paths: the filters differ from layer to layer,
and a client (or Swagger UI's "try it out") then sees exactly the parameters that layer takes.

`drop_html_pages`, a preprocessing hook, leaves out the DRF views that only render HTML pages
(the detail pages): they are not API.
"""

from __future__ import annotations

from typing import Any

from rest_framework.renderers import TemplateHTMLRenderer

from . import catalogue, geojson, ogcapi, tiles
from .filters import (
    LAYER_FILTERS,
    MAX_LIST_ITEMS,
    REGION_PATTERN,
    ChoiceFilter,
    DateRangeFilter,
    KindFilter,
    RegionFilter,
    VarietyFilter,
)

ERRORS = "MapErrors"
SECURITY = [{"cookieAuth": []}]
COOKIE_AUTH = {"type": "apiKey", "in": "cookie", "name": "sessionid"}
LIST_FILTERS = (KindFilter, VarietyFilter, ChoiceFilter)


def drop_html_pages(endpoints: list, **kwargs) -> list:
    """Leave out the views that render only HTML templates."""

    def html_only(callback) -> bool:
        renderers = getattr(getattr(callback, "cls", None), "renderer_classes", None) or []
        return bool(renderers) and all(issubclass(r, TemplateHTMLRenderer) for r in renderers)

    return [e for e in endpoints if not html_only(e[3])]


def _filter_parameters(layer: str) -> list[dict[str, Any]]:
    parameters = []
    for f in LAYER_FILTERS[layer]:
        for described in f.describe():
            name, choices = described["name"], described.get("choices")
            parameter: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": False,
                "description": described["description"],
            }
            if isinstance(f, LIST_FILTERS):
                items = {"type": "string", **({"enum": list(choices)} if choices else {})}
                parameter["schema"] = {"type": "array", "items": items, "maxItems": MAX_LIST_ITEMS}
                parameter["style"], parameter["explode"] = "form", False
            elif isinstance(f, RegionFilter):
                parameter["schema"] = {"type": "string", "pattern": f"^{REGION_PATTERN.pattern}$"}
            elif isinstance(f, DateRangeFilter) and name in ("from", "to"):
                parameter["schema"] = {"type": "string", "format": "date"}
            else:
                parameter["schema"] = {
                    "type": "string",
                    **({"enum": list(choices)} if choices else {}),
                }
            parameters.append(parameter)
    return parameters


def _bbox(required: bool) -> dict[str, Any]:
    return {
        "name": "bbox",
        "in": "query",
        "required": required,
        "description": BBOX_RULE,
        "style": "form",
        "explode": False,
        "schema": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
        "example": [106.2, 38.4, 106.35, 38.52],
    }


BBOX_RULE = (
    "minlon,minlat,maxlon,maxlat in WGS84 degrees (min < max, inside ±180° / ±90°). A point is "
    "in the box when minlon ≤ lon < maxlon and minlat < lat ≤ maxlat (west and north edges in, "
    "east and south out: the tiles' rule, so adjacent boxes share no point)."
)


def _errors_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERRORS}"}}},
    }


ERRORS_SCHEMA = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "object",
            "description": "parameter name → message (Chinese / English)",
            "additionalProperties": {"type": "string"},
        }
    },
}

COMMON_RESPONSES = {
    "400": _errors_response("a parameter is wrong: `errors` names each one, with a message"),
    "403": _errors_response("not signed in, or the account has no jurisdiction (`errors.user`)"),
}


def _operation(operation_id: str, tag: str, summary: str, description: str, **parts) -> dict:
    return {
        "get": {
            "operationId": operation_id,
            "tags": [tag],
            "summary": summary,
            "description": description,
            "security": SECURITY,
            **parts,
        }
    }


def _property_schema(description: str) -> dict[str, Any]:
    kind = "integer" if description.startswith("int") else "string"
    return {"type": kind, "nullable": "absent" in description, "description": description}


def _feature_collection(layer: str) -> dict[str, Any]:
    properties = {
        name: _property_schema(description)
        for name, description in catalogue.LAYERS[layer].properties.items()
    }
    properties["url"] = {"type": "string", "description": "the record's detail page"}
    geometry_types = ["Point", "MultiLineString"] if layer == "overdue" else ["Point"]
    feature = {
        "type": "object",
        "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "integer"},
            "geometry": {
                "type": "object",
                "description": "WGS84 lon, lat (RFC 7946)",
                "properties": {
                    "type": {"type": "string", "enum": geometry_types},
                    "coordinates": {
                        "type": "array",
                        "items": {},
                        "description": "[lon, lat]; a MultiLineString: [[[lon, lat], …], …]",
                        "example": [106.2791354, 38.4682117],
                    },
                },
            },
            "properties": {"type": "object", "properties": properties},
        },
    }
    return {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": feature, "maxItems": geojson.MAX_FEATURES},
        },
    }


def _tile_paths(layer: str) -> dict[str, dict]:
    title = f"{catalogue.LAYERS[layer].title_zh} / {catalogue.LAYERS[layer].title_en}"
    filters = _filter_parameters(layer)
    zxy = [
        {
            "name": "z",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": tiles.MAX_ZOOM},
        },
        *(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": f"tile {name}, 0 … 2^z − 1",
                "schema": {"type": "integer", "minimum": 0},
            }
            for name in ("x", "y")
        ),
    ]
    count_description = (
        "The filtered rows of the layer in your jurisdiction whose point lies in the bbox "
        "(the whole jurisdiction without one): the sum of the tiles' cluster counts over it."
    )
    tile_description = (
        f"A Mapbox vector tile (extent {tiles.EXTENT}, buffer {tiles.BUFFER}) with one layer, "
        f"`{layer}`. Below zoom {tiles.CLUSTER_BELOW_ZOOM}: grid clusters with exact counts "
        f"(`count`, `cluster` = 1); from zoom {tiles.CLUSTER_BELOW_ZOOM} on: individual features, "
        f"at most {tiles.MAX_FEATURES:,} (header X-Tile-Capped when more). An empty tile is a 200 "
        "with an empty body."
    )
    return {
        f"/tiles/{layer}/count": _operation(
            f"tiles_{layer}_count",
            "tiles",
            f"Count: {title}",
            count_description,
            parameters=[_bbox(False), *filters],
            responses={
                "200": {
                    "description": "the count",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["count"],
                                "properties": {"count": {"type": "integer", "minimum": 0}},
                            }
                        }
                    },
                },
                **COMMON_RESPONSES,
            },
        ),
        f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf": _operation(
            f"tiles_{layer}_tile",
            "tiles",
            f"Vector tile: {title}",
            tile_description,
            parameters=[*zxy, *filters],
            responses={
                "200": {
                    "description": "the tile (empty body: nothing there)",
                    "headers": {
                        "X-Tile-Rows": {
                            "description": "rows the tile stands for",
                            "schema": {"type": "integer"},
                        },
                        "X-Tile-Capped": {
                            "description": "`true` when the feature cap left rows out",
                            "schema": {"type": "string"},
                        },
                    },
                    "content": {
                        "application/vnd.mapbox-vector-tile": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                **COMMON_RESPONSES,
            },
        ),
    }


def _geojson_path(layer: str) -> dict[str, dict]:
    title = f"{catalogue.LAYERS[layer].title_zh} / {catalogue.LAYERS[layer].title_en}"
    description = (
        f"The filtered rows of the layer in your jurisdiction whose point lies in the bbox, as an "
        f"RFC 7946 FeatureCollection ordered by id. At most {geojson.MAX_FEATURES:,} features: a "
        "box holding more is a 400 naming `bbox` (zoom in, or use the vector tiles). The same "
        "query string on /tiles/{layer}/count gives the number of features."
    ).replace("{layer}", layer)
    return {
        f"/api/geojson/{layer}": _operation(
            f"geojson_{layer}",
            "geojson",
            f"GeoJSON: {title}",
            description,
            parameters=[_bbox(True), *_filter_parameters(layer)],
            responses={
                "200": {
                    "description": "the features",
                    "content": {geojson.CONTENT_TYPE: {"schema": _feature_collection(layer)}},
                },
                **COMMON_RESPONSES,
            },
        )
    }


def _catalogue_path() -> dict[str, dict]:
    return {
        "/tiles/layers.json": _operation(
            "tiles_layers",
            "tiles",
            "The layer catalogue",
            "Every layer: titles, geometry, tile and count URLs, filters (with their choices), "
            "feature properties and legend colours, and the tile facts (extent, zooms, caps).",
            responses={
                "200": {
                    "description": "the catalogue",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **COMMON_RESPONSES,
            },
        )
    }


def map_paths() -> dict[str, dict]:
    paths = _catalogue_path()
    for layer in catalogue.LAYERS:
        paths.update(_tile_paths(layer))
    for layer in geojson.GEOJSON_LAYERS:
        paths.update(_geojson_path(layer))
    return paths


def add_map_paths(result: dict, generator=None, request=None, public=None, **kwargs) -> dict:
    """Postprocessing hook: the map endpoints' operations, the error shape and the cookie auth."""
    components = result.setdefault("components", {})
    components.setdefault("securitySchemes", {}).setdefault("cookieAuth", COOKIE_AUTH)
    components.setdefault("schemas", {})[ERRORS] = ERRORS_SCHEMA
    result["paths"] = dict(sorted({**result.get("paths", {}), **map_paths()}.items()))
    return result


# --------------------------------------------------------------------------- OGC API - Features

TOKEN_AUTH = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": "`Token <key>`, the key from /accounts/token/ (or HTTP Basic: user name and key)",
}
OGC_SECURITY = [{"tokenAuth": []}, {"cookieAuth": []}]


def _query(name: str, description: str, schema: dict[str, Any], **extra) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
        **extra,
    }


def _ogc_operation(
    operation_id: str, summary: str, content_type: str, not_found: str | None = None, **parts
) -> dict:
    responses = {
        "200": {"description": summary, "content": {content_type: {"schema": {"type": "object"}}}},
        **{
            status: _errors_response(description)
            for status, description in (
                ("400", "a parameter is wrong: `errors` names each one, with a message"),
                ("401", "no credentials, or a refused token (`errors.token`)"),
                ("403", "the account has no jurisdiction (`errors.user`)"),
            )
        },
    }
    if not_found is not None:
        responses["404"] = _errors_response(not_found)
    return {
        "get": {
            "operationId": operation_id,
            "tags": ["ogcapi"],
            "summary": summary,
            "security": OGC_SECURITY,
            "responses": responses,
            **parts,
        }
    }


def _ogc_items_parameters(layer: str) -> list[dict[str, Any]]:
    crs_uris = {"type": "string", "format": "uri", "enum": list(ogcapi.OFFERED)}
    return [
        _query(
            "limit",
            f"每页要素数 / features per page; more than {ogcapi.MAX_LIMIT:,} is a 400",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": ogcapi.MAX_LIMIT,
                "default": ogcapi.DEFAULT_LIMIT,
            },
        ),
        _query(
            "offset",
            "跳过的要素数（按 id 排序）/ features skipped, in id order",
            {"type": "integer", "minimum": 0, "default": 0},
        ),
        _query(
            "bbox",
            "要素几何与框相交（含边界）；坐标按 bbox-crs 的轴序 / features whose geometry "
            "intersects the box, edges included; numbers in bbox-crs axis order (CRS84: "
            "minlon,minlat,maxlon,maxlat)",
            {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
            style="form",
            explode=False,
        ),
        _query(
            "bbox-crs", "bbox 的坐标系 / the CRS of bbox", {**crs_uris, "default": ogcapi.CRS84}
        ),
        _query(
            "crs",
            "输出坐标系，按其轴序 / the CRS of the answer, in its axis order (EPSG:4326/4490: "
            "lat, lon; Gauss-Krüger zones: northing, easting)",
            {**crs_uris, "default": ogcapi.CRS84},
        ),
        _query("f", "编码 / encoding", {"type": "string", "enum": list(ogcapi.FORMATS)}),
        *_filter_parameters(layer),
    ]


def ogcapi_document(base: str) -> dict[str, Any]:
    """The OpenAPI 3.0 definition of /ogcapi/ (its landing page's `service-desc`); `base` is the
    landing page's absolute URL. Filters, limits and coordinate systems come from what the views
    read, so the definition cannot drift from what they accept."""
    f = _query("f", "编码 / encoding", {"type": "string", "enum": list(ogcapi.FORMATS)})
    crs = _query(
        "crs",
        "输出坐标系 / the CRS of the answer",
        {"type": "string", "format": "uri", "enum": list(ogcapi.OFFERED)},
    )
    paths = {
        "/": _ogc_operation("ogc_landing", "Landing page", ogcapi.JSON, parameters=[f]),
        "/api": _ogc_operation("ogc_api", "This definition", ogcapi.OPENAPI, parameters=[f]),
        "/conformance": _ogc_operation(
            "ogc_conformance", "Conformance classes", ogcapi.JSON, parameters=[f]
        ),
        "/collections": _ogc_operation(
            "ogc_collections", "The collections (map layers)", ogcapi.JSON, parameters=[f]
        ),
    }
    for layer, entry in catalogue.LAYERS.items():
        title = f"{entry.title_zh} / {entry.title_en}"
        paths[f"/collections/{layer}"] = _ogc_operation(
            f"ogc_{layer}", f"Collection: {title}", ogcapi.JSON, parameters=[f]
        )
        paths[f"/collections/{layer}/schema"] = _ogc_operation(
            f"ogc_{layer}_schema", f"Properties: {title}", ogcapi.SCHEMA, parameters=[f]
        )
        paths[f"/collections/{layer}/items"] = _ogc_operation(
            f"ogc_{layer}_items",
            f"Features: {title}",
            ogcapi.GEOJSON,
            parameters=_ogc_items_parameters(layer),
        )
        paths[f"/collections/{layer}/items/{{featureId}}"] = _ogc_operation(
            f"ogc_{layer}_item",
            f"One feature: {title}",
            ogcapi.GEOJSON,
            parameters=[
                {
                    "name": "featureId",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer"},
                },
                crs,
                f,
            ],
            not_found="no such feature among your rows of this collection",
        )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "SEGIS OGC API - Features",
            "version": "1.0.0",
            "description": "特种设备安全监察地理信息系统的地图图层，按您的辖区 / the map layers of "
            "SEGIS, scoped to your jurisdiction",
        },
        "servers": [{"url": base.rstrip("/")}],
        "security": OGC_SECURITY,
        "paths": paths,
        "components": {
            "securitySchemes": {"tokenAuth": TOKEN_AUTH, "cookieAuth": COOKIE_AUTH},
            "schemas": {ERRORS: ERRORS_SCHEMA},
        },
    }
