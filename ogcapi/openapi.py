"""The OpenAPI 3.0 definition of /ogcapi/ (its landing page's `service-desc`), written from what
the views read: filters, limits and coordinate systems cannot drift from what they accept."""

from __future__ import annotations

from typing import Any

from layers import filters
from maps.openapi import COOKIE_AUTH, ERRORS, ERRORS_SCHEMA, errors_response
from ogcapi import features as ogcapi

TOKEN_AUTH = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": "`Token <key>`, the key from /accounts/token/",
}
BASIC_AUTH = {
    "type": "http",
    "scheme": "basic",
    "description": "SEGIS 用户名与 API 令牌（不是账号密码）/ the SEGIS user name and the API token "
    "as password (never the account password): QGIS 3.22's Basic method, ArcGIS Pro",
}
OGC_SECURITY = [{"basicAuth": []}, {"tokenAuth": []}, {"cookieAuth": []}]
CONTENT_CRS = {
    "Content-Crs": {
        "description": "答复坐标系的 URI，尖括号内 / the URI of the answer's CRS, in angle "
        "brackets (OGC API - Features Part 2)",
        "schema": {"type": "string", "format": "uri"},
    }
}


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
    operation_id: str,
    summary: str,
    content_type: str,
    not_found: str | None = None,
    *,
    crs_header: bool = False,
    **parts,
) -> dict:
    ok = {"description": summary, "content": {content_type: {"schema": {"type": "object"}}}}
    if crs_header:
        ok["headers"] = CONTENT_CRS
    responses = {
        "200": ok,
        **{
            status: errors_response(description)
            for status, description in (
                ("400", "a parameter is wrong: `errors` names each one, with a message"),
                ("401", "no credentials, or a refused token (`errors.token`)"),
                ("403", "the account has no jurisdiction (`errors.user`)"),
            )
        },
    }
    if not_found is not None:
        responses["404"] = errors_response(not_found)
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
            f"每页要素数，超过 {ogcapi.MAX_LIMIT:,} 按 {ogcapi.MAX_LIMIT:,} / features per page; "
            f"more than {ogcapi.MAX_LIMIT:,} is answered with {ogcapi.MAX_LIMIT:,} (OGC API - "
            "Features Part 1, `limit`)",
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
            "minlon,minlat,maxlon,maxlat); six numbers add heights, which are ignored",
            {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 6},
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
        *filters.openapi_parameters(layer),
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
    for layer, part in ogcapi.COLLECTIONS.items():
        title = ogcapi.title(layer)
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
            parameters=_ogc_items_parameters(part.layer),
            crs_header=True,
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
            crs_header=True,
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
            "securitySchemes": {
                "basicAuth": BASIC_AUTH,
                "tokenAuth": TOKEN_AUTH,
                "cookieAuth": COOKIE_AUTH,
            },
            "schemas": {ERRORS: ERRORS_SCHEMA},
        },
    }
