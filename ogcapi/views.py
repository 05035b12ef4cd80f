"""/ogcapi/: OGC API - Features over HTTP (ogcapi.features): authenticate, parse, call, answer.

Who reads: an API token (`Authorization: Token <key>`, or HTTP Basic with the token as password:
accounts.tokens) or else the session. No credentials: 401 with the challenges a desktop client
needs; a refused token: 401 naming `token`; no jurisdiction: 403. Every bad parameter is a 400
whose JSON names it, {"errors": {"<param>": [{rule, message, suggestion}]}}, as everywhere in
SEGIS (common/errors.py); a feature the user's rows do not hold is a 404, whether it is missing or
another jurisdiction's.
"""

from __future__ import annotations

import functools
import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from accounts import map_pass
from accounts.tokens import TokenRefused, token_user
from common import http
from common.http import NOT_AUTHENTICATED, json_errors, no_jurisdiction
from layers.filters import FilterError
from ogcapi import features as ogcapi
from ogcapi import openapi

# Basic first: ArcGIS Pro sends its user name and password only after a Basic challenge.
CHALLENGE = 'Basic realm="SEGIS OGC API", Token'


def _unauthorised(errors: dict[str, str], rule: str) -> JsonResponse:
    response = json_errors(errors, status=401, rule=rule)
    response["WWW-Authenticate"] = CHALLENGE
    return response


def _refusal(request: HttpRequest) -> tuple[object, JsonResponse | None]:
    """The reader, or the refusal to answer with."""
    try:
        user = token_user(request)
    except TokenRefused as refused:
        return None, _unauthorised({"token": str(refused)}, "token_refused")
    user = user or request.user
    request.user = user  # the reader at the database's wall too (geo.scoping.reading)
    if not user.is_authenticated:
        return None, _unauthorised(
            {
                "user": "请登录或提供 API 令牌 / sign in, or send your API token as "
                "Authorization: Token <key> (the token page: /accounts/token/)"
            },
            NOT_AUTHENTICATED,
        )
    if user.jurisdiction_prefix is None:
        return None, no_jurisdiction()
    return user, None


def _endpoint(view):
    """GET only, for a reader with a jurisdiction; a FilterError is the 400 naming the parameter."""

    @require_GET
    @functools.wraps(view)
    def answer(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user, response = _refusal(request)
        if response is None:
            try:
                response = view(request, user, *args, **kwargs)
            except FilterError as error:
                response = json_errors(error.as_dict())
        # No answer may be kept, refusals included: QGIS 3.22 (Qt's network cache) ignored
        # `Vary: Authorization` and served one user's page to another. Vary stays for the caches
        # that honour it.
        patch_vary_headers(response, ["Authorization", "Cookie", map_pass.HEADER])
        return http.no_store(response)

    return answer


def _answer(body: str | dict, content_type: str, crs_uri: str | None = None) -> HttpResponse:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    response = HttpResponse(text, content_type=content_type)
    if crs_uri is not None:
        response["Content-Crs"] = f"<{crs_uri}>"
    return response


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("ogcapi:landing"))


@_endpoint
def landing(request: HttpRequest, user) -> HttpResponse:
    ogcapi.check_document_params(request.GET)
    return _answer(ogcapi.landing(_base(request)), ogcapi.JSON)


@_endpoint
def api(request: HttpRequest, user) -> HttpResponse:
    """The OpenAPI 3.0 definition of these endpoints (the landing page's service-desc)."""
    ogcapi.check_document_params(request.GET)
    return _answer(openapi.ogcapi_document(_base(request)), ogcapi.OPENAPI)


@_endpoint
def conformance(request: HttpRequest, user) -> HttpResponse:
    ogcapi.check_document_params(request.GET)
    return _answer(ogcapi.conformance(), ogcapi.JSON)


@_endpoint
def collections(request: HttpRequest, user) -> HttpResponse:
    ogcapi.check_document_params(request.GET)
    extent = ogcapi.jurisdiction_extent(user)
    return _answer(ogcapi.collections(_base(request), extent), ogcapi.JSON)


@_endpoint
def collection(request: HttpRequest, user, layer: str) -> HttpResponse:
    ogcapi.check_collection(layer)
    ogcapi.check_document_params(request.GET)
    extent = ogcapi.jurisdiction_extent(user)
    return _answer(ogcapi.collection(layer, _base(request), extent), ogcapi.JSON)


@_endpoint
def schema(request: HttpRequest, user, layer: str) -> HttpResponse:
    """The properties of the collection's features, typed (the collection's describedby)."""
    ogcapi.check_collection(layer)
    ogcapi.check_document_params(request.GET)
    return _answer(ogcapi.schema(layer, _base(request)), ogcapi.SCHEMA)


@_endpoint
def items(request: HttpRequest, user, layer: str) -> HttpResponse:
    """A page of the collection's features: the map's filters, bbox, limit/offset, crs."""
    query = ogcapi.parse_items(layer, request.GET)
    page = ogcapi.items_page(user, query)
    url = request.build_absolute_uri(request.path)
    text = ogcapi.items_document(query, page, url, request.GET, timezone.now())
    return _answer(text, ogcapi.GEOJSON, query.crs.uri)


@_endpoint
def item(request: HttpRequest, user, layer: str, pk: str) -> HttpResponse:
    """One feature; another jurisdiction's is as missing as one that does not exist."""
    system = ogcapi.parse_item(layer, request.GET)
    found = ogcapi.feature_id(pk)
    feature = None if found is None else ogcapi.item_feature(user, layer, found, system)
    if feature is None:
        return json_errors(
            {"featureId": ogcapi.not_found_message(layer)},
            404,
            rule="not_found",
        )
    url = request.build_absolute_uri(request.path)
    return _answer(ogcapi.item_document(feature, url, request.GET), ogcapi.GEOJSON, system.uri)
