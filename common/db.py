"""The database under failure: long jobs' own bounds, a read retried once on a dropped connection,
a cancelled statement answered as such.

The connection settings (config/settings/base.py) bound every statement and idle transaction and
check a kept connection before use. What they cannot do is here: `long_statements` raises the
bounds for the transactions a worker's job opens (SET LOCAL: they end with the transaction, so a
pooled connection never carries them to a request); `DatabaseFailureMiddleware` runs a GET again
once when its connection died under it (the health check only sees a connection dead before the
request starts), and answers a statement cancelled by its timeout with a 503 that says so.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from common.http import json_errors, wants_json

logger = logging.getLogger(__name__)

# The reader's jurisdiction for the database's row-level security (geo.scoping.reading); a pooled
# connection is taken out of the pool without it (common/postgis/base.py).
READER_SETTING = "segis.scope"
# Methods a client may repeat without changing anything: the only ones run a second time.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
TIMEOUT_RULE = "database.timeout"
TIMEOUT_STATUS = 503
# The bound `long_statements` raised on this thread, to tell a user which one cancelled the work.
_bounds = threading.local()


def statement_cancelled(error: BaseException) -> bool:
    """Whether the error is a statement cancelled by statement_timeout (or a cancel request)."""
    return isinstance(error.__cause__, pg_errors.QueryCanceled) or isinstance(
        error, pg_errors.QueryCanceled
    )


def timeout_message(seconds: float | None = None) -> str:
    """What a user reads of a statement cancelled by its timeout (this thread's bound if None)."""
    seconds = statement_bound() if seconds is None else seconds
    return (
        f"数据库查询超过 {seconds:g} 秒，已被取消，请缩小范围后重试 / a database statement ran "
        f"longer than {seconds:g} s and was cancelled: narrow the request and try again"
    )


def drop_dead_connections() -> None:
    """Close this thread's connections the server has dropped: the next query opens a new one."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is None or connection.in_atomic_block:
            continue  # closed already, or a transaction in progress that is not ours to end
        if not connection.is_usable():
            with contextlib.suppress(DatabaseError):
                connection.close()


# --------------------------------------------------------------------------- long jobs


@contextlib.contextmanager
def long_statements(
    using: str = DEFAULT_DB_ALIAS,
    *,
    statement: float | None = None,
    idle: float | None = None,
) -> Iterator[None]:
    """Within the block, every transaction this thread opens on `using` starts with SET LOCAL of
    the job bounds (JOB_STATEMENT_TIMEOUT, JOB_IDLE_IN_TRANSACTION_TIMEOUT, in seconds). Statements
    outside a transaction keep the connection's own bounds."""
    statement = settings.JOB_STATEMENT_TIMEOUT if statement is None else statement
    idle = settings.JOB_IDLE_IN_TRANSACTION_TIMEOUT if idle is None else idle
    raise_bounds = (
        f"SET LOCAL statement_timeout = {int(statement * 1000)}; "
        f"SET LOCAL idle_in_transaction_session_timeout = {int(idle * 1000)}"
    )

    def wrapper(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
        db = context["connection"]
        raw = db.connection
        # Django's atomic turned autocommit off and nothing has run since: this statement opens
        # the transaction, so the bounds go first (a savepoint or a later statement finds them).
        if (
            raw is not None
            and not db.get_autocommit()
            and raw.info.transaction_status == TransactionStatus.IDLE
        ):
            with db.wrap_database_errors:
                raw.execute(raise_bounds)
        return execute(sql, params, many, context)

    with connections[using].execute_wrapper(wrapper):
        previous, _bounds.statement = getattr(_bounds, "statement", None), statement
        try:
            yield
        finally:
            _bounds.statement = previous


def statement_bound() -> float:
    """The statement timeout, in seconds, of this thread's transactions now."""
    raised = getattr(_bounds, "statement", None)
    return settings.DATABASE_STATEMENT_TIMEOUT if raised is None else raised


# --------------------------------------------------------------------------- requests


def timeout_response(request: HttpRequest) -> HttpResponse:
    """503 naming the bound: the envelope for the APIs, the message for a page."""
    message = timeout_message()
    if wants_json(request):
        return json_errors({"request": message}, status=TIMEOUT_STATUS, rule=TIMEOUT_RULE)
    return HttpResponse(message, status=TIMEOUT_STATUS, content_type="text/plain; charset=utf-8")


class DatabaseFailureMiddleware:
    """A read that met a database failure (its connection dropped mid-request, a deadlock) runs once
    more, on a new connection if need be; a statement cancelled by its timeout is a 503 naming it,
    not a bare 500 (run again, it would only wait as long).

    A middleware, not each view: the failure can come from any view (or the session and user they
    load lazily), and only here is the whole view there to be run again. Writes are never run
    twice: a POST may have done part of its work before the connection went."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        if statement_cancelled(exception):
            return timeout_response(request)
        if (
            request.method not in IDEMPOTENT
            or getattr(request, "_segis_db_retried", False)
            or request.resolver_match is None
        ):
            return None
        request._segis_db_retried = True
        drop_dead_connections()
        logger.warning("database connection lost during %s %s: run once more", request.method,
                       request.path)  # fmt: skip
        match = request.resolver_match
        try:
            response = match.func(request, *match.args, **match.kwargs)
            if callable(getattr(response, "render", None)):  # a TemplateResponse
                response = response.render()
        except OperationalError as again:
            if statement_cancelled(again):
                return timeout_response(request)
            raise
        return response


# --------------------------------------------------------------------------- the application's role

# Tables the application appends to and never changes: the audit trail, the filling records.
APPEND_ONLY = ("accounts_auditentry", "cylinders_filling")


def grant_app_role(role: str, *, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Give the application's database role what serving needs and nothing more: rows of every
    table (no DDL, owns nothing), the sequences behind them, and of the append-only tables
    SELECT and INSERT only. Run by the owner after each migrate; False when the role is missing."""
    from psycopg import sql

    with connections[using].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            return False
        name = sql.Identifier(role)
        for statement in (
            "GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {role}",
            "GRANT USAGE ON SCHEMA public TO {role}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
            "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        ):
            cursor.execute(
                sql.SQL(statement).format(
                    db=sql.Identifier(connections[using].settings_dict["NAME"]), role=name
                )
            )
        for table in APPEND_ONLY:
            cursor.execute(
                sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {role}").format(
                    table=sql.Identifier(table), role=name
                )
            )
        # The owner's SECURITY DEFINER functions (the questions asked past row-level security)
        # are closed to PUBLIC by their migrations: the application's role may call them.
        cursor.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.prosecdef "
            "AND p.pronamespace = 'public'::regnamespace AND pg_get_userbyid(p.proowner) = current_user"
        )
        for (function,) in cursor.fetchall():
            cursor.execute(
                sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(sql.SQL(function), name)
            )
    return True


def grant_after_migrate(using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_migrate: the app role (DATABASE_APP_ROLE) gets the new tables' rows too."""
    role = getattr(settings, "DATABASE_APP_ROLE", "")
    if role and role != connections[using].settings_dict["USER"]:
        grant_app_role(role, using=using)
