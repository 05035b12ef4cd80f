"""The map pass: a short-lived signed credential for the map's tile and count requests.

A map view makes dozens of tile requests a second. Through the session each costs two queries
(the session row, then the user with its agency) before any tile work: as much as a pre-counted
tile itself. The map page therefore hands the browser a pass — the user's id and jurisdiction
prefix, signed with SECRET_KEY and dated — which it sends in the `X-Map-Pass` header; the tile
and count views check the signature and the age without touching the database. The pass also
names the holder's role, for the response desk's "what is around" reads (response/api.py), which
enterprise users may not make.

What it grants is exactly what the session grants those views: the rows of one jurisdiction
prefix (no personal data is in tiles, counts or the lists of what is around). The price is revocation: a pass stays good for
MAP_PASS_MAX_AGE_S after the user signs out, is deactivated or moves agency. Renewal goes through
the session (`/tiles/pass`), so it stops with the session. See docs/security.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

HEADER = "X-Map-Pass"
_META_KEY = "HTTP_X_MAP_PASS"
_SALT = "segis.layers.map-pass"
_DEFAULT_MAX_AGE_S = 600


class PassRefused(Exception):
    """The header was sent but cannot be honoured: tampered, malformed or expired."""


@dataclass(frozen=True)
class PassHolder:
    """Who a valid pass speaks for: enough for `ScopedQuerySet.visible_to` and the tile cache."""

    user_id: int
    jurisdiction_prefix: str
    role: str
    is_authenticated = True


def max_age_s() -> int:
    return getattr(settings, "MAP_PASS_MAX_AGE_S", _DEFAULT_MAX_AGE_S)


def issue(user) -> dict:
    """A pass for a signed-in user with a jurisdiction, and how long it lasts."""
    prefix = user.jurisdiction_prefix
    if not user.is_authenticated or prefix is None:
        raise ValueError("only a signed-in user with a jurisdiction gets a map pass")
    token = signing.TimestampSigner(salt=_SALT).sign_object(
        {"u": user.pk, "p": prefix, "r": user.role}
    )
    return {"token": token, "max_age_s": max_age_s(), "header": HEADER}


def holder(request) -> PassHolder | None:
    """The pass's holder; None when the request carries no pass (the session then decides)."""
    token = request.META.get(_META_KEY)
    if token is None:
        return None
    try:
        payload = signing.TimestampSigner(salt=_SALT).unsign_object(token, max_age=max_age_s())
    except signing.SignatureExpired as error:
        raise PassRefused("地图通行证已过期 / the map pass has expired; renew it") from error
    except signing.BadSignature as error:
        raise PassRefused("地图通行证无效 / the map pass is not valid") from error
    # A valid signature means we wrote this payload; its shape is still checked, not assumed.
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("u"), int)
        and isinstance(payload.get("p"), str)
        and isinstance(payload.get("r"), str)
    ):
        raise PassRefused("地图通行证无效 / the map pass is not valid")
    return PassHolder(user_id=payload["u"], jurisdiction_prefix=payload["p"], role=payload["r"])


class PassAuthentication(BaseAuthentication):
    """For DRF views that take the pass as the tile views do: its holder is the request's user,
    and a refused pass is a 401 (so a client renews it), whatever the session says."""

    def authenticate(self, request) -> tuple[PassHolder, None] | None:
        try:
            found = holder(request._request)
        except PassRefused as refused:
            raise AuthenticationFailed(str(refused)) from refused
        return None if found is None else (found, None)

    def authenticate_header(self, request) -> str:
        return "MapPass"


class PassScheme(OpenApiAuthenticationExtension):
    """The API schema names the pass as an API key in its header."""

    target_class = PassAuthentication
    name = "mapPass"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": HEADER,
            "description": "地图通行证 / the map pass from /tiles/pass (docs/security.md)",
        }
