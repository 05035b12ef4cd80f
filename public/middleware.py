"""The public space (/p/): no session read or written, its own strict headers, the language of the
visitor's phone.

Before the session middleware, the session cookie is dropped from the request, so nothing in the
public space reads a session (a signed-in supervisor scanning a label is anonymous there) and no
session is saved; on the way out, the space's headers replace the site's."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def in_public_space(request: HttpRequest) -> bool:
    return request.path_info.startswith(settings.PUBLIC_PATH_PREFIX)


class PublicSpaceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not in_public_space(request):
            return self.get_response(request)
        request.COOKIES.pop(settings.SESSION_COOKIE_NAME, None)
        # The language follows the phone's (Accept-Language, which Django varies on), not a
        # cookie a shared cache could not key on.
        request.COOKIES.pop(settings.LANGUAGE_COOKIE_NAME, None)
        response = self.get_response(request)
        response.cookies.pop(settings.SESSION_COOKIE_NAME, None)
        # The (empty) session was looked at, so Django varies on Cookie; no cookie was read, and a
        # shared cache must be able to keep one copy of a device's page for everyone.
        vary = [v.strip() for v in response.get("Vary", "").split(",") if v.strip()]
        if "Cookie" in vary:
            vary.remove("Cookie")
            if vary:
                response.headers["Vary"] = ", ".join(vary)
            else:
                del response.headers["Vary"]
        # Set here, the CSP middleware (outside this one) leaves the stricter policy as it is.
        response.headers["Content-Security-Policy"] = settings.PUBLIC_CONTENT_SECURITY_POLICY
        # The token is in the address: a request from here carries the origin alone, never the
        # path. Not no-referrer: a browser then sends "Origin: null" with the report form, which
        # Django's CSRF check rightly refuses.
        response.headers["Referrer-Policy"] = "strict-origin"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
        response.headers.setdefault("Cache-Control", "no-store")
        return response
