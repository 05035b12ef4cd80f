"""Session rules of 等保 2.0 身份鉴别, and the audit of refusals.

SessionPolicyMiddleware: a session ends after SEGIS_SESSION_IDLE without a request and
SESSION_COOKIE_AGE after sign-in; an expired password leads to the change page; with
SEGIS_REQUIRE_OTP, users who need a second factor (User.needs_second_factor) verify a TOTP code
first. API-token and map-pass requests carry their own credential and are not subject to it.

RefusalAuditMiddleware: every 403 answered to a signed-in user leaves an audit row.

ReaderMiddleware: the database's row-level security reads as the request's user.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.http import urlencode
from django_otp import user_has_device

from common.http import json_errors, wants_json
from geo.scoping import reading

from . import audit
from .models import User

STARTED = "segis_session_started"
SEEN = "segis_session_seen"
# The last-seen time is written at most this often: a session write on every request would cost
# more than many of the requests themselves.
SEEN_EVERY_S = 60

# Requests that carry a map pass are the tile and count requests of the map (accounts/map_pass.py).
_MAP_PASS = "HTTP_X_MAP_PASS"


def start_session(request: HttpRequest) -> None:
    """Mark a new session's sign-in time (user_logged_in)."""
    now = int(time.time())
    request.session[STARTED] = request.session[SEEN] = now


def _url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def _exempt(request: HttpRequest, *names: str) -> bool:
    return any(request.path == _url(name) for name in ("logout", "set_language", *names))


def _refuse(request: HttpRequest, field: str, rule: str, message: str, url: str | None):
    """A page request goes to where it is fixed (with ?next=); anything else is a 403 naming it."""
    if url and request.method in ("GET", "HEAD") and not wants_json(request):
        return redirect(f"{url}?{urlencode({'next': request.get_full_path()})}")
    return json_errors({field: message}, status=403, rule=rule)


def session_timed_out(request: HttpRequest) -> bool:
    """Whether the session is past its idle or absolute limit; refreshes its last-seen time."""
    session, now = request.session, int(time.time())
    started, seen = session.get(STARTED), session.get(SEEN)
    if started is None or seen is None:  # a session from before these rules
        start_session(request)
        return False
    idle = settings.SEGIS_SESSION_IDLE.total_seconds()
    if now - seen > idle or now - started > settings.SESSION_COOKIE_AGE:
        return True
    if now - seen >= SEEN_EVERY_S:
        session[SEEN] = now
    return False


def password_expired(user: User) -> bool:
    max_age = settings.SEGIS_PASSWORD_MAX_AGE
    return (
        bool(max_age)
        and user.has_usable_password()
        and (user.password_changed_at + max_age <= timezone.now())
    )


def needs_otp(user: User) -> bool:
    if not settings.SEGIS_REQUIRE_OTP or not user.needs_second_factor:
        return False
    is_verified = getattr(user, "is_verified", None)  # installed by django_otp's middleware
    return not (is_verified and is_verified())


class SessionPolicyMiddleware:
    """Idle and absolute session limits, password expiry and the required second factor."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _MAP_PASS in request.META:
            # Tile requests must not pay for the session: the rules apply only if the view reads
            # the session user, who is then anonymous if any rule refuses them.
            user = request.user
            request.user = SimpleLazyObject(lambda: self._lazily_checked(request, user))
            return self.get_response(request)
        return self._refusal(request) or self.get_response(request)

    def _lazily_checked(self, request, user):
        if user.is_authenticated and (
            session_timed_out(request) or password_expired(user) or needs_otp(user)
        ):
            return AnonymousUser()
        return user

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        user = request.user
        if not isinstance(user, User) or not user.is_authenticated:
            return None
        if session_timed_out(request):
            logout(request)
            messages.info(request, "会话已超时，请重新登录 / your session timed out: sign in again")
            # On as an anonymous request: a page sends it to sign in, an API answers 401/403.
            return None
        if needs_otp(user) and not _exempt(request, "otp-setup", "otp-verify"):
            url = _url("otp-verify" if user_has_device(user) else "otp-setup")
            return _refuse(
                request,
                "otp",
                "otp_required",
                "需要动态口令（双因素认证）/ a one-time code (second factor) is required",
                url,
            )
        # Without the change page in the URL conf there is nowhere to send them: no lock-out then.
        if (
            password_expired(user)
            and _url("password_change")
            and not _exempt(
                request, "password_change", "password_change_done", "otp-setup", "otp-verify"
            )
        ):
            return _refuse(
                request,
                "password",
                "password_expired",
                "密码已过期，请修改密码 / your password has expired: change it",
                _url("password_change"),
            )
        return None


class RefusalAuditMiddleware:
    """An audit row for each 403 answered to a signed-in user (等保 2.0 安全审计)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 403:
            user = getattr(request, "user", None)
            if isinstance(user, User) and user.is_authenticated:
                audit.record_event(
                    "access.denied", request=request, actor=user, detail={"status": 403}
                )
        return response


class ReaderMiddleware:
    """The request's statements read as its user at the database's wall too (row-level security,
    geo.scoping.reading): the user as authenticated when each statement runs, so a DRF token
    settled inside the view counts; before sign-in, nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        def reader():
            return getattr(request, "user", None)

        with reading(reader):
            response = self.get_response(request)
        if response.streaming and not isinstance(response, FileResponse):
            # Its body is made after this returns, by the server: it reads as the same user.
            response.streaming_content = _read_as(reader, response.streaming_content)
        return response


def _read_as(reader, chunks):
    with reading(reader):
        yield from chunks
