"""/api/exchange/: the change feed a provincial instance serves to the national one."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from accounts.tokens import TokenRefused, token_user
from common.http import json_errors

from ..exceptions import RegistryError
from . import feed, keys


@require_GET
def change_feed(request: HttpRequest) -> HttpResponse:
    """GET ?after=<seq>&limit=<n>: a page of the change log (Authorization: Token <key>)."""
    try:
        user = token_user(request) or request.user
    except TokenRefused as refused:
        return json_errors({"token": str(refused)}, 401, rule="token_refused")
    request.user = user  # the reader at the database's wall too (geo.scoping.reading)
    if not user.is_authenticated:
        return json_errors(
            {"user": "需要 API 令牌 / send Authorization: Token <key>"},
            401,
            rule="not_authenticated",
        )
    if not feed.may_read(user):
        return json_errors(
            {"user": "无权读取变更推送 / not allowed to read the change feed"},
            403,
            rule="forbidden",
        )
    try:
        after, limit = feed.parse_page(request.GET)
    except RegistryError as error:
        return json_errors(error.as_dict())
    key = keys.key_for(user.username)
    if key is None:
        # Unsigned pages would be refused by the reader anyway: say why here, where it is fixed.
        return json_errors(
            {
                "key": f"未配置与 {user.username} 共享的交换密钥 / no exchange key shared with "
                f"{user.username}: set {keys.ENV} (docs/exchange.md)"
            },
            503,
            rule="exchange_key_missing",
        )
    response = HttpResponse(
        json.dumps(feed.signed_page(after, limit, key), ensure_ascii=False),
        content_type="application/json",
    )
    response["Cache-Control"] = "private, no-store"
    return response
