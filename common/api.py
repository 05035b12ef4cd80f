"""What every DRF view shares: the exception handler that answers the one error envelope, and the
envelope's responses for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, parsers
from rest_framework.metadata import SimpleMetadata
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from common.errors import INVALID, DomainError, Errors, envelope, error_item
from common.serializers import ErrorEnvelopeSerializer

# Problems of the request as a whole (a serializer's non-field errors, an unreadable body).
BODY = "body"
# Where DRF's own refusals put their message, instead of its bare `detail`.
FIELDS = [
    ((exceptions.NotAuthenticated, exceptions.AuthenticationFailed), "user"),
    (exceptions.PermissionDenied, "user"),
    (exceptions.NotFound, "id"),
    (exceptions.ParseError, BODY),
    (exceptions.UnsupportedMediaType, "content_type"),
    (exceptions.NotAcceptable, "accept"),
    (exceptions.MethodNotAllowed, "method"),
]
OTHER = "request"

DESCRIPTIONS = {
    400: "a field or parameter is wrong: `errors` names each, with its rule and message",
    401: "no credentials, or refused ones (`errors.user`, `errors.token`, `errors.pass`)",
    403: "not signed in, no jurisdiction, or not allowed (`errors.user`)",
    404: "no such record in your jurisdiction (`errors.id`): another's is as missing",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Domain errors become 400s naming each field and rule; DRF's own errors (validation, parse,
    authentication, permission, 404) answer the same envelope with their status and headers."""
    if isinstance(exc, DomainError):
        return Response(envelope(exc.as_dict()), status=exc.status)
    # As DRF's handler does, so that the codes below are DRF's.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    # Imported here: rest_framework.views reads DEFAULT_PARSER_CLASSES, which names this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.APIException):
        response.data = envelope(api_errors(exc))
    return response


def api_errors(exc: exceptions.APIException) -> Errors:
    """A DRF exception's details as the envelope's inner dict; nested fields are dotted paths
    (`teams.start`, `items.0.name`), non-field errors go under `body`."""
    field = BODY
    if not isinstance(exc, exceptions.ValidationError):
        field = next((f for kinds, f in FIELDS if isinstance(exc, kinds)), OTHER)
    errors: Errors = {}
    _collect(exc.detail, field, errors)
    return errors


def _collect(detail: Any, path: str, errors: Errors) -> None:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = path if key == api_settings.NON_FIELD_ERRORS_KEY else _join(path, key)
            _collect(value, inner, errors)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            # A field's messages share its path; a list serializer's items each get their index.
            _collect(value, path if isinstance(value, str) else _join(path, index), errors)
    else:
        rule = getattr(detail, "code", None) or INVALID
        errors.setdefault(path, []).append(error_item(str(detail), rule))


def _join(path: str, key: str | int) -> str:
    return str(key) if path == BODY else f"{path}.{key}"


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The error envelope under each status code, for `extend_schema(responses=…)`."""
    return {
        code: OpenApiResponse(ErrorEnvelopeSerializer, description=DESCRIPTIONS[code])
        for code in codes
    }


class Pagination(LimitOffsetPagination):
    """`limit` and `offset` with bounds: a value out of them is a 400 naming the parameter, never
    a silent clamp or default, so a client learns it asked for more than a page."""

    max_limit = 1000
    # Far beyond any table of ours, and a bigint for PostgreSQL's OFFSET.
    max_offset = 10_000_000

    def get_limit(self, request) -> int:
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        return whole_number(raw, self.limit_query_param, 1, self.max_limit)

    def get_offset(self, request) -> int:
        raw = request.query_params.get(self.offset_query_param)
        if raw is None:
            return 0
        return whole_number(raw, self.offset_query_param, 0, self.max_offset)

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: (1, self.max_limit),
            self.offset_query_param: (0, self.max_offset),
        }
        for parameter in parameters:
            low, high = bounds[parameter["name"]]
            parameter["schema"].update(minimum=low, maximum=high)
        return parameters


def whole_number(raw: str, field: str, low: int, high: int) -> int:
    """A query parameter as a whole number from `low` to `high`, or a 400 naming it."""
    raw = raw.strip()
    # ASCII digits only (int() takes '١٢' and '1_0'); the length is checked before converting,
    # so thousands of digits are never parsed.
    if raw.isascii() and raw.isdigit() and len(raw) <= len(str(high)) and low <= int(raw) <= high:
        return int(raw)
    raise exceptions.ValidationError(
        {
            field: [
                exceptions.ErrorDetail(
                    f"{field} 应为 {low}–{high} 的整数 / {field} must be a whole number from {low} "
                    f"to {high}",
                    code=f"{field}.range",
                )
            ]
        }
    )


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; a body nested past Python's recursion limit is a 400 like any other
    unreadable body, not a RecursionError and a 500."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON 嵌套过深 / the JSON nests too deeply") from None


class Metadata(SimpleMetadata):
    """OPTIONS answers: a view's name, renderers and parsers, and the input fields of the views
    that declare a serializer."""

    def determine_actions(self, request, view) -> dict[str, Any]:
        try:
            return super().determine_actions(request, view)
        except AssertionError:
            # DRF's word for a generic view with no serializer_class (it parses by hand).
            return {}


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, except that OPTIONS answers JSON: a page's template renders its own
    object and fails on the metadata dict."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if request.method == "OPTIONS":
            return JSONRenderer(), JSONRenderer.media_type
        return super().select_renderer(request, renderers, format_suffix)
