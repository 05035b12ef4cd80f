"""HTTP answers every app shares: JSON errors, the refusal of a user with no jurisdiction, private
caching of per-user answers, and the header that names a download."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

# Per-user map answers change when the registry does: a browser may reuse one this long.
PRIVATE_MAX_AGE = 60


def json_errors(errors: dict[str, str], status: int = 400) -> JsonResponse:
    """The JSON error answer: {"errors": {"<field or parameter>": "message"}}."""
    return JsonResponse(
        {"errors": errors}, status=status, json_dumps_params={"ensure_ascii": False}
    )


def jurisdiction_refusal(request: HttpRequest) -> JsonResponse | None:
    """A 403 for an anonymous user or one without a jurisdiction; None when the user may read."""
    user = request.user
    if not user.is_authenticated:
        return json_errors({"user": "请先登录 / sign in to see the map"}, status=403)
    if user.jurisdiction_prefix is None:
        return json_errors(
            {"user": "账号未关联辖区 / your account has no jurisdiction"}, status=403
        )
    return None


def private(
    response: HttpResponse, vary: Iterable[str] = ("Cookie",), max_age: int = PRIVATE_MAX_AGE
) -> HttpResponse:
    """Cacheable by the requester's browser only, and only for the same credentials."""
    patch_cache_control(response, private=True, max_age=max_age)
    patch_vary_headers(response, list(vary))
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
