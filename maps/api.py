"""The map's data over HTTP: vector tiles, counts, the layer catalogue, the map pass and the
bbox GeoJSON of the small layers. Each view parses, calls maps.tiles / counts / geojson, answers.

Every answer is for a signed-in user with a jurisdiction (anonymous: 403 JSON); every bad input is
a 400 whose JSON names the parameter, in the one error envelope (common/errors.py):
{"errors": {"<param>": [{rule, message, suggestion}]}}. Tiles and counts also accept the map pass
(accounts/map_pass.py) instead of the session: a refused pass is a 401.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from accounts import map_pass
from common import http
from common.http import json_errors, jurisdiction_refusal
from layers import catalogue
from layers.filters import FilterError, parse_query
from maps import counts, geojson, tiles

MVT_CONTENT_TYPE = "application/vnd.mapbox-vector-tile"


def _reader(request: HttpRequest) -> tuple[object | None, JsonResponse | None]:
    """Who reads the tile or count: the map pass's holder when one is sent, else the session's
    user; or the refusal to answer with (a refused pass: 401)."""
    try:
        holder = map_pass.holder(request)
    except map_pass.PassRefused as refused:
        return None, json_errors({"pass": str(refused)}, status=401, rule="pass_refused")
    if holder is not None:
        return holder, None
    return request.user, jurisdiction_refusal(request)


def _layer(name: str) -> dict[str, str]:
    if name in catalogue.LAYERS:
        return {}
    return {"layer": f"未知图层 / unknown layer; one of {', '.join(catalogue.LAYERS)}"}


# The rule of each path part _layer and _tile_coordinates check.
PATH_RULES = {"layer": "unknown", "z": "range", "x": "range", "y": "range"}


def _number(value: str, digits: int) -> int | None:
    # ASCII digits only: str.isdigit() accepts '²', which int() refuses.
    return int(value) if re.fullmatch(f"[0-9]{{1,{digits}}}", value) else None


def _tile_coordinates(z: str, x: str, y: str) -> tuple[tuple[int, int, int] | None, dict]:
    errors = {}
    zoom = _number(z, 2)
    if zoom is None or zoom > tiles.MAX_ZOOM:
        errors["z"] = (
            f"缩放级别应为 0–{tiles.MAX_ZOOM} 的整数 / zoom must be an integer 0–{tiles.MAX_ZOOM}"
        )
        return None, errors
    last = (1 << zoom) - 1
    numbers = {}
    for name, value in (("x", x), ("y", y)):
        numbers[name] = _number(value, 8)
        if numbers[name] is None or numbers[name] > last:
            errors[name] = (
                f"在缩放 {zoom} 应为 0–{last} 的整数 / must be an integer 0–{last} at zoom {zoom}"
            )
    if errors:
        return None, errors
    return (zoom, numbers["x"], numbers["y"]), {}


def private(response: HttpResponse) -> HttpResponse:
    """Cached by the reader's browser alone, per session and per map pass."""
    return http.private(response, vary=("Cookie", map_pass.HEADER))


@require_GET
def tile(request: HttpRequest, layer: str, z: str, x: str, y: str) -> HttpResponse:
    """One Mapbox vector tile; an empty tile is a 200 with an empty body."""
    reader, refused = _reader(request)
    if refused is not None:
        return refused
    errors = _layer(layer)
    coordinates, coordinate_errors = _tile_coordinates(z, x, y)
    errors.update(coordinate_errors)
    if errors:
        return json_errors(errors, rules=PATH_RULES)
    try:
        query = parse_query(layer, request.GET)
    except FilterError as error:
        return json_errors(error.as_dict())
    tile = tiles.render_tile(layer, reader, query, *coordinates)
    response = HttpResponse(tile.mvt, content_type=MVT_CONTENT_TYPE)
    # For the map's status line: how many rows the tile stands for, and whether the feature cap
    # left some out (zoom in to see them all).
    response["X-Tile-Rows"] = str(tile.rows)
    if tile.capped:
        response["X-Tile-Capped"] = "true"
    return private(response)


@require_GET
def count(request: HttpRequest, layer: str) -> HttpResponse:
    """{"count": N}: the filtered rows in the bbox (whole jurisdiction without one)."""
    reader, refused = _reader(request)
    if refused is not None:
        return refused
    if errors := _layer(layer):
        return json_errors(errors, rules=PATH_RULES)
    try:
        query = parse_query(layer, request.GET, allow_bbox=True)
    except FilterError as error:
        return json_errors(error.as_dict())
    return private(JsonResponse({"count": counts.count_features(layer, reader, query)}))


@require_GET
def layers(request: HttpRequest) -> HttpResponse:
    """The layer catalogue: titles, geometry, filters, properties and legends."""
    if (refused := jurisdiction_refusal(request)) is not None:
        return refused
    if request.GET:
        return json_errors({p: "未知参数 / unknown parameter" for p in request.GET}, rule="unknown")
    placeholder = {"layer": "LAYER", "z": "0", "x": "0", "y": "0"}
    tiles_url = reverse("tiles:tile", kwargs=placeholder)
    count_url = reverse("tiles:count", kwargs={"layer": "LAYER"})
    body = catalogue.describe(
        tiles_url=tiles_url.replace("LAYER", "{layer}").replace("/0/0/0.pbf", "/{z}/{x}/{y}.pbf"),
        count_url=count_url.replace("LAYER", "{layer}"),
        cluster_below_zoom=tiles.CLUSTER_BELOW_ZOOM,
        extent=tiles.EXTENT,
        buffer=tiles.BUFFER,
        minzoom=0,
        maxzoom=tiles.MAX_ZOOM,
        max_features=tiles.MAX_FEATURES,
        empty_tile="200 with an empty body",
    )
    return private(JsonResponse(body, json_dumps_params={"ensure_ascii": False}))


@require_GET
def renew_pass(request: HttpRequest) -> HttpResponse:
    """A fresh map pass, through the session (so signing out ends the renewals)."""
    if (refused := jurisdiction_refusal(request)) is not None:
        return refused
    response = JsonResponse(map_pass.issue(request.user))
    patch_cache_control(response, no_store=True, private=True)
    return response


@require_GET
def geojson_layer(request: HttpRequest, layer: str) -> HttpResponse:
    """GET /api/geojson/<layer>?bbox=…: a FeatureCollection of the layer's filtered rows in the
    bbox (at most MAX_FEATURES), as the user may see them."""
    if (refused := jurisdiction_refusal(request)) is not None:
        return refused
    try:
        query = geojson.parse(layer, request.GET)
        text = geojson.feature_collection(layer, request.user, query)
    except FilterError as error:
        return json_errors(error.as_dict())
    return private(HttpResponse(text, content_type=geojson.CONTENT_TYPE))
