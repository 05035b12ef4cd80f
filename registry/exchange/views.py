"""/api/exchange/: the change feed a provincial instance serves to the national one."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from accounts.tokens import TokenRefused, token_user

from ..exceptions import RegistryError
from . import feed


def _errors(errors: dict, status: int) -> JsonResponse:
    return JsonResponse(
        {"errors": errors}, status=status, json_dumps_params={"ensure_ascii": False}
    )


@require_GET
def change_feed(request: HttpRequest) -> HttpResponse:
    """GET ?after=<seq>&limit=<n>: a page of the change log (Authorization: Token <key>)."""
    try:
        user = token_user(request) or request.user
    except TokenRefused as refused:
        return _errors({"token": str(refused)}, 401)
    if not user.is_authenticated:
        return _errors({"user": "需要 API 令牌 / send Authorization: Token <key>"}, 401)
    if not feed.may_read(user):
        return _errors({"user": "无权读取变更推送 / not allowed to read the change feed"}, 403)
    try:
        after, limit = feed.parse_page(request.GET)
    except RegistryError as error:
        return _errors(error.as_dict(), 400)
    response = HttpResponse(
        json.dumps(feed.page(after, limit), ensure_ascii=False), content_type="application/json"
    )
    response["Cache-Control"] = "private, no-store"
    return response
