"""Recording: every registry write adds an entry to the change log, inside the writer's transaction.

The one statement that writes entries (`record_rows`) is set-based: the snapshots are built by
PostgreSQL from the written rows, numbered from the log head and chained by the `exchange_chain`
aggregate (migration 0004), so recording 200,000 imported rows costs one INSERT … SELECT.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.gis.db.models import GeometryField
from django.db import connection, models

from ..models import Accident, Equipment, Inspection, LifecycleEvent, Person, Unit
from ..models.exchange import GENESIS_HASH, ChangeOperation

__all__ = [
    "EXCHANGED",
    "ChangeOperation",
    "Exchanged",
    "chain",
    "content_digest",
    "record",
    "record_rows",
    "register",
]

# The text each entry's hash covers, as PostgreSQL spells it; `content_digest` spells it the same way.
AT_TEXT_SQL = """to_char({at} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
CONTENT_SQL = (
    "sha256(convert_to(concat_ws('|', {seq}, {at_text}, {operation}, {model}, {object_pk}, "
    "{division_code}, {payload}), 'UTF8'))"
)


@dataclass(frozen=True)
class Exchanged:
    """A model the log records: its name in the feed and where its division code comes from."""

    label: str
    model: type[models.Model]
    division_sql: str = "t.region_id"
    joins: str = ""

    def fields(self) -> list[models.Field]:
        """What a snapshot carries: every column but the key and the instance's own timestamps.
        Persons are not exchanged (their ID is encrypted with this instance's key), so a
        reference to one is left out too."""
        return [
            f
            for f in self.model._meta.concrete_fields
            if not f.primary_key
            and not getattr(f, "auto_now", False)
            and not getattr(f, "auto_now_add", False)
            and not (f.is_relation and f.related_model is Person)
        ]

    def payload_sql(self) -> str:
        pairs = []
        for f in self.fields():
            column = f't."{f.column}"'
            if isinstance(f, GeometryField):
                column = f"ST_AsEWKT({column})"
            pairs.append(f"'{f.attname}', {column}")
        return f"json_build_object({', '.join(pairs)})::text"


# A record of one device takes the device's division code.
EQUIPMENT_JOIN = "JOIN registry_equipment e ON e.id = t.equipment_id"
# Order matters to the national side only within a page; references are resolved per entry.
EXCHANGED: dict[type[models.Model], Exchanged] = {
    Unit: Exchanged("unit", Unit),
    Equipment: Exchanged("equipment", Equipment),
    Inspection: Exchanged("inspection", Inspection, "e.region_id", EQUIPMENT_JOIN),
    LifecycleEvent: Exchanged("lifecycleevent", LifecycleEvent, "e.region_id", EQUIPMENT_JOIN),
    Accident: Exchanged("accident", Accident),
}
BY_LABEL = {spec.label: spec for spec in EXCHANGED.values()}
LABEL_OF = {spec.model: spec.label for spec in EXCHANGED.values()}


def register(spec: Exchanged) -> None:
    """Log a model of an app above the registry (which may not import it) like the registry's
    own, and let the national side apply it: called from that app's AppConfig.ready()."""
    if BY_LABEL.get(spec.label, spec).model is not spec.model:
        raise ValueError(f"exchange label {spec.label!r} is taken")
    EXCHANGED[spec.model] = spec
    BY_LABEL[spec.label] = spec
    LABEL_OF[spec.model] = spec.label


def _lock_head(cursor) -> tuple[int, str, str]:
    # An upsert that changes nothing still locks the row until commit: writers queue here, which
    # keeps the sequence gap-free (a rolled-back writer rolls back its numbers too) and the chain
    # one line. It also creates the head after a flush.
    cursor.execute(
        "INSERT INTO registry_changeloghead (id, last_seq, last_hash) VALUES (1, 0, %s) "
        "ON CONFLICT (id) DO UPDATE SET id = EXCLUDED.id RETURNING last_seq, last_hash, "
        # The transaction's time, the `at` of every entry it writes, spelt once.
        + AT_TEXT_SQL.format(at="now()"),
        [GENESIS_HASH],
    )
    return cursor.fetchone()


def record_rows(
    model: type[models.Model], pks: Sequence[int], operation: ChangeOperation | str
) -> int:
    """Record `operation` on the rows `pks` of `model`, one entry each (in id order), inside the
    caller's transaction; returns how many were recorded. A delete is recorded before the rows go,
    so its entry still knows the division code and last state."""
    spec = EXCHANGED[model]
    operation = ChangeOperation(operation)
    if not pks:
        return 0
    if not connection.in_atomic_block:
        raise RuntimeError("record_rows belongs inside the writer's transaction")
    content = CONTENT_SQL.format(
        seq="s.seq",
        at_text="%(at_text)s",
        operation="s.operation",
        model="s.model",
        object_pk="s.object_pk",
        division_code="s.division_code",
        payload="s.payload",
    )
    sql = f"""
        INSERT INTO registry_changeentry
            (seq, at, operation, model, object_pk, division_code, payload, hash)
        SELECT s.seq, s.at, s.operation, s.model, s.object_pk, s.division_code, s.payload,
               encode(exchange_chain({content}, decode(%(last_hash)s, 'hex'))
                      OVER (ORDER BY s.seq), 'hex')
        FROM (
            SELECT %(last_seq)s + row_number() OVER (ORDER BY t.id) AS seq,
                   now() AS at, %(operation)s::text AS operation, %(model)s::text AS model,
                   t.id AS object_pk, {spec.division_sql} AS division_code,
                   {spec.payload_sql()} AS payload
            FROM "{model._meta.db_table}" t {spec.joins}
            WHERE t.id = ANY(%(pks)s)
        ) s
    """
    with connection.cursor() as cursor:
        last_seq, last_hash, at_text = _lock_head(cursor)
        cursor.execute(
            sql,
            {
                "last_seq": last_seq,
                "last_hash": last_hash,
                "at_text": at_text,
                "operation": operation.value,
                "model": spec.label,
                "pks": list(pks),
            },
        )
        count = cursor.rowcount
        if count:
            cursor.execute(
                "UPDATE registry_changeloghead SET last_seq = e.seq, last_hash = e.hash "
                "FROM registry_changeentry e WHERE registry_changeloghead.id = 1 AND e.seq = %s",
                [last_seq + count],
            )
    return count


def record(instance: models.Model, operation: ChangeOperation | str) -> None:
    """Record one write of `instance` inside the caller's transaction."""
    record_rows(type(instance), [instance.pk], operation)


def content_digest(entry: dict) -> bytes:
    """The digest of one served entry, as the province's CONTENT_SQL computed it."""
    text = "|".join(
        str(entry[key])
        for key in ("seq", "at", "operation", "model", "object_pk", "division_code", "payload")
    )
    return hashlib.sha256(text.encode("utf-8")).digest()


def chain(previous_hash: str, entry: dict) -> str:
    """The hash an entry must carry after `previous_hash`: sha256(previous || digest)."""
    return hashlib.sha256(bytes.fromhex(previous_hash) + content_digest(entry)).hexdigest()
