"""API tokens: how desktop GIS clients (QGIS, ArcGIS Pro, GDAL), which cannot hold a session,
sign in to the OGC API (DRF's authtoken table: one token per user).

A client sends the token either as `Authorization: Token <key>` (QGIS's "API Header"
authentication, GDAL's GDAL_HTTP_HEADERS) or as the password of HTTP Basic with the SEGIS user
name (ArcGIS Pro's server connections know only user name and password): the account password
itself never goes into a desktop client. Issuing a token replaces the old one, which stops working.
"""

from __future__ import annotations

import base64
import binascii

from django.db import transaction
from rest_framework.authtoken.models import Token

from . import audit
from .models import User

TOKEN_SCHEME = "token"
BASIC_SCHEME = "basic"


class TokenRefused(Exception):
    """Credentials were sent but do not open the door: unknown or replaced token, wrong user name,
    inactive account, or a malformed header."""


@transaction.atomic
def issue_api_token(user: User) -> Token:
    """A new API token for the user; the previous one, if any, stops working at once."""
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    # The key is a credential: the audit trail records that a token was issued, never the key.
    audit.record(
        user,
        "api_token.issued",
        user,
        after={"user": user.pk},
        region_code=(user.agency.region_id or "") if user.agency else "",
    )
    return token


def _key_holder(key: str) -> User:
    try:
        token = Token.objects.select_related("user__agency").get(key=key)
    except Token.DoesNotExist:
        raise TokenRefused(
            "API 令牌无效或已被替换 / the API token is not valid (or was replaced)"
        ) from None
    if not token.user.is_active:
        raise TokenRefused("账号已停用 / the account is deactivated")
    return token.user


def token_user(request) -> User | None:
    """The user an `Authorization` header's API token speaks for; None when the request carries no
    Token or Basic credentials (the session then decides)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.strip().partition(" ")
    scheme, credentials = scheme.lower(), credentials.strip()
    if scheme == TOKEN_SCHEME:
        if not credentials or " " in credentials:
            raise TokenRefused(
                "应为 Authorization: Token <令牌> / expected Authorization: Token <key>"
            )
        return _key_holder(credentials)
    if scheme == BASIC_SCHEME:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise TokenRefused("Basic 认证格式错误 / malformed Basic credentials") from None
        username, colon, key = decoded.partition(":")
        if not colon or not key:
            raise TokenRefused("Basic 认证格式错误 / malformed Basic credentials")
        user = _key_holder(key)
        # The key alone identifies the user; the name must agree, so a typo never signs in as
        # whoever the key belongs to without the client knowing.
        if user.get_username() != username:
            raise TokenRefused(
                "API 令牌无效或已被替换 / the API token is not valid (or was replaced)"
            )
        return user
    return None
