"""HTTP answers every app shares: JSON errors, the refusal of a user with no jurisdiction, private
caching of per-user answers, and the header that names a download."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from common.errors import INVALID, ErrorItem, envelope, error_dict

# Per-user map answers change when the registry does: a browser may reuse one this long.
PRIVATE_MAX_AGE = 60
# Rules of the refusals to read, as DRF names the first (its NotAuthenticated code).
NOT_AUTHENTICATED = "not_authenticated"
NO_JURISDICTION = "no_jurisdiction"


def json_errors(
    errors: Mapping[str, str | Sequence[ErrorItem]],
    status: int = 400,
    *,
    rule: str = INVALID,
    rules: Mapping[str, str] | None = None,
) -> JsonResponse:
    """The error envelope, {"errors": {field: [{rule, message, suggestion}]}}: a plain message
    is one problem under `rules[field]`, else `rule`; a DomainError's `as_dict()` passes as is."""
    return JsonResponse(
        envelope(error_dict(errors, rules, rule)),
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


def no_jurisdiction() -> JsonResponse:
    """The 403 of a signed-in user whose account has no jurisdiction."""
    return json_errors(
        {"user": "账号未关联辖区 / your account has no jurisdiction"},
        status=403,
        rule=NO_JURISDICTION,
    )


def wants_json(request: HttpRequest) -> bool:
    """Whether the client reads JSON (the API, a script's fetch) rather than a page."""
    return (
        request.path.startswith("/api/")
        or "json" in request.headers.get("Accept", "")
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
    )


def jurisdiction_refusal(request: HttpRequest) -> JsonResponse | None:
    """A 403 for an anonymous user or one without a jurisdiction; None when the user may read."""
    user = request.user
    if not user.is_authenticated:
        return json_errors(
            {"user": "请先登录 / sign in to see the map"}, status=403, rule=NOT_AUTHENTICATED
        )
    if user.jurisdiction_prefix is None:
        return no_jurisdiction()
    return None


def private(
    response: HttpResponse, vary: Iterable[str] = ("Cookie",), max_age: int = PRIVATE_MAX_AGE
) -> HttpResponse:
    """Cacheable by the requester's browser only, and only for the same credentials."""
    patch_cache_control(response, private=True, max_age=max_age)
    patch_vary_headers(response, list(vary))
    return response


def no_store(response: HttpResponse) -> HttpResponse:
    """Never kept by any cache: for answers that depend on credentials a cache may not key on
    (Qt's cache, behind QGIS, ignores `Vary: Authorization`)."""
    patch_cache_control(response, private=True, no_store=True)
    return response


def content_disposition(filename: str, fallback: str | None = None) -> str:
    """`attachment` with an ASCII `filename` and, when the name is not ASCII, a UTF-8 `filename*`
    (RFC 6266 with RFC 5987): clients that ignore `filename*` still get a usable name."""
    ascii_name = fallback or filename
    ascii_name = unicodedata.normalize("NFKD", ascii_name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9!#$&+.^_`|~ ()-]", "_", ascii_name) or "export"
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


class RefuseNulMiddleware:
    """Text with a NUL character is a 400 naming the field, never a 500: PostgreSQL keeps no NUL in
    text. Query strings and urlencoded forms are checked before any view runs; a multipart form
    is read by its view (reading it here would run its uploads before the view's own checks), so
    a NUL there is answered when the database refuses it, the view's transaction rolled back.
    JSON bodies are the serializers' (DRF refuses NUL)."""

    MESSAGE = "含有空字符 (NUL) / contains a NUL character"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sources = [request.GET]
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            sources.append(request.POST)
        fields = self._fields(sources)
        return self._refusal(request, fields) if fields else self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.db import DataError

        if not isinstance(exception, DataError) or "NUL" not in str(exception):
            return None
        # The view has read its form by now: name what held the NUL, or the request as a whole.
        parsed = [request.GET, *([request.POST] if hasattr(request, "_post") else [])]
        return self._refusal(request, self._fields(parsed) or ["request"])

    @staticmethod
    def _fields(sources) -> list[str]:
        return sorted(
            {
                name.replace("\x00", "\\0")
                for source in sources
                for name, values in source.lists()
                if "\x00" in name or any("\x00" in str(value) for value in values)
            }
        )

    def _refusal(self, request: HttpRequest, fields: list[str]) -> HttpResponse:
        if wants_json(request):
            return json_errors({field: self.MESSAGE for field in fields})
        text = "; ".join(f"{field}: {self.MESSAGE}" for field in fields)
        return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")
