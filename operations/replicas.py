"""Read replicas: read-only requests read through the ORM from a streaming standby when one is
configured and ready, from the primary otherwise. Writes, and every other request, use the primary
(`default`). A standby's readiness (up, within READY_REPLICA_MAX_LAG) is checked at most every
REPLICA_CHECK_SECONDS per process; one skipped is logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

from . import health

logger = logging.getLogger(__name__)

_reading: ContextVar[bool] = ContextVar("replica_reads", default=False)
# alias → (monotonic time of the check, ready)
_checked: dict[str, tuple[float, bool]] = {}


def ready(alias: str) -> bool:
    seen = _checked.get(alias)
    if seen is not None and time.monotonic() - seen[0] < settings.REPLICA_CHECK_SECONDS:
        return seen[1]
    ok = health.replica_ready(alias)
    if not ok:
        logger.warning("replica %s skipped: reads go to the primary", alias)
    _checked[alias] = (time.monotonic(), ok)
    return ok


def reads_may_lag() -> bool:
    """Inside `reading()`: this request's reads may come from a replica."""
    return _reading.get()


def read_alias() -> str:
    """The database this request's reads go to: the first ready replica while `reading`, else
    the primary."""
    if reads_may_lag():
        for alias in health.replicas():
            if ready(alias):
                return alias
    return DEFAULT_DB_ALIAS


@contextmanager
def reading() -> Iterator[None]:
    """Reads inside may go to a replica (a request that writes nothing and may read a little late)."""
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


class ReplicaRouter:
    """ORM reads inside `reading()` to a ready replica; everything else to the primary. Nothing
    is ever migrated on a replica (a standby replays the primary's schema)."""

    def db_for_read(self, model, **hints) -> str | None:
        alias = read_alias()
        return None if alias == DEFAULT_DB_ALIAS else alias

    def db_for_write(self, model, **hints) -> str | None:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        return True  # a replica holds the primary's rows

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool | None:
        return False if db in health.replicas() else None


class ReplicaReadsMiddleware:
    """GET and HEAD on the read-only surfaces (REPLICA_READ_PATHS) read inside `reading()`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD") and request.path_info.startswith(
            tuple(settings.REPLICA_READ_PATHS)
        ):
            with reading():
                return self.get_response(request)
        return self.get_response(request)


def read_connection():
    """The connection hand-written SQL of a read-only surface should use (`connection` is always
    the primary's): the replica's inside `reading()` when one is ready."""
    return connections[read_alias()]
