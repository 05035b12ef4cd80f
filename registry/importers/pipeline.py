"""One import, dry run or commit: a stored upload, a mapping and a declared CRS in; an outcome out.

Both go through the same code inside one transaction. A dry run always rolls back; a commit rolls
back too when any row has an error, so a file goes in whole or not at all, and the report the user
read is the report of what the commit did. See docs/import.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from accounts.models import User
from geo import crs
from geo.scoping import NATIONAL, reading

from ..models.imports import Dataset
from ..validators import ERROR, WARNING, Finding
from .errors import IntakeError
from .intake import StoredUpload
from .mapping import check_mapping
from .readers import GDAL_FORMATS, SourceRow, open_rows

# (rows read so far, rows in all when known)
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class ImportRequest:
    """What the user chose for one file."""

    dataset: str = Dataset.EQUIPMENT
    mapping: dict[str, str] = field(default_factory=dict)  # element → column
    source_crs: crs.CRS = crs.CRS.WGS84
    layer: str | None = None
    encoding: str | None = None  # a Shapefile's .dbf without .cpg


@dataclass(frozen=True)
class RowFinding:
    """One line of the report: where (row, column, value), which rule, what to do."""

    row: int
    column: str
    value: str
    rule: str
    severity: str
    message: str
    suggestion: str = ""


@dataclass
class ImportOutcome:
    rows: int = 0
    findings: list[RowFinding] = field(default_factory=list)
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    units_new: int = 0
    committed: bool = False
    seconds: float = 0.0

    @property
    def errors(self) -> int:
        return sum(1 for item in self.findings if item.severity == ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for item in self.findings if item.severity == WARNING)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, float | int | bool]:
        return {
            "rows": self.rows,
            "errors": self.errors,
            "warnings": self.warnings,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "units_new": self.units_new,
            "committed": self.committed,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second),
        }

    def headline(self) -> str:
        """What the command prints and the page shows: "0 new, 0 changed, 1200 unchanged"."""
        return f"{self.new} new, {self.changed} changed, {self.unchanged} unchanged"


def finding_at(row: int, column: str, value, finding: Finding) -> RowFinding:
    text = "" if value is None else str(value)
    return RowFinding(
        row, column, text[:200], finding.rule, finding.severity, finding.message, finding.suggestion
    )


def run_import(
    upload: StoredUpload,
    request: ImportRequest,
    *,
    acting_user: User | None,
    commit: bool,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Validate every row of the file and, when `commit` and nothing is wrong, write it all.

    A refused mapping, layer or encoding raises IntakeError (a 400 for the API) before any row is
    read; problems in rows are in the outcome's findings.
    """
    from . import datasets  # the dataset importers import this module's types

    started = time.perf_counter()
    with open_rows(upload, layer=request.layer, encoding=request.encoding) as rows:
        problems = check_mapping(
            request.mapping,
            rows.columns,
            request.dataset,
            has_geometry=upload.format in GDAL_FORMATS,
        )
        if problems:
            raise IntakeError(problems)
        importer = datasets.importer_for(request.dataset)
        # In a worker as in a request: the rows the wall shows are the importing user's (none:
        # the system's own import, of the whole registry).
        reader = NATIONAL if acting_user is None else acting_user
        with reading(reader), transaction.atomic():
            outcome = importer(
                rows, request, acting_user=acting_user, commit=commit, progress=progress
            )
            outcome.committed = commit and outcome.errors == 0
            if not outcome.committed:
                transaction.set_rollback(True)
    outcome.seconds = time.perf_counter() - started
    return outcome


def counted(rows, progress: Progress | None, total: int | None = None, every: int = 5000):
    """The rows, reporting progress every `every` rows and at the end."""
    number = 0
    for number, row in enumerate(rows, 1):
        if progress is not None and number % every == 0:
            progress(number, total)
        yield row
    if progress is not None:
        progress(number, total)


__all__ = [
    "ImportOutcome",
    "ImportRequest",
    "Progress",
    "RowFinding",
    "SourceRow",
    "counted",
    "finding_at",
    "run_import",
]
