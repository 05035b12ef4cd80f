"""Bulk loading with PostgreSQL COPY: the only way synthetic data reaches national scale in minutes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    count = 0
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def next_ids(table: str, count: int) -> range:
    """Reserve `count` primary keys from the table's sequence, so rows can reference each other before COPY."""
    if count == 0:
        return range(0)
    with connection.cursor() as cursor:
        # The table lock keeps other writers from taking ids from the same sequence in between.
        cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        cursor.execute("SELECT nextval(%s)", [sequence])
        start = cursor.fetchone()[0]
        cursor.execute("SELECT setval(%s, %s)", [sequence, start + count - 1])
    return range(start, start + count)
