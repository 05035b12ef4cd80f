"""/healthz and /readyz for a load balancer: anyone may ask, and the answer is a status code and
one word. They are answered before the session, CSRF and HTTPS redirect (middleware.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from . import health


def _answer(status: int, word: str) -> HttpResponse:
    response = HttpResponse(f"{word}\n", status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Touches nothing else, so a database outage does not get
    every web process restarted."""
    return _answer(200, "ok")


@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: 200 when every check passes, else 503; which failed goes to the log only."""
    if health.failing():
        return _answer(503, "unavailable")
    return _answer(200, "ok")
