"""Receivers for sign-in events: a new session's clock, failed sign-ins and lockouts audited."""

from __future__ import annotations

from . import audit
from .middleware import start_session
from .models import User


def _account(username: str | None) -> User | None:
    if not username:
        return None
    return User.objects.select_related("agency").filter(username=username).first()


def session_started(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        start_session(request)


def login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django hides the password in `credentials` already; only the name is kept.
    username = str(credentials.get("username") or "")[:150]
    audit.record_event(
        "login.failed", request=request, subject=_account(username), username=username
    )


def locked_out(sender, request, username, ip_address, **kwargs) -> None:
    audit.record_event(
        "login.locked_out",
        request=request,
        subject=_account(username),
        username=username or "",
        detail={"ip": ip_address or ""},
    )
