"""Jurisdiction scoping: the one scope object, and the one queryset API every read goes through.

It lives in `geo` because a jurisdiction is a GB/T 2260 code prefix; the user is only asked for
its `jurisdiction_prefix` ('' = national, None = nothing), so `geo` imports no other app.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

import psycopg
from django.db import connection, models

from common.db import READER_SETTING

Rows = TypeVar("Rows", bound=models.QuerySet)


@dataclass(frozen=True)
class Scope:
    """A jurisdiction: the division-code prefix whose divisions it holds ('' the nation, None
    nothing). It also stands in for a user where only the jurisdiction matters (`visible_to` with
    SQL cached per jurisdiction, the escalation runner picking for an incident's county)."""

    prefix: str | None
    is_authenticated: ClassVar[bool] = True

    @classmethod
    def of(cls, user: Any) -> Scope:
        """A user's jurisdiction (a Scope is its own): nothing for the anonymous or a user without one."""
        if isinstance(user, Scope):
            return user
        if user is None or not user.is_authenticated:
            return NOTHING
        return cls(getattr(user, "jurisdiction_prefix", None))

    @property
    def jurisdiction_prefix(self) -> str | None:
        """The prefix under the user's name for it, for code handed a Scope in place of a user."""
        return self.prefix

    def contains(self, code: str) -> bool:
        """Whether a division, by its code or its prefix, lies inside."""
        return self.prefix is not None and code.startswith(self.prefix)

    def narrowed(self, region: str | None) -> Scope | None:
        """The narrower of this jurisdiction and a region filter's prefix (None: no filter); None
        when the two share no division."""
        if self.prefix is None:
            return None
        if region is None or self.prefix.startswith(region):
            return self
        return Scope(region) if region.startswith(self.prefix) else None

    def filter(self, queryset: Rows, lookup: str) -> Rows:
        """The rows whose division code at `lookup` lies inside."""
        if self.prefix is None:
            return queryset.none()
        if not self.prefix:
            return queryset.all()
        # On a region foreign key (`region__code`: its primary key) this needs no join: it is the
        # local region_id column, whose varchar_pattern_ops index serves the prefix test.
        return queryset.filter(**{f"{lookup}__prefixed": self.prefix})


@models.CharField.register_lookup
class Prefixed(models.Lookup):
    """`code ^@ prefix`: the division-code prefix test. PostgreSQL's `starts_with` is LEAKPROOF,
    so on a table under row-level security it stays an index condition; `LIKE 'prefix%'` is not,
    and there every scoped read would scan the whole table (docs/security.md)."""

    lookup_name = "prefixed"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ^@ {rhs}", [*lhs_params, *rhs_params]


NOTHING = Scope(None)
NATIONAL = Scope("")


def prefix_of(user: Any) -> str | None:
    """The division-code prefix a user reads: None (nothing) for the anonymous."""
    return Scope.of(user).prefix


class ScopedQuerySet(models.QuerySet):
    """A queryset whose rows belong to a region; `scope_lookup` is the path to that region's code."""

    scope_lookup = "region__code"

    def within_prefix(self, prefix: str) -> Self:
        """Rows whose region code starts with the prefix ('' = everywhere)."""
        # A prefix the caller already holds, not a user's jurisdiction: a falsy one narrows
        # nothing, as it always has (`visible_to` is the read that answers None with no rows).
        return Scope(prefix or "").filter(self, self.scope_lookup)

    def visible_to(self, user: Any) -> Self:
        # Scope first: every later filter then works inside the jurisdiction.
        return Scope.of(user).filter(self, self.scope_lookup)


# --------------------------------------------------------------------------- the database's wall

# Tables under PostgreSQL row-level security, named by the apps that secure them (registry's
# migration 0010): a second wall behind `visible_to` for a role that is not their owner (the
# application's). Their policies read the reader's jurisdiction from common.db.READER_SETTING:
# 'p:<prefix>' ('p:' the nation); unset or '' reads nothing.
ROW_SECURED: set[str] = set()

_readers = threading.local()


def setting_value(scope: Scope) -> str:
    return "" if scope.prefix is None else f"p:{scope.prefix}"


@contextlib.contextmanager
def reading(reader: Any) -> Iterator[None]:
    """Statements run inside read as `reader`: a user, a Scope, or a callable giving one (asked at
    each statement, so a request's user may be settled after the block begins: DRF's token
    authentication). The innermost block wins (an import run inside a request reads as its
    requester). The setting is sent before a statement on a row-secured table when the connection
    may not hold it (the backend forgets what it sent on connecting, closing and every rollback:
    common/postgis/base.py), and cleared when the outermost block ends: nothing run outside a block
    on a kept connection reads as the last reader."""
    stack = _readers.__dict__.setdefault("stack", [])
    stack.append(reader)
    try:
        if len(stack) == 1:
            with connection.execute_wrapper(_as_reader):
                yield
        else:
            yield
    finally:
        stack.pop()
        if not stack:
            _clear_reader()


def _as_reader(execute, sql, params, many, context):
    if getattr(_readers, "busy", False) or (
        isinstance(sql, str) and not any(table in sql for table in ROW_SECURED)
    ):
        return execute(sql, params, many, context)
    _readers.busy = True  # resolving a lazy user queries the session: let that through
    try:
        reader = _readers.stack[-1]
        value = setting_value(Scope.of(reader() if callable(reader) else reader))
        db = context["connection"]
        if getattr(db, "reader_sent", None) != value:
            db.connection.execute("SELECT set_config(%s, %s, false)", [READER_SETTING, value])
            db.reader_sent = value
    finally:
        _readers.busy = False
    return execute(sql, params, many, context)


def _clear_reader() -> None:
    if not getattr(connection, "reader_sent", None):
        return  # nothing sent, or cleared already
    try:
        connection.connection.execute("SELECT set_config(%s, '', false)", [READER_SETTING])
        connection.reader_sent = ""
    except psycopg.Error:
        # A connection that cannot take it (its transaction failed) must not serve anyone else
        # with the reader it holds: closed, unless a transaction still needs it.
        connection.reader_sent = None
        if not connection.in_atomic_block:
            connection.close()
