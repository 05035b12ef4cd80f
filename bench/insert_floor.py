"""Benchmark: the least any loader pays to put N devices into `registry_equipment` as it stands.

    .venv/bin/python bench/insert_floor.py --database segis_bench_tiles       # 2M devices present
    .venv/bin/python bench/insert_floor.py --into-empty   # the same rows into an emptied table

No file, no checks, no units, events, audit or change log: N rows already in the table are copied
(with new ids and national identifiers) into a temporary table, and then written back in one
statement, which is as fast as PostgreSQL takes rows. Each variant runs in a savepoint that is rolled back,
so the database is left as it was:
  * table       — INSERT … SELECT with everything the table has: its indexes, the tile cells'
                  statement trigger, and the foreign keys checked (SET CONSTRAINTS ALL IMMEDIATE,
                  which is when COMMIT would check them);
  * no trigger  — the same with the tile cells' insert trigger disabled;
  * COPY        — the same rows by COPY from a server-side file, trigger disabled;
  * heap only   — into an unindexed copy of the table (CREATE TABLE … LIKE): the rows alone.
It prints seconds and rows/s per variant against the import's 50,000 rows/s (issue 7): when the
table variant is below it, no importer can reach it on this schema and machine, whatever its
checks cost. Needs a database with at least N located devices (bench/tiles.py loads 2 million).
--into-empty truncates the equipment (and what refers to it) inside each savepoint first: the
best case of a first import into an empty registry, where every index is small.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_ROWS_PER_SECOND = 50_000
CELLS_TRIGGER = "layers_equipment_cells_sync_insert"
# A copy's rescue ID is 'F' and five hex digits, to fit six characters.
RESCUE_IDS_PER_CITY = 16**5 - 1


def measure(rows: int, into_empty: bool) -> list[tuple[str, float, float]]:
    """(variant, statement seconds, foreign-key check seconds) for each variant."""
    from django.db import connection, transaction

    results = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE floor_rows ON COMMIT DROP AS SELECT * FROM registry_equipment"
            " WHERE location IS NOT NULL ORDER BY id LIMIT %s",
            [rows],
        )
        cursor.execute("SELECT count(*) FROM floor_rows")
        found = cursor.fetchone()[0]
        if found < rows:
            raise SystemExit(f"only {found:,} located devices here; load more or ask fewer")
        cursor.execute(
            "SELECT coalesce(max(n), 0) FROM"
            " (SELECT count(*) AS n FROM floor_rows GROUP BY left(region_id, 4)) AS cities"
        )
        if cursor.fetchone()[0] > RESCUE_IDS_PER_CITY:
            raise SystemExit(f"over {RESCUE_IDS_PER_CITY:,} rows in one city: ask fewer")
        # Every identifier the table keeps unique gets a value no device holds (theirs are digits
        # or start with a variety code), so the copies meet the unique indexes as new devices
        # would; a blank stays blank, outside the partial indexes as it was.
        cursor.execute(
            "UPDATE floor_rows SET id = nextval(pg_get_serial_sequence('registry_equipment', 'id')),"
            " device_code = 'F' || lpad(n.serial::text, 18, '0'),"
            " registration_code = CASE WHEN registration_code = '' THEN ''"
            "   ELSE 'FLOOR' || lpad(n.serial::text, 15, '0') END,"
            " certificate_number = CASE WHEN certificate_number = '' THEN ''"
            "   ELSE 'FLOOR' || lpad(n.serial::text, 27, '0') END,"
            # Six characters, unique per city (the first four digits of the division).
            " rescue_id = CASE WHEN rescue_id = '' THEN ''"
            "   ELSE 'F' || lpad(to_hex(n.in_city), 5, '0') END"
            " FROM (SELECT id AS old, row_number() OVER () AS serial,"
            "   row_number() OVER (PARTITION BY left(region_id, 4)) AS in_city FROM floor_rows) AS n"
            " WHERE n.old = floor_rows.id"
        )
        cursor.execute("COPY floor_rows TO '/tmp/segis-insert-floor.copy'")
        variants = {
            "table": ["INSERT INTO registry_equipment SELECT * FROM floor_rows"],
            "no trigger": [
                f"ALTER TABLE registry_equipment DISABLE TRIGGER {CELLS_TRIGGER}",
                "INSERT INTO registry_equipment SELECT * FROM floor_rows",
            ],
            "COPY": [
                f"ALTER TABLE registry_equipment DISABLE TRIGGER {CELLS_TRIGGER}",
                "COPY registry_equipment FROM '/tmp/segis-insert-floor.copy'",
            ],
            "heap only": [
                "CREATE TEMP TABLE floor_heap (LIKE registry_equipment)",
                "INSERT INTO floor_heap SELECT * FROM floor_rows",
            ],
        }
        for name, statements in variants.items():
            cursor.execute("SAVEPOINT floor")
            if into_empty:
                cursor.execute("TRUNCATE registry_equipment CASCADE")
            for statement in statements[:-1]:
                cursor.execute(statement)
            started = time.perf_counter()
            cursor.execute(statements[-1])
            written = time.perf_counter() - started
            started = time.perf_counter()
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            checked = time.perf_counter() - started
            cursor.execute("ROLLBACK TO SAVEPOINT floor")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            results.append((name, written, checked))
            print(f"  {name} done", file=sys.stderr)
        transaction.set_rollback(True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="segis_bench_tiles")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--into-empty", action="store_true", help="into an emptied table")
    args = parser.parse_args()
    from bench.database import use_database

    use_database(args.database, recreate=False)
    from bench.machine import describe
    from registry.models import Equipment

    present = 0 if args.into_empty else Equipment.objects.count()
    results = measure(args.rows, args.into_empty)
    print(f"machine: {describe()}")
    print(f"{args.rows:,} devices written into registry_equipment holding {present:,}:")
    print(f"  {'variant':11} {'write s':>8} {'FK s':>6} {'rows/s':>9}")
    for name, written, checked in results:
        rate = args.rows / (written + checked)
        print(f"  {name:11} {written:8.2f} {checked:6.2f} {rate:9,.0f}")
    table = next(written + checked for name, written, checked in results if name == "table")
    print(
        f"  the table as it stands takes {args.rows / table:,.0f} rows/s at best: the import's "
        f"{TARGET_ROWS_PER_SECOND:,} rows/s is "
        f"{'within reach' if args.rows / table >= TARGET_ROWS_PER_SECOND else 'out of reach'}"
        " on this schema and machine"
    )


if __name__ == "__main__":
    main()
