"""Equipment in bulk: rows checked in Python, staged with COPY, placed and matched in PostGIS.

The registry services write one device at a time (a few milliseconds each); a provincial file holds
hundreds of thousands. So this importer keeps the services' rules and does the work set-wise:
- per row, in Python: the cell formats and the identifier rules the services apply
  (`check_identifiers`), the catalogue (retired codes mapped), credit-code check characters,
  dates, duplicates within the file; coordinates are checked and converted from the declared CRS
  as arrays (geo/crs.py); what a new row's registration derives (first due date, event date and
  details) by the functions `register_equipment` calls (services/rules.py);
- the staged rows go to a temporary table by COPY (Arrow writes the CSV);
- in SQL: the county each point falls in, the declared division against it, the jurisdiction,
  the device already registered (by device code, else registration code), units by credit code
  or by name in the county, near-identical records, and which rows change anything;
- a commit holds the import's lock from matching to its end (two commits of one file write one
  set of rows: the second finds the first's devices) and the unique constraints on the codes
  refuse anything else that raced it;
- a commit inserts and updates with INSERT/UPDATE … SELECT, registers new units, appends the
  registration and status events, audits every written row (snapshots as `accounts.audit` takes
  them, verbs `equipment.imported` and `unit.imported`) and records the change log.

tests/registry/importers/test_import_parity.py proves a file writes the same rows, events, audit
rows and change log as registering its rows one by one through the services.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from django.db import connection

from accounts.models import User
from geo.scoping import prefix_of

from ..pipeline import ImportOutcome, ImportRequest, Progress, counted
from ..readers import RowReader, SourceRow
from .rows import RowChecker
from .staging import StageSql, copy_batch, create_stage

BATCH = 20_000


def import_equipment(
    rows: RowReader,
    request: ImportRequest,
    *,
    acting_user: User | None,
    commit: bool,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Validate every row of an equipment file and, when committing, write them all (see module)."""
    outcome = ImportOutcome()
    checker = RowChecker(request, outcome.findings)
    prefix = "" if acting_user is None else prefix_of(acting_user)
    with connection.cursor() as cursor:
        create_stage(cursor)
        for batch in _batches(counted(rows, progress), BATCH):
            copy_batch(cursor, checker.check(batch))
        outcome.rows = checker.count
        sql = StageSql(cursor, request, prefix or "", outcome)
        sql.place()
        if commit:
            sql.lock_for_commit()
        sql.match()
        sql.resolve_units()
        sql.find_near_duplicates()
        sql.find_changes()
        if commit and outcome.errors == 0:
            sql.write(acting_user)
    return outcome


def _batches(rows: Iterator[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    while batch := list(islice(rows, size)):
        yield batch
