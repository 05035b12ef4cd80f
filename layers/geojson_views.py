"""GET /api/geojson/<layer>?bbox=…: the small layers as GeoJSON (layers.geojson), as the user may
see them.

The conventions of the tile endpoints: a signed-in user with a jurisdiction (anonymous: 403 JSON),
and every bad input a 400 whose JSON names the parameter: {"errors": {"<param>": "message"}}.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from . import geojson
from .filters import FilterError
from .tile_views import _errors, _forbidden, _private


@require_GET
def layer(request: HttpRequest, layer: str) -> HttpResponse:
    """A FeatureCollection of the layer's filtered rows in the bbox (at most MAX_FEATURES)."""
    if (refused := _forbidden(request)) is not None:
        return refused
    try:
        query = geojson.parse(layer, request.GET)
        text = geojson.feature_collection(layer, request.user, query)
    except FilterError as error:
        return _errors(error.errors)
    return _private(HttpResponse(text, content_type=geojson.CONTENT_TYPE))
