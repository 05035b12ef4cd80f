"""Tile requests with a map pass, answered in front of Django's middleware (config/wsgi.py).

A map view asks for dozens of tiles a second. With the pass (layers/map_pass.py) a tile needs no
session, user, locale, CSRF token or message store, yet Django's request cycle runs them all: about
as long as a pre-counted tile's query itself. This WSGI application answers
`GET <tiles:tile>` with an `X-Map-Pass` header from the same functions as the view
(`tile_views.pass_reader`, then `tile_views.tile_answer`), and hands every other request — other
methods, HEAD included (the view answers 405), tiles without a pass, counts, anything it does not
recognise — to Django unchanged.

What Django would still have done to such a request is done here by Django's own code:
* routing: the path is resolved by the URL conf and must land on `tile_views.tile`;
* the request is Django's WSGIRequest (the same path decoding, query parsing and host check);
* the request_started / request_finished signals are sent, as by Django's handler: they close
  obsolete and broken database connections and give the pooled one back after the tile;
* the middlewares that shape a cookie-free answer run (APPLIED: security headers, host check and
  Content-Length, X-Frame-Options); each one skipped is listed with the reason in SKIPPED, and an
  unlisted middleware stops start-up rather than being skipped unseen;
* an unexpected exception gets Django's answer (`response_for_exception`: logged, a plain 500);
  4xx answers are logged as Django logs them.
Cookies are neither read nor set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.conf import settings
from django.core import signals
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest, get_script_name
from django.urls import Resolver404, resolve, set_script_prefix
from django.utils.log import log_response
from django.utils.module_loading import import_string

from . import tile_views

# Run on a pass-carrying tile request exactly as in Django's chain (requests in order, responses
# in reverse).
APPLIED = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)
# Not run, and why the tile answer does not need them.
SKIPPED = {
    "whitenoise.middleware.WhiteNoiseMiddleware": "serves STATIC_URL only; tiles are not there",
    "django.contrib.sessions.middleware.SessionMiddleware": "the pass replaces the session cookie",
    "django.middleware.locale.LocaleMiddleware": (
        "the tile answer has no translated text (messages are bilingual) and the language "
        "cookie is not read; so no Content-Language and no Vary: Accept-Language"
    ),
    "django.middleware.csrf.CsrfViewMiddleware": "GET only, which CSRF never checks; no token",
    "django.contrib.auth.middleware.AuthenticationMiddleware": "the pass names the reader",
    "django.contrib.messages.middleware.MessageMiddleware": "a tile shows no messages",
}

_PASS_KEY = "HTTP_X_MAP_PASS"  # layers.map_pass.HEADER as it appears in the WSGI environ

StartResponse = Callable[..., object]


def _never_called(request):
    raise AssertionError("the fast path calls its middlewares' hooks, not their chain")


def _middlewares() -> list:
    applied = []
    for path in settings.MIDDLEWARE:
        if path in APPLIED:
            applied.append(import_string(path)(_never_called))
        elif path not in SKIPPED:
            raise ImproperlyConfigured(
                f"layers.fast_tiles: decide whether pass-carrying tiles need {path}: add it to "
                "APPLIED or, with the reason, to SKIPPED"
            )
    return applied


class FastTiles:
    """WSGI application: pass-carrying tile GETs here, everything else to `django`."""

    def __init__(self, django: Callable[[dict, StartResponse], Iterable[bytes]]):
        self.django = django
        middlewares = _middlewares()
        self.request_hooks = [
            m.process_request for m in middlewares if hasattr(m, "process_request")
        ]
        self.response_hooks = [
            m.process_response for m in reversed(middlewares) if hasattr(m, "process_response")
        ]

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or _PASS_KEY not in environ:
            return self.django(environ, start_response)
        set_script_prefix(get_script_name(environ))
        request = WSGIRequest(environ)
        try:
            route = resolve(request.path_info)
        except Resolver404:
            route = None
        if route is None or route.func is not tile_views.tile:
            return self.django(environ, start_response)
        try:
            for hook in self.request_hooks:
                if hook(request) is not None:
                    return self.django(environ, start_response)  # a redirect: Django's to give
        except Exception:
            # A disallowed host or user agent: Django answers it (and logs it) as it always does.
            return self.django(environ, start_response)
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            response = self._answer(request, route.kwargs)
            for hook in self.response_hooks:
                response = hook(request, response)
            start_response(f"{response.status_code} {response.reason_phrase}", [*response.items()])
            return [response.content]
        finally:
            signals.request_finished.send(sender=self.__class__)

    @staticmethod
    def _answer(request: WSGIRequest, coordinates: dict[str, str]):
        try:
            reader, response = tile_views.pass_reader(request)
            if response is None:
                response = tile_views.tile_answer(reader, params=request.GET, **coordinates)
        except Exception as error:
            # Logged with the traceback; the body says nothing about it (unless DEBUG, as Django).
            return response_for_exception(request, error)
        if response.status_code >= 400:
            log_response(
                "%s: %s", response.reason_phrase, request.path, response=response, request=request
            )
        return response
