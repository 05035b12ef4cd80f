"""Rows as they were stored before a constraint refused them, for tests that legacy data still
reads: the registry's no-empty-geometry checks are lifted inside the test's transaction only."""

from __future__ import annotations

from django.db import connection, models


def drop_empty_geometry_checks() -> None:
    """Drop every CHECK constraint that refuses an empty geometry; the test's rollback puts them
    back."""
    with connection.cursor() as cursor:
        # Deferred foreign-key checks of rows made earlier in the test would block the ALTER.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            """SELECT conrelid::regclass::text, conname FROM pg_constraint
               WHERE contype = 'c' AND pg_get_constraintdef(oid) ILIKE '%st_isempty%'"""
        )
        for table, name in cursor.fetchall():
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')


def make_empty(model: type[models.Model], pk: int, column: str = "location") -> None:
    """Store an empty point in the row's geometry column, as a legacy import once did."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {model._meta.db_table} SET {column} = ST_GeomFromText('POINT EMPTY', 4326) "
            "WHERE id = %s",
            [pk],
        )
