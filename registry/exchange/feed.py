"""Serving: the change log, page by page after a cursor, to the one account allowed to read it.

Entries go out with the exact texts their hash covers (the time in UTC, the payload's JSON text
as stored), so the national side can recompute the chain from what it received.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from accounts.models import User

from ..exceptions import RegistryError
from ..models.exchange import ChangeEntry, ChangeLogHead
from ..validators import ERROR, Finding
from . import keys
from .changelog import AT_TEXT_SQL

FEED_PERMISSION = "registry.read_change_feed"
FIELDS = ("seq", "at", "operation", "model", "object_pk", "division_code", "payload", "hash")


def parse_page(params) -> tuple[int, int]:
    """`after` and `limit` from query parameters; a bad one is a RegistryError naming it."""
    findings, values = [], {}
    for name, default, low, high in (
        ("after", 0, 0, 2**63 - 1),  # a bigint, as the sequence is
        ("limit", settings.EXCHANGE_FEED_PAGE, 1, settings.EXCHANGE_FEED_MAX_PAGE),
    ):
        raw = params.get(name, "")
        try:
            value = int(raw) if raw != "" else default
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            bound = f"{low}–{high}" if high is not None else f"≥ {low}"
            findings.append(
                Finding(
                    name,
                    f"{name}.range",
                    f"{name} 应为整数 {bound} / {name} must be an integer {bound}",
                    ERROR,
                )
            )
        else:
            values[name] = value
    if findings:
        raise RegistryError(findings)
    return values["after"], values["limit"]


def may_read(user: User) -> bool:
    """Only an account given the feed permission, and only one that sees the whole instance:
    a narrower reader would get a feed with holes the national side must refuse as gaps."""
    return (
        user.is_authenticated
        and user.is_active
        and user.jurisdiction_prefix == ""
        and user.has_perm(FEED_PERMISSION)
    )


def page(after: int, limit: int) -> dict:
    """Entries with seq > after, at most `limit`, and where the log ends now."""
    at_text = AT_TEXT_SQL.format(at="at")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT seq, {at_text}, operation, model, object_pk, division_code, payload, "
            f"hash FROM {ChangeEntry._meta.db_table} WHERE seq > %s ORDER BY seq LIMIT %s",
            [after, limit],
        )
        entries = [dict(zip(FIELDS, row, strict=True)) for row in cursor.fetchall()]
    head = ChangeLogHead.objects.filter(pk=1).values_list("last_seq", flat=True).first() or 0
    return {"after": after, "last_seq": head, "entries": entries}


def signed_page(after: int, limit: int, key: bytes) -> dict:
    """`page`, with the HMAC-SHA256 the reader checks with the key it shares with us."""
    body = page(after, limit)
    body["mac"] = keys.sign_page(key, after, body["last_seq"], body["entries"])
    return body
