"""API tokens: how desktop GIS clients (QGIS, ArcGIS Pro, GDAL), which cannot hold a session,
sign in to the OGC API. One usable token per user; only the SHA-256 digest of its key is stored
(the key is shown once, at issue), and it expires (SEGIS_API_TOKEN_DAYS) or is revoked.

A client sends the token either as `Authorization: Token <key>` (GDAL's GDAL_HTTP_HEADERS, the
"API Header" of QGIS versions newer than 3.22) or as the password of HTTP Basic with the SEGIS user
name (QGIS 3.22's Basic method, ArcGIS Pro's server connections): the account password
itself never goes into a desktop client. Issuing a token replaces the old one, which stops working.
Token requests are not subject to the session's rules (idle timeout, second factor): the token is
the credential, and it ends by expiry or revocation.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import audit
from .models import ApiToken, User

TOKEN_SCHEME = "token"
BASIC_SCHEME = "basic"


class TokenRefused(Exception):
    """Credentials were sent but do not open the door: unknown or replaced token, wrong user name,
    inactive account, or a malformed header."""


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _user_region(user: User) -> str:
    return (user.agency.region_id or "") if user.agency else ""


@transaction.atomic
def issue_api_token(user: User, *, days: int | None = None) -> ApiToken:
    """A new API token for the user; the previous one, if any, stops working at once. The key is
    on the returned token as `.key` and nowhere else: the caller shows it once."""
    now = timezone.now()
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    key = secrets.token_hex(20)
    lifetime = dt.timedelta(days=days or settings.SEGIS_API_TOKEN_DAYS)
    token = ApiToken.objects.create(user=user, digest=digest(key), expires_at=now + lifetime)
    token.key = key
    # The key is a credential: the audit trail records that a token was issued, never the key.
    audit.record(
        user,
        "api_token.issued",
        user,
        after={"user": user.pk, "expires_at": token.expires_at.isoformat()},
        region_code=_user_region(user),
    )
    return token


@transaction.atomic
def revoke_api_tokens(user: User, *, acting_user: User) -> int:
    """Stop every usable token of the user now; how many there were."""
    count = ApiToken.objects.usable().filter(user=user).update(revoked_at=timezone.now())
    if count:
        audit.record(
            acting_user,
            "api_token.revoked",
            user,
            after={"user": user.pk, "tokens": count},
            region_code=_user_region(user),
        )
    return count


def current_token(user: User) -> ApiToken | None:
    """The user's usable token (its key is not known any more)."""
    return ApiToken.objects.usable().filter(user=user).order_by("-created").first()


def _key_holder(key: str) -> User:
    token = (
        ApiToken.objects.select_related("user__agency")
        .filter(digest=digest(key), revoked_at__isnull=True)
        .first()
    )
    if token is None:
        raise TokenRefused("API 令牌无效或已被替换 / the API token is not valid (or was replaced)")
    if token.expires_at <= timezone.now():
        raise TokenRefused(
            "API 令牌已过期，请在令牌页重新生成 / the API token has expired: issue a new one "
            "on the token page"
        )
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
