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

from layers import catalogue
from layers.filters import openapi_parameters
from maps import geojson, tiles

# The component drf-spectacular names after common.serializers.ErrorEnvelopeSerializer: the map's
# plain Django views answer the same envelope as every DRF view.
ERRORS = "ErrorEnvelope"
SECURITY = [{"cookieAuth": []}]
COOKIE_AUTH = {"type": "apiKey", "in": "cookie", "name": "sessionid"}


def drop_html_pages(endpoints: list, **kwargs) -> list:
    """Leave out the views that render only HTML templates."""

    def html_only(callback) -> bool:
        renderers = getattr(getattr(callback, "cls", None), "renderer_classes", None) or []
        return bool(renderers) and all(issubclass(r, TemplateHTMLRenderer) for r in renderers)

    return [e for e in endpoints if not html_only(e[3])]


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


def errors_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERRORS}"}}},
    }


# ErrorEnvelopeSerializer written out, its items inline so that a document holding this component
# alone (the OGC API's) is whole; tests/common/test_errors.py checks the two agree.
ERROR_ITEM_SCHEMA = {
    "type": "object",
    "description": "One problem of a field or parameter.",
    "properties": {
        "rule": {
            "type": "string",
            "description": "short stable rule id a client may test, e.g. `invalid`, `required`, "
            "`device_code.length`",
        },
        "message": {"type": "string", "description": "what to do about it: Chinese, then English"},
        "suggestion": {
            "type": "string",
            "description": "a value that would be accepted, or empty",
        },
    },
    "required": ["message", "rule", "suggestion"],
}
ERRORS_SCHEMA = {
    "type": "object",
    "description": "Every error answer of every SEGIS API.",
    "properties": {
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": ERROR_ITEM_SCHEMA},
            "description": "field or parameter → its problems, all at once",
        }
    },
    "required": ["errors"],
}

COMMON_RESPONSES = {
    "400": errors_response(
        "a parameter is wrong: `errors` names each one, with its rule and message"
    ),
    "403": errors_response("not signed in, or the account has no jurisdiction (`errors.user`)"),
}
# Tiles and counts also take the map pass instead of the session.
PASS_RESPONSES = {
    **COMMON_RESPONSES,
    "401": errors_response("a refused map pass (`errors.pass`): renew it through the session"),
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
    parameters = openapi_parameters(layer)
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
            parameters=[_bbox(False), *parameters],
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
                **PASS_RESPONSES,
            },
        ),
        f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf": _operation(
            f"tiles_{layer}_tile",
            "tiles",
            f"Vector tile: {title}",
            tile_description,
            parameters=[*zxy, *parameters],
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
                **PASS_RESPONSES,
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
            parameters=[_bbox(True), *openapi_parameters(layer)],
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
    # The DRF views' own ErrorEnvelope, when one of them named it, is the same schema.
    components.setdefault("schemas", {}).setdefault(ERRORS, ERRORS_SCHEMA)
    result["paths"] = dict(sorted({**result.get("paths", {}), **map_paths()}.items()))
    return result
