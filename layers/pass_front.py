"""Reads with a map pass, answered in front of Django's middleware (config/wsgi.py).

A map view asks for dozens of tiles a second, and a dispatch desk's systems ask what is around an
incident as often. With the pass (layers/map_pass.py) such a read needs no session, user, locale,
CSRF token or message store, yet Django's request cycle runs them all: about as long as a
pre-counted tile's query, or a nearest-k search, itself. This WSGI application answers a `GET`
with an `X-Map-Pass` header whose view has a `pass_answer` — the tile view
(`layers.tile_views`), and the response desk's around/resources and around/equipment
(`response.api`) — with the same functions as that view, and hands every other request to Django
unchanged: other methods (HEAD included), requests without a pass or with a refused one, views
without a `pass_answer`, and whatever a `pass_answer` declines (it returns None: a role that may
not read, input the view refuses), so that every refusal is the view's own answer.

`pass_answer(request, holder, **route_kwargs)` is an attribute of the view function, or of the
class of a class-based view; it gets Django's request and the pass's holder and returns the
response, or None to leave the request to Django. Nothing it does may have an effect the view's
second run would repeat: the reads it serves write nothing.

What Django would still have done to such a request is done here by Django's own code:
* routing: the path is resolved by the URL conf, and the view found there decides;
* the request is Django's WSGIRequest (the same path decoding, query parsing and host check);
* the request_started / request_finished signals are sent, as by Django's handler: they close
  obsolete and broken database connections and give a pooled one back after the answer;
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

from . import map_pass

# Run on a pass-carrying read exactly as in Django's chain (requests in order, responses
# in reverse).
APPLIED = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)
# Not run, and why these answers do not need them.
SKIPPED = {
    "whitenoise.middleware.WhiteNoiseMiddleware": "serves STATIC_URL only; these reads are not there",
    "django.contrib.sessions.middleware.SessionMiddleware": "the pass replaces the session cookie",
    "django.middleware.locale.LocaleMiddleware": (
        "the answers have no translated text (messages are bilingual) and the language "
        "cookie is not read; so no Content-Language and no Vary: Accept-Language"
    ),
    "django.middleware.csrf.CsrfViewMiddleware": "GET only, which CSRF never checks; no token",
    "django.contrib.auth.middleware.AuthenticationMiddleware": "the pass names the reader",
    "django.contrib.messages.middleware.MessageMiddleware": "these answers show no messages",
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
                f"layers.pass_front: decide whether pass-carrying reads need {path}: add it to "
                "APPLIED or, with the reason, to SKIPPED"
            )
    return applied


def pass_answer_of(view: Callable) -> Callable | None:
    """The view's answer for a pass-carrying GET, if it has one."""
    return getattr(getattr(view, "view_class", view), "pass_answer", None)


class PassFront:
    """WSGI application: pass-carrying GETs of views with a `pass_answer` here, all else to
    `django`."""

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
            return self.django(environ, start_response)
        answer = pass_answer_of(route.func)
        if answer is None:
            return self.django(environ, start_response)
        try:
            for hook in self.request_hooks:
                if hook(request) is not None:
                    return self.django(environ, start_response)  # a redirect: Django's to give
            holder = map_pass.holder(request)
        except Exception:
            # A disallowed host or user agent, a refused pass: Django answers (and logs) it.
            return self.django(environ, start_response)
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            response = self._answer(answer, request, holder, route.kwargs)
            if response is not None:
                for hook in self.response_hooks:
                    response = hook(request, response)
                start_response(
                    f"{response.status_code} {response.reason_phrase}", [*response.items()]
                )
                return [response.content]
        finally:
            signals.request_finished.send(sender=self.__class__)
        return self.django(environ, start_response)  # declined: the view's own answer

    @staticmethod
    def _answer(answer: Callable, request: WSGIRequest, holder, kwargs: dict):
        try:
            response = answer(request, holder, **kwargs)
        except Exception as error:
            # Logged with the traceback; the body says nothing about it (unless DEBUG, as Django).
            return response_for_exception(request, error)
        if response is not None and response.status_code >= 400:
            log_response(
                "%s: %s", response.reason_phrase, request.path, response=response, request=request
            )
        return response
